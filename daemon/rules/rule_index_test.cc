// The rule index must never change a decision: RuleSet::Match (index + candidates) is compared
// with a plain scan of every rule in name order over random rule sets and connections, and the
// index's guards are checked to actually narrow the candidates.
#include "rules/rule_index.h"

#include <gtest/gtest.h>

#include <random>

#include "rules/operator_match.h"
#include "rules/rule_set.h"
#include "rules/rules_test_util.h"

namespace picket {
namespace {

using testing_util::MakeFlow;
using testing_util::MustParse;
using testing_util::Op;
using testing_util::ProcessAttribution;
using testing_util::RuleJson;

// OpenSnitch's order, written the obvious way: every enabled rule, by name.
const Rule* LinearMatch(const RuleSet& set, const Connection& connection) {
  ConnectionFields fields(connection);
  const Rule* last_allow = nullptr;
  for (const Rule& rule : set.rules()) {
    if (!rule.enabled || !OperatorMatches(rule.op, fields)) continue;
    if (rule.action != Action::kAllow || rule.precedence) return &rule;
    last_allow = &rule;
  }
  return last_allow;
}

const std::vector<std::string> kPaths = {"/usr/bin/curl", "/usr/bin/CURL", "/usr/bin/wget", "/opt/Äpp/bin", "/opt/äpp/bin"};
const std::vector<std::string> kIps = {"198.18.0.2", "198.18.0.3", "198.18.1.9", "10.1.2.3", "2001:2::5", "::ffff:198.18.0.2"};
const std::vector<std::string> kHosts = {"example.org", "www.example.org", "a.b.example.org", "EXAMPLE.net", "other.test"};
const std::vector<int> kPorts = {22, 53, 80, 443, 8080};

std::string RandomOperator(std::mt19937& rng, int depth) {
  auto pick = [&rng](const auto& values) { return values[std::uniform_int_distribution<size_t>(0, values.size() - 1)(rng)]; };
  const bool sensitive = std::uniform_int_distribution<int>(0, 3)(rng) == 0;
  switch (std::uniform_int_distribution<int>(0, depth < 2 ? 14 : 13)(rng)) {
    case 0: return Op("simple", "true", "");
    case 1: return Op("simple", "process.path", pick(kPaths), sensitive);
    case 2: return Op("regexp", "process.path", pick(std::vector<std::string>{"curl", "^/usr/", "(?:wget|äpp)", "^kernel$"}), sensitive);
    case 3: return Op("simple", "dest.ip", pick(kIps));
    case 4: return Op("network", "dest.network", pick(std::vector<std::string>{"198.18.0.0/24", "198.18.0.0/15", "LAN", "2001:2::/48", "0.0.0.0/0"}));
    case 5: return Op("simple", "dest.port", std::to_string(pick(kPorts)));
    case 6: return Op("regexp", "dest.port", pick(std::vector<std::string>{"^(53|80)$", "44", "^8"}));
    case 7: return Op("simple", "dest.host", pick(std::vector<std::string>{"example.org", "*.example.org", "EXAMPLE.NET", "", "*.b.example.org"}), sensitive);
    case 8: return Op("regexp", "dest.host", pick(std::vector<std::string>{"example", "^www\\.", "\\.net$"}), sensitive);
    case 9: return Op("simple", "protocol", pick(std::vector<std::string>{"tcp", "udp", "tcp6"}));
    case 10: return Op("range", "dest.port", pick(std::vector<std::string>{"1-1024", "443-8080"}));
    case 11: return Op("simple", "user.id", pick(std::vector<std::string>{"0", "1000"}));
    case 12: return Op("regexp", "process.command", pick(std::vector<std::string>{"-s", "^curl", "https"}), sensitive);
    case 13: return Op("simple", "process.command", pick(std::vector<std::string>{"curl -s https://example.test/", "wget"}), sensitive);
    default: {
      std::string list = R"({"type": "list", "operand": "list", "list": [)";
      const int members = std::uniform_int_distribution<int>(1, 3)(rng);
      for (int i = 0; i < members; ++i) list += (i > 0 ? ", " : "") + RandomOperator(rng, depth + 1);
      return list + "]}";
    }
  }
}

TEST(RuleIndexTest, DecisionsEqualALinearScan) {
  std::mt19937 rng(20261121);
  for (int round = 0; round < 20; ++round) {
    std::vector<Rule> rules;
    const int count = std::uniform_int_distribution<int>(1, 300)(rng);
    for (int i = 0; i < count; ++i) {
      const char* action = std::uniform_int_distribution<int>(0, 2)(rng) == 0 ? "deny" : "allow";
      std::string extra;
      if (std::uniform_int_distribution<int>(0, 4)(rng) == 0) extra += R"("precedence": true, )";
      Rule rule = MustParse(RuleJson("r" + std::to_string(std::uniform_int_distribution<int>(0, 999999)(rng)) + "-" +
                                         std::to_string(i),
                                     action, RandomOperator(rng, 0), extra));
      rule.enabled = std::uniform_int_distribution<int>(0, 9)(rng) != 0;
      rules.push_back(std::move(rule));
    }
    Result<RuleSet> set = RuleSet::FromRules(std::move(rules));
    ASSERT_TRUE(set.ok());
    auto pick = [&rng](const auto& values) { return values[std::uniform_int_distribution<size_t>(0, values.size() - 1)(rng)]; };
    for (int c = 0; c < 300; ++c) {
      const std::string ip = pick(kIps);
      const Protocol protocol = std::uniform_int_distribution<int>(0, 1)(rng) == 0 ? Protocol::kTcp : Protocol::kUdp;
      Flow flow = MakeFlow(protocol, ip, static_cast<uint16_t>(pick(kPorts)), 1000);
      Attribution who = ProcessAttribution(4242, pick(kPaths), {"curl", "-s", "https://example.test/"},
                                           std::uniform_int_distribution<int>(0, 1)(rng) == 0 ? 0u : 1000u);
      std::vector<std::string> hosts;
      for (int h = std::uniform_int_distribution<int>(0, 2)(rng); h > 0; --h) hosts.push_back(pick(kHosts));
      const Connection connection{flow, who, &hosts};
      const Rule* expected = LinearMatch(*set, connection);
      const Rule* actual = set->Match(connection);
      ASSERT_EQ(actual, expected) << "round " << round << " connection " << c << ": index "
                                  << (actual ? actual->name : "none") << ", scan " << (expected ? expected->name : "none");
    }
  }
}

TEST(RuleIndexTest, GuardsNarrowTheCandidates) {
  std::vector<Rule> rules;
  for (int i = 0; i < 1000; ++i) {
    rules.push_back(MustParse(RuleJson("path-" + std::to_string(i), "allow",
                                       Op("simple", "process.path", "/usr/bin/tool" + std::to_string(i)))));
  }
  rules.push_back(MustParse(RuleJson("net", "deny", Op("network", "dest.network", "10.0.0.0/8"))));
  rules.push_back(MustParse(RuleJson("host", "deny", Op("simple", "dest.host", "*.example.org"))));
  rules.push_back(MustParse(RuleJson("re", "deny", Op("regexp", "process.path", "^/opt/"))));
  rules.push_back(MustParse(RuleJson("any", "allow", Op("simple", "true", ""))));
  Result<RuleSet> set = RuleSet::FromRules(std::move(rules));
  ASSERT_TRUE(set.ok());
  const RuleSet::IndexStats stats = set->index_stats();
  EXPECT_EQ(stats.equality, 1000u);
  EXPECT_EQ(stats.network, 1u);
  EXPECT_EQ(stats.host_suffix, 1u);
  EXPECT_EQ(stats.regexp, 1u);
  EXPECT_EQ(stats.unguarded, 1u);

  RuleIndex index(set->rules(), [&] {
    std::vector<uint32_t> all(set->rules().size());
    for (uint32_t i = 0; i < all.size(); ++i) all[i] = i;
    return all;
  }());
  Flow flow = MakeFlow(Protocol::kTcp, "10.1.2.3", 443, 1000);
  Attribution who = ProcessAttribution(1, "/usr/bin/tool7", {"tool7"});
  std::vector<std::string> hosts = {"www.example.org"};
  ConnectionFields fields(Connection{flow, who, &hosts});
  std::vector<uint32_t> candidates;
  index.GuardedCandidates(fields, candidates);
  std::vector<std::string> names;
  for (uint32_t position : candidates) names.push_back(set->rules()[position].name);
  EXPECT_EQ(names, (std::vector<std::string>{"host", "net", "path-7"}));
}

TEST(RuleIndexTest, OrderHoldsAcrossGuardedAndUnguardedRules) {
  auto decide = [](std::vector<std::string> jsons) {
    std::vector<Rule> rules;
    for (const std::string& json : jsons) rules.push_back(MustParse(json));
    Result<RuleSet> set = RuleSet::FromRules(std::move(rules));
    Flow flow = MakeFlow(Protocol::kTcp, "198.18.0.2", 443, 1000);
    Attribution who = ProcessAttribution(1, "/usr/bin/curl", {"curl"});
    const Rule* rule = set->Match(Connection{flow, who});
    return rule != nullptr ? rule->name : std::string("none");
  };
  const std::string path = Op("simple", "process.path", "/usr/bin/curl");
  const std::string any = Op("simple", "true", "");
  // An unguarded allow first, a guarded deny later: the deny decides.
  EXPECT_EQ(decide({RuleJson("a", "allow", any), RuleJson("b", "deny", path)}), "b");
  // A guarded allow, then an unguarded allow: the last allow decides.
  EXPECT_EQ(decide({RuleJson("a", "allow", path), RuleJson("b", "allow", any)}), "b");
  EXPECT_EQ(decide({RuleJson("a", "allow", any), RuleJson("b", "allow", path)}), "b");
  // Precedence on the earlier one, whichever kind.
  EXPECT_EQ(decide({RuleJson("a", "allow", path, R"("precedence": true, )"), RuleJson("b", "deny", any)}), "a");
  EXPECT_EQ(decide({RuleJson("a", "allow", any, R"("precedence": true, )"), RuleJson("b", "deny", path)}), "a");
  EXPECT_EQ(decide({RuleJson("a", "reject", any), RuleJson("b", "deny", path)}), "a");
}

}  // namespace
}  // namespace picket
