// Root tests of the exec-event store with its real sources: the eBPF tracepoints, the proc connector
// (from inside another network namespace) and /proc. Skipped when not root.
//
// Every process started here is a child of this test, ended by its PID and reaped; loops are bounded.
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "process/procfs_scan.h"
#include "process/process_tracker.h"

namespace picket {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

SystemClock g_clock;

// fork + execv; the child's stdout/stderr go to /dev/null. Returns the child's pid.
pid_t Spawn(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    execv(args[0], args.data());
    _exit(127);
  }
  return pid;
}

int Reap(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  return status;
}

// Start ticks of a child that has ended but is not reaped yet (its zombie still has a stat file).
std::optional<uint64_t> ZombieStartTicks(pid_t pid) {
  siginfo_t info{};
  if (waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOWAIT) != 0) return std::nullopt;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(in, line);
  const size_t close = line.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  for (int i = 3; i <= 22 && rest >> field; ++i) {
    if (i == 22) return std::stoull(field);
  }
  return std::nullopt;
}

// Drains until `done` holds or the time is up.
template <typename Pred>
bool DrainUntil(ProcessTracker& tracker, Pred done, milliseconds timeout = milliseconds(3000)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    tracker.Drain();
    if (done()) return true;
    std::this_thread::sleep_for(milliseconds(5));
  }
  tracker.Drain();
  return done();
}

std::string CopyProgram(const std::string& from, const std::string& dir, const std::string& name) {
  fs::create_directories(dir);
  const std::string to = dir + "/" + name;
  fs::copy_file(from, to, fs::copy_options::overwrite_existing);
  fs::permissions(to, fs::perms::owner_all);
  return to;
}

// The ancestor chain reaches PID 1 — or, where PID 1 cannot be read (some sandboxes deny it), stops
// at a process whose parent is PID 1.
void ExpectChainReachesInit(ProcessTracker& tracker, const ProcessImage& image) {
  ASSERT_FALSE(image.ancestors.empty());
  std::error_code ec;
  (void)fs::read_symlink("/proc/1/exe", ec);
  if (!ec) {
    EXPECT_EQ(image.ancestors.back().pid, 1) << "the chain reaches PID 1";
    return;
  }
  auto last = tracker.store().FindLive(image.ancestors.back().pid);
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(last->image->ppid, 1) << "the chain stops only below an unreadable PID 1";
}

class ProcessTrackerRootTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (BPF, proc connector, ns_last_pid)";
    char tmpl[] = "/tmp/picket-store-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    for (pid_t pid : children_) {
      kill(pid, SIGKILL);
      Reap(pid);
    }
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  std::unique_ptr<ProcessTracker> Tracker(ProcessMonitor monitor) {
    TrackerOptions options;
    options.monitor = monitor;
    options.store.max_exited = 16384;
    options.bpf.wakeup_bytes = 0;
    auto tracker = ProcessTracker::Create(options, g_clock);
    EXPECT_TRUE(tracker.ok()) << tracker.error().message;
    return tracker.ok() ? std::move(*tracker) : nullptr;
  }
  pid_t SpawnKept(const std::vector<std::string>& argv) {
    const pid_t pid = Spawn(argv);
    children_.push_back(pid);
    return pid;
  }
  void EndKept(pid_t pid) {
    kill(pid, SIGKILL);
    Reap(pid);
    std::erase(children_, pid);
  }

  std::string dir_;
  std::vector<pid_t> children_;
};

TEST_F(ProcessTrackerRootTest, EbpfSourceSeesExecWithPathArgvAndAncestors) {
  auto tracker = Tracker(ProcessMonitor::kEbpf);
  ASSERT_NE(tracker, nullptr);
  EXPECT_EQ(tracker->source_name(), "ebpf");
  const std::string sleeper = CopyProgram("/bin/sleep", dir_ + "/a", "sleeper");
  struct stat before {};
  ASSERT_EQ(stat(sleeper.c_str(), &before), 0);  // a queried ctime carries a flag bit in the kernel
  const pid_t pid = SpawnKept({sleeper, "30"});
  ASSERT_TRUE(DrainUntil(*tracker, [&] {
    auto s = tracker->store().FindLive(pid);
    return s && s->image->exe_path() == sleeper;
  })) << "exec of " << sleeper << " not seen";
  auto s = tracker->store().FindLive(pid);
  const ProcessImage& image = *s->image;
  EXPECT_EQ(image.argv(), (std::vector<std::string>{sleeper, "30"}));
  EXPECT_FALSE(image.key.coarse) << "kernel start time";
  EXPECT_FALSE(image.has(kImageFromProcfs));
  EXPECT_EQ(image.ppid, getpid());
  EXPECT_EQ(image.cwd(), fs::current_path().string());
  ASSERT_FALSE(image.ancestors.empty());
  EXPECT_EQ(image.ancestors.front().pid, getpid());
  EXPECT_EQ(image.ancestors.front().exe_path, fs::read_symlink("/proc/self/exe").string());
  ExpectChainReachesInit(*tracker, image);
  struct stat st {};
  ASSERT_EQ(stat(sleeper.c_str(), &st), 0);
  EXPECT_EQ(image.exe_file().dev, st.st_dev);
  EXPECT_EQ(image.exe_file().ino, st.st_ino);
  EXPECT_EQ(image.exe_file().size, static_cast<uint64_t>(st.st_size));
  EXPECT_EQ(image.exe_file().ctime_ns, static_cast<uint64_t>(st.st_ctim.tv_sec) * 1000000000ull + st.st_ctim.tv_nsec);
  EXPECT_FALSE(image.exe_file().deleted);

  // Resolve through the /proc directory answers from the store.
  UniqueFd dir = OpenPidDir(tracker->proc_dir(), pid);
  auto resolved = tracker->ResolveSnapshot(pid, dir.get());
  ASSERT_TRUE(resolved.ok()) << resolved.error().message;
  EXPECT_EQ(resolved->image, s->image);
  EXPECT_EQ(tracker->counters().resolve_hits, 1u);

  EndKept(pid);
  ASSERT_TRUE(DrainUntil(*tracker, [&] { return !tracker->store().FindLive(pid).has_value(); }));
  auto ended = tracker->store().Find(image.key);
  ASSERT_TRUE(ended.has_value());
  EXPECT_TRUE(ended->exited());
}

TEST_F(ProcessTrackerRootTest, EbpfSourceSeesAForkExecStormWithNoneLost) {
  auto tracker = Tracker(ProcessMonitor::kEbpf);
  ASSERT_NE(tracker, nullptr);
  const std::string program = CopyProgram("/bin/true", dir_ + "/storm", "storm-true");
  constexpr int kProcesses = 2000;
  std::vector<std::pair<pid_t, uint64_t>> started;  // pid, start ticks
  started.reserve(kProcesses);
  for (int i = 0; i < kProcesses; ++i) {
    const pid_t pid = Spawn({program});
    ASSERT_GT(pid, 0);
    std::optional<uint64_t> ticks = ZombieStartTicks(pid);
    ASSERT_EQ(Reap(pid), 0);
    ASSERT_TRUE(ticks.has_value());
    started.emplace_back(pid, *ticks);
  }
  tracker->Drain();
  int found = 0;
  std::string missing;
  for (const auto& [pid, ticks] : started) {
    auto s = tracker->store().Find(ProcKey{pid, ticks * ProcTickNs(), true});
    if (s && s->exited() && s->image->exe_path() == program) {
      ++found;
    } else if (missing.size() < 200) {
      missing += " " + std::to_string(pid);
    }
  }
  EXPECT_EQ(found, kProcesses) << "not seen (or not as exited " << program << "):" << missing;
  EXPECT_EQ(tracker->store().counters().lost_events, 0u);
  EXPECT_FALSE(tracker->store().tainted());
}

TEST_F(ProcessTrackerRootTest, ExecFromANonLeaderThreadIsKeyedByTheProcess) {
  auto tracker = Tracker(ProcessMonitor::kEbpf);
  ASSERT_NE(tracker, nullptr);
  const std::string sleeper = CopyProgram("/bin/sleep", dir_ + "/t", "thread-exec");
  const pid_t pid = fork();
  if (pid == 0) {
    std::thread t([&] {
      execl(sleeper.c_str(), sleeper.c_str(), "30", static_cast<char*>(nullptr));
      _exit(127);
    });
    t.join();
    _exit(126);
  }
  children_.push_back(pid);
  ASSERT_TRUE(DrainUntil(*tracker, [&] {
    auto s = tracker->store().FindLive(pid);
    return s && s->image->exe_path() == sleeper;
  }));
  EXPECT_EQ(tracker->store().FindLive(pid)->image->ancestors.front().pid, getpid());
  EXPECT_EQ(tracker->store().counters().lost_exits_inferred, 0u) << "the threads' exits must not end the process";
}

TEST_F(ProcessTrackerRootTest, PidReuseNeverReturnsTheOldProcess) {
  auto tracker = Tracker(ProcessMonitor::kEbpf);
  ASSERT_NE(tracker, nullptr);
  const std::string a = CopyProgram("/bin/sleep", dir_ + "/a", "sleeper");
  const std::string b = CopyProgram("/bin/sleep", dir_ + "/b", "sleeper");
  pid_t pid_a = 0;
  pid_t pid_b = 0;
  ProcKey key_a;
  // Another process may take the PID between the write and the fork: retry a bounded number of times.
  for (int attempt = 0; attempt < 50 && pid_b == 0; ++attempt) {
    pid_a = SpawnKept({a, "30"});
    ASSERT_TRUE(DrainUntil(*tracker, [&] {
      auto s = tracker->store().FindLive(pid_a);
      return s && s->image->exe_path() == a;
    }));
    key_a = tracker->store().FindLive(pid_a)->image->key;
    EndKept(pid_a);
    std::ofstream("/proc/sys/kernel/ns_last_pid") << (pid_a - 1);
    const pid_t pid = SpawnKept({b, "30"});
    if (pid == pid_a) pid_b = pid;
    else EndKept(pid);
  }
  ASSERT_EQ(pid_b, pid_a) << "could not get the same PID again";
  UniqueFd dir = OpenPidDir(tracker->proc_dir(), pid_b);
  ASSERT_TRUE(dir.valid());
  // Until the new process has exec'd, /proc shows the fork of this test; wait for b.
  ASSERT_TRUE(DrainUntil(*tracker, [&] {
    auto s = tracker->ResolveSnapshot(pid_b, dir.get());
    return s.ok() && s->image->exe_path() == b;
  }));
  auto s = tracker->ResolveSnapshot(pid_b, dir.get());
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->image->exe_path(), b);
  EXPECT_FALSE(s->image->key.SameProcess(key_a));
  auto old = tracker->store().Find(key_a);
  ASSERT_TRUE(old.has_value());
  EXPECT_TRUE(old->exited());
  EXPECT_EQ(old->image->exe_path(), a);
}

TEST_F(ProcessTrackerRootTest, ProcessStartedBeforeTheTrackerIsFound) {
  const std::string sleeper = CopyProgram("/bin/sleep", dir_ + "/early", "early-sleeper");
  const pid_t pid = SpawnKept({sleeper, "30"});
  // Wait until it has exec'd.
  for (int i = 0; i < 300 && fs::read_symlink("/proc/" + std::to_string(pid) + "/exe").string() != sleeper; ++i) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  auto tracker = Tracker(ProcessMonitor::kEbpf);
  ASSERT_NE(tracker, nullptr);
  auto s = tracker->store().FindLive(pid);
  ASSERT_TRUE(s.has_value()) << "the start-up walk must find it";
  EXPECT_EQ(s->image->exe_path(), sleeper);
  EXPECT_TRUE(s->image->has(kImageFromProcfs));
  EXPECT_EQ(s->image->argv(), (std::vector<std::string>{sleeper, "30"}));
  ASSERT_FALSE(s->image->ancestors.empty());
  EXPECT_EQ(s->image->ancestors.front().pid, getpid());
  ExpectChainReachesInit(*tracker, *s->image);
  UniqueFd dir = OpenPidDir(tracker->proc_dir(), pid);
  auto resolved = tracker->ResolveSnapshot(pid, dir.get());
  ASSERT_TRUE(resolved.ok()) << resolved.error().message;
  EXPECT_EQ(resolved->image->exe_path(), sleeper);
  EXPECT_EQ(tracker->counters().procfs_fallbacks, 0u);
}

TEST_F(ProcessTrackerRootTest, ProcOnlyModePopulatesOnDemandAndSweepsGoneProcesses) {
  auto tracker = Tracker(ProcessMonitor::kProc);
  ASSERT_NE(tracker, nullptr);
  EXPECT_EQ(tracker->source_name(), "proc");
  const std::string sleeper = CopyProgram("/bin/sleep", dir_ + "/p", "proc-sleeper");
  const pid_t pid = SpawnKept({sleeper, "30"});
  for (int i = 0; i < 300 && fs::read_symlink("/proc/" + std::to_string(pid) + "/exe").string() != sleeper; ++i) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  UniqueFd dir = OpenPidDir(tracker->proc_dir(), pid);
  auto s = tracker->ResolveSnapshot(pid, dir.get());
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->image->exe_path(), sleeper);
  EXPECT_EQ(tracker->counters().procfs_fallbacks, 1u);
  const ProcKey key = s->image->key;
  EndKept(pid);
  EXPECT_FALSE(tracker->ResolveSnapshot(pid, dir.get()).ok()) << "an ended process is never returned";
  tracker->Sweep();
  EXPECT_FALSE(tracker->store().FindLive(pid).has_value());
  auto ended = tracker->store().Find(key);
  ASSERT_TRUE(ended.has_value());
  EXPECT_TRUE(ended->exited());
}

// The proc connector only delivers to the initial network namespace; the tracker runs in another one
// (as picketd does in the end-to-end tests) and must still get the events.
TEST_F(ProcessTrackerRootTest, ProcConnectorFallbackWorksFromAnotherNetworkNamespace) {
  const std::string sleeper = CopyProgram("/bin/sleep", dir_ + "/c", "connector-sleeper");
  const pid_t child = fork();
  if (child == 0) {
    if (unshare(CLONE_NEWNET) != 0) _exit(10);
    TrackerOptions options;
    options.monitor = ProcessMonitor::kProcConnector;
    auto tracker = ProcessTracker::Create(options, g_clock);
    if (!tracker.ok()) {
      std::fprintf(stderr, "%s\n", tracker.error().message.c_str());
      _exit(11);
    }
    if ((*tracker)->source_name() != "proc-connector") _exit(12);
    const pid_t pid = Spawn({sleeper, "30"});
    const bool seen = DrainUntil(**tracker, [&] {
      auto s = (*tracker)->store().FindLive(pid);
      return s && s->image->exe_path() == sleeper && s->image->ancestors.size() >= 2;
    });
    kill(pid, SIGKILL);
    Reap(pid);
    if (!seen) _exit(13);
    const bool ended = DrainUntil(**tracker, [&] { return !(*tracker)->store().FindLive(pid).has_value(); });
    if (!ended) _exit(14);
    _exit(0);
  }
  const int status = Reap(child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "10 unshare, 11 create, 12 wrong source, 13 exec not seen, 14 exit not seen";
}

// In a child pid namespace kernel events number processes differently from /proc: auto must not
// use them, and an explicit ebpf is refused.
TEST_F(ProcessTrackerRootTest, ChildPidNamespaceFallsBackToProcOnly) {
  const pid_t child = fork();
  if (child == 0) {
    if (unshare(CLONE_NEWPID) != 0) _exit(10);
    const pid_t inner = fork();
    if (inner == 0) {
      TrackerOptions options;
      auto tracker = ProcessTracker::Create(options, g_clock);
      if (!tracker.ok()) _exit(11);
      if ((*tracker)->source_name() != "proc") _exit(12);
      if ((*tracker)->source_reason().find("child pid namespace") == std::string::npos) _exit(13);
      options.monitor = ProcessMonitor::kEbpf;
      if (ProcessTracker::Create(options, g_clock).ok()) _exit(14);
      _exit(0);
    }
    const int status = Reap(inner);
    _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 15);
  }
  const int status = Reap(child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "10 unshare, 11 create, 12 source, 13 reason, 14 ebpf accepted, 15 crashed";
}

TEST_F(ProcessTrackerRootTest, AutoPrefersEbpfAndSaysWhy) {
  auto tracker = Tracker(ProcessMonitor::kAuto);
  ASSERT_NE(tracker, nullptr);
  EXPECT_EQ(tracker->source_name(), "ebpf");
  EXPECT_NE(tracker->source_reason().find("auto"), std::string::npos) << tracker->source_reason();
}

}  // namespace
}  // namespace picket
