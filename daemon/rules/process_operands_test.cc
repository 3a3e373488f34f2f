// The exec-event store's rule operands: process.parent.path (any ancestor), process.env.NAME and
// process.hash.md5 / sha1 / sha256 (a digest that was not computed never matches).
#include <gtest/gtest.h>

#include <string>

#include "rules/operator_match.h"
#include "rules/rule_parser.h"
#include "rules/rules_test_util.h"

namespace picket {
namespace {

using testing_util::MakeFlow;
using testing_util::ProcessAttribution;

constexpr const char* kSha256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
constexpr const char* kMd5 = "900150983cd24fb0d6963f7d28e17f72";
constexpr const char* kSha1 = "a9993e364706816aba3e25717850c26c9cd0d89d";

std::string RuleJson(const std::string& type, const std::string& operand, const std::string& data,
                     bool sensitive = false) {
  return R"({"name":"r","enabled":true,"action":"deny","duration":"always","operator":{"type":")" + type +
         R"(","operand":")" + operand + R"(","data":")" + data + R"(","sensitive":)" +
         (sensitive ? "true" : "false") + "}}";
}

Operator Parse(const std::string& type, const std::string& operand, const std::string& data, bool sensitive = false) {
  auto rule = ParseRule(RuleJson(type, operand, data, sensitive));
  EXPECT_TRUE(rule.ok()) << (rule.ok() ? "" : rule.error().message);
  return rule.ok() ? rule->op : Operator{};
}

class ProcessOperandsTest : public ::testing::Test {
 protected:
  ProcessOperandsTest()
      : flow_(MakeFlow(Protocol::kTcp, "198.18.0.2", 443, 1000)),
        who_(ProcessAttribution(300, "/usr/bin/curl", {"curl", "https://example.org"})) {
    ProcessInfo& p = *who_.process;
    p.ancestors = {{200, "/usr/bin/make"}, {100, "/bin/bash"}, {1, "/sbin/init"}};
    p.env = {{"APPIMAGE", "/home/u/App.AppImage"}, {"LANG", "C.UTF-8"}};
  }
  bool Matches(const Operator& op) {
    Connection c{flow_, who_};
    ConnectionFields fields(c);
    return OperatorMatches(op, fields);
  }

  Flow flow_;
  Attribution who_;
};

TEST_F(ProcessOperandsTest, ParentPathMatchesAnyAncestorButNotTheProcessItself) {
  EXPECT_TRUE(Matches(Parse("simple", "process.parent.path", "/usr/bin/make")));
  EXPECT_TRUE(Matches(Parse("simple", "process.parent.path", "/sbin/init")));
  EXPECT_TRUE(Matches(Parse("simple", "process.parent.path", "/BIN/BASH"))) << "case-insensitive by default";
  EXPECT_FALSE(Matches(Parse("simple", "process.parent.path", "/BIN/BASH", true)));
  EXPECT_FALSE(Matches(Parse("simple", "process.parent.path", "/usr/bin/curl"))) << "the process is not its own ancestor";
  EXPECT_TRUE(Matches(Parse("regexp", "process.parent.path", "^/usr/bin/ma")));
  EXPECT_FALSE(Matches(Parse("regexp", "process.parent.path", "^/opt/")));
  who_.process->ancestors.clear();
  EXPECT_FALSE(Matches(Parse("regexp", "process.parent.path", ".*"))) << "no ancestors known: no match";
}

TEST_F(ProcessOperandsTest, EnvironmentVariable) {
  Operator op = Parse("simple", "process.env.APPIMAGE", "/home/u/App.AppImage");
  EXPECT_EQ(op.operand, Operand::kProcessEnv);
  EXPECT_TRUE(Matches(op));
  EXPECT_FALSE(Matches(Parse("simple", "process.env.APPIMAGE", "/other")));
  EXPECT_TRUE(Matches(Parse("regexp", "process.env.LANG", "UTF-8$")));
  EXPECT_FALSE(Matches(Parse("regexp", "process.env.HOME", ".*"))) << "an absent variable never matches";
  EXPECT_FALSE(Matches(Parse("simple", "process.env.HOME", ""))) << "absent is not empty";
}

TEST_F(ProcessOperandsTest, HashOperandsMatchOnlyAComputedDigest) {
  const Operator sha256 = Parse("simple", "process.hash.sha256", kSha256);
  const Operator md5 = Parse("simple", "process.hash.md5", kMd5);
  const Operator sha1 = Parse("simple", "process.hash.sha1", kSha1);
  EXPECT_FALSE(Matches(sha256)) << "no digest computed: no match (never a match by default)";
  who_.process->digests.state = DigestState::kUnhashable;
  EXPECT_FALSE(Matches(sha256));
  who_.process->digests = ExeDigests{DigestState::kReady, kMd5, "", kSha256};
  EXPECT_TRUE(Matches(sha256));
  EXPECT_TRUE(Matches(md5));
  EXPECT_FALSE(Matches(sha1)) << "sha1 was not computed";
  EXPECT_TRUE(Matches(Parse("simple", "process.hash.sha256", "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD", true)))
      << "hex digits compare without regard to case";
  EXPECT_FALSE(Matches(Parse("simple", "process.hash.sha256", std::string(64, '0'))));
  EXPECT_TRUE(Matches(Parse("regexp", "process.hash.sha256", "^ba7816")));
}

TEST(ProcessOperandsParseTest, MalformedDigestsAndEnvNamesAreRejected) {
  EXPECT_FALSE(ParseRule(RuleJson("simple", "process.hash.sha256", "abc")).ok());
  EXPECT_FALSE(ParseRule(RuleJson("simple", "process.hash.md5", kSha256)).ok()) << "wrong length";
  EXPECT_FALSE(ParseRule(RuleJson("simple", "process.hash.sha1", std::string(40, 'g'))).ok()) << "not hex";
  auto error = ParseRule(RuleJson("simple", "process.env.", "x"));
  ASSERT_FALSE(error.ok());
  EXPECT_NE(error.error().message.find("environment variable"), std::string::npos) << error.error().message;
  EXPECT_TRUE(ParseRule(RuleJson("simple", "process.hash.sha1", kSha1)).ok());
  EXPECT_FALSE(ParseRule(RuleJson("network", "process.parent.path", "10.0.0.0/8")).ok());
}

}  // namespace
}  // namespace picket
