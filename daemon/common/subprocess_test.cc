#include "common/subprocess.h"

#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include <gtest/gtest.h>

namespace picket {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

TEST(RunCommandTest, CapturesStdoutAndExitCode) {
  auto r = RunCommand({"echo", "hello", "world"});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_EQ(r->out, "hello world\n");
  EXPECT_EQ(r->err, "");
}

TEST(RunCommandTest, CapturesStderrAndNonZeroExit) {
  auto r = RunCommand({"sh", "-c", "echo out; echo oops >&2; exit 3"});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_EQ(r->out, "out\n");
  EXPECT_EQ(r->err, "oops\n");
}

TEST(RunCommandTest, NoShellInterpretation) {
  auto r = RunCommand({"echo", "$HOME;", "*", "`id`"});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->out, "$HOME; * `id`\n");
}

TEST(RunCommandTest, FeedsStdin) {
  auto r = RunCommand({"cat"}, "line one\nline two\n");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_EQ(r->out, "line one\nline two\n");
}

TEST(RunCommandTest, EmptyStdinIsEndOfFile) {
  auto r = RunCommand({"wc", "-c"});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->out.substr(0, 1), "0");
}

// Several MB in and out at once: a naive write-then-read deadlocks on full pipe buffers.
TEST(RunCommandTest, LargeStdinAndStdoutDoNotDeadlock) {
  std::string big;
  for (int i = 0; big.size() < (8u << 20); ++i) big += "line " + std::to_string(i) + "\n";
  auto r = RunCommand({"cat"}, big);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_EQ(r->out.size(), big.size());
  EXPECT_TRUE(r->out == big);
}

TEST(RunCommandTest, LargeStderrWhileStdinPending) {
  auto r = RunCommand({"sh", "-c", "head -c 3000000 /dev/zero >&2; cat >/dev/null"}, std::string(3u << 20, 'x'));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_EQ(r->err.size(), 3000000u);
}

// The child exits without reading its input: no SIGPIPE in the caller, just the exit status.
TEST(RunCommandTest, ChildIgnoringStdinDoesNotRaiseSigpipe) {
  auto r = RunCommand({"true"}, std::string(16u << 20, 'x'));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->exit_code, 0);
}

TEST(RunCommandTest, MissingProgramIsAnErrorNamingIt) {
  auto r = RunCommand({"picket-no-such-program-xyz", "--flag"});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("picket-no-such-program-xyz --flag"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("No such file or directory"), std::string::npos) << r.error().message;
  EXPECT_EQ(r.error().sys_errno, ENOENT);
}

TEST(RunCommandTest, EmptyArgvIsAnError) {
  EXPECT_FALSE(RunCommand({}).ok());
  EXPECT_FALSE(RunCommand({""}).ok());
}

TEST(RunCommandTest, SignalDeathIsReportedAs128PlusSignal) {
  auto r = RunCommand({"sh", "-c", "kill -9 $$"});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->exit_code, 128 + SIGKILL);
}

TEST(RunCommandTest, TimeoutKillsTheChild) {
  const auto start = steady_clock::now();
  // The child reports its PID first, so the test can check it is gone afterwards.
  RunOptions options;
  options.timeout = milliseconds(300);
  auto r = RunCommand({"sh", "-c", "echo $$; exec sleep 30"}, {}, options);
  const auto took = steady_clock::now() - start;
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("sh -c echo $$; exec sleep 30: timed out after 300 ms"), std::string::npos)
      << r.error().message;
  EXPECT_NE(r.error().message.find("killed pid"), std::string::npos) << r.error().message;
  EXPECT_LT(took, std::chrono::seconds(5));
}

TEST(RunCommandTest, TimedOutChildIsReaped) {
  RunOptions options;
  options.timeout = milliseconds(200);
  auto r = RunCommand({"sleep", "30"}, {}, options);
  ASSERT_FALSE(r.ok());
  const std::string& m = r.error().message;
  const size_t at = m.find("killed pid ");
  ASSERT_NE(at, std::string::npos) << m;
  const pid_t pid = static_cast<pid_t>(std::stol(m.substr(at + 11)));
  // Reaped: the PID is no longer our child (waitpid fails with ECHILD) and no such process exists.
  EXPECT_EQ(waitpid(pid, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
}

// A grandchild that keeps stdout open must not hold the call until the timeout.
TEST(RunCommandTest, ReturnsWhenChildExitsEvenIfGrandchildHoldsPipes) {
  const auto start = steady_clock::now();
  auto r = RunCommand({"sh", "-c", "sleep 20 & echo $!"});
  const auto took = steady_clock::now() - start;
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_FALSE(r->out.empty());
  const pid_t grandchild = static_cast<pid_t>(std::stol(r->out));
  ASSERT_GT(grandchild, 1);
  kill(grandchild, SIGKILL);  // it was started by this test (through sh); end it by its PID
  EXPECT_LT(took, std::chrono::seconds(5));
}

TEST(RunCommandTest, OutputLimitIsAnError) {
  RunOptions options;
  options.max_output_bytes = 1000;
  auto r = RunCommand({"head", "-c", "100000", "/dev/zero"}, {}, options);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("head -c 100000 /dev/zero"), std::string::npos) << r.error().message;
}

TEST(RunCommandTest, ChildGetsOnlyStandardDescriptors) {
  int p[2];
  ASSERT_EQ(pipe(p), 0);  // deliberately without O_CLOEXEC
  auto r = RunCommand({"sh", "-c", "ls /proc/self/fd | wc -l"});
  close(p[0]);
  close(p[1]);
  ASSERT_TRUE(r.ok()) << r.error().message;
  // 0, 1, 2 and the directory fd ls opens to list /proc/self/fd.
  EXPECT_EQ(std::stoi(r->out), 4);
}

TEST(RunCommandTest, ChildStartsWithEmptySignalMask) {
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGTERM);
  ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &block, &old), 0);
  auto r = RunCommand({"grep", "^SigBlk", "/proc/self/status"});
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->out, "SigBlk:\t0000000000000000\n");
}

TEST(CommandLineTest, JoinsArguments) {
  EXPECT_EQ(CommandLine({"iptables-restore", "-w", "--noflush"}), "iptables-restore -w --noflush");
  EXPECT_EQ(CommandLine({}), "");
}

}  // namespace
}  // namespace picket
