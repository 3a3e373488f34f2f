#include "verdict/decider.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "testing/flows.h"

namespace picket {
namespace {

class DeciderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/picket-decider-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    WriteRule("deny-b", "deny", "process.path", "/opt/b/client", false);
    WriteRule("quiet", "allow", "dest.port", "9999", true);
    auto loaded = RuleSet::LoadDirectory(dir_);
    ASSERT_TRUE(loaded.ok()) << loaded.error().message;
    ASSERT_TRUE(loaded->problems.empty());
    rules_ = std::make_unique<RuleSet>(std::move(loaded->rules));

    flow_ = testing_util::MakeFlow(Protocol::kTcp, "198.18.0.2", 7000, /*uid=*/1000);
    attribution_ = testing_util::ProcessAttribution(42, "/opt/b/client", {"client", "tcp", "say \"hi\"\n"});
    attribution_.method = "sock_diag+procfs";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void WriteRule(const std::string& name, const std::string& action, const std::string& operand,
                 const std::string& data, bool nolog) {
    std::ofstream(dir_ + "/" + name + ".json")
        << R"({"name":")" << name << R"(","enabled":true,"precedence":false,"action":")" << action
        << R"(","duration":"always","nolog":)" << (nolog ? "true" : "false")
        << R"(,"operator":{"type":"simple","operand":")" << operand << R"(","data":")" << data << R"("}})";
  }

  std::string dir_;
  std::unique_ptr<RuleSet> rules_;
  Flow flow_;
  Attribution attribution_;
};

TEST_F(DeciderTest, RuleDecides) {
  Decider decider(Action::kAllow);
  Decision d = decider.Decide(*rules_, Connection{flow_, attribution_});
  EXPECT_EQ(d.action, Action::kDeny);
  EXPECT_EQ(d.rule_name(), "deny-b");
  EXPECT_TRUE(d.log);
}

TEST_F(DeciderTest, DefaultWhenNoRuleMatches) {
  attribution_.process->exe_path = "/opt/a/client";
  Decider decider(Action::kReject);
  Decision d = decider.Decide(*rules_, Connection{flow_, attribution_});
  EXPECT_EQ(d.action, Action::kReject);
  EXPECT_EQ(d.rule, nullptr);
  EXPECT_EQ(d.rule_name(), "default");
  EXPECT_EQ(decider.DecideUnparsed().action, Action::kReject);
}

TEST_F(DeciderTest, NologRuleIsNotLogged) {
  attribution_.process->exe_path = "/opt/a/client";
  flow_.dst_port = 9999;
  Decision d = Decider(Action::kDeny).Decide(*rules_, Connection{flow_, attribution_});
  EXPECT_EQ(d.action, Action::kAllow);
  EXPECT_FALSE(d.log);
}

TEST_F(DeciderTest, LineHasEveryFieldAndEscapesArgv) {
  Decision d = Decider(Action::kAllow).Decide(*rules_, Connection{flow_, attribution_});
  EXPECT_EQ(DecisionLine(d, flow_, attribution_),
            "decision verdict=deny rule=deny-b proto=tcp dst=198.18.0.2:7000 src=198.18.0.1:40000 pid=42 uid=1000 "
            "exe=/opt/b/client cmd=\"client tcp say \\\"hi\\\"\\x0a\" via=sock_diag+procfs");
}

TEST_F(DeciderTest, LineMarksAProcessFoundInProcAsInferred) {
  Decision d = Decider(Action::kAllow).Decide(*rules_, Connection{flow_, attribution_});
  attribution_.evidence = AttributionEvidence::kInferred;
  const std::string line = DecisionLine(d, flow_, attribution_);
  EXPECT_TRUE(line.ends_with(" via=sock_diag+procfs inferred=yes")) << line;
  attribution_.evidence = AttributionEvidence::kRecorded;
  EXPECT_EQ(DecisionLine(d, flow_, attribution_).find("inferred"), std::string::npos);
}

TEST_F(DeciderTest, LineForKernelUnknownAndV6) {
  flow_.src = *IpAddress::Parse("2001:2::1");
  flow_.dst = *IpAddress::Parse("2001:2::2");
  Attribution kernel;
  kernel.kind = AttributionKind::kKernel;
  kernel.method = "none";
  Decision d{Action::kAllow, nullptr, true};
  EXPECT_EQ(DecisionLine(d, flow_, kernel),
            "decision verdict=allow rule=default proto=tcp6 dst=[2001:2::2]:7000 src=[2001:2::1]:40000 pid=- "
            "uid=1000 exe=kernel cmd=\"\" via=none");
  Attribution unknown;
  unknown.kind = AttributionKind::kUnknown;
  unknown.uid = 7;
  unknown.method = "sock_diag+procfs";
  unknown.detail = "no socket for tuple";
  EXPECT_NE(DecisionLine(d, flow_, unknown).find("pid=- uid=7 exe=unknown cmd=\"\" via=sock_diag+procfs why=\"no socket for tuple\""),
            std::string::npos);
}

TEST(EscapeTest, TokensHaveNoSpaces) {
  EXPECT_EQ(EscapeToken("/opt/my app/x"), "/opt/my\\x20app/x");
  EXPECT_EQ(EscapeForLog("a b"), "a b");
}

}  // namespace
}  // namespace picket
