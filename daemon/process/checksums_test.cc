// Checksums: known digests, the per-version cache (hit, invalidation by a modified file),
// single-flight, and files that change while being hashed.
#include "process/checksums.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace picket {
namespace {

namespace fs = std::filesystem;

class ChecksumsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/picket-checksums-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto service = ChecksumService::Create(ChecksumOptions{4});
    ASSERT_TRUE(service.ok()) << service.error().message;
    service_ = std::move(*service);
  }
  void TearDown() override {
    service_.reset();
    fs::remove_all(dir_);
  }
  std::string Write(const std::string& name, const std::string& content) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
    return path;
  }
  static FileVersion Version(const std::string& path) {
    struct stat st {};
    EXPECT_EQ(stat(path.c_str(), &st), 0);
    return FileVersion{st.st_dev, st.st_ino,
                       static_cast<uint64_t>(st.st_ctim.tv_sec) * 1000000000ull + static_cast<uint64_t>(st.st_ctim.tv_nsec),
                       static_cast<uint64_t>(st.st_size)};
  }
  static UniqueFd Open(const std::string& path) { return UniqueFd(open(path.c_str(), O_RDONLY | O_CLOEXEC)); }
  // Waits (bounded) for the worker and collects what finished.
  std::vector<ChecksumService::Finished> WaitFinished(size_t count) {
    std::vector<ChecksumService::Finished> all;
    for (int i = 0; i < 100 && all.size() < count; ++i) {
      pollfd p{service_->notify_fd(), POLLIN, 0};
      poll(&p, 1, 50);
      for (auto& f : service_->CollectFinished()) all.push_back(std::move(f));
    }
    return all;
  }

  std::string dir_;
  std::unique_ptr<ChecksumService> service_;
};

TEST_F(ChecksumsTest, KnownDigestsOfAbc) {
  const std::string path = Write("abc", "abc");
  UniqueFd fd = Open(path);
  auto d = ComputeDigests(fd.get(), kDigestMd5 | kDigestSha1 | kDigestSha256);
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(d->md5, "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_EQ(d->sha1, "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(d->sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  auto only = ComputeDigests(fd.get(), kDigestSha256);
  ASSERT_TRUE(only.ok());
  EXPECT_EQ(only->computed, kDigestSha256);
  EXPECT_TRUE(only->md5.empty()) << "only what was asked is computed";
}

TEST_F(ChecksumsTest, LargerThanOneReadBuffer) {
  const std::string path = Write("big", std::string(1 << 20, 'x') + "tail");
  UniqueFd fd = Open(path);
  auto d = ComputeDigests(fd.get(), kDigestSha256);
  ASSERT_TRUE(d.ok());
  auto again = ComputeDigests(fd.get(), kDigestSha256);
  EXPECT_EQ(d->sha256, again->sha256) << "reads from offset 0 every time";
  const std::string other = Write("big2", std::string(1 << 20, 'x') + "tajl");
  UniqueFd fd2 = Open(other);
  EXPECT_NE(ComputeDigests(fd2.get(), kDigestSha256)->sha256, d->sha256);
}

TEST_F(ChecksumsTest, UnchangedFileIsHashedOnceModifiedFileGetsANewDigest) {
  const std::string path = Write("bin", "version one");
  const FileVersion v1 = Version(path);
  EXPECT_EQ(service_->Cached(v1, kDigestSha256), nullptr);
  EXPECT_EQ(service_->Request(v1, kDigestSha256, Open(path)), ChecksumService::Outcome::kQueued);
  auto finished = WaitFinished(1);
  ASSERT_EQ(finished.size(), 1u);
  EXPECT_TRUE(finished[0].ok) << finished[0].error;
  const Digests* d1 = service_->Cached(v1, kDigestSha256);
  ASSERT_NE(d1, nullptr);
  const std::string sha1st = d1->sha256;
  // A second process of the same, unchanged file: a cache hit, no new job.
  EXPECT_NE(service_->Cached(Version(path), kDigestSha256), nullptr);
  EXPECT_EQ(service_->counters().jobs, 1u);

  // Modified in place: new ctime/size, so a new version with a new digest.
  std::ofstream(path, std::ios::binary | std::ios::app) << " and two";
  const FileVersion v2 = Version(path);
  ASSERT_FALSE(v1 == v2);
  EXPECT_EQ(service_->Cached(v2, kDigestSha256), nullptr);
  service_->Request(v2, kDigestSha256, Open(path));
  ASSERT_EQ(WaitFinished(1).size(), 1u);
  const Digests* d2 = service_->Cached(v2, kDigestSha256);
  ASSERT_NE(d2, nullptr);
  EXPECT_NE(d2->sha256, sha1st);
  EXPECT_EQ(service_->counters().jobs, 2u);
}

TEST_F(ChecksumsTest, SecondRequestForTheSameVersionJoinsTheFirst) {
  const std::string path = Write("bin", std::string(4 << 20, 'y'));
  const FileVersion v = Version(path);
  EXPECT_EQ(service_->Request(v, kDigestSha256, Open(path)), ChecksumService::Outcome::kQueued);
  EXPECT_TRUE(service_->InFlight(v));
  EXPECT_EQ(service_->Request(v, kDigestSha256, Open(path)), ChecksumService::Outcome::kJoined);
  ASSERT_EQ(WaitFinished(1).size(), 1u);
  EXPECT_FALSE(service_->InFlight(v));
  EXPECT_EQ(service_->counters().jobs, 1u);
  EXPECT_EQ(service_->counters().joined, 1u);
}

TEST_F(ChecksumsTest, FileChangedSinceTheVersionWasRecordedIsNotReported) {
  const std::string path = Write("bin", "old");
  const FileVersion recorded = Version(path);
  std::ofstream(path, std::ios::binary | std::ios::app) << "new";
  service_->Request(recorded, kDigestSha256, Open(path));
  auto finished = WaitFinished(1);
  ASSERT_EQ(finished.size(), 1u);
  EXPECT_FALSE(finished[0].ok);
  EXPECT_NE(finished[0].error.find("changed"), std::string::npos) << finished[0].error;
  EXPECT_EQ(service_->Cached(recorded, kDigestSha256), nullptr);
}

TEST_F(ChecksumsTest, CacheIsBoundedLeastRecentlyUsedFirst) {
  std::vector<FileVersion> versions;
  for (int i = 0; i < 5; ++i) {
    const std::string path = Write("f" + std::to_string(i), "content " + std::to_string(i));
    versions.push_back(Version(path));
    service_->Request(versions.back(), kDigestMd5, Open(path));
    ASSERT_EQ(WaitFinished(1).size(), 1u);
    if (i == 3) {
      ASSERT_NE(service_->Cached(versions[0], kDigestMd5), nullptr);  // keep 0 recent
    }
  }
  EXPECT_EQ(service_->cache_size(), 4u);
  EXPECT_NE(service_->Cached(versions[0], kDigestMd5), nullptr);
  EXPECT_EQ(service_->Cached(versions[1], kDigestMd5), nullptr);
  EXPECT_EQ(service_->counters().evicted, 1u);
}

TEST_F(ChecksumsTest, OpenExecutableThroughProcOrTheSameVersionOnDisk) {
  ProcessInfo self;
  self.pid = getpid();
  self.exe_path = fs::read_symlink("/proc/self/exe").string();
  const FileVersion v = Version(self.exe_path);
  auto fd = OpenExecutable(self, v);
  ASSERT_TRUE(fd.ok()) << fd.error().message;

  ProcessInfo gone = self;
  gone.pid = 0x3fffffff;  // no such process: the path is used, with the identity check
  EXPECT_TRUE(OpenExecutable(gone, v).ok());
  FileVersion other = v;
  other.ctime_ns += 1;
  EXPECT_FALSE(OpenExecutable(gone, other).ok()) << "another version on disk is never hashed instead";
  gone.exe_deleted = true;
  EXPECT_FALSE(OpenExecutable(gone, v).ok()) << "a deleted image of an ended process is unhashable";
}

}  // namespace
}  // namespace picket
