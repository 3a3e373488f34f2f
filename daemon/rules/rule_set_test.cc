// Matching: every operator type × operand, case sensitivity, kernel/unknown senders, and the
// OpenSnitch evaluation order.
#include "rules/rule_set.h"

#include <gtest/gtest.h>

#include "rules/operator_match.h"
#include "rules/rules_test_util.h"

namespace picket {
namespace {

using testing_util::KernelAttribution;
using testing_util::MakeFlow;
using testing_util::MustParse;
using testing_util::Op;
using testing_util::ProcessAttribution;
using testing_util::RuleJson;
using testing_util::UnknownAttribution;

// Whether a set holding one deny rule with `operator_json` decides for (flow, who).
bool Matches(const std::string& operator_json, const Flow& flow, const Attribution& who) {
  std::vector<Rule> rules;
  rules.push_back(MustParse(RuleJson("only", "deny", operator_json)));
  Result<RuleSet> set = RuleSet::FromRules(std::move(rules));
  EXPECT_TRUE(set.ok());
  return set.ok() && set->Match(Connection{flow, who}) != nullptr;
}

class OperandTest : public ::testing::Test {
 protected:
  Flow tcp4_ = MakeFlow(Protocol::kTcp, "198.18.0.2", 443, 1000);
  Attribution curl_ =
      ProcessAttribution(4242, "/usr/bin/curl", {"curl", "-s", "https://example.test/"}, 1000);
  Attribution kernel_ = KernelAttribution();
  Attribution unknown_ = UnknownAttribution();
};

TEST_F(OperandTest, TrueMatchesEverySender) {
  for (const std::string type : {"simple", "regexp"}) {
    const std::string op = R"({"type": ")" + type + R"(", "operand": "true", "data": ""})";
    EXPECT_TRUE(Matches(op, tcp4_, curl_)) << type;
    EXPECT_TRUE(Matches(op, tcp4_, kernel_)) << type;
    EXPECT_TRUE(Matches(op, tcp4_, unknown_)) << type;
  }
}

TEST_F(OperandTest, ProcessPathSimple) {
  EXPECT_TRUE(Matches(Op("simple", "process.path", "/usr/bin/curl"), tcp4_, curl_));
  EXPECT_FALSE(Matches(Op("simple", "process.path", "/usr/bin/cur"), tcp4_, curl_));
  EXPECT_FALSE(Matches(Op("simple", "process.path", "/usr/bin/curl2"), tcp4_, curl_));
  EXPECT_FALSE(Matches(Op("simple", "process.path", "/usr/bin/wget"), tcp4_, curl_));
  EXPECT_TRUE(Matches(Op("simple", "process.path", "/USR/bin/Curl"), tcp4_, curl_));
  EXPECT_FALSE(Matches(Op("simple", "process.path", "/USR/bin/Curl", true), tcp4_, curl_));
  EXPECT_TRUE(Matches(Op("simple", "process.path", "/usr/bin/curl", true), tcp4_, curl_));
}

TEST_F(OperandTest, ProcessPathRegexp) {
  EXPECT_TRUE(Matches(Op("regexp", "process.path", "^/usr/bin/"), tcp4_, curl_));
  EXPECT_TRUE(Matches(Op("regexp", "process.path", "bin/cu"), tcp4_, curl_));  // unanchored search
  EXPECT_FALSE(Matches(Op("regexp", "process.path", "^bin/cu"), tcp4_, curl_));
  EXPECT_FALSE(Matches(Op("regexp", "process.path", "^/opt/"), tcp4_, curl_));
  EXPECT_TRUE(Matches(Op("regexp", "process.path", "^/USR/BIN/CURL$"), tcp4_, curl_));
  EXPECT_FALSE(Matches(Op("regexp", "process.path", "^/USR/BIN/CURL$", true), tcp4_, curl_));
}

TEST_F(OperandTest, ProcessPathOfKernelIsTheWordKernel) {
  EXPECT_TRUE(Matches(Op("simple", "process.path", "kernel"), tcp4_, kernel_));
  EXPECT_TRUE(Matches(Op("regexp", "process.path", "^kernel$"), tcp4_, kernel_));
  EXPECT_FALSE(Matches(Op("simple", "process.path", "/usr/bin/curl"), tcp4_, kernel_));
  EXPECT_FALSE(Matches(Op("regexp", "process.path", "^/"), tcp4_, kernel_));
  EXPECT_FALSE(Matches(Op("simple", "process.path", "kernel"), tcp4_, curl_));
  EXPECT_FALSE(Matches(Op("simple", "process.path", "kernel"), tcp4_, unknown_));
}

TEST_F(OperandTest, UnknownSenderMatchesNoProcessOperand) {
  for (const std::string operand : {"process.path", "process.command", "process.id"}) {
    EXPECT_FALSE(Matches(Op("regexp", operand, ".*"), tcp4_, unknown_)) << operand;
    EXPECT_FALSE(Matches(Op("regexp", operand, ""), tcp4_, unknown_)) << operand;
  }
  EXPECT_TRUE(Matches(Op("regexp", "process.path", ".*"), tcp4_, curl_));
}

TEST_F(OperandTest, KernelSenderMatchesNoOtherProcessOperand) {
  EXPECT_FALSE(Matches(Op("regexp", "process.command", ".*"), tcp4_, kernel_));
  EXPECT_FALSE(Matches(Op("regexp", "process.id", ".*"), tcp4_, kernel_));
  EXPECT_FALSE(Matches(Op("simple", "process.id", "0"), tcp4_, kernel_));
}

TEST_F(OperandTest, ProcessCommand) {
  EXPECT_TRUE(Matches(Op("simple", "process.command", "curl -s https://example.test/"), tcp4_, curl_));
  EXPECT_TRUE(Matches(Op("simple", "process.command", "CURL -S https://EXAMPLE.test/"), tcp4_, curl_));
  EXPECT_FALSE(Matches(Op("simple", "process.command", "CURL -S https://EXAMPLE.test/", true), tcp4_, curl_));
  EXPECT_FALSE(Matches(Op("simple", "process.command", "curl -s"), tcp4_, curl_));
  EXPECT_TRUE(Matches(Op("regexp", "process.command", "-s\\\\s+https://"), tcp4_, curl_));
  EXPECT_FALSE(Matches(Op("regexp", "process.command", "-v"), tcp4_, curl_));
}

TEST_F(OperandTest, ProcessId) {
  EXPECT_TRUE(Matches(Op("simple", "process.id", "4242"), tcp4_, curl_));
  EXPECT_FALSE(Matches(Op("simple", "process.id", "4243"), tcp4_, curl_));
  EXPECT_FALSE(Matches(Op("simple", "process.id", "424"), tcp4_, curl_));
  EXPECT_TRUE(Matches(Op("regexp", "process.id", "^42"), tcp4_, curl_));
  EXPECT_FALSE(Matches(Op("regexp", "process.id", "^43"), tcp4_, curl_));
}

TEST_F(OperandTest, UserIdFromAttributionThenFlow) {
  EXPECT_TRUE(Matches(Op("simple", "user.id", "1000"), tcp4_, curl_));
  EXPECT_FALSE(Matches(Op("simple", "user.id", "0"), tcp4_, curl_));
  EXPECT_TRUE(Matches(Op("regexp", "user.id", "^10+$"), tcp4_, curl_));
  // The attribution's uid wins over the queue's.
  Attribution root_curl = ProcessAttribution(7, "/usr/bin/curl", {"curl"}, 0);
  EXPECT_TRUE(Matches(Op("simple", "user.id", "0"), tcp4_, root_curl));
  EXPECT_FALSE(Matches(Op("simple", "user.id", "1000"), tcp4_, root_curl));
  // Unknown sender: the queue's uid still identifies the socket owner.
  EXPECT_TRUE(Matches(Op("simple", "user.id", "1000"), tcp4_, unknown_));
  // No uid anywhere: no match, not even for ".*".
  Flow no_uid = MakeFlow(Protocol::kTcp, "198.18.0.2", 443);
  EXPECT_FALSE(Matches(Op("simple", "user.id", "0"), no_uid, kernel_));
  EXPECT_FALSE(Matches(Op("regexp", "user.id", ".*"), no_uid, kernel_));
}

TEST_F(OperandTest, DestIpV4) {
  EXPECT_TRUE(Matches(Op("simple", "dest.ip", "198.18.0.2"), tcp4_, curl_));
  EXPECT_FALSE(Matches(Op("simple", "dest.ip", "198.18.0.20"), tcp4_, curl_));
  EXPECT_TRUE(Matches(Op("regexp", "dest.ip", "^198\\\\.18\\\\."), tcp4_, curl_));
  EXPECT_FALSE(Matches(Op("regexp", "dest.ip", "^198\\\\.19\\\\."), tcp4_, curl_));
  EXPECT_FALSE(Matches(Op("regexp", "dest.ip", "^198\\\\.18\\\\.0\\\\.2$"),
                       MakeFlow(Protocol::kTcp, "198.18.0.21", 443), curl_));
}

TEST_F(OperandTest, DestIpV4MappedIsSeenAsV4) {
  Flow mapped = MakeFlow(Protocol::kTcp, "::ffff:198.18.0.2", 443);
  EXPECT_TRUE(Matches(Op("simple", "dest.ip", "198.18.0.2"), mapped, curl_));
  EXPECT_TRUE(Matches(Op("simple", "dest.ip", "::ffff:198.18.0.2"), mapped, curl_));
  EXPECT_TRUE(Matches(Op("regexp", "dest.ip", "^198\\\\.18\\\\.0\\\\.2$"), mapped, curl_));
  EXPECT_FALSE(Matches(Op("regexp", "dest.ip", "ffff"), mapped, curl_));
}

TEST_F(OperandTest, DestIpV6) {
  Flow v6 = MakeFlow(Protocol::kTcp, "2001:2::a", 443);
  EXPECT_TRUE(Matches(Op("simple", "dest.ip", "2001:2::a"), v6, curl_));
  EXPECT_TRUE(Matches(Op("simple", "dest.ip", "2001:0002:0:0::A"), v6, curl_));  // compared as addresses
  EXPECT_FALSE(Matches(Op("simple", "dest.ip", "2001:2::b"), v6, curl_));
  EXPECT_TRUE(Matches(Op("regexp", "dest.ip", "^2001:2::a$"), v6, curl_));
  EXPECT_TRUE(Matches(Op("regexp", "dest.ip", "^2001:2::A$"), v6, curl_));
  EXPECT_FALSE(Matches(Op("regexp", "dest.ip", "^2001:2::A$", true), v6, curl_));
}

TEST_F(OperandTest, DestPort) {
  EXPECT_TRUE(Matches(Op("simple", "dest.port", "443"), tcp4_, curl_));
  EXPECT_FALSE(Matches(Op("simple", "dest.port", "80"), tcp4_, curl_));
  EXPECT_FALSE(Matches(Op("simple", "dest.port", "44"), tcp4_, curl_));
  EXPECT_TRUE(Matches(Op("regexp", "dest.port", "^(443|8443)$"), tcp4_, curl_));
  EXPECT_FALSE(Matches(Op("regexp", "dest.port", "^80$"), tcp4_, curl_));
  EXPECT_TRUE(Matches(Op("simple", "dest.port", "0"), MakeFlow(Protocol::kIcmp, "198.18.0.2", 0), kernel_));
}

TEST_F(OperandTest, ProtocolNames) {
  struct Case {
    Protocol protocol;
    std::string dst;
    std::string name;
  };
  const std::vector<Case> cases = {
      {Protocol::kTcp, "198.18.0.2", "tcp"},         {Protocol::kTcp, "2001:2::2", "tcp6"},
      {Protocol::kUdp, "198.18.0.2", "udp"},         {Protocol::kUdp, "2001:2::2", "udp6"},
      {Protocol::kUdpLite, "198.18.0.2", "udplite"}, {Protocol::kUdpLite, "2001:2::2", "udplite6"},
      {Protocol::kSctp, "198.18.0.2", "sctp"},       {Protocol::kSctp, "2001:2::2", "sctp6"},
      {Protocol::kIcmp, "198.18.0.2", "icmp"},       {Protocol::kIcmpV6, "2001:2::2", "icmp6"},
  };
  for (const Case& c : cases) {
    const Flow flow = MakeFlow(c.protocol, c.dst, 0);
    for (const Case& other : cases) {
      const bool same = other.name == c.name;
      EXPECT_EQ(Matches(Op("simple", "protocol", other.name), flow, curl_), same)
          << c.name << " vs " << other.name;
    }
    EXPECT_TRUE(Matches(Op("regexp", "protocol", "^" + c.name + "$"), flow, curl_)) << c.name;
  }
  EXPECT_TRUE(Matches(Op("simple", "protocol", "TCP"), tcp4_, curl_));
  EXPECT_TRUE(
      Matches(Op("regexp", "protocol", "^udp"), MakeFlow(Protocol::kUdpLite, "2001:2::2", 53), curl_));
  EXPECT_FALSE(Matches(Op("regexp", "protocol", "6$"), tcp4_, curl_));
}

TEST_F(OperandTest, ListIsAnAndOfItsOperators) {
  const std::string list = R"({"type": "list", "operand": "list", "list": [)" +
                           Op("simple", "process.path", "/usr/bin/curl") + ", " +
                           Op("simple", "dest.port", "443") + "]}";
  EXPECT_TRUE(Matches(list, tcp4_, curl_));
  EXPECT_FALSE(Matches(list, MakeFlow(Protocol::kTcp, "198.18.0.2", 80), curl_));
  EXPECT_FALSE(Matches(list, tcp4_, ProcessAttribution(1, "/usr/bin/wget", {"wget"})));
  EXPECT_FALSE(Matches(list, tcp4_, unknown_));
}

TEST_F(OperandTest, ListInLegacyDataString) {
  const std::string list =
      R"({"type": "list", "operand": "list", "data": "[{\"type\": \"simple\", \"operand\": \"dest.ip\", \"data\": \"198.18.0.2\"}, {\"type\": \"regexp\", \"operand\": \"process.path\", \"data\": \"curl$\", \"sensitive\": false}]"})";
  EXPECT_TRUE(Matches(list, tcp4_, curl_));
  EXPECT_FALSE(Matches(list, MakeFlow(Protocol::kTcp, "198.18.0.3", 443), curl_));
  EXPECT_FALSE(Matches(list, tcp4_, ProcessAttribution(1, "/usr/bin/wget", {"wget"})));
}

TEST_F(OperandTest, ListPrefersListOverLegacyData) {
  // As OpenSnitch writes both: `list` wins, and `data` then only carries the same text.
  const std::string list = R"({"type": "list", "operand": "list", "data": "[]", "list": [)" +
                           Op("simple", "dest.port", "443") + "]}";
  EXPECT_TRUE(Matches(list, tcp4_, curl_));
  EXPECT_FALSE(Matches(list, MakeFlow(Protocol::kTcp, "198.18.0.2", 80), curl_));
}

TEST_F(OperandTest, NestedLists) {
  const std::string inner = R"({"type": "list", "operand": "list", "list": [)" +
                            Op("simple", "protocol", "tcp") + ", " + Op("simple", "dest.port", "443") + "]}";
  const std::string outer = R"({"type": "list", "operand": "list", "list": [)" + inner + ", " +
                            Op("regexp", "process.path", "curl") + "]}";
  EXPECT_TRUE(Matches(outer, tcp4_, curl_));
  EXPECT_FALSE(Matches(outer, MakeFlow(Protocol::kUdp, "198.18.0.2", 443), curl_));
}

TEST(CaseFoldingTest, UnicodeAndInvalidBytes) {
  EXPECT_TRUE(EqualsIgnoringCase("/home/\xC3\x84rger", "/HOME/\xC3\xA4RGER"));   // Ä / ä
  EXPECT_FALSE(EqualsIgnoringCase("/home/\xC3\x84rger", "/home/\xC3\xB6rger"));  // Ä / ö
  EXPECT_FALSE(EqualsIgnoringCase("/tmp/\xFF", "/tmp/\xFE"));  // invalid UTF-8 never folds together
  EXPECT_TRUE(EqualsIgnoringCase("/TMP/\xFF", "/tmp/\xFF"));
  EXPECT_FALSE(
      EqualsIgnoringCase("\xEF\xBB\xBF"
                         "abc",
                         "abc"));  // a BOM is a character
  EXPECT_FALSE(EqualsIgnoringCase("abc", "abcd"));
  EXPECT_TRUE(EqualsIgnoringCase("", ""));
}

TEST_F(OperandTest, UnicodeCaseInsensitivePaths) {
  Attribution who = ProcessAttribution(5, "/opt/\xC3\x84pp/bin", {"app"});
  EXPECT_TRUE(Matches(Op("simple", "process.path", "/OPT/\xC3\xA4PP/BIN"), tcp4_, who));
  EXPECT_FALSE(Matches(Op("simple", "process.path", "/OPT/\xC3\xA4PP/BIN", true), tcp4_, who));
  EXPECT_TRUE(Matches(Op("regexp", "process.path", "\xC3\xA4pp"), tcp4_, who));
  EXPECT_FALSE(Matches(Op("regexp", "process.path", "\xC3\xA4pp", true), tcp4_, who));
}

// ---- Evaluation order ----

std::string AnyRule(const std::string& name, const std::string& action, const std::string& extra = "") {
  return RuleJson(name, action, R"({"type": "simple", "operand": "true", "data": ""})", extra);
}

std::string NoMatchRule(const std::string& name, const std::string& action) {
  return RuleJson(name, action, Op("simple", "dest.port", "1"));
}

class OrderTest : public ::testing::Test {
 protected:
  // The name of the deciding rule, or "none".
  std::string Decide(const std::vector<std::string>& files) {
    std::vector<Rule> rules;
    for (const std::string& json : files) rules.push_back(MustParse(json));
    Result<RuleSet> set = RuleSet::FromRules(std::move(rules));
    EXPECT_TRUE(set.ok());
    if (!set.ok()) return "error";
    const Rule* rule = set->Match(Connection{flow_, who_});
    return rule != nullptr ? rule->name : "none";
  }

  Flow flow_ = MakeFlow(Protocol::kTcp, "198.18.0.2", 443, 1000);
  Attribution who_ = ProcessAttribution(10, "/usr/bin/curl", {"curl"});
};

TEST_F(OrderTest, DenyEarlierInNameOrderBeatsAllow) {
  EXPECT_EQ(Decide({AnyRule("b-allow", "allow"), AnyRule("a-deny", "deny")}), "a-deny");
}

TEST_F(OrderTest, DenyLaterInNameOrderStillBeatsPlainAllow) {
  EXPECT_EQ(Decide({AnyRule("a-allow", "allow"), AnyRule("b-deny", "deny")}), "b-deny");
  EXPECT_EQ(Decide({AnyRule("a-allow", "allow"), AnyRule("b-reject", "reject")}), "b-reject");
}

TEST_F(OrderTest, FirstDenyOrRejectDecides) {
  EXPECT_EQ(Decide({AnyRule("c-deny", "deny"), AnyRule("b-reject", "reject")}), "b-reject");
}

TEST_F(OrderTest, LastMatchingAllowWins) {
  EXPECT_EQ(Decide({AnyRule("a-allow", "allow"), AnyRule("c-allow", "allow"), AnyRule("b-allow", "allow"),
                    NoMatchRule("d-allow", "allow")}),
            "c-allow");
}

TEST_F(OrderTest, PrecedenceAllowStopsEvaluation) {
  EXPECT_EQ(Decide({AnyRule("a-allow", "allow", R"("precedence": true, )"), AnyRule("b-deny", "deny"),
                    AnyRule("c-allow", "allow")}),
            "a-allow");
}

TEST_F(OrderTest, DenyBeforePrecedenceAllowStillWins) {
  EXPECT_EQ(Decide({AnyRule("a-deny", "deny"), AnyRule("b-allow", "allow", R"("precedence": true, )")}),
            "a-deny");
}

TEST_F(OrderTest, DisabledRulesAreIgnored) {
  const std::string disabled_deny =
      R"({"name": "a-deny", "enabled": false, "action": "deny", "operator": {"type": "simple", "operand": "true"}})";
  EXPECT_EQ(Decide({disabled_deny, AnyRule("b-allow", "allow")}), "b-allow");
  EXPECT_EQ(Decide({disabled_deny}), "none");
}

TEST_F(OrderTest, NonMatchingRulesDoNotDecide) {
  EXPECT_EQ(Decide({NoMatchRule("a-deny", "deny"), AnyRule("b-allow", "allow")}), "b-allow");
  EXPECT_EQ(Decide({NoMatchRule("a-deny", "deny")}), "none");
  EXPECT_EQ(Decide({}), "none");
}

TEST_F(OrderTest, NamesCompareAsBytes) {
  // Upper case sorts before lower case, digits before letters.
  EXPECT_EQ(Decide({AnyRule("a-deny", "deny"), AnyRule("Z-reject", "reject")}), "Z-reject");
  EXPECT_EQ(Decide({AnyRule("a-deny", "deny"), AnyRule("9-reject", "reject")}), "9-reject");
}

TEST(RuleSetTest, RulesAreKeptInNameOrderIncludingDisabled) {
  std::vector<Rule> rules;
  rules.push_back(MustParse(AnyRule("b", "allow")));
  rules.push_back(MustParse(
      R"({"name": "a", "enabled": false, "action": "deny", "operator": {"type": "simple", "operand": "true"}})"));
  rules.push_back(MustParse(AnyRule("c", "deny")));
  Result<RuleSet> set = RuleSet::FromRules(std::move(rules));
  ASSERT_TRUE(set.ok());
  ASSERT_EQ(set->size(), 3u);
  EXPECT_EQ(set->rules()[0].name, "a");
  EXPECT_EQ(set->rules()[1].name, "b");
  EXPECT_EQ(set->rules()[2].name, "c");
}

TEST(RuleSetTest, FromRulesRejectsDuplicateNames) {
  std::vector<Rule> rules;
  rules.push_back(MustParse(AnyRule("same", "allow")));
  rules.push_back(MustParse(AnyRule("same", "deny")));
  Result<RuleSet> set = RuleSet::FromRules(std::move(rules));
  ASSERT_FALSE(set.ok());
  EXPECT_NE(set.error().message.find("'same'"), std::string::npos);
}

TEST(RuleSetTest, CopiedSetMatchesIntoItsOwnRules) {
  std::vector<Rule> rules;
  rules.push_back(MustParse(AnyRule("x", "deny")));
  Result<RuleSet> set = RuleSet::FromRules(std::move(rules));
  ASSERT_TRUE(set.ok());
  const RuleSet copy = *set;
  Flow flow = MakeFlow(Protocol::kTcp, "198.18.0.2", 443);
  Attribution who = KernelAttribution();
  const Rule* rule = copy.Match(Connection{flow, who});
  ASSERT_NE(rule, nullptr);
  EXPECT_EQ(rule, &copy.rules()[0]);
}

TEST(RuleSetTest, EmptySetMatchesNothing) {
  RuleSet set;
  Flow flow = MakeFlow(Protocol::kTcp, "198.18.0.2", 443);
  Attribution who = KernelAttribution();
  EXPECT_EQ(set.Match(Connection{flow, who}), nullptr);
  EXPECT_EQ(set.size(), 0u);
}

}  // namespace
}  // namespace picket
