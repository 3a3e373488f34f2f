// Root test of process.cgroup: a cgroup of this test's own (named with its pid, removed after) under
// the cgroup2 mount, a child moved into it before it execs, and then
//   * the resolver turns the cgroup's id into its path (and an unknown id into nothing);
//   * /proc and the eBPF-fed store both record that path for the child;
//   * a rule on process.cgroup decides the child's connection, and a rule on another path does not.
// Skipped when not root or without a writable cgroup2 mount. Every process is a child of this test,
// killed by its PID and reaped.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>

#include "process/cgroup_paths.h"
#include "process/proc_reader.h"
#include "process/procfs_scan.h"
#include "process/process_tracker.h"
#include "rules/rule_parser.h"
#include "rules/rule_set.h"
#include "rules/rules_test_util.h"

namespace picket {
namespace {

using std::chrono::milliseconds;

std::string RuleJson(const std::string& name, const std::string& path) {
  return R"({"name":")" + name + R"(","enabled":true,"action":"deny","duration":"always",)" +
         R"("operator":{"type":"simple","operand":"process.cgroup","sensitive":true,"data":")" + path + R"("}})";
}

class CgroupRootTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (cgroup creation, open_by_handle_at)";
    auto resolver = CgroupHandleResolver::Open();
    if (!resolver.ok()) GTEST_SKIP() << "no usable cgroup2 mount: " << resolver.error().message;
    mount_ = (*resolver)->mount();
    name_ = "picket-cgroup-root-test-" + std::to_string(getpid());
    dir_ = mount_.mount_point + "/" + name_;
    if (mkdir(dir_.c_str(), 0755) != 0) GTEST_SKIP() << "cannot create " << dir_ << ": " << strerror(errno);
    expected_path_ = JoinCgroupPath(mount_.root, name_);
    struct stat st {};
    ASSERT_EQ(stat(dir_.c_str(), &st), 0);
    cgroup_id_ = st.st_ino;
  }
  void TearDown() override {
    if (child_ > 0) {
      kill(child_, SIGKILL);
      int status = 0;
      waitpid(child_, &status, 0);
    }
    if (!dir_.empty()) {
      // The killed child leaves the cgroup asynchronously: retry rmdir a bounded number of times.
      for (int i = 0; i < 200 && rmdir(dir_.c_str()) != 0 && errno == EBUSY; ++i) {
        std::this_thread::sleep_for(milliseconds(5));
      }
      EXPECT_NE(access(dir_.c_str(), F_OK), 0) << dir_ << " was not removed";
    }
  }

  // Forks a child that waits for a byte on a pipe, moves it into the test cgroup, then lets it exec
  // `/bin/sleep 30` — so its exec happens inside the cgroup.
  void StartChildInCgroup() {
    int go[2];
    ASSERT_EQ(pipe2(go, O_CLOEXEC), 0);
    child_ = fork();
    ASSERT_GE(child_, 0);
    if (child_ == 0) {
      char byte = 0;
      if (read(go[0], &byte, 1) != 1) _exit(126);
      execl("/bin/sleep", "sleep", "30", static_cast<char*>(nullptr));
      _exit(127);
    }
    close(go[0]);
    {
      std::ofstream procs(dir_ + "/cgroup.procs");
      procs << child_ << "\n";
    }
    const char byte = 1;
    ASSERT_EQ(write(go[1], &byte, 1), 1);
    close(go[1]);
    // Wait (bounded) until the child runs the new image.
    const std::string exe_link = "/proc/" + std::to_string(child_) + "/exe";
    for (int i = 0; i < 400; ++i) {
      char buf[256];
      const ssize_t n = readlink(exe_link.c_str(), buf, sizeof(buf));
      if (n > 0 && std::string(buf, static_cast<size_t>(n)).ends_with("sleep")) return;
      std::this_thread::sleep_for(milliseconds(5));
    }
    FAIL() << "child " << child_ << " did not exec sleep";
  }

  // A rule on `path` decides a connection of `process`.
  static bool RuleDecides(const std::string& path, const ProcessInfo& process) {
    Result<Rule> rule = ParseRule(RuleJson("cgroup-rule", path));
    EXPECT_TRUE(rule.ok()) << (rule.ok() ? "" : rule.error().message);
    if (!rule.ok()) return false;
    std::vector<Rule> rules;
    rules.push_back(std::move(*rule));
    Result<RuleSet> set = RuleSet::FromRules(std::move(rules));
    EXPECT_TRUE(set.ok());
    if (!set.ok()) return false;
    Attribution who = testing_util::ProcessAttribution(process.pid, process.exe_path, process.argv);
    who.process = process;
    const Flow flow = testing_util::MakeFlow(Protocol::kTcp, "198.18.0.2", 443, 0);
    return set->Match(Connection{flow, who}) != nullptr;
  }

  Cgroup2Mount mount_;
  std::string name_;
  std::string dir_;
  std::string expected_path_;
  uint64_t cgroup_id_ = 0;
  pid_t child_ = -1;
};

TEST_F(CgroupRootTest, ResolverTurnsTheIdIntoThePath) {
  auto resolver = CgroupHandleResolver::Open();
  ASSERT_TRUE(resolver.ok());
  EXPECT_EQ((*resolver)->PathOf(cgroup_id_), expected_path_);
  EXPECT_EQ((*resolver)->PathOf(cgroup_id_), expected_path_);
  EXPECT_EQ((*resolver)->counters().resolved, 1u);
  EXPECT_EQ((*resolver)->counters().hits, 1u) << "the second look-up comes from the cache";
  EXPECT_EQ((*resolver)->PathOf(0), std::nullopt);
  EXPECT_EQ((*resolver)->PathOf(cgroup_id_ + (1ull << 40)), std::nullopt) << "an id no cgroup has";
}

TEST_F(CgroupRootTest, RemovedCgroupHasNoPath) {
  ASSERT_EQ(rmdir(dir_.c_str()), 0);
  auto resolver = CgroupHandleResolver::Open();
  ASSERT_TRUE(resolver.ok());
  EXPECT_EQ((*resolver)->PathOf(cgroup_id_), std::nullopt);
  EXPECT_EQ((*resolver)->counters().failures, 1u);
  ASSERT_EQ(mkdir(dir_.c_str(), 0755), 0) << "recreated for TearDown";
}

TEST_F(CgroupRootTest, ProcRecordsThePathAndARuleDecidesByIt) {
  ASSERT_NO_FATAL_FAILURE(StartChildInCgroup());
  UniqueFd proc(open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC));
  UniqueFd pid_dir = OpenPidDir(proc.get(), child_);
  ASSERT_TRUE(pid_dir.valid());
  Result<ExecEvent> event = ReadProcfsProcess(pid_dir.get(), child_, ProcfsReadOptions{});
  ASSERT_TRUE(event.ok()) << event.error().message;
  EXPECT_EQ(event->cgroup_path, expected_path_);

  ProcessInfo info;
  info.pid = child_;
  info.exe_path = event->exe_path;
  info.cgroup_path = event->cgroup_path;
  EXPECT_TRUE(RuleDecides(expected_path_, info));
  EXPECT_FALSE(RuleDecides(expected_path_ + "-other", info));
  EXPECT_FALSE(RuleDecides("/", info)) << "the root cgroup is another path";
}

TEST_F(CgroupRootTest, KernelEventsResolveThePathThroughTheCgroupId) {
  TrackerOptions options;
  options.monitor = ProcessMonitor::kEbpf;
  SystemClock clock;
  auto tracker = ProcessTracker::Create(options, clock);
  if (!tracker.ok()) GTEST_SKIP() << "eBPF process source unavailable: " << tracker.error().message;
  ASSERT_NE((*tracker)->cgroup_resolver(), nullptr);
  ASSERT_NO_FATAL_FAILURE(StartChildInCgroup());

  std::optional<ProcessSnapshot> snapshot;
  const auto deadline = std::chrono::steady_clock::now() + milliseconds(3000);
  while (std::chrono::steady_clock::now() < deadline) {
    (*tracker)->Drain();
    snapshot = (*tracker)->store().FindLive(child_);
    if (snapshot && snapshot->image->exe_path().ends_with("sleep")) break;
    std::this_thread::sleep_for(milliseconds(5));
  }
  ASSERT_TRUE(snapshot.has_value());
  ASSERT_FALSE(snapshot->image->has(kImageFromProcfs)) << "built from the kernel's exec event";
  EXPECT_EQ(snapshot->image->cgroup_id, cgroup_id_);
  EXPECT_EQ(snapshot->image->cgroup_path(), expected_path_);
  EXPECT_GE((*tracker)->cgroup_resolver()->counters().resolved, 1u);
  const ProcessInfo info = ToProcessInfo(*snapshot);
  EXPECT_TRUE(RuleDecides(expected_path_, info));
  EXPECT_FALSE(RuleDecides(expected_path_ + "/child", info));
}

}  // namespace
}  // namespace picket
