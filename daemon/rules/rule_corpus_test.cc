// The rule corpus (testdata/corpus): one OpenSnitch-format rule file per operator type / operand
// combination, each carrying, in an extra "_test" field that rule loaders ignore, connections
// that must and must not match it. Every file must load, every case must hold, and together the
// files must cover every operator type and operand Picket implements.
#include <gtest/gtest.h>

#include <QByteArray>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <variant>

#include "rules/lists.h"
#include "rules/rule_binder.h"
#include "rules/rule_parser.h"
#include "rules/rule_set.h"
#include "rules/rules_test_util.h"
#include "rules/users.h"

namespace picket {
namespace {

using testing_util::Ip;

class FakeUsers final : public UserDirectory {
 public:
  std::optional<uint32_t> LookupUid(std::string_view name) override {
    if (name == "root") return 0;
    if (name == "alice") return 1000;
    if (name == "bob") return 1001;
    return std::nullopt;
  }
  std::shared_ptr<const UserTable> AllUsers() override {
    return std::make_shared<const UserTable>(
        std::unordered_map<uint32_t, std::string>{{0, "root"}, {1000, "alice"}, {1001, "bob"}});
  }
};

struct Sample {
  Flow flow;
  Attribution who;
  std::vector<std::string> hosts;
  std::string text;  // the case as written, for messages
};

Protocol ProtocolOf(const std::string& name) {
  if (name == "udp") return Protocol::kUdp;
  if (name == "icmp") return Protocol::kIcmp;
  if (name == "icmp6") return Protocol::kIcmpV6;
  if (name == "sctp") return Protocol::kSctp;
  if (name == "udplite") return Protocol::kUdpLite;
  return Protocol::kTcp;
}

std::string Str(const QJsonObject& json, const char* key, const char* fallback) {
  return json.contains(key) ? json.value(key).toString().toStdString() : std::string(fallback);
}

Sample MakeSample(const QJsonObject& json) {
  Sample s;
  s.text = QJsonDocument(json).toJson(QJsonDocument::Compact).toStdString();
  s.flow.protocol = ProtocolOf(Str(json, "proto", "tcp"));
  s.flow.dst = Ip(Str(json, "dst", "198.18.0.2"));
  s.flow.src = Ip(Str(json, "src", "198.18.0.1"));
  s.flow.dst_port = static_cast<uint16_t>(json.value("dport").toInt(443));
  s.flow.src_port = static_cast<uint16_t>(json.value("sport").toInt(40000));
  s.flow.in_iface = Str(json, "iface_in", "");
  s.flow.out_iface = Str(json, "iface_out", "eth0");
  std::optional<uint32_t> uid = 1000;
  if (json.contains("uid")) uid = json.value("uid").isNull() ? std::nullopt : std::optional<uint32_t>(json.value("uid").toInt());
  s.flow.uid = uid;
  const std::string kind = Str(json, "kind", "process");
  if (kind == "kernel") {
    s.who.kind = AttributionKind::kKernel;
  } else if (kind == "unknown") {
    s.who.kind = AttributionKind::kUnknown;
    s.who.uid = uid;
  } else {
    std::vector<std::string> argv = {"curl", "-s", "https://example.org/"};
    if (json.contains("args")) {
      argv.clear();
      for (const QJsonValue& arg : json.value("args").toArray()) argv.push_back(arg.toString().toStdString());
    }
    s.who = testing_util::ProcessAttribution(json.value("pid").toInt(4242), Str(json, "exe", "/usr/bin/curl"), argv,
                                             uid);
    s.who.process->container_id = Str(json, "container", "");
    s.who.process->cgroup_path = Str(json, "cgroup", "");
    if (json.contains("md5") || json.contains("sha256")) {
      s.who.process->digests.state = DigestState::kReady;
      s.who.process->digests.md5 = Str(json, "md5", "");
      s.who.process->digests.sha256 = Str(json, "sha256", "");
    }
  }
  for (const QJsonValue& host : json.value("hosts").toArray()) s.hosts.push_back(host.toString().toStdString());
  return s;
}

void CollectCoverage(const Operator& op, std::set<std::string>& types, std::set<std::string>& operands) {
  types.insert(std::string(OperatorTypeName(op.type)));
  if (op.type == OperatorType::kList) {
    for (const Operator& child : op.list) CollectCoverage(child, types, operands);
    return;
  }
  operands.insert(std::string(OperandName(op.operand)));
}

std::string ReadAll(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::string Substitute(std::string text) {
  const std::string placeholder = "@LISTS@";
  const std::string lists = std::string(PICKET_RULES_TESTDATA) + "/lists";
  for (size_t at = text.find(placeholder); at != std::string::npos; at = text.find(placeholder, at)) {
    text.replace(at, placeholder.size(), lists);
  }
  return text;
}

TEST(RuleCorpusTest, EveryFileLoadsAndEveryCaseHolds) {
  FakeUsers users;
  ListStore lists;
  std::set<std::string> types;
  std::set<std::string> operands;
  size_t files = 0;
  size_t cases = 0;
  std::vector<std::filesystem::path> paths;
  for (const auto& entry : std::filesystem::directory_iterator(std::string(PICKET_RULES_TESTDATA) + "/corpus")) {
    paths.push_back(entry.path());
  }
  std::sort(paths.begin(), paths.end());
  for (const std::filesystem::path& path : paths) {
    SCOPED_TRACE(path.filename().string());
    const std::string bytes = Substitute(ReadAll(path));
    std::variant<Rule, RuleParseError> parsed = ParseRuleDetailed(bytes);
    if (auto* error = std::get_if<RuleParseError>(&parsed)) {
      ADD_FAILURE() << error->ToString();
      continue;
    }
    Rule rule = std::get<Rule>(parsed);
    ASSERT_FALSE(ResolveUserNames(rule, users).has_value());
    std::vector<ListWarning> warnings;
    ASSERT_FALSE(BindLists(rule, lists, &warnings).has_value());
    CollectCoverage(rule.op, types, operands);
    Result<RuleSet> set = RuleSet::FromRules({rule});
    ASSERT_TRUE(set.ok());
    const QJsonObject test = QJsonDocument::fromJson(QByteArray::fromStdString(bytes)).object().value("_test").toObject();
    ASSERT_FALSE(test.value("match").toArray().isEmpty()) << "a corpus file needs connections that match";
    for (const char* key : {"match", "no_match"}) {
      const bool expected = std::string(key) == "match";
      for (const QJsonValue& value : test.value(key).toArray()) {
        Sample sample = MakeSample(value.toObject());
        const Rule* decided = set->Match(Connection{sample.flow, sample.who, &sample.hosts});
        EXPECT_EQ(decided != nullptr, expected) << key << ": " << sample.text;
        ++cases;
      }
    }
    ++files;
  }
  EXPECT_GE(files, 40u);
  EXPECT_GE(cases, 150u);
  const std::set<std::string> all_types = {"simple", "regexp", "list", "network", "lists", "range"};
  EXPECT_EQ(types, all_types);
  const std::set<std::string> all_operands = {
      "true",      "process.path", "process.command", "process.id", "user.id",  "user.name",
      "source.ip", "source.port",  "source.network",  "dest.ip",    "dest.port", "dest.network",
      "dest.host", "protocol",     "iface.in",        "iface.out",  "process.container",
      "process.cgroup",
      "lists.domains", "lists.domains_regexp", "lists.ips", "lists.nets", "lists.hash.md5", "lists.hash.sha256"};
  for (const std::string& operand : all_operands) EXPECT_EQ(operands.count(operand), 1u) << operand;
}

TEST(RuleCorpusTest, ListFilesReportSkippedLines) {
  ListStore lists;
  const std::string base = std::string(PICKET_RULES_TESTDATA) + "/lists";
  Result<std::shared_ptr<const ListData>> domains = lists.Get(ListKind::kDomains, base + "/domains");
  ASSERT_TRUE(domains.ok()) << domains.error().message;
  // blocklist.txt: ads, tracker, first, second, *.wild; crlf.hosts: crlf; other.list: other-file.
  EXPECT_EQ((*domains)->size(), 7u);
  const std::vector<ListWarning> warnings = lists.Warnings(ListKind::kDomains, base + "/domains");
  ASSERT_EQ(warnings.size(), 2u);
  EXPECT_NE(warnings[0].file.find("blocklist.txt"), std::string::npos);
  EXPECT_NE(warnings[0].message.find("line 11: not a hosts-format line"), std::string::npos) << warnings[0].message;
  EXPECT_NE(warnings[1].file.find("crlf.hosts"), std::string::npos);
  EXPECT_NE(warnings[1].message.find("only a leading '*.' wildcard"), std::string::npos) << warnings[1].message;
  EXPECT_FALSE((*domains)->ContainsDomain("hidden.example.test"));  // .hidden.txt is ignored
  EXPECT_FALSE((*domains)->ContainsDomain("nodot.example.test"));   // README has no dot: not a list file
}

}  // namespace
}  // namespace picket
