// Hot reload through inotify on a real directory: edits take effect within a second without any
// call into the engine, for atomic writes, in-place rewrites, deletions and list files.
#include "rules/rule_watcher.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <QCoreApplication>
#include <chrono>

#include "process/proc_parsers.h"
#include "rules/file_io.h"
#include "rules/rule_writer.h"
#include "rules/rules_test_util.h"

namespace picket {
namespace {

using namespace std::chrono_literals;
using testing_util::MakeFlow;
using testing_util::Op;
using testing_util::ProcessAttribution;
using testing_util::RuleJson;
using testing_util::TempDir;

class EmptyUsers final : public UserDirectory {
 public:
  std::optional<uint32_t> LookupUid(std::string_view) override { return std::nullopt; }
  std::shared_ptr<const UserTable> AllUsers() override { return std::make_shared<const UserTable>(std::unordered_map<uint32_t, std::string>{}); }
};

class WatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    engine_ = std::make_unique<RuleEngine>(RuleEngineOptions{dir_.path(), &users_, &SystemRuleClock(), false});
    ASSERT_TRUE(engine_->Reload().ok());
    RuleWatcherOptions options;
    options.sweep_interval = 50ms;
    options.process_alive = [this](const ProcessKey& key) { return !(key == dead_); };
    auto watcher = RuleWatcher::Start(*engine_, options, [this](const RuleChangeReport& report) {
      reports_.push_back(report);
    });
    ASSERT_TRUE(watcher.ok()) << watcher.error().message;
    watcher_ = std::move(*watcher);
  }

  // Runs the event loop until `done` holds or 3 s pass; returns the time it took.
  template <typename Done>
  std::chrono::milliseconds RunUntil(Done done) {
    const auto start = std::chrono::steady_clock::now();
    while (!done() && std::chrono::steady_clock::now() - start < 3s) {
      QCoreApplication::processEvents(QEventLoop::AllEvents, 20);
    }
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  }

  std::string Decide(uint16_t port, std::vector<std::string> hosts = {}) {
    Flow flow = MakeFlow(Protocol::kTcp, "198.18.0.2", port, 1000);
    Attribution who = ProcessAttribution(1, "/usr/bin/curl", {"curl"});
    const Rule* rule = engine_->current()->Match(Connection{flow, who, &hosts});
    return rule != nullptr ? rule->name : "none";
  }

  int argc_ = 1;
  char name_[8] = "test";
  char* argv_[2] = {name_, nullptr};
  QCoreApplication app_{argc_, argv_};
  TempDir dir_;
  EmptyUsers users_;
  ProcessKey dead_{-1, 0};
  std::unique_ptr<RuleEngine> engine_;
  std::unique_ptr<RuleWatcher> watcher_;
  std::vector<RuleChangeReport> reports_;
};

TEST_F(WatcherTest, EditsTakeEffectWithinASecond) {
  ASSERT_TRUE(WriteFileAtomically(dir_.File("a.json"), RuleJson("a", "deny", Op("simple", "dest.port", "443"))).ok());
  auto took = RunUntil([&] { return Decide(443) == "a"; });
  EXPECT_EQ(Decide(443), "a");
  EXPECT_LT(took, 1000ms);

  // An in-place rewrite (truncate + write), as a text editor without atomic saves does.
  dir_.Write("a.json", RuleJson("a", "deny", Op("simple", "dest.port", "444")));
  took = RunUntil([&] { return Decide(444) == "a"; });
  EXPECT_EQ(Decide(444), "a");
  EXPECT_LT(took, 1000ms);

  // A broken edit: the rule stays as it was, and the problem is reported.
  dir_.Write("a.json", "{\"name\": \"a\", ");
  RunUntil([&] { return !engine_->problems().empty(); });
  ASSERT_EQ(engine_->problems().size(), 1u);
  EXPECT_EQ(Decide(444), "a");

  ASSERT_EQ(::unlink(dir_.File("a.json").c_str()), 0);
  took = RunUntil([&] { return Decide(444) == "none"; });
  EXPECT_EQ(Decide(444), "none");
  EXPECT_LT(took, 1000ms);
  EXPECT_FALSE(reports_.empty());
}

TEST_F(WatcherTest, ListFileChangesTakeEffect) {
  TempDir lists;
  lists.Write("a.txt", "0.0.0.0 one.example.test\n");
  ASSERT_TRUE(WriteFileAtomically(dir_.File("l.json"), RuleJson("l", "deny", Op("lists", "lists.domains", lists.path()))).ok());
  RunUntil([&] { return Decide(443, {"one.example.test"}) == "l"; });
  ASSERT_EQ(Decide(443, {"one.example.test"}), "l");
  lists.Write("b.txt", "0.0.0.0 two.example.test\n");
  const auto took = RunUntil([&] { return Decide(443, {"two.example.test"}) == "l"; });
  EXPECT_EQ(Decide(443, {"two.example.test"}), "l");
  EXPECT_LT(took, 1000ms);
}

TEST_F(WatcherTest, SweepEndsRulesOfProcessesThatExited) {
  Rule rule = testing_util::MustParse(RuleJson("p", "allow", Op("simple", "dest.port", "443")));
  rule.lifetime = Lifetime{LifetimeKind::kUntilProcessExits, {}};
  ASSERT_TRUE(engine_->AddRule(rule, ProcessKey{777, 42}).ok());
  watcher_->RescheduleSweep();
  EXPECT_TRUE(watcher_->sweep_armed());
  EXPECT_EQ(Decide(443), "p");
  dead_ = ProcessKey{777, 42};
  RunUntil([&] { return Decide(443) == "none"; });
  EXPECT_EQ(Decide(443), "none");
  ASSERT_FALSE(reports_.empty());
  EXPECT_EQ(reports_.back().kind, RuleChange::kRulesEnded);
  EXPECT_EQ(reports_.back().ended, std::vector<std::string>{"p"});
}

TEST_F(WatcherTest, NoSweepWakeUpsWhileNothingCanEnd) {
  ASSERT_TRUE(WriteFileAtomically(dir_.File("a.json"), RuleJson("a", "deny", Op("simple", "dest.port", "443"))).ok());
  RunUntil([&] { return Decide(443) == "a"; });
  ASSERT_EQ(Decide(443), "a");
  EXPECT_FALSE(watcher_->sweep_armed());
}

TEST_F(WatcherTest, TimedRuleEndsAtItsExpiryWithoutPolling) {
  Rule rule = testing_util::MustParse(RuleJson("t", "allow", Op("simple", "dest.port", "443")));
  rule.lifetime = Lifetime{LifetimeKind::kTimed, std::chrono::milliseconds(200)};
  ASSERT_TRUE(engine_->AddRule(rule, std::nullopt).ok());
  watcher_->RescheduleSweep();
  EXPECT_TRUE(watcher_->sweep_armed());
  EXPECT_EQ(Decide(443), "t");
  const auto took = RunUntil([&] { return !reports_.empty() && reports_.back().kind == RuleChange::kRulesEnded; });
  ASSERT_FALSE(reports_.empty());
  EXPECT_EQ(reports_.back().ended, std::vector<std::string>{"t"});
  EXPECT_GE(took, 150ms);
  EXPECT_FALSE(watcher_->sweep_armed());
}

TEST(ProcessStillRunsTest, OwnProcessRunsAndAnotherStartTimeDoesNot) {
  Result<FileContent> stat = ReadRegularFile("/proc/self/stat", 4096);
  ASSERT_TRUE(stat.ok());
  Result<StatFields> fields = ParseProcStat(stat->bytes);
  ASSERT_TRUE(fields.ok());
  EXPECT_TRUE(ProcessStillRuns(ProcessKey{::getpid(), fields->start_time_ticks}));
  EXPECT_FALSE(ProcessStillRuns(ProcessKey{::getpid(), 1}));
  EXPECT_FALSE(ProcessStillRuns(ProcessKey{-5, 0}));
}

}  // namespace
}  // namespace picket
