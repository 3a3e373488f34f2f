// Parsing of rule files (fields, operators, durations, malformed input) and loading of rule
// directories, including the shipped defaults.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <variant>

#include "rules/lifetime.h"
#include "rules/rule_parser.h"
#include "rules/rule_set.h"
#include "rules/rules_test_util.h"

namespace picket {
namespace {

using namespace std::chrono_literals;
using testing_util::KernelAttribution;
using testing_util::MakeFlow;
using testing_util::MustParse;
using testing_util::Op;
using testing_util::ProcessAttribution;
using testing_util::RuleJson;
using testing_util::TempDir;

// The error of a rule that must not parse.
RuleParseError ParseError(const std::string& json) {
  std::variant<Rule, RuleParseError> parsed = ParseRuleDetailed(json);
  EXPECT_TRUE(std::holds_alternative<RuleParseError>(parsed)) << "parsed but must not:\n" << json;
  if (auto* error = std::get_if<RuleParseError>(&parsed)) return *error;
  return {};
}

// Expects `json` to be rejected for `field` with a reason containing `reason_part`.
void ExpectRejected(const std::string& json, const std::string& field, const std::string& reason_part) {
  const RuleParseError error = ParseError(json);
  EXPECT_EQ(error.field, field) << json;
  EXPECT_NE(error.reason.find(reason_part), std::string::npos)
      << "reason '" << error.reason << "' lacks '" << reason_part << "'\n"
      << json;
}

std::string WithOperator(const std::string& operator_json) { return RuleJson("r", "deny", operator_json); }

constexpr const char* kTrueOp = R"({"type": "simple", "operand": "true", "data": ""})";

// A rule as OpenSnitch 1.6 writes it (list operator with both `list` and the legacy `data`).
constexpr const char* kOpenSnitchFile = R"({
  "created": "2024-03-02T10:26:25.473541866+01:00",
  "updated": "2024-03-02T10:26:25.473566521+01:00",
  "name": "allow-always-list-curl-443",
  "description": "curl to port 443",
  "enabled": true,
  "precedence": false,
  "action": "allow",
  "duration": "always",
  "nolog": true,
  "operator": {
    "type": "list",
    "operand": "list",
    "sensitive": false,
    "data": "[{\"type\": \"simple\", \"operand\": \"process.path\", \"sensitive\": false, \"data\": \"/usr/bin/curl\"}, {\"type\": \"simple\", \"operand\": \"dest.port\", \"sensitive\": false, \"data\": \"443\"}]",
    "list": [
      {"type": "simple", "operand": "process.path", "sensitive": false, "data": "/usr/bin/curl", "list": null},
      {"type": "simple", "operand": "dest.port", "sensitive": false, "data": "443", "list": null}
    ]
  }
})";

TEST(RuleParserTest, ReadsAnOpenSnitchFile) {
  const Rule rule = MustParse(kOpenSnitchFile);
  EXPECT_EQ(rule.name, "allow-always-list-curl-443");
  EXPECT_EQ(rule.description, "curl to port 443");
  EXPECT_TRUE(rule.enabled);
  EXPECT_FALSE(rule.precedence);
  EXPECT_EQ(rule.action, Action::kAllow);
  EXPECT_EQ(rule.duration, "always");
  EXPECT_EQ(rule.lifetime.kind, LifetimeKind::kAlways);
  EXPECT_TRUE(rule.nolog);
  EXPECT_EQ(rule.created, "2024-03-02T10:26:25.473541866+01:00");
  EXPECT_EQ(rule.updated, "2024-03-02T10:26:25.473566521+01:00");
  EXPECT_EQ(rule.op.type, OperatorType::kList);
  ASSERT_EQ(rule.op.list.size(), 2u);
  EXPECT_EQ(rule.op.list[0].operand, Operand::kProcessPath);
  EXPECT_EQ(rule.op.list[0].data, "/usr/bin/curl");
  EXPECT_EQ(rule.op.list[1].operand, Operand::kDestPort);
  EXPECT_EQ(rule.op.list[1].number, 443u);
}

TEST(RuleParserTest, OptionalFieldsTakeExplicitDefaults) {
  const Rule rule = MustParse(
      R"({"name": "n", "enabled": false, "action": "reject", "operator": {"type": "simple", "operand": "true"}})");
  EXPECT_FALSE(rule.enabled);
  EXPECT_EQ(rule.action, Action::kReject);
  EXPECT_EQ(rule.description, "");
  EXPECT_FALSE(rule.precedence);
  EXPECT_FALSE(rule.nolog);
  EXPECT_EQ(rule.duration, "always");
  EXPECT_EQ(rule.lifetime.kind, LifetimeKind::kAlways);
  EXPECT_EQ(rule.created, "");
  EXPECT_EQ(rule.op.operand, Operand::kTrue);
}

TEST(RuleParserTest, NullOptionalFieldsCountAsAbsent) {
  const Rule rule = MustParse(
      R"({"name": "n", "enabled": true, "action": "deny", "description": null, "precedence": null,
          "created": null, "operator": {"type": "simple", "operand": "true", "sensitive": null}})");
  EXPECT_FALSE(rule.precedence);
  EXPECT_EQ(rule.description, "");
}

TEST(RuleParserTest, UnknownFieldsAreIgnored) {
  const Rule rule = MustParse(
      R"({"name": "n", "enabled": true, "action": "deny", "future": [1, 2],
          "operator": {"type": "simple", "operand": "true", "extra": {}}})");
  EXPECT_EQ(rule.name, "n");
}

TEST(RuleParserTest, ActionNames) {
  EXPECT_EQ(ActionName(Action::kAllow), "allow");
  EXPECT_EQ(ActionName(Action::kDeny), "deny");
  EXPECT_EQ(ActionName(Action::kReject), "reject");
  EXPECT_EQ(MustParse(RuleJson("a", "allow", kTrueOp)).action, Action::kAllow);
  EXPECT_EQ(MustParse(RuleJson("a", "deny", kTrueOp)).action, Action::kDeny);
  EXPECT_EQ(MustParse(RuleJson("a", "reject", kTrueOp)).action, Action::kReject);
}

TEST(RuleParserTest, SensitiveFlagIsRead) {
  EXPECT_FALSE(MustParse(WithOperator(Op("simple", "process.path", "/x"))).op.sensitive);
  EXPECT_TRUE(MustParse(WithOperator(Op("simple", "process.path", "/x", true))).op.sensitive);
}

// ---- Durations ----

TEST(LifetimeTest, NamedDurations) {
  EXPECT_EQ(ParseLifetime("once")->kind, LifetimeKind::kOnce);
  EXPECT_EQ(ParseLifetime("until restart")->kind, LifetimeKind::kUntilRestart);
  EXPECT_EQ(ParseLifetime("always")->kind, LifetimeKind::kAlways);
}

TEST(LifetimeTest, GoDurations) {
  EXPECT_EQ(*ParseGoDuration("30s"), 30s);
  EXPECT_EQ(*ParseGoDuration("5m"), 5min);
  EXPECT_EQ(*ParseGoDuration("15m"), 15min);
  EXPECT_EQ(*ParseGoDuration("1h"), 1h);
  EXPECT_EQ(*ParseGoDuration("12h"), 12h);
  EXPECT_EQ(*ParseGoDuration("24h"), 24h);
  EXPECT_EQ(*ParseGoDuration("90m"), 90min);
  EXPECT_EQ(*ParseGoDuration("1h30m"), 90min);
  EXPECT_EQ(*ParseGoDuration("1.5h"), 90min);
  EXPECT_EQ(*ParseGoDuration(".5s"), 500ms);
  EXPECT_EQ(*ParseGoDuration("1.s"), 1s);
  EXPECT_EQ(*ParseGoDuration("300ms"), 300ms);
  EXPECT_EQ(*ParseGoDuration("2us"), 2us);
  EXPECT_EQ(*ParseGoDuration("2\xC2\xB5s"), 2us);
  EXPECT_EQ(*ParseGoDuration("7ns"), 7ns);
  EXPECT_EQ(*ParseGoDuration("+1m1s"), 61s);
  EXPECT_EQ(*ParseGoDuration("2562047h"), 2562047h);
  const Result<Lifetime> timed = ParseLifetime("1h30m");
  ASSERT_TRUE(timed.ok());
  EXPECT_EQ(timed->kind, LifetimeKind::kTimed);
  EXPECT_EQ(timed->timeout, 90min);
}

TEST(LifetimeTest, BadDurations) {
  for (const char* bad : {"", "forever", "Always", "5", "5x", "m", "1h-5m", "-5m", "0", "0s", "+", ".s",
                          "1..5s", "2562048h", "99999999999999999999s", "1h 30m"}) {
    const Result<Lifetime> lifetime = ParseLifetime(bad);
    EXPECT_FALSE(lifetime.ok()) << "'" << bad << "'";
    if (!lifetime.ok()) {
      EXPECT_NE(lifetime.error().message.find(std::string("'") + bad + "'"), std::string::npos);
    }
  }
}

TEST(RuleParserTest, DurationIsKeptAsWrittenAndParsed) {
  const Rule rule = MustParse(
      R"({"name": "n", "enabled": true, "action": "allow", "duration": "90m", "operator": {"type": "simple", "operand": "true"}})");
  EXPECT_EQ(rule.duration, "90m");
  EXPECT_EQ(rule.lifetime.kind, LifetimeKind::kTimed);
  EXPECT_EQ(rule.lifetime.timeout, 90min);
  const Rule restart = MustParse(
      R"({"name": "n", "enabled": true, "action": "deny", "duration": "until restart", "operator": {"type": "simple", "operand": "true"}})");
  EXPECT_EQ(restart.lifetime.kind, LifetimeKind::kUntilRestart);
}

// ---- Malformed rules: each names the field ----

TEST(RuleParserErrorTest, NotJsonOrNotAnObject) {
  ExpectRejected("{\"name\": ", "", "invalid JSON");
  ExpectRejected("", "", "invalid JSON");
  ExpectRejected("[1, 2]", "", "expected a JSON object");
  ExpectRejected("{\"name\": \"\xFF\"}", "", "invalid JSON");
  ExpectRejected(std::string(kMaxRuleFileBytes + 1, ' '), "", "larger than");
}

TEST(RuleParserErrorTest, TopLevelFields) {
  ExpectRejected(R"({"enabled": true, "action": "deny", "operator": {"type": "simple", "operand": "true"}})",
                 "name", "missing");
  ExpectRejected(
      R"({"name": 5, "enabled": true, "action": "deny", "operator": {"type": "simple", "operand": "true"}})",
      "name", "expected a string, found a number");
  ExpectRejected(RuleJson("", "deny", kTrueOp), "name", "empty");
  ExpectRejected(RuleJson("a/b", "deny", kTrueOp), "name", "'/'");
  ExpectRejected(R"({"name": "n", "action": "deny", "operator": {"type": "simple", "operand": "true"}})",
                 "enabled", "missing");
  ExpectRejected(
      R"({"name": "n", "enabled": "yes", "action": "deny", "operator": {"type": "simple", "operand": "true"}})",
      "enabled", "expected true or false, found a string");
  ExpectRejected(
      R"({"name": "n", "enabled": null, "action": "deny", "operator": {"type": "simple", "operand": "true"}})",
      "enabled", "found null");
  ExpectRejected(RuleJson("n", "deny", kTrueOp, R"("precedence": 1, )"), "precedence",
                 "expected true or false");
  ExpectRejected(RuleJson("n", "deny", kTrueOp, R"("nolog": "true", )"), "nolog", "expected true or false");
  ExpectRejected(RuleJson("n", "deny", kTrueOp, R"("description": [], )"), "description",
                 "expected a string");
  ExpectRejected(R"({"name": "n", "enabled": true, "operator": {"type": "simple", "operand": "true"}})",
                 "action", "missing");
  ExpectRejected(RuleJson("n", "permit", kTrueOp), "action", "unknown action 'permit'");
  ExpectRejected(RuleJson("n", "Allow", kTrueOp), "action", "unknown action 'Allow'");
  ExpectRejected(
      R"({"name": "n", "enabled": true, "action": "deny", "duration": "forever", "operator": {"type": "simple", "operand": "true"}})",
      "duration", "'forever'");
  ExpectRejected(
      R"({"name": "n", "enabled": true, "action": "deny", "duration": 60, "operator": {"type": "simple", "operand": "true"}})",
      "duration", "expected a string");
  ExpectRejected(RuleJson("n", "deny", kTrueOp, R"("created": "yesterday", )"), "created", "RFC 3339");
  ExpectRejected(RuleJson("n", "deny", kTrueOp, R"("updated": "2024-13-01T00:00:00Z", )"), "updated",
                 "RFC 3339");
  ExpectRejected(RuleJson("n", "deny", kTrueOp, R"("updated": "2024-01-01T00:00:00", )"), "updated",
                 "RFC 3339");
  ExpectRejected(R"({"name": "n", "enabled": true, "action": "deny"})", "operator", "missing");
  ExpectRejected(R"({"name": "n", "enabled": true, "action": "deny", "operator": []})", "operator",
                 "expected an object, found an array");
}

TEST(RuleParserErrorTest, TimestampsAccepted) {
  for (const char* ok :
       {"2024-01-01T00:00:00Z", "2024-01-01t23:59:60.5z", "2024-12-31T12:00:00.000000001-07:30", ""}) {
    EXPECT_EQ(MustParse(RuleJson("n", "deny", kTrueOp, std::string(R"("created": ")") + ok + "\", ")).created,
              ok);
  }
}

TEST(RuleParserErrorTest, OperatorTypeAndOperand) {
  ExpectRejected(WithOperator(R"({"operand": "true"})"), "operator.type", "missing");
  ExpectRejected(WithOperator(R"({"type": 3, "operand": "true"})"), "operator.type", "expected a string");
  ExpectRejected(WithOperator(Op("fuzzy", "dest.ip", "x")), "operator.type", "unknown operator type 'fuzzy'");
  ExpectRejected(WithOperator(Op("network", "dest.ip", "10.0.0.0/8")), "operator.operand",
                 "operator type 'network' needs operand 'dest.network' or 'source.network'");
  ExpectRejected(WithOperator(Op("lists", "dest.host", "/tmp")), "operator.operand",
                 "operator type 'lists' needs a lists.* operand");
  ExpectRejected(WithOperator(Op("range", "process.path", "1-2")), "operator.operand",
                 "operator type 'range' needs operand dest.port");
  ExpectRejected(WithOperator(Op("simple", "dest.network", "10.0.0.0/8")), "operator.operand",
                 "operand 'dest.network' needs operator type 'network'");
  ExpectRejected(WithOperator(Op("regexp", "lists.domains", "/tmp")), "operator.operand",
                 "operand 'lists.domains' needs operator type 'lists'");
  ExpectRejected(WithOperator(R"({"type": "simple", "data": "x"})"), "operator.operand", "missing");
  ExpectRejected(WithOperator(Op("simple", "dest.nowhere", "x")), "operator.operand",
                 "unknown operand 'dest.nowhere'");
  ExpectRejected(WithOperator(Op("simple", "list", "x")), "operator.operand", "needs operator type 'list'");
  // Not an operand of the format (OpenSnitch has none for the working directory).
  ExpectRejected(WithOperator(Op("simple", "process.cwd", "/tmp")), "operator.operand",
                 "unknown operand 'process.cwd'");
}

TEST(RuleParserErrorTest, OperatorData) {
  ExpectRejected(WithOperator(R"({"type": "simple", "operand": "process.path"})"), "operator.data",
                 "missing");
  ExpectRejected(WithOperator(R"({"type": "simple", "operand": "dest.port", "data": 443})"), "operator.data",
                 "expected a string, found a number");
  ExpectRejected(WithOperator(R"({"type": "simple", "operand": "true", "sensitive": "no"})"),
                 "operator.sensitive", "expected true or false");
  ExpectRejected(WithOperator(Op("regexp", "process.path", "^/usr/(bin")), "operator.data", "invalid regexp");
  ExpectRejected(WithOperator(Op("regexp", "process.path", "(a)\\\\1")), "operator.data", "invalid regexp");
  ExpectRejected(WithOperator(Op("regexp", "process.path", std::string(kMaxRegexpBytes + 1, 'a'))),
                 "operator.data", "longer than");
  ExpectRejected(WithOperator(Op("simple", "dest.port", "https")), "operator.data", "not a decimal port");
  ExpectRejected(WithOperator(Op("simple", "dest.port", "0443")), "operator.data", "not a decimal port");
  ExpectRejected(WithOperator(Op("simple", "dest.port", "65536")), "operator.data", "not a decimal port");
  ExpectRejected(WithOperator(Op("simple", "dest.port", "")), "operator.data", "not a decimal port");
  ExpectRejected(WithOperator(Op("simple", "process.id", "-1")), "operator.data", "not a decimal number");
  ExpectRejected(WithOperator(Op("simple", "user.id", "root")), "operator.data", "not a decimal number");
  ExpectRejected(WithOperator(Op("simple", "user.id", "4294967296")), "operator.data",
                 "not a decimal number");
  ExpectRejected(WithOperator(Op("simple", "dest.ip", "localhost")), "operator.data", "not an IPv4 or IPv6");
  ExpectRejected(WithOperator(Op("simple", "dest.ip", "10.0.0.0/8")), "operator.data", "not an IPv4 or IPv6");
  ExpectRejected(WithOperator(Op("simple", "protocol", "igmp")), "operator.data", "unknown protocol 'igmp'");
  ExpectRejected(WithOperator(Op("simple", "protocol", "TCP", true)), "operator.data",
                 "unknown protocol 'TCP'");
  EXPECT_EQ(MustParse(WithOperator(Op("simple", "user.id", "4294967295"))).op.number, 4294967295u);
}

TEST(RuleParserErrorTest, Lists) {
  ExpectRejected(WithOperator(R"({"type": "list", "operand": "list", "list": []})"), "operator.list",
                 "empty");
  ExpectRejected(WithOperator(R"({"type": "list", "operand": "list"})"), "operator.list", "empty");
  ExpectRejected(WithOperator(R"({"type": "list", "operand": "list", "data": ""})"), "operator.list",
                 "empty");
  ExpectRejected(WithOperator(R"({"type": "list", "operand": "list", "list": {}})"), "operator.list",
                 "expected an array");
  ExpectRejected(WithOperator(R"({"type": "list", "operand": "list", "list": [3]})"), "operator.list[0]",
                 "expected an operator object");
  ExpectRejected(WithOperator(R"({"type": "list", "operand": "list", "list": [)" + Op("simple", "true", "") +
                              ", " + Op("simple", "process.cwd", "x") + "]}"),
                 "operator.list[1].operand", "unknown operand 'process.cwd'");
  ExpectRejected(WithOperator(R"({"type": "list", "operand": "list", "data": "[{"})"), "operator.data",
                 "invalid JSON list");
  ExpectRejected(WithOperator(R"({"type": "list", "operand": "list", "data": "{}"})"), "operator.data",
                 "expected a JSON array");
  ExpectRejected(WithOperator(R"({"type": "list", "operand": "list", "data": "[]"})"), "operator.data",
                 "empty");
  ExpectRejected(
      WithOperator(
          R"({"type": "list", "operand": "list", "data": "[{\"type\": \"simple\", \"operand\": \"dest.port\", \"data\": \"x\"}]"})"),
      "operator.data[0].data", "not a decimal port");
}

TEST(RuleParserErrorTest, ListNestingIsBounded) {
  std::string op = kTrueOp;
  for (int depth = 0; depth <= kMaxOperatorDepth; ++depth) {
    op = R"({"type": "list", "operand": "list", "list": [)" + op + "]}";
  }
  const RuleParseError error = ParseError(WithOperator(op));
  EXPECT_NE(error.reason.find("nested deeper"), std::string::npos) << error.reason;
  EXPECT_EQ(error.field.rfind("operator.list[0]", 0), 0u) << error.field;
  // One level less is fine.
  std::string ok = kTrueOp;
  for (int depth = 0; depth < kMaxOperatorDepth; ++depth) {
    ok = R"({"type": "list", "operand": "list", "list": [)" + ok + "]}";
  }
  MustParse(WithOperator(ok));
}

TEST(RuleParserErrorTest, ParseRuleMessageNamesFieldAndReason) {
  const Result<Rule> rule = ParseRule(RuleJson("n", "permit", kTrueOp));
  ASSERT_FALSE(rule.ok());
  EXPECT_EQ(rule.error().message, "field 'action': unknown action 'permit' (expected allow, deny or reject)");
  const Result<Rule> not_json = ParseRule("nope");
  ASSERT_FALSE(not_json.ok());
  EXPECT_EQ(not_json.error().message.rfind("invalid JSON at byte", 0), 0u) << not_json.error().message;
}

// ---- Directories ----

TEST(LoadDirectoryTest, BadFilesAreReportedAndTheRestLoad) {
  TempDir dir;
  dir.Write("a-good.json", RuleJson("a-good", "allow", Op("simple", "dest.port", "443")));
  dir.Write("b-bad-json.json", "{ not json");
  dir.Write("c-no-operator.json", R"({"name": "c", "enabled": true, "action": "deny"})");
  dir.Write("d-bad-action.json", RuleJson("d", "permit", kTrueOp));
  dir.Write("e-bad-regexp.json", RuleJson("e", "deny", Op("regexp", "process.path", "(")));
  dir.Write(
      "f-bad-duration.json",
      R"({"name": "f", "enabled": true, "action": "deny", "duration": "1y", "operator": {"type": "simple", "operand": "true"}})");
  dir.Write("g-unknown-operand.json", RuleJson("g", "deny", Op("simple", "process.cwd", "x")));
  dir.Write(
      "h-wrong-type.json",
      R"({"name": "h", "enabled": "true", "action": "deny", "operator": {"type": "simple", "operand": "true"}})");
  dir.Write("z-good.json", RuleJson("z-good", "deny", Op("simple", "dest.port", "25")));
  dir.Write("README.md", "not a rule");
  dir.Write(".z-good.json.tmp", "{");

  Result<RuleSet::Loaded> loaded = RuleSet::LoadDirectory(dir.path());
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  ASSERT_EQ(loaded->rules.size(), 2u);
  EXPECT_EQ(loaded->rules.rules()[0].name, "a-good");
  EXPECT_EQ(loaded->rules.rules()[1].name, "z-good");

  struct Expected {
    std::string file, field, reason_part;
  };
  const std::vector<Expected> expected = {
      {"b-bad-json.json", "", "invalid JSON"},
      {"c-no-operator.json", "operator", "missing"},
      {"d-bad-action.json", "action", "unknown action"},
      {"e-bad-regexp.json", "operator.data", "invalid regexp"},
      {"f-bad-duration.json", "duration", "'1y'"},
      {"g-unknown-operand.json", "operator.operand", "unknown operand 'process.cwd'"},
      {"h-wrong-type.json", "enabled", "expected true or false"},
  };
  ASSERT_EQ(loaded->problems.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    const LoadProblem& problem = loaded->problems[i];
    EXPECT_EQ(problem.file, dir.File(expected[i].file));
    EXPECT_EQ(problem.field, expected[i].field) << problem.ToString();
    EXPECT_NE(problem.reason.find(expected[i].reason_part), std::string::npos) << problem.ToString();
  }
  EXPECT_EQ(loaded->problems[2].ToString(),
            dir.File("d-bad-action.json") +
                ": field 'action': unknown action 'permit' (expected allow, deny or reject)");
  EXPECT_EQ(loaded->problems[0].ToString().rfind(dir.File("b-bad-json.json") + ": invalid JSON", 0), 0u);

  Flow flow = MakeFlow(Protocol::kTcp, "198.18.0.2", 25);
  Attribution who = KernelAttribution();
  const Rule* rule = loaded->rules.Match(Connection{flow, who});
  ASSERT_NE(rule, nullptr);
  EXPECT_EQ(rule->name, "z-good");
}

TEST(LoadDirectoryTest, DuplicateNameInLaterFileIsAProblem) {
  TempDir dir;
  dir.Write("a.json", RuleJson("same", "allow", kTrueOp));
  dir.Write("b.json", RuleJson("same", "deny", kTrueOp));
  Result<RuleSet::Loaded> loaded = RuleSet::LoadDirectory(dir.path());
  ASSERT_TRUE(loaded.ok());
  ASSERT_EQ(loaded->rules.size(), 1u);
  EXPECT_EQ(loaded->rules.rules()[0].action, Action::kAllow);
  ASSERT_EQ(loaded->problems.size(), 1u);
  EXPECT_EQ(loaded->problems[0].file, dir.File("b.json"));
  EXPECT_EQ(loaded->problems[0].field, "name");
  EXPECT_NE(loaded->problems[0].reason.find(dir.File("a.json")), std::string::npos);
}

TEST(LoadDirectoryTest, NameNeedNotMatchFileName) {
  TempDir dir;
  dir.Write("file-stem.json", RuleJson("rule-name", "allow", kTrueOp));
  Result<RuleSet::Loaded> loaded = RuleSet::LoadDirectory(dir.path() + "/");
  ASSERT_TRUE(loaded.ok());
  EXPECT_TRUE(loaded->problems.empty());
  ASSERT_EQ(loaded->rules.size(), 1u);
  EXPECT_EQ(loaded->rules.rules()[0].name, "rule-name");
}

TEST(LoadDirectoryTest, SpecialFilesAreProblemsNotHangs) {
  TempDir dir;
  ASSERT_EQ(::mkdir(dir.File("sub.json").c_str(), 0700), 0);
  ASSERT_EQ(::mkfifo(dir.File("fifo.json").c_str(), 0600), 0);
  dir.Write("huge.json", std::string(kMaxRuleFileBytes + 1, ' '));
  dir.Write("ok.json", RuleJson("ok", "allow", kTrueOp));
  Result<RuleSet::Loaded> loaded = RuleSet::LoadDirectory(dir.path());
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->rules.size(), 1u);
  ASSERT_EQ(loaded->problems.size(), 3u);
  EXPECT_EQ(loaded->problems[0].file, dir.File("fifo.json"));
  EXPECT_EQ(loaded->problems[0].reason, "not a regular file");
  EXPECT_EQ(loaded->problems[1].file, dir.File("huge.json"));
  EXPECT_NE(loaded->problems[1].reason.find("larger than"), std::string::npos);
  EXPECT_EQ(loaded->problems[2].file, dir.File("sub.json"));
  EXPECT_EQ(loaded->problems[2].reason, "not a regular file");
}

TEST(LoadDirectoryTest, UnreadableFileIsAProblem) {
  if (::geteuid() == 0) GTEST_SKIP() << "root reads files regardless of mode";
  TempDir dir;
  dir.Write("locked.json", RuleJson("locked", "allow", kTrueOp));
  ASSERT_EQ(::chmod(dir.File("locked.json").c_str(), 0), 0);
  Result<RuleSet::Loaded> loaded = RuleSet::LoadDirectory(dir.path());
  ASSERT_TRUE(loaded.ok());
  ASSERT_EQ(loaded->problems.size(), 1u);
  EXPECT_NE(loaded->problems[0].reason.find("open: Permission denied"), std::string::npos);
}

TEST(LoadDirectoryTest, MissingOrNonDirectoryIsAnError) {
  TempDir dir;
  Result<RuleSet::Loaded> missing = RuleSet::LoadDirectory(dir.File("absent"));
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find(dir.File("absent")), std::string::npos);
  EXPECT_EQ(missing.error().sys_errno, ENOENT);
  dir.Write("plain", "x");
  Result<RuleSet::Loaded> plain = RuleSet::LoadDirectory(dir.File("plain"));
  ASSERT_FALSE(plain.ok());
  EXPECT_NE(plain.error().message.find("not a directory"), std::string::npos);
  EXPECT_NE(plain.error().message.find(dir.File("plain")), std::string::npos);
}

TEST(LoadDirectoryTest, EmptyDirectoryLoadsNothing) {
  TempDir dir;
  Result<RuleSet::Loaded> loaded = RuleSet::LoadDirectory(dir.path());
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->rules.size(), 0u);
  EXPECT_TRUE(loaded->problems.empty());
}

// ---- The shipped defaults ----

TEST(DefaultRulesTest, LoadWithoutProblems) {
  Result<RuleSet::Loaded> loaded = RuleSet::LoadDirectory(PICKET_DEFAULT_RULES_DIR);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  for (const LoadProblem& problem : loaded->problems) ADD_FAILURE() << problem.ToString();
  EXPECT_EQ(loaded->rules.size(), 2u);
  for (const Rule& rule : loaded->rules.rules()) {
    EXPECT_TRUE(rule.enabled) << rule.name;
    EXPECT_TRUE(rule.precedence) << rule.name;
    EXPECT_EQ(rule.action, Action::kAllow) << rule.name;
    EXPECT_FALSE(rule.description.empty()) << rule.name;
  }
}

TEST(DefaultRulesTest, AllowLoopbackAndKernelOnly) {
  Result<RuleSet::Loaded> loaded = RuleSet::LoadDirectory(PICKET_DEFAULT_RULES_DIR);
  ASSERT_TRUE(loaded.ok());
  const RuleSet& rules = loaded->rules;
  const Attribution app = ProcessAttribution(50, "/usr/bin/firefox", {"firefox"});
  auto decide = [&](const Flow& flow, const Attribution& who) {
    const Rule* rule = rules.Match(Connection{flow, who});
    return rule != nullptr ? rule->name : std::string("none");
  };
  for (const char* loopback : {"127.0.0.1", "127.0.0.53", "127.255.255.254", "::1", "::ffff:127.0.0.1"}) {
    EXPECT_EQ(decide(MakeFlow(Protocol::kTcp, loopback, 631), app), "000-allow-loopback") << loopback;
    EXPECT_EQ(decide(MakeFlow(Protocol::kUdp, loopback, 53), app), "000-allow-loopback") << loopback;
  }
  for (const char* remote : {"198.18.0.2", "128.0.0.1", "1.127.0.0", "2001:2::1", "::2", "::1:1"}) {
    EXPECT_EQ(decide(MakeFlow(Protocol::kTcp, remote, 443), app), "none") << remote;
  }
  EXPECT_EQ(decide(MakeFlow(Protocol::kTcp, "198.18.0.2", 443), KernelAttribution()), "000-allow-kernel");
  EXPECT_EQ(decide(MakeFlow(Protocol::kUdp, "2001:2::9", 51820), KernelAttribution()), "000-allow-kernel");
  EXPECT_EQ(decide(MakeFlow(Protocol::kTcp, "198.18.0.2", 443), testing_util::UnknownAttribution()), "none");
}

}  // namespace
}  // namespace picket
