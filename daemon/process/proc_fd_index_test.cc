// ProcFdIndex and ReadProcessInfo over a fake proc tree (a temp dir of pid dirs with fd symlinks)
// and over the real /proc for the calling process and a child that exits.
#include "process/proc_fd_index.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "process/proc_parsers.h"
#include "process/proc_reader.h"

namespace picket {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class FakeProc {
 public:
  FakeProc() {
    char tmpl[] = "/tmp/picket-fakeproc-XXXXXX";
    root_ = mkdtemp(tmpl);
  }
  ~FakeProc() {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  const std::string& root() const { return root_; }

  // A process dir with the given fd links and plausible stat/status/cmdline/exe/cwd.
  void AddProcess(pid_t pid, const std::vector<std::pair<int, std::string>>& fds) {
    const fs::path dir = fs::path(root_) / std::to_string(pid);
    fs::create_directories(dir / "fd");
    for (const auto& [fd, target] : fds) fs::create_symlink(target, dir / "fd" / std::to_string(fd));
    Write(pid, "stat", std::to_string(pid) + " (fake prog) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 777 0 0\n");
    Write(pid, "status", "Name:\tfake\nUid:\t1234\t0\t0\t0\n");
    Write(pid, "cmdline", std::string("/usr/bin/fake\0--flag\0value\0", 27));
    fs::create_symlink("/usr/bin/fake", dir / "exe");
    fs::create_symlink("/home/fake", dir / "cwd");
  }
  void Write(pid_t pid, const std::string& name, const std::string& content) {
    std::ofstream(fs::path(root_) / std::to_string(pid) / name, std::ios::binary | std::ios::trunc) << content;
  }
  void Relink(pid_t pid, const std::string& name, const std::string& target) {
    const fs::path link = fs::path(root_) / std::to_string(pid) / name;
    fs::remove(link);
    fs::create_symlink(target, link);
  }
  void Remove(pid_t pid) { fs::remove_all(fs::path(root_) / std::to_string(pid)); }
  UniqueFd OpenPid(pid_t pid) const {
    return UniqueFd(open((root_ + "/" + std::to_string(pid)).c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  }

 private:
  std::string root_;
};

std::unique_ptr<ProcFdIndex> OpenIndex(const FakeProc& proc, size_t mru = 64) {
  auto index = ProcFdIndex::Open(ProcFdIndexOptions{proc.root(), mru});
  EXPECT_TRUE(index.ok()) << index.error().message;
  return index.ok() ? std::move(*index) : nullptr;
}

TEST(ProcFdIndexTest, OpenFailsForMissingRoot) {
  auto index = ProcFdIndex::Open(ProcFdIndexOptions{"/nonexistent/proc", 4});
  ASSERT_FALSE(index.ok());
  EXPECT_THAT(index.error().message, HasSubstr("/nonexistent/proc"));
}

TEST(ProcFdIndexTest, FindsHolderByScanThenByMruReadingOneFdDir) {
  FakeProc proc;
  proc.AddProcess(100, {{0, "/dev/null"}, {1, "pipe:[5]"}, {3, "socket:[111]"}});
  proc.AddProcess(200, {{0, "/dev/null"}, {4, "socket:[222]"}, {5, "socket:[2222]"}, {9, "socket:[2229]"}});
  proc.AddProcess(300, {});
  fs::create_directories(fs::path(proc.root()) / "sys");
  fs::create_symlink("200", fs::path(proc.root()) / "self");
  auto index = OpenIndex(proc);
  ASSERT_NE(index, nullptr);

  auto found = index->FindSocketHolder(222, std::nullopt);
  ASSERT_TRUE(found.ok()) << found.error().message;
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->pid, 200);
  EXPECT_EQ((*found)->fd_name, "4");
  EXPECT_FALSE((*found)->from_mru);
  EXPECT_THAT(index->mru_pids(), ElementsAre(200));
  EXPECT_EQ(index->stats().proc_listings, 1u);

  // The next fd number of the same process: found by one readlink, no directory listed.
  uint64_t dirs_before = index->stats().fd_dirs_read;
  found = index->FindSocketHolder(2222, std::nullopt);
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->pid, 200);
  EXPECT_EQ((*found)->fd_name, "5");
  EXPECT_TRUE((*found)->from_mru);
  EXPECT_EQ(index->stats().fd_dirs_read, dirs_before);
  EXPECT_EQ(index->stats().fd_hint_hits, 1u);

  // Elsewhere in its table: one fd directory listed.
  dirs_before = index->stats().fd_dirs_read;
  found = index->FindSocketHolder(2229, std::nullopt);
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->pid, 200);
  EXPECT_EQ((*found)->fd_name, "9");
  EXPECT_TRUE((*found)->from_mru);
  EXPECT_EQ(index->stats().fd_dirs_read, dirs_before + 1);
  EXPECT_EQ(index->stats().fd_hint_hits, 1u);
  EXPECT_EQ(index->stats().proc_listings, 1u);
}

TEST(ProcFdIndexTest, ScanPrefersNewestPids) {
  FakeProc proc;
  proc.AddProcess(100, {{3, "socket:[7]"}});
  proc.AddProcess(5000, {{3, "socket:[7]"}});
  proc.AddProcess(900, {{3, "socket:[7]"}});
  auto index = OpenIndex(proc);
  ASSERT_NE(index, nullptr);
  auto found = index->FindSocketHolder(7, std::nullopt);
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->pid, 5000);
  EXPECT_EQ(index->stats().fd_dirs_read, 1u);
}

TEST(ProcFdIndexTest, MruIsMostRecentFirstAndBounded) {
  FakeProc proc;
  proc.AddProcess(100, {{3, "socket:[1]"}});
  proc.AddProcess(200, {{3, "socket:[2]"}});
  proc.AddProcess(300, {{3, "socket:[3]"}});
  auto index = OpenIndex(proc, 2);
  ASSERT_NE(index, nullptr);
  for (uint64_t inode : {1, 2, 3}) ASSERT_TRUE(index->FindSocketHolder(inode, std::nullopt).ok());
  EXPECT_THAT(index->mru_pids(), ElementsAre(300, 200));
  auto found = index->FindSocketHolder(2, std::nullopt);
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_TRUE((*found)->from_mru);
  EXPECT_THAT(index->mru_pids(), ElementsAre(200, 300));
}

TEST(ProcFdIndexTest, NoHolderAndExitedMruEntriesAreDropped) {
  FakeProc proc;
  proc.AddProcess(100, {{3, "socket:[1]"}});
  auto index = OpenIndex(proc);
  ASSERT_NE(index, nullptr);
  ASSERT_TRUE(index->FindSocketHolder(1, std::nullopt).ok());
  EXPECT_THAT(index->mru_pids(), ElementsAre(100));
  proc.Remove(100);
  auto found = index->FindSocketHolder(1, std::nullopt);
  ASSERT_TRUE(found.ok()) << found.error().message;
  EXPECT_FALSE(found->has_value());
  EXPECT_TRUE(index->mru_pids().empty());
  // Prefix of another inode's link does not match.
  proc.AddProcess(400, {{3, "socket:[12]"}, {4, "socket:[1]x"}});
  found = index->FindSocketHolder(1, std::nullopt);
  ASSERT_TRUE(found.ok());
  EXPECT_FALSE(found->has_value());
}

TEST(ProcFdIndexTest, StillHoldsFollowsTheFdLink) {
  FakeProc proc;
  proc.AddProcess(100, {{3, "socket:[42]"}});
  auto index = OpenIndex(proc);
  ASSERT_NE(index, nullptr);
  auto found = index->FindSocketHolder(42, std::nullopt);
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_TRUE(ProcFdIndex::StillHolds(**found, 42));
  EXPECT_FALSE(ProcFdIndex::StillHolds(**found, 43));
  proc.Relink(100, "fd/3", "socket:[99]");
  EXPECT_FALSE(ProcFdIndex::StillHolds(**found, 42));
  EXPECT_FALSE(ProcFdIndex::StillHolds(SocketHolder{}, 42));
}

TEST(ProcFdIndexTest, UidHintOrdersTheScan) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to chown the fake pid dirs";
  FakeProc proc;
  // Both hold the socket (inherited over fork); the uid's process is preferred.
  proc.AddProcess(100, {{3, "socket:[5]"}});
  proc.AddProcess(200, {{3, "socket:[5]"}});
  ASSERT_EQ(chown((proc.root() + "/100").c_str(), 0, 0), 0);
  ASSERT_EQ(chown((proc.root() + "/200").c_str(), 4321, 4321), 0);
  {
    auto index = OpenIndex(proc);
    auto found = index->FindSocketHolder(5, 4321u);
    ASSERT_TRUE(found.ok() && found->has_value());
    EXPECT_EQ((*found)->pid, 200);
  }
  {
    auto index = OpenIndex(proc);
    auto found = index->FindSocketHolder(5, 0u);
    ASSERT_TRUE(found.ok() && found->has_value());
    EXPECT_EQ((*found)->pid, 100);
  }
  {
    // A holder under another uid is still found.
    auto index = OpenIndex(proc);
    auto found = index->FindSocketHolder(5, 999u);
    ASSERT_TRUE(found.ok() && found->has_value());
  }
}

TEST(ReadProcessInfoTest, ReadsFakeProcess) {
  FakeProc proc;
  proc.AddProcess(100, {});
  UniqueFd dir = proc.OpenPid(100);
  auto info = ReadProcessInfo(dir.get(), 100);
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_EQ(info->pid, 100);
  EXPECT_EQ(info->ppid, 1);
  EXPECT_EQ(info->uid, 1234u);
  EXPECT_EQ(info->start_time_ticks, 777u);
  EXPECT_EQ(info->exe_path, "/usr/bin/fake");
  EXPECT_FALSE(info->exe_deleted);
  EXPECT_THAT(info->argv, ElementsAre("/usr/bin/fake", "--flag", "value"));
  EXPECT_EQ(info->cwd, "/home/fake");
}

TEST(ReadProcessInfoTest, DeletedExeIsStrippedAndFlagged) {
  FakeProc proc;
  proc.AddProcess(100, {});
  proc.Relink(100, "exe", "/usr/bin/gone (deleted)");
  UniqueFd dir = proc.OpenPid(100);
  auto info = ReadProcessInfo(dir.get(), 100);
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_EQ(info->exe_path, "/usr/bin/gone");
  EXPECT_TRUE(info->exe_deleted);
}

TEST(ReadProcessInfoTest, FileReallyNamedDeletedIsNotFlagged) {
  FakeProc proc;
  proc.AddProcess(100, {});
  const std::string real = proc.root() + "/prog (deleted)";
  std::ofstream(real) << "x";
  proc.Relink(100, "exe", real);
  UniqueFd dir = proc.OpenPid(100);
  auto info = ReadProcessInfo(dir.get(), 100);
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_EQ(info->exe_path, real);
  EXPECT_FALSE(info->exe_deleted);
}

TEST(ReadProcessInfoTest, LongCmdlineIsCut) {
  FakeProc proc;
  proc.AddProcess(100, {});
  proc.Write(100, "cmdline", "/bin/x" + std::string(1, '\0') + std::string(200000, 'a'));
  UniqueFd dir = proc.OpenPid(100);
  auto info = ReadProcessInfo(dir.get(), 100, ProcReadOptions{1000});
  ASSERT_TRUE(info.ok()) << info.error().message;
  ASSERT_EQ(info->argv.size(), 2u);
  EXPECT_EQ(info->argv[1].size(), 1000u - 7u);
}

TEST(ReadProcessInfoTest, MalformedOrMismatchedFilesAreErrors) {
  FakeProc proc;
  proc.AddProcess(100, {});
  UniqueFd dir = proc.OpenPid(100);
  auto info = ReadProcessInfo(dir.get(), 101);
  ASSERT_FALSE(info.ok());
  EXPECT_THAT(info.error().message, HasSubstr("names pid 100"));
  proc.Write(100, "status", "Name:\tfake\n");
  info = ReadProcessInfo(dir.get(), 100);
  ASSERT_FALSE(info.ok());
  EXPECT_THAT(info.error().message, HasSubstr("Uid"));
  proc.Write(100, "stat", "garbage");
  info = ReadProcessInfo(dir.get(), 100);
  ASSERT_FALSE(info.ok());
  EXPECT_THAT(info.error().message, HasSubstr("stat"));
  fs::remove(fs::path(proc.root()) / "100" / "stat");
  info = ReadProcessInfo(dir.get(), 100);
  ASSERT_FALSE(info.ok());
  EXPECT_THAT(info.error().message, HasSubstr("open stat"));
}

std::string ReadLink(const char* path) {
  char buf[4096];
  const ssize_t n = readlink(path, buf, sizeof(buf));
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

TEST(ReadProcessInfoTest, ReadsSelfFromRealProc) {
  UniqueFd dir(open(("/proc/" + std::to_string(getpid())).c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  ASSERT_TRUE(dir.valid());
  auto info = ReadProcessInfo(dir.get(), getpid());
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_EQ(info->ppid, getppid());
  EXPECT_EQ(info->uid, getuid());
  EXPECT_GT(info->start_time_ticks, 0u);
  EXPECT_EQ(info->exe_path, ReadLink("/proc/self/exe"));
  EXPECT_EQ(info->cwd, fs::current_path().string());
  ASSERT_FALSE(info->argv.empty());
  EXPECT_THAT(info->argv[0], HasSubstr("picket_process_test"));
}

TEST(ReadProcessInfoTest, ExitedProcessIsNotRead) {
  int release[2];
  ASSERT_EQ(pipe2(release, O_CLOEXEC), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    char byte;
    close(release[1]);
    (void)!read(release[0], &byte, 1);
    _exit(0);
  }
  close(release[0]);
  UniqueFd dir(open(("/proc/" + std::to_string(child)).c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  ASSERT_TRUE(dir.valid());
  ASSERT_TRUE(ReadProcessInfo(dir.get(), child).ok());
  close(release[1]);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  auto info = ReadProcessInfo(dir.get(), child);
  EXPECT_FALSE(info.ok());
}

}  // namespace
}  // namespace picket
