#include "process/proc_parsers.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace picket {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// A /proc/PID/stat line (proc(5)) with the given comm and start time (field 22).
std::string StatLine(std::string_view comm, std::string_view start = "34054") {
  return "5779 (" + std::string(comm) +
         ") R 5777 5777 3291 0 -1 4194304 100 0 0 0 0 0 0 0 20 0 1 0 " + std::string(start) +
         " 3133440 388 18446744073709551615 93925276291072 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
}

TEST(ParseProcStatTest, ReadsPidCommStatePpidAndStartTime) {
  auto stat = ParseProcStat(StatLine("cat"));
  ASSERT_TRUE(stat.ok()) << stat.error().message;
  EXPECT_EQ(stat->pid, 5779);
  EXPECT_EQ(stat->comm, "cat");
  EXPECT_EQ(stat->state, 'R');
  EXPECT_EQ(stat->ppid, 5777);
  EXPECT_EQ(stat->start_time_ticks, 34054u);
}

TEST(ParseProcStatTest, CommWithParenthesesAndSpaces) {
  auto stat = ParseProcStat(StatLine("a) (b) S 1 2"));
  ASSERT_TRUE(stat.ok()) << stat.error().message;
  EXPECT_EQ(stat->comm, "a) (b) S 1 2");
  EXPECT_EQ(stat->ppid, 5777);
  EXPECT_EQ(stat->start_time_ticks, 34054u);
}

TEST(ParseProcStatTest, EmptyCommAndNoTrailingNewline) {
  std::string line = StatLine("");
  line.pop_back();
  auto stat = ParseProcStat(line);
  ASSERT_TRUE(stat.ok()) << stat.error().message;
  EXPECT_EQ(stat->comm, "");
  EXPECT_EQ(stat->start_time_ticks, 34054u);
}

TEST(ParseProcStatTest, LineEndingAtStartTimeIsEnough) {
  auto stat = ParseProcStat("1 (init) S 0 1 1 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0 12");
  ASSERT_TRUE(stat.ok()) << stat.error().message;
  EXPECT_EQ(stat->start_time_ticks, 12u);
}

TEST(ParseProcStatTest, LargestStartTime) {
  auto stat = ParseProcStat(StatLine("x", "18446744073709551615"));
  ASSERT_TRUE(stat.ok()) << stat.error().message;
  EXPECT_EQ(stat->start_time_ticks, 18446744073709551615u);
}

TEST(ParseProcStatTest, RejectsMissingFields) {
  auto stat = ParseProcStat("1 (init) S 0 1 1 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0");
  ASSERT_FALSE(stat.ok());
  EXPECT_THAT(stat.error().message, HasSubstr("start time"));
  stat = ParseProcStat("1 (init) S 0 1");
  ASSERT_FALSE(stat.ok());
  EXPECT_THAT(stat.error().message, HasSubstr("missing field 6"));
  stat = ParseProcStat("1 (init)");
  ASSERT_FALSE(stat.ok());
  EXPECT_THAT(stat.error().message, HasSubstr("state"));
}

TEST(ParseProcStatTest, RejectsMissingOrBrokenComm) {
  EXPECT_FALSE(ParseProcStat("").ok());
  EXPECT_FALSE(ParseProcStat("1 init S 0").ok());
  EXPECT_FALSE(ParseProcStat("1 )init( S 0 1 1 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0 12").ok());
  auto stat = ParseProcStat("1 (init S 0 1 1 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0 12");
  ASSERT_FALSE(stat.ok());
  EXPECT_THAT(stat.error().message, HasSubstr("comm"));
}

TEST(ParseProcStatTest, RejectsBadNumbers) {
  auto stat = ParseProcStat(StatLine("x", "12x"));
  ASSERT_FALSE(stat.ok());
  EXPECT_THAT(stat.error().message, HasSubstr("'12x'"));
  EXPECT_FALSE(ParseProcStat(StatLine("x", "-1")).ok());
  EXPECT_FALSE(ParseProcStat(StatLine("x", "18446744073709551616")).ok());
  EXPECT_FALSE(ParseProcStat("x (a) S 1 1 1 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0 12").ok());
  EXPECT_FALSE(ParseProcStat("99999999999 (a) S 1 1 1 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0 12").ok());
  EXPECT_FALSE(ParseProcStat("1 (a) SS 1 1 1 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0 12").ok());
  EXPECT_FALSE(ParseProcStat("1 (a) S -1 1 1 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0 12").ok());
}

TEST(ParseProcStatTest, HugeInputIsRejectedOrParsedWithoutCrash) {
  const std::string huge_comm(1 << 20, ')');
  auto stat = ParseProcStat(StatLine(huge_comm));
  ASSERT_TRUE(stat.ok()) << stat.error().message;
  EXPECT_EQ(stat->comm.size(), huge_comm.size());
  const std::string junk(1 << 20, '7');
  EXPECT_FALSE(ParseProcStat(junk).ok());
  const std::string spaces = "1 (a) S 1" + std::string(1 << 20, ' ');
  EXPECT_FALSE(ParseProcStat(spaces).ok());
}

TEST(ParseStatusUidTest, ReadsRealUid) {
  auto uid = ParseStatusUid("Name:\tcat\nUmask:\t0022\nState:\tR (running)\nUid:\t1000\t1001\t1002\t1003\nGid:\t0\t0\t0\t0\n");
  ASSERT_TRUE(uid.ok()) << uid.error().message;
  EXPECT_EQ(*uid, 1000u);
}

TEST(ParseStatusUidTest, UidOnFirstOrLastLineWithoutNewline) {
  auto uid = ParseStatusUid("Uid:\t7\t7\t7\t7");
  ASSERT_TRUE(uid.ok()) << uid.error().message;
  EXPECT_EQ(*uid, 7u);
  uid = ParseStatusUid("Name:\tx\nUid: 4294967295");
  ASSERT_TRUE(uid.ok()) << uid.error().message;
  EXPECT_EQ(*uid, 4294967295u);
}

TEST(ParseStatusUidTest, RejectsMissingOrMalformedUid) {
  auto uid = ParseStatusUid("Name:\tcat\nGid:\t0\t0\t0\t0\n");
  ASSERT_FALSE(uid.ok());
  EXPECT_THAT(uid.error().message, HasSubstr("no Uid"));
  EXPECT_FALSE(ParseStatusUid("").ok());
  EXPECT_FALSE(ParseStatusUid("Uid:\n").ok());
  EXPECT_FALSE(ParseStatusUid("Uid:\t-1\t0\n").ok());
  EXPECT_FALSE(ParseStatusUid("Uid:\t4294967296\t0\n").ok());
  EXPECT_FALSE(ParseStatusUid("Uid:\tabc\n").ok());
  // "XUid:" is another key.
  EXPECT_FALSE(ParseStatusUid("XUid:\t5\n").ok());
}

TEST(ParseCmdlineTest, SplitsOnNul) {
  using namespace std::string_view_literals;
  EXPECT_THAT(ParseCmdline("/bin/curl\0-s\0https://x\0"sv), ElementsAre("/bin/curl", "-s", "https://x"));
}

TEST(ParseCmdlineTest, KeepsEmptyArgumentsAndUnterminatedLast) {
  using namespace std::string_view_literals;
  EXPECT_THAT(ParseCmdline("a\0\0b\0"sv), ElementsAre("a", "", "b"));
  EXPECT_THAT(ParseCmdline("a\0\0"sv), ElementsAre("a", ""));
  EXPECT_THAT(ParseCmdline("nginx: worker process"sv), ElementsAre("nginx: worker process"));
  EXPECT_THAT(ParseCmdline("\0"sv), ElementsAre(""));
}

TEST(ParseCmdlineTest, EmptyInputIsNoArguments) { EXPECT_THAT(ParseCmdline(""), IsEmpty()); }

TEST(ParseCmdlineTest, BoundsArgumentCount) {
  const std::string many(100000, '\0');
  EXPECT_EQ(ParseCmdline(many).size(), 4096u);
  EXPECT_EQ(ParseCmdline(many, 3).size(), 3u);
}

TEST(ParseSocketLinkTest, ReadsInode) {
  EXPECT_EQ(ParseSocketLink("socket:[12345]"), 12345u);
  EXPECT_EQ(ParseSocketLink("socket:[0]"), 0u);
}

TEST(ParseSocketLinkTest, RejectsOtherLinks) {
  EXPECT_EQ(ParseSocketLink("pipe:[12345]"), std::nullopt);
  EXPECT_EQ(ParseSocketLink("socket:[]"), std::nullopt);
  EXPECT_EQ(ParseSocketLink("socket:[12a]"), std::nullopt);
  EXPECT_EQ(ParseSocketLink("socket:[12"), std::nullopt);
  EXPECT_EQ(ParseSocketLink("socket:[-1]"), std::nullopt);
  EXPECT_EQ(ParseSocketLink("socket:[18446744073709551616]"), std::nullopt);
  EXPECT_EQ(ParseSocketLink("/tmp/socket:[1]"), std::nullopt);
  EXPECT_EQ(ParseSocketLink(""), std::nullopt);
}

TEST(SplitDeletedSuffixTest, StripsAndFlags) {
  ExeLink link = SplitDeletedSuffix("/usr/bin/curl (deleted)");
  EXPECT_EQ(link.path, "/usr/bin/curl");
  EXPECT_TRUE(link.deleted_suffix);
  link = SplitDeletedSuffix("/usr/bin/curl");
  EXPECT_EQ(link.path, "/usr/bin/curl");
  EXPECT_FALSE(link.deleted_suffix);
  link = SplitDeletedSuffix(" (deleted)");
  EXPECT_EQ(link.path, " (deleted)");
  EXPECT_FALSE(link.deleted_suffix);
}

TEST(ParseStatusIdsTest, ReadsRealAndEffectiveUidGidAndInnermostNsPid) {
  auto ids = ParseStatusIds("Name:\tx\nNSpid:\t4242\t17\t1\nUid:\t1000\t0\t0\t0\nGid:\t100\t100\t100\t100\n");
  ASSERT_TRUE(ids.ok()) << ids.error().message;
  EXPECT_EQ(ids->uid, 1000u);
  EXPECT_EQ(ids->euid, 0u);
  EXPECT_EQ(ids->gid, 100u);
  EXPECT_EQ(ids->ns_pid, 1);
}

TEST(ParseStatusIdsTest, MissingOrMalformedLinesAreErrors) {
  EXPECT_FALSE(ParseStatusIds("Uid:\t1000\t1000\n").ok()) << "no Gid";
  EXPECT_FALSE(ParseStatusIds("Uid:\t1000\nGid:\t1\n").ok()) << "one Uid field";
  EXPECT_FALSE(ParseStatusIds("Uid:\tx\ty\nGid:\t1\n").ok());
  auto no_nspid = ParseStatusIds("Uid:\t1\t2\nGid:\t3\n");
  ASSERT_TRUE(no_nspid.ok());
  EXPECT_EQ(no_nspid->ns_pid, 0);
}

TEST(ParseCgroupPathTest, PrefersTheV2LineElseSystemd) {
  EXPECT_EQ(ParseCgroupPath("12:cpu:/a\n1:name=systemd:/user.slice/x\n0::/user.slice/y\n"), "/user.slice/y");
  EXPECT_EQ(ParseCgroupPath("12:cpu:/a\n1:name=systemd:/user.slice/x\n"), "/user.slice/x");
  EXPECT_EQ(ParseCgroupPath("12:cpu:/a\n"), std::nullopt);
  EXPECT_EQ(ParseCgroupPath(""), std::nullopt);
}


// Lines as this machine's kernel writes them (hybrid layout: cgroup2 under /sys/fs/cgroup/unified).
constexpr std::string_view kHybridMountinfo =
    "23 27 0:22 / /sys rw,relatime - sysfs sysfs rw\n"
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime shared:9 - cgroup cgroup rw,name=systemd\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime shared:10 master:3 - cgroup2 cgroup2 rw\n";

TEST(ParseMountinfoLineTest, ReadsRootMountPointAndTypeAfterOptionalFields) {
  auto entry = ParseMountinfoLine("41 31 0:38 / /sys/fs/cgroup/unified rw,relatime shared:10 master:3 - cgroup2 cgroup2 rw");
  ASSERT_TRUE(entry.ok()) << entry.error().message;
  EXPECT_EQ(entry->root, "/");
  EXPECT_EQ(entry->mount_point, "/sys/fs/cgroup/unified");
  EXPECT_EQ(entry->fstype, "cgroup2");
}

TEST(ParseMountinfoLineTest, DecodesOctalEscapes) {
  auto entry = ParseMountinfoLine(R"(50 1 0:40 /a\134b /mnt/with\040space\011tab rw - cgroup2 none rw)");
  ASSERT_TRUE(entry.ok()) << entry.error().message;
  EXPECT_EQ(entry->root, "/a\\b");
  EXPECT_EQ(entry->mount_point, "/mnt/with space\ttab");
}

TEST(ParseMountinfoLineTest, RejectsMalformedLinesWithAReason) {
  const struct {
    std::string_view line;
    std::string_view reason;
  } cases[] = {
      {"", "missing field 'mount id'"},
      {"41 31 0:38 /", "missing field 'mount point'"},
      {"41 31 0:38 / /sys", "missing field 'mount options'"},
      {"41 31 0:38 / /sys rw shared:1", "no '-' separator"},
      {"41 31 0:38 / /sys rw -", "missing field 'filesystem type'"},
      {"41 31 0:38 / sys rw - cgroup2 cgroup2 rw", "mount point 'sys' is not an absolute path"},
      {R"(41 31 0:38 / /sys\04 rw - cgroup2 cgroup2 rw)", R"(mount point '/sys\04' has a malformed)"},
      {R"(41 31 0:38 / /sys\9aa rw - cgroup2 cgroup2 rw)", "has a malformed"},
      {R"(41 31 0:38 /\777 /sys rw - cgroup2 cgroup2 rw)", R"(root '/\777' has a malformed)"},
      {"41 31 0:38 / /sys\\", "missing field 'mount options'"},
  };
  for (const auto& c : cases) {
    auto entry = ParseMountinfoLine(c.line);
    ASSERT_FALSE(entry.ok()) << c.line;
    EXPECT_THAT(entry.error().message, ::testing::HasSubstr(std::string(c.reason))) << c.line;
  }
}

TEST(FindCgroup2MountPointTest, HybridLayoutGivesTheUnifiedMount) {
  auto found = FindCgroup2MountPoint(kHybridMountinfo);
  ASSERT_TRUE(found.ok()) << found.error().message;
  EXPECT_EQ(*found, std::optional<std::string>("/sys/fs/cgroup/unified"));
}

TEST(FindCgroup2MountPointTest, SkipsMountsOfASubtreeAndNonCgroup2) {
  auto found = FindCgroup2MountPoint(
      "60 1 0:38 /system.slice /container/cgroup rw - cgroup2 cgroup2 rw\n"
      "61 1 0:39 / /fake rw - cgroup cgroup2 rw\n"
      "62 1 0:38 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate");
  ASSERT_TRUE(found.ok()) << found.error().message;
  EXPECT_EQ(*found, std::optional<std::string>("/sys/fs/cgroup"));
}

TEST(FindCgroup2MountPointTest, NoneUnderIpNetnsExec) {
  auto found = FindCgroup2MountPoint(
      "48 45 0:39 / /sys rw,relatime - sysfs picket-x rw\n\n"
      "583 29 0:4 net:[4026532177] /run/netns/picket-x rw shared:288 - nsfs nsfs rw\n");
  ASSERT_TRUE(found.ok()) << found.error().message;
  EXPECT_EQ(*found, std::nullopt);
  auto empty = FindCgroup2MountPoint("");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*empty, std::nullopt);
}

TEST(FindCgroup2MountPointTest, MalformedLineIsRejectedWithItsNumber) {
  auto found = FindCgroup2MountPoint("23 27 0:22 / /sys rw,relatime - sysfs sysfs rw\ngarbage\n");
  ASSERT_FALSE(found.ok());
  EXPECT_THAT(found.error().message, ::testing::HasSubstr("(line 2)"));
}

TEST(FindCgroup2MountPointTest, ArbitraryBytesNeverCrash) {
  std::string bytes;
  uint32_t x = 12345;
  for (int round = 0; round < 2000; ++round) {
    bytes.clear();
    const size_t n = x % 200;
    for (size_t i = 0; i < n; ++i) {
      x = x * 1103515245u + 12345u;
      const char alphabet[] = "0123456789 /\\-\n:cgroup2rw";
      bytes.push_back(alphabet[(x >> 16) % (sizeof(alphabet) - 1)]);
    }
    auto found = FindCgroup2MountPoint(bytes);
    if (found.ok() && found->has_value()) {
      EXPECT_LE((*found)->size(), bytes.size());
    }
  }
}

}  // namespace
}  // namespace picket
