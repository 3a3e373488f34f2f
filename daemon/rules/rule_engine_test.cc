// RuleEngine: incremental reload (add, edit, delete, broken edit keeps the previous version, list
// directories) and rule lifetimes with an injected clock (timed, once, until restart, until
// process exits, always).
#include "rules/rule_engine.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "rules/lifetime.h"
#include "rules/rule_writer.h"
#include "rules/rules_test_util.h"

namespace picket {
namespace {

using namespace std::chrono_literals;
using testing_util::MakeFlow;
using testing_util::MustParse;
using testing_util::Op;
using testing_util::ProcessAttribution;
using testing_util::RuleJson;
using testing_util::TempDir;

class NoUsers final : public UserDirectory {
 public:
  std::optional<uint32_t> LookupUid(std::string_view name) override {
    return name == "alice" ? std::optional<uint32_t>(1000) : std::nullopt;
  }
  std::shared_ptr<const UserTable> AllUsers() override {
    return std::make_shared<const UserTable>(std::unordered_map<uint32_t, std::string>{{1000, "alice"}});
  }
};

WallTime At(const char* rfc3339) { return *ParseRfc3339(rfc3339); }

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override { Restart(false); }
  void Restart(bool remove_ended_files) {
    engine_ = std::make_unique<RuleEngine>(RuleEngineOptions{dir_.path(), &users_, &clock_, remove_ended_files});
  }
  void Reload() {
    Status s = engine_->Reload();
    ASSERT_TRUE(s.ok()) << s.error().message;
  }
  // The deciding rule's name for a curl connection to port `port`, or "none".
  std::string Decide(uint16_t port = 443, std::vector<std::string> hosts = {}) {
    Flow flow = MakeFlow(Protocol::kTcp, "198.18.0.2", port, 1000);
    Attribution who = ProcessAttribution(4242, "/usr/bin/curl", {"curl"}, 1000);
    const Rule* rule = engine_->current()->Match(Connection{flow, who, &hosts});
    return rule != nullptr ? rule->name : "none";
  }
  std::vector<std::string> ProblemFiles() const {
    std::vector<std::string> files;
    for (const LoadProblem& problem : engine_->problems()) files.push_back(problem.file);
    return files;
  }
  void Write(const std::string& name, const std::string& json) {
    ASSERT_TRUE(WriteFileAtomically(dir_.File(name), json).ok());
    engine_->MarkFileDirty(name);
  }

  TempDir dir_;
  NoUsers users_;
  ManualRuleClock clock_{At("2026-11-21T10:00:00Z")};
  std::unique_ptr<RuleEngine> engine_;
  const std::string port443_ = Op("simple", "dest.port", "443");
};

TEST_F(EngineTest, AddEditDeleteAndBrokenEdit) {
  Reload();
  EXPECT_EQ(Decide(), "none");
  Write("a.json", RuleJson("a", "deny", port443_));
  Reload();
  EXPECT_EQ(Decide(), "a");
  const uint64_t generation = engine_->generation();
  Reload();  // nothing changed: the set is not rebuilt
  EXPECT_EQ(engine_->generation(), generation);

  Write("a.json", RuleJson("a", "deny", Op("simple", "dest.port", "80")));  // edit
  Reload();
  EXPECT_EQ(Decide(443), "none");
  EXPECT_EQ(Decide(80), "a");

  Write("a.json", R"({"name": "a", "enabled": true, "action": "deny", "operator": {"type": "simple", "operand": "dest.port", "data": "x"}})");
  Reload();  // broken edit: the previous version stays, and the problem says so
  EXPECT_EQ(Decide(80), "a");
  ASSERT_EQ(engine_->problems().size(), 1u);
  EXPECT_EQ(engine_->problems()[0].field, "operator.data");
  EXPECT_NE(engine_->problems()[0].reason.find("the previous version stays active"), std::string::npos);

  Write("a.json", RuleJson("a", "allow", Op("simple", "dest.port", "80")));  // fixed
  Reload();
  EXPECT_TRUE(engine_->problems().empty());
  EXPECT_EQ(engine_->current()->rules()[0].action, Action::kAllow);

  ASSERT_EQ(::unlink(dir_.File("a.json").c_str()), 0);  // delete
  Reload();
  EXPECT_EQ(Decide(80), "none");
  EXPECT_EQ(engine_->current()->size(), 0u);
}

TEST_F(EngineTest, BrokenNewFileIsSkippedAndOthersStay) {
  Write("a.json", RuleJson("a", "deny", port443_));
  Write("b.json", "{ half a rule");
  Reload();
  EXPECT_EQ(Decide(), "a");
  EXPECT_EQ(ProblemFiles(), std::vector<std::string>{dir_.File("b.json")});
  EXPECT_EQ(engine_->problems()[0].reason.find("previous version"), std::string::npos);
}

TEST_F(EngineTest, InPlaceRewriteIsSeenWhenMarkedDirty) {
  Write("a.json", RuleJson("a", "deny", port443_));
  Reload();
  // Same size, rewritten in place (not atomically) within the timestamp granularity.
  dir_.Write("a.json", RuleJson("a", "deny", Op("simple", "dest.port", "444")));
  engine_->MarkFileDirty("a.json");
  Reload();
  EXPECT_EQ(Decide(444), "a");
}

TEST_F(EngineTest, DirectoryErrorsKeepTheCurrentSet) {
  Write("a.json", RuleJson("a", "deny", port443_));
  Reload();
  std::filesystem::rename(dir_.path(), dir_.path() + ".gone");
  EXPECT_FALSE(engine_->Reload().ok());
  EXPECT_EQ(Decide(), "a");
  std::filesystem::rename(dir_.path() + ".gone", dir_.path());
}

TEST_F(EngineTest, ListDirectoryChangesAreReloaded) {
  TempDir lists;
  lists.Write("block.txt", "0.0.0.0 ads.example.test\n");
  Write("l.json", RuleJson("l", "deny", Op("lists", "lists.domains", lists.path())));
  Reload();
  EXPECT_EQ(Decide(443, {"ads.example.test"}), "l");
  EXPECT_EQ(Decide(443, {"new.example.test"}), "none");
  EXPECT_EQ(engine_->list_directories(), std::vector<std::string>{lists.path()});
  lists.Write("more.txt", "0.0.0.0 new.example.test\n");
  engine_->MarkListDirty(lists.path());
  Reload();
  EXPECT_EQ(Decide(443, {"new.example.test"}), "l");
}

TEST_F(EngineTest, MissingListDirectoryIsAProblem) {
  Write("l.json", RuleJson("l", "deny", Op("lists", "lists.ips", dir_.path() + "/no-such-dir")));
  Write("u.json", RuleJson("u", "deny", Op("simple", "user.name", "nobody-here")));
  Reload();
  EXPECT_EQ(engine_->current()->size(), 0u);
  ASSERT_EQ(engine_->problems().size(), 2u);
  EXPECT_EQ(engine_->problems()[0].field, "operator.data");
  EXPECT_NE(engine_->problems()[0].reason.find("no-such-dir"), std::string::npos);
  EXPECT_NE(engine_->problems()[1].reason.find("no user named 'nobody-here'"), std::string::npos);
}

TEST_F(EngineTest, TimedFileRuleExpiresFromItsCreatedTime) {
  Restart(/*remove_ended_files=*/true);
  std::string json = RuleJson("t", "deny", port443_, R"("created": "2026-11-21T09:50:00Z", )");
  json.replace(json.find("always"), 6, "15m");
  Write("t.json", json);
  Reload();
  EXPECT_EQ(Decide(), "t");
  clock_.Advance(4min);
  EXPECT_EQ(Decide(), "t");
  clock_.Advance(1min);  // 09:50 + 15m = 10:05
  EXPECT_EQ(Decide(), "none") << "expired rules stop matching without a sweep";
  EXPECT_EQ(engine_->Sweep(), std::vector<std::string>{"t"});
  EXPECT_FALSE(std::filesystem::exists(dir_.File("t.json"))) << "an ended rule's unchanged file is removed";
}

TEST_F(EngineTest, TimedFileRuleWithoutCreatedStartsAtLoad) {
  std::string json = RuleJson("t", "deny", port443_);
  json.replace(json.find("always"), 6, "30s");
  Write("t.json", json);
  Reload();
  clock_.Advance(29s);
  EXPECT_EQ(Decide(), "t");
  clock_.Advance(1s);
  EXPECT_EQ(Decide(), "none");
  EXPECT_EQ(engine_->Sweep(), std::vector<std::string>{"t"});
  EXPECT_TRUE(std::filesystem::exists(dir_.File("t.json"))) << "files stay unless remove_ended_files";
  Reload();
  EXPECT_EQ(Decide(), "none") << "an ended rule stays ended until its file changes";
}

TEST_F(EngineTest, RuntimeTimedRule) {
  Reload();
  Rule rule = MustParse(RuleJson("t", "allow", port443_));
  rule.duration = "1h";
  rule.lifetime = Lifetime{LifetimeKind::kTimed, std::chrono::hours(1)};
  ASSERT_TRUE(engine_->AddRule(rule).ok());
  EXPECT_EQ(Decide(), "t");
  EXPECT_EQ(engine_->NextExpiry(), clock_.Now() + 1h);
  clock_.Advance(59min);
  EXPECT_TRUE(engine_->Sweep().empty());
  clock_.Advance(1min);
  EXPECT_EQ(Decide(), "none");
  EXPECT_EQ(engine_->Sweep(), std::vector<std::string>{"t"});
  EXPECT_EQ(engine_->current()->size(), 0u);
}

TEST_F(EngineTest, OnceRuleDecidesExactlyOneConnection) {
  Reload();
  Rule once = MustParse(RuleJson("once", "deny", port443_));
  once.duration = "once";
  once.lifetime = Lifetime{LifetimeKind::kOnce, {}};
  ASSERT_TRUE(engine_->AddRule(once).ok());
  EXPECT_EQ(Decide(), "once");
  EXPECT_EQ(Decide(), "none");
  EXPECT_EQ(engine_->Sweep(), std::vector<std::string>{"once"});
  EXPECT_EQ(engine_->current()->size(), 0u);
}

TEST_F(EngineTest, OnceAllowThatDoesNotDecideIsNotUsedUp) {
  Reload();
  Rule once = MustParse(RuleJson("a-once", "allow", port443_));
  once.lifetime = Lifetime{LifetimeKind::kOnce, {}};
  ASSERT_TRUE(engine_->AddRule(once).ok());
  Rule later = MustParse(RuleJson("b-later", "allow", port443_));
  later.lifetime = Lifetime{LifetimeKind::kUntilRestart, {}};
  ASSERT_TRUE(engine_->AddRule(later).ok());
  EXPECT_EQ(Decide(), "b-later");  // the last matching allow decides, not the once rule
  EXPECT_TRUE(engine_->Sweep().empty());
  ASSERT_TRUE(engine_->RemoveRule("b-later").ok());
  EXPECT_EQ(Decide(), "a-once");
  EXPECT_EQ(Decide(), "none");
}

TEST_F(EngineTest, UntilRestartLivesInMemoryOnly) {
  Reload();
  Rule rule = MustParse(RuleJson("r", "deny", port443_));
  rule.lifetime = Lifetime{LifetimeKind::kUntilRestart, {}};
  ASSERT_TRUE(engine_->AddRule(rule).ok());
  clock_.Advance(24h * 365);
  EXPECT_TRUE(engine_->Sweep().empty());
  EXPECT_EQ(Decide(), "r");
  EXPECT_TRUE(std::filesystem::is_empty(dir_.path()));
  Restart(false);
  Reload();
  EXPECT_EQ(Decide(), "none");
}

TEST_F(EngineTest, UntilProcessExits) {
  Reload();
  Rule rule = MustParse(RuleJson("p", "allow", port443_));
  rule.lifetime = Lifetime{LifetimeKind::kUntilProcessExits, {}};
  EXPECT_FALSE(engine_->AddRule(rule).ok()) << "the process is required";
  const ProcessKey firefox{4242, 123456};
  ASSERT_TRUE(engine_->AddRule(rule, firefox).ok());
  EXPECT_EQ(engine_->Owners(), std::vector<ProcessKey>{firefox});
  EXPECT_EQ(Decide(), "p");
  EXPECT_TRUE(engine_->ProcessExited(ProcessKey{4242, 999}).empty()) << "same PID, another process";
  EXPECT_EQ(Decide(), "p");
  EXPECT_EQ(engine_->ProcessExited(firefox), std::vector<std::string>{"p"});
  EXPECT_EQ(Decide(), "none");
}

TEST_F(EngineTest, UntilProcessExitsIsRefusedInFiles) {
  std::string json = RuleJson("p", "allow", port443_);
  json.replace(json.find("always"), 6, "until process exits");
  Write("p.json", json);
  Reload();
  ASSERT_EQ(engine_->problems().size(), 1u);
  EXPECT_EQ(engine_->problems()[0].field, "duration");
}

TEST_F(EngineTest, AlwaysRuleIsWrittenAtomicallyAndLoaded) {
  Reload();
  Rule rule = MustParse(RuleJson("keep", "deny", port443_));
  ASSERT_TRUE(engine_->AddRule(rule).ok());
  EXPECT_EQ(Decide(), "keep");
  struct stat st {};
  ASSERT_EQ(::stat(dir_.File("keep.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(engine_->current()->rules()[0].file, dir_.File("keep.json"));
  ASSERT_TRUE(engine_->RemoveRule("keep").ok());
  EXPECT_FALSE(std::filesystem::exists(dir_.File("keep.json")));
  EXPECT_EQ(Decide(), "none");
  EXPECT_FALSE(engine_->RemoveRule("keep").ok());
}

TEST_F(EngineTest, RuntimeRuleCannotTakeTheNameOfAFileRule) {
  Write("other-file.json", RuleJson("x", "deny", port443_));
  Reload();
  Rule rule = MustParse(RuleJson("x", "allow", port443_));
  rule.lifetime = Lifetime{LifetimeKind::kUntilRestart, {}};
  EXPECT_FALSE(engine_->AddRule(rule).ok()) << "the name belongs to a rule file";
}

}  // namespace
}  // namespace picket
