// cgroup v2 paths: the /proc/PID/cgroup and mountinfo parsers, and how the exec-event store
// records a process's path (from /proc, or resolved from the kernel event's cgroup id).
#include "process/cgroup_paths.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "process/process_store.h"

namespace picket {
namespace {

TEST(ParseCgroup2PathTest, TakesTheUnifiedLineOnly) {
  EXPECT_EQ(ParseCgroup2Path("0::/user.slice/user-1000.slice/app-firefox.scope\n"),
            "/user.slice/user-1000.slice/app-firefox.scope");
  EXPECT_EQ(ParseCgroup2Path("12:memory:/x\n1:name=systemd:/user.slice\n0::/system.slice/cron.service\n"),
            "/system.slice/cron.service");
  EXPECT_EQ(ParseCgroup2Path("0::/"), "/") << "the root cgroup, no trailing newline";
  EXPECT_EQ(ParseCgroup2Path("0::/a b/c:d\n"), "/a b/c:d") << "spaces and colons belong to the path";
}

TEST(ParseCgroup2PathTest, RejectsWhatIsNotAUsablePath) {
  EXPECT_EQ(ParseCgroup2Path(""), std::nullopt);
  EXPECT_EQ(ParseCgroup2Path("1:name=systemd:/user.slice\n4:memory:/m\n"), std::nullopt)
      << "a v1 hierarchy is not the v2 path";
  EXPECT_EQ(ParseCgroup2Path("0::\n"), std::nullopt);
  EXPECT_EQ(ParseCgroup2Path("0::relative\n"), std::nullopt);
  EXPECT_EQ(ParseCgroup2Path("0::/gone.scope (deleted)\n"), std::nullopt) << "a removed cgroup has no path";
  EXPECT_EQ(ParseCgroup2Path("10::/x\n"), std::nullopt) << "only hierarchy 0 is the unified one";
}

constexpr const char* kHybridMountinfo =
    "25 30 0:23 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n"
    "31 25 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime shared:9 master:2 - cgroup2 cgroup2 rw\n";

TEST(ParseCgroup2MountTest, FindsTheCgroup2MountPastOptionalFields) {
  std::optional<Cgroup2Mount> mount = ParseCgroup2Mount(kHybridMountinfo);
  ASSERT_TRUE(mount.has_value());
  EXPECT_EQ(mount->mount_point, "/sys/fs/cgroup/unified");
  EXPECT_EQ(mount->root, "/");
}

TEST(ParseCgroup2MountTest, DecodesOctalEscapesAndKeepsANonRootMountRoot) {
  std::optional<Cgroup2Mount> mount =
      ParseCgroup2Mount("50 1 0:40 /user.slice /mnt/my\\040cgroups rw - cgroup2 none rw\n");
  ASSERT_TRUE(mount.has_value());
  EXPECT_EQ(mount->mount_point, "/mnt/my cgroups");
  EXPECT_EQ(mount->root, "/user.slice");
}

TEST(ParseCgroup2MountTest, RejectsMalformedOrMissing) {
  EXPECT_EQ(ParseCgroup2Mount(""), std::nullopt);
  EXPECT_EQ(ParseCgroup2Mount("40 31 0:37 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw\n"), std::nullopt);
  EXPECT_EQ(ParseCgroup2Mount("41 31 0:38 / /x rw cgroup2\n"), std::nullopt) << "no separator";
  EXPECT_EQ(ParseCgroup2Mount("41 31 0:38 / /x rw -\n"), std::nullopt) << "no type after the separator";
  EXPECT_EQ(ParseCgroup2Mount("41 31 0:38 / relative rw - cgroup2 cgroup2 rw\n"), std::nullopt);
  EXPECT_EQ(ParseCgroup2Mount("- cgroup2\n"), std::nullopt) << "too few fields";
}

TEST(JoinCgroupPathTest, JoinsRootAndRelativePath) {
  EXPECT_EQ(JoinCgroupPath("/", ""), "/");
  EXPECT_EQ(JoinCgroupPath("/", "/a/b"), "/a/b");
  EXPECT_EQ(JoinCgroupPath("/user.slice", "/app.scope"), "/user.slice/app.scope");
  EXPECT_EQ(JoinCgroupPath("/user.slice/", ""), "/user.slice");
}

// ---- the store records the path ------------------------------------------------------------

constexpr uint64_t kSec = 1000000000ull;

class FixedClock final : public Clock {
 public:
  uint64_t NowBootNs() const override { return 1000 * kSec; }
};

class FakeResolver final : public CgroupPathResolver {
 public:
  std::optional<std::string> PathOf(uint64_t cgroup_id) override {
    ++calls;
    auto it = paths.find(cgroup_id);
    if (it == paths.end()) return std::nullopt;
    return it->second;
  }
  std::map<uint64_t, std::string> paths;
  int calls = 0;
};

ExecEvent ExecIn(pid_t tgid, uint64_t start_ns, uint64_t cgroup_id, std::string cgroup_path) {
  ExecEvent e;
  e.time_ns = start_ns + 1;
  e.proc = ProcKey{tgid, start_ns, false};
  e.exe_path = "/usr/bin/app";
  e.cgroup_id = cgroup_id;
  e.cgroup = "leaf";
  e.cgroup_path = std::move(cgroup_path);
  return e;
}

ForkEvent ForkIn(pid_t parent, uint64_t parent_start, pid_t child, uint64_t child_start, uint64_t cgroup_id) {
  ForkEvent e;
  e.time_ns = child_start;
  e.parent = ProcKey{parent, parent_start, false};
  e.child = ProcKey{child, child_start, false};
  e.cgroup_id = cgroup_id;
  return e;
}

class StoreCgroupTest : public ::testing::Test {
 protected:
  StoreCgroupTest() : store_(StoreOptions{}, clock_) {
    resolver_.paths = {{7, "/user.slice/app-a.scope"}, {8, "/system.slice/b.service"}};
    store_.SetCgroupResolver(&resolver_);
  }
  std::string PathOf(pid_t pid) {
    auto s = store_.FindLive(pid);
    return s ? s->image->cgroup_path() : "<none>";
  }
  FixedClock clock_;
  FakeResolver resolver_;
  ProcessStore store_;
};

TEST_F(StoreCgroupTest, PathReadFromProcIsKeptWithoutAskingTheResolver) {
  store_.OnExec(ExecIn(100, 2 * kSec, 7, "/from/proc.scope"));
  EXPECT_EQ(PathOf(100), "/from/proc.scope");
  EXPECT_EQ(resolver_.calls, 0);
  auto snapshot = store_.FindLive(100);
  ASSERT_TRUE(snapshot.has_value());
  EXPECT_EQ(ToProcessInfo(*snapshot).cgroup_path, "/from/proc.scope");
}

TEST_F(StoreCgroupTest, KernelEventPathIsResolvedFromTheCgroupId) {
  store_.OnExec(ExecIn(100, 2 * kSec, 7, ""));
  EXPECT_EQ(PathOf(100), "/user.slice/app-a.scope");
}

TEST_F(StoreCgroupTest, UnknownIdOrNoIdLeavesThePathEmpty) {
  store_.OnExec(ExecIn(100, 2 * kSec, 99, ""));
  EXPECT_EQ(PathOf(100), "") << "an id the resolver does not know has no path (never a guess)";
  store_.OnExec(ExecIn(101, 2 * kSec, 0, ""));
  EXPECT_EQ(PathOf(101), "");
}

TEST_F(StoreCgroupTest, ForkInheritsInTheSameCgroupAndResolvesInAnother) {
  store_.OnExec(ExecIn(100, 2 * kSec, 7, ""));
  const int calls = resolver_.calls;
  store_.OnFork(ForkIn(100, 2 * kSec, 200, 3 * kSec, 7));
  EXPECT_EQ(PathOf(200), "/user.slice/app-a.scope");
  EXPECT_EQ(resolver_.calls, calls) << "same cgroup as the parent: its path is reused";
  store_.OnFork(ForkIn(100, 2 * kSec, 201, 3 * kSec, 8));
  EXPECT_EQ(PathOf(201), "/system.slice/b.service");
  store_.OnFork(ForkIn(999, 1 * kSec, 202, 3 * kSec, 8));
  EXPECT_EQ(PathOf(202), "/system.slice/b.service") << "a fork whose parent is unknown still has its own cgroup";
}

TEST(StoreCgroupWithoutResolverTest, KernelEventsHaveNoPath) {
  FixedClock clock;
  ProcessStore store(StoreOptions{}, clock);
  store.OnExec(ExecIn(100, 2 * kSec, 7, ""));
  auto s = store.FindLive(100);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->image->cgroup_path(), "");
}

}  // namespace
}  // namespace picket
