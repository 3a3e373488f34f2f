// The exec-event store fed synthetic fork/exec/exit sequences with an injected clock.
#include "process/process_store.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace picket {
namespace {

constexpr uint64_t kSec = 1000000000ull;
constexpr uint64_t kMs = 1000000ull;

class FakeClock final : public Clock {
 public:
  uint64_t NowBootNs() const override { return now; }
  uint64_t now = 1000 * kSec;
};

class FakeProbe final : public LivenessProbe {
 public:
  std::optional<uint64_t> StartTicks(pid_t tgid) override {
    ++calls;
    auto it = alive.find(tgid);
    if (it == alive.end()) return std::nullopt;
    return it->second / ProcTickNs();
  }
  std::map<pid_t, uint64_t> alive;  // tgid → start ns
  int calls = 0;
};

ProcKey Key(pid_t tgid, uint64_t start_ns) { return ProcKey{tgid, start_ns, false}; }

ForkEvent Fork(ProcKey parent, ProcKey child, uint64_t time_ns) {
  ForkEvent e;
  e.time_ns = time_ns;
  e.parent = parent;
  e.child = child;
  e.child_ns_pid = child.tgid;
  e.uid = 1000;
  e.euid = 1000;
  e.gid = 1000;
  return e;
}

ExecEvent Exec(ProcKey proc, ProcKey parent, const std::string& path, uint64_t time_ns) {
  ExecEvent e;
  e.time_ns = time_ns;
  e.proc = proc;
  e.ns_pid = proc.tgid;
  e.old_tid = proc.tgid;
  e.parent = parent;
  e.exe_path = path;
  e.argv = {path, "--flag"};
  e.cwd = "/home/u";
  e.exe_file = FileIdentity{8, 100 + static_cast<uint64_t>(path.size()), 5, 1234, false, false, true};
  return e;
}

ExitEvent Exit(ProcKey proc, uint64_t time_ns) { return ExitEvent{time_ns, proc, 0}; }

class ProcessStoreTest : public ::testing::Test {
 protected:
  ProcessStoreTest() : store_(Options(), clock_) {}
  static StoreOptions Options() {
    StoreOptions o;
    o.exit_grace_ns = 10 * kSec;
    o.max_entries = 100;
    o.max_exited = 20;
    return o;
  }
  // init (1) → shell (100) → the process under test.
  void Boot() {
    store_.OnExec(Exec(init_, ProcKey{}, "/sbin/init", 1 * kSec));
    store_.OnFork(Fork(init_, shell_, 2 * kSec));
    store_.OnExec(Exec(shell_, init_, "/bin/bash", 2 * kSec + 1));
  }
  std::string PathOf(pid_t pid) {
    auto s = store_.FindLive(pid);
    return s ? s->image->exe_path() : "<none>";
  }

  FakeClock clock_;
  ProcessStore store_;
  const ProcKey init_ = Key(1, 1 * kSec);
  const ProcKey shell_ = Key(100, 2 * kSec);
};

TEST_F(ProcessStoreTest, ForkThenExecGivesNewImageAndAncestorsUpToInit) {
  Boot();
  const ProcKey child = Key(200, 3 * kSec);
  store_.OnFork(Fork(shell_, child, 3 * kSec));
  auto forked = store_.FindLive(200);
  ASSERT_TRUE(forked.has_value());
  EXPECT_EQ(forked->image->exe_path(), "/bin/bash") << "a forked child runs its parent's image until exec";
  EXPECT_EQ(forked->image->exec_id.exec_ns, 3 * kSec);

  store_.OnExec(Exec(child, shell_, "/usr/bin/curl", 3 * kSec + 5));
  auto s = store_.FindLive(200);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->image->exe_path(), "/usr/bin/curl");
  EXPECT_EQ(s->image->argv().size(), 2u);
  EXPECT_EQ(s->image->uid, 0u) << "exec data replaces the fork's";
  ASSERT_EQ(s->image->ancestors.size(), 2u);
  EXPECT_EQ(s->image->ancestors[0].pid, 100);
  EXPECT_EQ(s->image->ancestors[0].exe_path, "/bin/bash");
  EXPECT_EQ(s->image->ancestors[1].pid, 1);
  EXPECT_EQ(s->image->ancestors[1].exe_path, "/sbin/init");
  EXPECT_FALSE(s->image->has(kImageAncestorsCut));
  EXPECT_EQ(s->image->parent_exec.proc.tgid, 100);
  EXPECT_NE(forked->image->exec_id, s->image->exec_id) << "each image has its own ExecId";
  EXPECT_EQ(forked->image->exe_path(), "/bin/bash") << "a snapshot handed out never changes";
}

TEST_F(ProcessStoreTest, ExitMovesToExitedListLookupByKeyStillWorksUntilGraceEnds) {
  Boot();
  const ProcKey child = Key(200, 3 * kSec);
  store_.OnFork(Fork(shell_, child, 3 * kSec));
  store_.OnExec(Exec(child, shell_, "/usr/bin/curl", 3 * kSec + 5));
  store_.OnExit(Exit(child, 4 * kSec));
  EXPECT_FALSE(store_.FindLive(200).has_value()) << "an ended process holds no PID";
  auto s = store_.Find(child);
  ASSERT_TRUE(s.has_value());
  EXPECT_TRUE(s->exited());
  EXPECT_EQ(*s->exit_ns, 4 * kSec);
  EXPECT_EQ(s->image->exe_path(), "/usr/bin/curl");

  clock_.now = 4 * kSec + 10 * kSec - 1;
  store_.Sweep(nullptr);
  EXPECT_TRUE(store_.Find(child).has_value()) << "still within grace";
  clock_.now = 4 * kSec + 10 * kSec;
  store_.Sweep(nullptr);
  EXPECT_FALSE(store_.Find(child).has_value()) << "past grace";
  EXPECT_EQ(store_.counters().evicted_grace, 1u);
}

TEST_F(ProcessStoreTest, PidReuseNeverReturnsTheOldProcess) {
  Boot();
  const ProcKey old_proc = Key(300, 3 * kSec);
  const ProcKey new_proc = Key(300, 3 * kSec + 2 * kMs);  // same PID, same 10 ms tick
  store_.OnFork(Fork(shell_, old_proc, old_proc.start_ns));
  store_.OnExec(Exec(old_proc, shell_, "/tmp/a/client", old_proc.start_ns + 1));
  store_.OnExit(Exit(old_proc, old_proc.start_ns + 2));
  store_.OnFork(Fork(shell_, new_proc, new_proc.start_ns));
  store_.OnExec(Exec(new_proc, shell_, "/tmp/b/client", new_proc.start_ns + 1));
  EXPECT_EQ(PathOf(300), "/tmp/b/client");
  auto old_snapshot = store_.Find(old_proc);
  ASSERT_TRUE(old_snapshot.has_value());
  EXPECT_EQ(old_snapshot->image->exe_path(), "/tmp/a/client");
  EXPECT_TRUE(old_snapshot->exited());
}

TEST_F(ProcessStoreTest, LostExitIsInferredWhenANewerProcessTakesThePid) {
  Boot();
  const ProcKey old_proc = Key(300, 3 * kSec);
  const ProcKey new_proc = Key(300, 5 * kSec);
  store_.OnFork(Fork(shell_, old_proc, old_proc.start_ns));
  store_.OnExec(Exec(old_proc, shell_, "/tmp/a/client", old_proc.start_ns + 1));
  // Its exit event is lost.
  store_.OnFork(Fork(shell_, new_proc, new_proc.start_ns));
  EXPECT_EQ(store_.counters().lost_exits_inferred, 1u);
  EXPECT_EQ(PathOf(300), "/bin/bash");
  auto old_snapshot = store_.Find(old_proc);
  ASSERT_TRUE(old_snapshot.has_value());
  EXPECT_TRUE(old_snapshot->exited());
  // The late exit, when it does arrive, only corrects the old one's exit time.
  store_.OnExit(Exit(old_proc, 4 * kSec));
  EXPECT_EQ(*store_.Find(old_proc)->exit_ns, 4 * kSec);
  EXPECT_TRUE(store_.FindLive(300).has_value()) << "a stale exit must not end the new holder";
}

TEST_F(ProcessStoreTest, StaleEventsForAnOlderProcessAreIgnored) {
  Boot();
  const ProcKey newer = Key(300, 5 * kSec);
  store_.OnFork(Fork(shell_, newer, newer.start_ns));
  store_.OnExec(Exec(newer, shell_, "/tmp/new", newer.start_ns + 1));
  store_.OnExec(Exec(Key(300, 4 * kSec), shell_, "/tmp/old", 4 * kSec + 1));
  store_.OnFork(Fork(shell_, Key(300, 4 * kSec), 4 * kSec));
  EXPECT_EQ(PathOf(300), "/tmp/new");
  EXPECT_EQ(store_.counters().stale_events, 2u);
}

TEST_F(ProcessStoreTest, ExecBeforeItsForkKeepsTheExecImage) {
  Boot();
  const ProcKey child = Key(200, 3 * kSec);
  store_.OnExec(Exec(child, shell_, "/usr/bin/curl", 3 * kSec + 5));
  store_.OnFork(Fork(shell_, child, 3 * kSec));
  auto s = store_.FindLive(200);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->image->exe_path(), "/usr/bin/curl");
  ASSERT_EQ(s->image->ancestors.size(), 2u) << "ancestors built from the exec's parent key";
  EXPECT_EQ(s->image->ancestors[0].pid, 100);
}

TEST_F(ProcessStoreTest, ForkWithUnknownParentIsPartialAndCounted) {
  const ProcKey child = Key(200, 3 * kSec);
  store_.OnFork(Fork(Key(150, 2 * kSec), child, 3 * kSec));
  auto s = store_.FindLive(200);
  ASSERT_TRUE(s.has_value());
  EXPECT_TRUE(s->image->has(kImagePartial));
  EXPECT_TRUE(s->image->has(kImageAncestorsCut));
  EXPECT_EQ(store_.counters().orphan_forks, 1u);
  // Its exec fills the image; the chain stays cut (the parent is still unknown).
  store_.OnExec(Exec(child, Key(150, 2 * kSec), "/usr/bin/wget", 3 * kSec + 1));
  s = store_.FindLive(200);
  EXPECT_FALSE(s->image->has(kImagePartial));
  EXPECT_EQ(s->image->exe_path(), "/usr/bin/wget");
  EXPECT_TRUE(s->image->ancestors.empty());
}

TEST_F(ProcessStoreTest, ExecFromANonLeaderThreadKeepsTheProcessAndItsAncestors) {
  Boot();
  const ProcKey child = Key(200, 3 * kSec);
  store_.OnFork(Fork(shell_, child, 3 * kSec));
  ExecEvent exec = Exec(child, shell_, "/usr/bin/python3", 3 * kSec + 9);
  exec.old_tid = 205;  // a thread of 200 called execve; the kernel keys the result by the tgid
  store_.OnExec(exec);
  auto s = store_.FindLive(200);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->image->exe_path(), "/usr/bin/python3");
  EXPECT_EQ(s->image->key, child);
  EXPECT_EQ(s->image->ancestors.size(), 2u);
  EXPECT_EQ(store_.live_count(), 3u);
}

TEST_F(ProcessStoreTest, ExitOfUnknownProcessIsCountedOnly) {
  Boot();
  store_.OnExit(Exit(Key(999, 3 * kSec), 4 * kSec));
  EXPECT_EQ(store_.counters().unknown_exits, 1u);
  EXPECT_EQ(store_.live_count(), 2u);
}

TEST_F(ProcessStoreTest, AncestorsSurviveEvictionOfTheParent) {
  Boot();
  const ProcKey parent = Key(200, 3 * kSec);
  const ProcKey child = Key(201, 3 * kSec + kMs);
  store_.OnFork(Fork(shell_, parent, parent.start_ns));
  store_.OnExec(Exec(parent, shell_, "/usr/bin/make", parent.start_ns + 1));
  store_.OnFork(Fork(parent, child, child.start_ns));
  store_.OnExit(Exit(parent, 4 * kSec));
  clock_.now = 100 * kSec + 4 * kSec;
  store_.Sweep(nullptr);
  ASSERT_FALSE(store_.Find(parent).has_value());
  store_.OnExec(Exec(child, parent, "/usr/bin/cc", 5 * kSec));
  auto s = store_.FindLive(201);
  ASSERT_TRUE(s.has_value());
  ASSERT_EQ(s->image->ancestors.size(), 3u);
  EXPECT_EQ(s->image->ancestors[0].exe_path, "/usr/bin/make");
}

TEST_F(ProcessStoreTest, ForkedChildrenShareTheParentsDataAndKeepItAfterItsEviction) {
  Boot();
  const ProcKey parent = Key(200, 3 * kSec);
  ExecEvent exec = Exec(parent, shell_, "/usr/bin/server", parent.start_ns + 1);
  exec.argv = {"/usr/bin/server", "--workers", "64"};
  exec.cwd = "/srv/data";
  exec.cgroup_id = 77;
  exec.cgroup = "docker-" + std::string(64, 'a') + ".scope";
  store_.OnExec(exec);
  for (pid_t pid = 300; pid < 310; ++pid) {
    ForkEvent fork = Fork(parent, Key(pid, 4 * kSec + static_cast<uint64_t>(pid)), 4 * kSec + static_cast<uint64_t>(pid));
    fork.cgroup_id = 77;
    store_.OnFork(fork);
  }
  const auto held_parent = store_.FindLive(200);
  const auto first = store_.FindLive(300);
  const auto last = store_.FindLive(309);
  ASSERT_TRUE(held_parent && first && last);
  EXPECT_EQ(first->image->data, held_parent->image->data) << "a fork shares its parent's data, no copy";
  EXPECT_EQ(last->image->data, held_parent->image->data);
  EXPECT_NE(first->image, last->image) << "each child still has its own image (key, exec id)";

  // The parent ends and is evicted; its children keep the data they share.
  const ImageData* shared = held_parent->image->data.get();
  store_.OnExit(Exit(parent, 5 * kSec));
  clock_.now = 100 * kSec;
  store_.Sweep(nullptr);
  ASSERT_FALSE(store_.Find(parent).has_value());
  const auto child = store_.FindLive(305);
  ASSERT_TRUE(child.has_value());
  EXPECT_EQ(child->image->data.get(), shared);
  EXPECT_EQ(child->image->exe_path(), "/usr/bin/server");
  EXPECT_EQ(child->image->argv(), (std::vector<std::string>{"/usr/bin/server", "--workers", "64"}));
  EXPECT_EQ(child->image->cwd(), "/srv/data");
  EXPECT_TRUE(child->image->exe_file().SameVersion(exec.exe_file)) << "the file identity is inherited";
  EXPECT_EQ(child->image->container_id(), std::string(64, 'a'));
  EXPECT_EQ(ToProcessInfo(*child).cwd, "/srv/data");

  // A child forked into another cgroup gets its own data: same path and argv, no container id.
  ForkEvent moved = Fork(Key(305, child->image->key.start_ns), Key(400, 101 * kSec), 101 * kSec);
  moved.cgroup_id = 78;
  store_.OnFork(moved);
  const auto grandchild = store_.FindLive(400);
  ASSERT_TRUE(grandchild.has_value());
  EXPECT_NE(grandchild->image->data, child->image->data);
  EXPECT_EQ(grandchild->image->exe_path(), "/usr/bin/server");
  EXPECT_EQ(grandchild->image->argv(), child->image->argv());
  EXPECT_EQ(grandchild->image->container_id(), "");
}

TEST_F(ProcessStoreTest, InterleavedForksOfSeveralParentsShareEachParentsChain) {
  Boot();
  const ProcKey a = Key(200, 3 * kSec);
  const ProcKey b = Key(201, 3 * kSec + 1);
  store_.OnFork(Fork(shell_, a, a.start_ns));
  store_.OnFork(Fork(shell_, b, b.start_ns));
  store_.OnExec(Exec(a, shell_, "/usr/bin/a", a.start_ns + 10));
  store_.OnExec(Exec(b, shell_, "/usr/bin/b", b.start_ns + 10));
  for (pid_t i = 0; i < 20; ++i) {  // a's and b's forks alternate
    const ProcKey& parent = i % 2 == 0 ? a : b;
    const uint64_t start = 4 * kSec + static_cast<uint64_t>(i);
    store_.OnFork(Fork(parent, Key(300 + i, start), start));
  }
  const Ancestor* chain_of_a = &store_.FindLive(300)->image->ancestors[0];
  const Ancestor* chain_of_b = &store_.FindLive(301)->image->ancestors[0];
  EXPECT_EQ(chain_of_a->exe_path, "/usr/bin/a");
  EXPECT_EQ(chain_of_b->exe_path, "/usr/bin/b");
  for (pid_t i = 2; i < 20; ++i) {
    const auto child = store_.FindLive(300 + i);
    ASSERT_TRUE(child.has_value());
    ASSERT_EQ(child->image->ancestors.size(), 3u);
    EXPECT_EQ(&child->image->ancestors[0], i % 2 == 0 ? chain_of_a : chain_of_b) << "child " << 300 + i << " copied its chain";
  }
}

TEST_F(ProcessStoreTest, ProcfsDataNeverReplacesKernelData) {
  Boot();
  ExecEvent from_proc = Exec(ProcKey{100, 2 * kSec, true}, ProcKey{1, 0, true}, "/usr/bin/wrong", 0);
  ProcessSnapshot s = store_.InsertFromProcfs(from_proc);
  EXPECT_EQ(s.image->exe_path(), "/bin/bash");
  EXPECT_EQ(store_.counters().procfs_ignored, 1u);
}

TEST_F(ProcessStoreTest, KernelEventReplacesProcfsData) {
  ExecEvent from_proc = Exec(ProcKey{1, 1 * kSec, true}, ProcKey{}, "/sbin/init", 0);
  store_.InsertFromProcfs(from_proc);
  ExecEvent shell_proc = Exec(ProcKey{100, 2 * kSec, true}, ProcKey{1, 0, true}, "/bin/sh", 0);
  ProcessSnapshot sh = store_.InsertFromProcfs(shell_proc);
  ASSERT_EQ(sh.image->ancestors.size(), 1u) << "a /proc record's parent is found by PID and start order";
  EXPECT_TRUE(sh.image->has(kImageFromProcfs));
  store_.OnExec(Exec(Key(100, 2 * kSec + 3 * kMs), init_, "/bin/bash", 5 * kSec));
  auto s = store_.FindLive(100);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->image->exe_path(), "/bin/bash");
  EXPECT_FALSE(s->image->key.coarse) << "the exact start time replaces the tick-precise one";
  EXPECT_FALSE(s->image->has(kImageFromProcfs));
  EXPECT_EQ(s->image->ancestors.size(), 1u) << "ancestry of the /proc record is kept";
}

TEST_F(ProcessStoreTest, ProcfsParentThatStartedAfterTheChildIsNotItsParent) {
  ExecEvent parent = Exec(ProcKey{50, 9 * kSec, true}, ProcKey{}, "/usr/bin/reused", 0);
  store_.InsertFromProcfs(parent);
  ExecEvent child = Exec(ProcKey{60, 3 * kSec, true}, ProcKey{50, 0, true}, "/usr/bin/child", 0);
  child.parent = ProcKey{50, 0, true};
  ProcessSnapshot s = store_.InsertFromProcfs(child);
  EXPECT_TRUE(s.image->ancestors.empty()) << "PID 50 was reused after the child started";
  EXPECT_TRUE(s.image->has(kImageAncestorsCut));
}

TEST_F(ProcessStoreTest, LivenessSweepEndsGoneProcessesByStartTime) {
  Boot();
  const ProcKey a = Key(200, 3 * kSec);
  const ProcKey b = Key(201, 3 * kSec + 50 * kMs);
  store_.OnFork(Fork(shell_, a, a.start_ns));
  store_.OnFork(Fork(shell_, b, b.start_ns));
  FakeProbe probe;
  probe.alive = {{1, init_.start_ns}, {100, shell_.start_ns}, {200, a.start_ns}, {201, 7 * kSec}};  // 201 reused
  store_.OnLostEvents(3);
  EXPECT_TRUE(store_.tainted());
  EXPECT_EQ(store_.Sweep(&probe), 4u);
  EXPECT_TRUE(store_.FindLive(200).has_value());
  EXPECT_FALSE(store_.FindLive(201).has_value()) << "another process holds PID 201 now";
  EXPECT_TRUE(store_.Find(b)->exited());
  EXPECT_EQ(store_.counters().gone_detected, 1u);
  EXPECT_EQ(store_.counters().lost_events, 3u);
}

TEST_F(ProcessStoreTest, CapsEvictExitedFirstThenLeastRecentlyUsed) {
  StoreOptions o;
  o.max_entries = 5;
  o.max_exited = 2;
  o.exit_grace_ns = 1000 * kSec;
  ProcessStore store(o, clock_);
  for (pid_t pid = 10; pid < 13; ++pid) store.OnExec(Exec(Key(pid, kSec), ProcKey{}, "/x", kSec));
  for (pid_t pid = 10; pid < 13; ++pid) store.OnExit(Exit(Key(pid, kSec), 2 * kSec));
  EXPECT_EQ(store.exited_count(), 2u) << "max_exited";
  EXPECT_EQ(store.counters().evicted_cap_exited, 1u);
  EXPECT_FALSE(store.Find(Key(10, kSec)).has_value()) << "the oldest exited entry went first";
  for (pid_t pid = 20; pid < 24; ++pid) store.OnExec(Exec(Key(pid, kSec), ProcKey{}, "/y", kSec));
  EXPECT_EQ(store.live_count() + store.exited_count(), 5u);
  EXPECT_EQ(store.exited_count(), 1u) << "exited entries are evicted before live ones";
  store.FindLive(20);  // 20 recently used: 21 is now the least recently used
  store.OnExec(Exec(Key(24, kSec), ProcKey{}, "/y", kSec));
  store.OnExec(Exec(Key(25, kSec), ProcKey{}, "/y", kSec));
  EXPECT_EQ(store.exited_count(), 0u);
  EXPECT_EQ(store.live_count(), 5u);
  EXPECT_TRUE(store.FindLive(20).has_value());
  EXPECT_FALSE(store.FindLive(21).has_value());
  EXPECT_EQ(store.counters().evicted_cap_live, 1u);
}

TEST_F(ProcessStoreTest, OnlyWantedEnvironmentVariablesAreKeptFirstDefinitionWins) {
  store_.SetWantedEnv({"APPIMAGE", "FLATPAK_ID"});
  ExecEvent e = Exec(Key(5, kSec), ProcKey{}, "/x", kSec);
  e.environ = std::string("HOME=/root\0APPIMAGE=/a/b.AppImage\0APPIMAGE=/c\0FLATPAK_IDX=1\0NOEQ\0", 64);
  store_.OnExec(e);
  auto s = store_.FindLive(5);
  ASSERT_EQ(s->image->env().size(), 1u);
  EXPECT_EQ(s->image->env()[0].name, "APPIMAGE");
  EXPECT_EQ(s->image->env()[0].value, "/a/b.AppImage");
  // A child inherits the kept variables with the image.
  store_.OnFork(Fork(Key(5, kSec), Key(6, 2 * kSec), 2 * kSec));
  EXPECT_EQ(store_.FindLive(6)->image->env().size(), 1u);
}

TEST_F(ProcessStoreTest, HitsAndMissesAreCounted) {
  Boot();
  store_.FindLive(1);
  store_.FindLive(4242);
  EXPECT_EQ(store_.counters().hits, 1u);
  EXPECT_EQ(store_.counters().misses, 1u);
}

TEST(ProcessRecordTest, ContainerIdFromCgroupNames) {
  const std::string id(64, 'a');
  EXPECT_EQ(ContainerIdFromCgroup("/system.slice/docker-" + id + ".scope"), id);
  EXPECT_EQ(ContainerIdFromCgroup("/kubepods/burstable/pod1234/" + id), id);
  EXPECT_EQ(ContainerIdFromCgroup("libpod-" + id + ".scope"), id);
  EXPECT_EQ(ContainerIdFromCgroup("/user.slice/user-1000.slice/session-2.scope"), "");
  EXPECT_EQ(ContainerIdFromCgroup(std::string(65, 'b')), "") << "not exactly 64 digits";
}

TEST(ProcessRecordTest, CoarseAndExactStartTimesCompareAtTickPrecision) {
  const uint64_t tick = ProcTickNs();
  ProcKey exact{7, 5 * tick + 3, false};
  EXPECT_TRUE(exact.SameStart(5 * tick, true));
  EXPECT_FALSE(exact.SameStart(5 * tick, false));
  EXPECT_FALSE(exact.SameStart(6 * tick, true));
}

}  // namespace
}  // namespace picket
