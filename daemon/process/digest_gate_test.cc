// DigestGate: a decision that needs a digest not computed yet is held (never blocks), resumed once
// the worker is done; cached digests decide at once; unhashable images never wait.
#include "process/digest_gate.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace picket {
namespace {

namespace fs = std::filesystem;

class DigestGateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/picket-gate-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto service = ChecksumService::Create(ChecksumOptions{16});
    ASSERT_TRUE(service.ok());
    service_ = std::move(*service);
  }
  void TearDown() override {
    service_.reset();
    fs::remove_all(dir_);
  }
  // An attribution to a process that has ended (no such pid), whose executable is `path`.
  Attribution Process(const std::string& path) {
    struct stat st {};
    EXPECT_EQ(stat(path.c_str(), &st), 0);
    Attribution who;
    who.kind = AttributionKind::kProcess;
    ProcessInfo p;
    p.pid = 0x3ffffff0;
    p.exe_path = path;
    p.exe_identity_known = true;
    p.exe_dev = st.st_dev;
    p.exe_ino = st.st_ino;
    p.exe_ctime_ns = static_cast<uint64_t>(st.st_ctim.tv_sec) * 1000000000ull + static_cast<uint64_t>(st.st_ctim.tv_nsec);
    p.exe_size = static_cast<uint64_t>(st.st_size);
    p.exited = true;
    who.process = p;
    return who;
  }
  std::string Write(const std::string& name, const std::string& content) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }
  size_t WaitAndResume(DigestGate& gate) {
    size_t resumed = 0;
    for (int i = 0; i < 100 && gate.waiting() > 0; ++i) {
      pollfd p{service_->notify_fd(), POLLIN, 0};
      poll(&p, 1, 50);
      resumed += gate.OnFinished();
    }
    return resumed;
  }

  std::string dir_;
  std::unique_ptr<ChecksumService> service_;
};

TEST_F(DigestGateTest, NoHashRulesNeverHold) {
  DigestGate gate(*service_, 8);
  Attribution who = Process(Write("bin", "abc"));
  EXPECT_FALSE(gate.Hold(who, [](Attribution) { FAIL() << "must not be resumed"; }));
  EXPECT_EQ(who.process->digests.state, DigestState::kNotRequested);
}

TEST_F(DigestGateTest, MissingDigestHoldsTheDecisionUntilTheWorkerIsDone) {
  DigestGate gate(*service_, 8);
  gate.SetRequired(kDigestSha256);
  const std::string path = Write("bin", "abc");
  std::vector<Attribution> resumed;
  Attribution first = Process(path);
  Attribution second = Process(path);
  EXPECT_TRUE(gate.Hold(first, [&](Attribution a) { resumed.push_back(std::move(a)); }));
  EXPECT_TRUE(gate.Hold(second, [&](Attribution a) { resumed.push_back(std::move(a)); }));
  EXPECT_TRUE(resumed.empty()) << "held decisions wait for the worker";
  EXPECT_EQ(gate.waiting(), 2u);
  EXPECT_EQ(WaitAndResume(gate), 2u);
  ASSERT_EQ(resumed.size(), 2u);
  for (const Attribution& a : resumed) {
    EXPECT_EQ(a.process->digests.state, DigestState::kReady);
    EXPECT_EQ(a.process->digests.sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  }
  EXPECT_EQ(service_->counters().jobs, 1u) << "one file version, hashed once";

  Attribution third = Process(path);
  EXPECT_FALSE(gate.Hold(third, [](Attribution) { FAIL(); })) << "cached: decided at once";
  EXPECT_EQ(third.process->digests.state, DigestState::kReady);
  EXPECT_EQ(gate.counters().held, 2u);
  EXPECT_EQ(gate.counters().ready, 1u);
}

TEST_F(DigestGateTest, UnhashableImagesAreDecidedAtOnce) {
  DigestGate gate(*service_, 8);
  gate.SetRequired(kDigestSha256);
  Attribution unknown = Process(Write("bin", "x"));
  unknown.process->exe_identity_known = false;
  EXPECT_FALSE(gate.Hold(unknown, [](Attribution) { FAIL(); }));
  EXPECT_EQ(unknown.process->digests.state, DigestState::kUnhashable);

  const std::string path = Write("deleted", "y");
  Attribution deleted = Process(path);
  deleted.process->exe_deleted = true;
  fs::remove(path);
  EXPECT_FALSE(gate.Hold(deleted, [](Attribution) { FAIL(); })) << "an ended process's deleted image";
  EXPECT_EQ(deleted.process->digests.state, DigestState::kUnhashable);

  const std::string replaced = Write("replaced", "old");
  Attribution old_version = Process(replaced);
  Write("replaced", "a new version, not the executed one");
  EXPECT_FALSE(gate.Hold(old_version, [](Attribution) { FAIL(); })) << "never the on-disk file instead";
  EXPECT_EQ(old_version.process->digests.state, DigestState::kUnhashable);
  EXPECT_EQ(gate.counters().unhashable, 3u);
}

TEST_F(DigestGateTest, OverTheCapDecidesWithoutTheDigestAndReleaseAllResumesTheRest) {
  DigestGate gate(*service_, 1);
  gate.SetRequired(kDigestMd5);
  const std::string path = Write("big", std::string(8 << 20, 'z'));
  int resumed = 0;
  Attribution first = Process(path);
  Attribution second = Process(path);
  EXPECT_TRUE(gate.Hold(first, [&](Attribution) { ++resumed; }));
  EXPECT_FALSE(gate.Hold(second, [&](Attribution) { ++resumed; }));
  EXPECT_EQ(second.process->digests.state, DigestState::kUnhashable);
  EXPECT_EQ(gate.counters().over_cap, 1u);
  EXPECT_EQ(gate.ReleaseAll(), 1u);
  EXPECT_EQ(resumed, 1);
  EXPECT_EQ(gate.waiting(), 0u);
}

}  // namespace
}  // namespace picket
