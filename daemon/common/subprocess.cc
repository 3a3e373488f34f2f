#include "common/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "common/unique_fd.h"

namespace picket {
namespace {

using Clock = std::chrono::steady_clock;

// Moves fd to a number >= 3 so that the dup2 calls onto 0, 1 and 2 in the child cannot clobber one
// another (possible when the parent runs with some of its standard descriptors closed).
Result<UniqueFd> AboveStdio(int fd) {
  UniqueFd owned(fd);
  if (fd > STDERR_FILENO) return owned;
  int moved = fcntl(fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
  if (moved < 0) return Error::FromErrno("fcntl F_DUPFD_CLOEXEC");
  return UniqueFd(moved);
}

Status SetNonBlocking(int fd) {
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) return Error::FromErrno("fcntl O_NONBLOCK");
  return OkStatus();
}

// The parent's and the child's ends of the three standard streams. stdin is a socket pair, not a
// pipe, so that writing to a child that has stopped reading fails with EPIPE (MSG_NOSIGNAL)
// instead of raising SIGPIPE in the caller.
struct StdioChannels {
  UniqueFd in_parent, in_child;
  UniqueFd out_parent, out_child;
  UniqueFd err_parent, err_child;
};

Result<StdioChannels> MakeChannels() {
  StdioChannels c;
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) return Error::FromErrno("socketpair");
  c.in_parent.reset(sv[0]);
  auto in_child = AboveStdio(sv[1]);
  if (!in_child.ok()) return in_child.error();
  c.in_child = std::move(*in_child);
  for (auto [parent, child] : {std::pair{&c.out_parent, &c.out_child}, std::pair{&c.err_parent, &c.err_child}}) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) return Error::FromErrno("pipe2");
    parent->reset(p[0]);
    auto w = AboveStdio(p[1]);
    if (!w.ok()) return w.error();
    *child = std::move(*w);
  }
  for (int fd : {c.in_parent.get(), c.out_parent.get(), c.err_parent.get()}) {
    Status s = SetNonBlocking(fd);
    if (!s.ok()) return s.error();
  }
  return c;
}

// posix_spawn attributes and file actions, released on scope exit.
class SpawnSetup {
 public:
  SpawnSetup() {
    posix_spawnattr_init(&attr_);
    posix_spawn_file_actions_init(&actions_);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions_);
    posix_spawnattr_destroy(&attr_);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;

  Status Configure(const StdioChannels& c) {
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    int rc = posix_spawnattr_setflags(&attr_, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    if (rc == 0) rc = posix_spawnattr_setsigmask(&attr_, &none);
    if (rc == 0) rc = posix_spawnattr_setsigdefault(&attr_, &all);
    if (rc == 0) rc = posix_spawn_file_actions_adddup2(&actions_, c.in_child.get(), STDIN_FILENO);
    if (rc == 0) rc = posix_spawn_file_actions_adddup2(&actions_, c.out_child.get(), STDOUT_FILENO);
    if (rc == 0) rc = posix_spawn_file_actions_adddup2(&actions_, c.err_child.get(), STDERR_FILENO);
    if (rc == 0) rc = posix_spawn_file_actions_addclosefrom_np(&actions_, STDERR_FILENO + 1);
    if (rc != 0) return Error::FromErrno("posix_spawn setup", rc);
    return OkStatus();
  }
  const posix_spawnattr_t* attr() const { return &attr_; }
  const posix_spawn_file_actions_t* actions() const { return &actions_; }

 private:
  posix_spawnattr_t attr_;
  posix_spawn_file_actions_t actions_;
};

int ExitCodeOf(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

int Reap(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

enum class ReadOutcome { kMore, kDrained, kClosed, kError };

// Reads what fd has now into sink. kDrained: nothing more right now; kClosed: end of file.
ReadOutcome ReadAvailable(int fd, std::string* sink) {
  std::array<char, 65536> buf;
  while (true) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n > 0) {
      sink->append(buf.data(), static_cast<size_t>(n));
      continue;
    }
    if (n == 0) return ReadOutcome::kClosed;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return ReadOutcome::kDrained;
    return ReadOutcome::kError;
  }
}

// Services the child's three streams until it exits, the deadline passes or output grows too large.
class ChildSession {
 public:
  ChildSession(pid_t pid, UniqueFd pidfd, StdioChannels channels, std::string_view input, const RunOptions& options)
      : pid_(pid), pidfd_(std::move(pidfd)), ch_(std::move(channels)), input_(input), options_(options) {
    if (input_.empty()) ch_.in_parent.reset();
  }

  // Runs to completion; the child is always reaped when this returns.
  Result<CommandResult> Run(const std::string& command) {
    const Clock::time_point deadline = Clock::now() + options_.timeout;
    while (true) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) {
        return KillAndFail(command + ": timed out after " + std::to_string(options_.timeout.count()) + " ms");
      }
      std::array<pollfd, 4> fds{{{ch_.in_parent.get(), POLLOUT, 0},
                                 {ch_.out_parent.get(), POLLIN, 0},
                                 {ch_.err_parent.get(), POLLIN, 0},
                                 {pidfd_.get(), POLLIN, 0}}};
      int n = poll(fds.data(), fds.size(), static_cast<int>(std::min<int64_t>(left.count(), 1'000'000)));
      if (n < 0 && errno != EINTR) return KillAndFail(command + ": poll: " + std::strerror(errno));
      if (n <= 0) continue;
      if (fds[0].revents != 0) WriteInput();
      const bool exited = fds[3].revents != 0;
      if (!Collect(fds[1].revents, exited, &ch_.out_parent, &result_.out) ||
          !Collect(fds[2].revents, exited, &ch_.err_parent, &result_.err)) {
        return KillAndFail(command + ": reading its output failed or passed " +
                           std::to_string(options_.max_output_bytes) + " bytes");
      }
      if (exited) break;
    }
    result_.exit_code = ExitCodeOf(Reap(pid_));
    return std::move(result_);
  }

 private:
  void WriteInput() {
    while (written_ < input_.size()) {
      ssize_t n = send(ch_.in_parent.get(), input_.data() + written_, input_.size() - written_,
                       MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        written_ += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      break;  // EPIPE and friends: the child stopped reading; its exit status tells the rest
    }
    ch_.in_parent.reset();  // all written (or unwritable): the child sees end of file
  }

  // Reads fd when poll reported it (or, once the child has exited, whatever is left without
  // waiting for end of file). Returns false on a read error or when the size limit is passed.
  bool Collect(short revents, bool exited, UniqueFd* fd, std::string* sink) {
    if (!fd->valid() || (revents == 0 && !exited)) return true;
    ReadOutcome r = ReadAvailable(fd->get(), sink);
    if (r == ReadOutcome::kError) return false;
    if (r == ReadOutcome::kClosed || exited) fd->reset();
    return sink->size() <= options_.max_output_bytes;
  }

  Error KillAndFail(std::string message) {
    kill(pid_, SIGKILL);  // not reaped yet: the PID still names our child
    Reap(pid_);
    return Error{message + " (killed pid " + std::to_string(pid_) + ")"};
  }

  pid_t pid_;
  UniqueFd pidfd_;
  StdioChannels ch_;
  std::string_view input_;
  size_t written_ = 0;
  RunOptions options_;
  CommandResult result_;
};

}  // namespace

std::string CommandLine(const std::vector<std::string>& argv) {
  std::string line;
  for (const std::string& arg : argv) {
    if (!line.empty()) line += ' ';
    line += arg;
  }
  return line;
}

Result<CommandResult> RunCommand(const std::vector<std::string>& argv, std::string_view stdin_data) {
  return RunCommand(argv, stdin_data, RunOptions{});
}

Result<CommandResult> RunCommand(const std::vector<std::string>& argv, std::string_view stdin_data,
                                 const RunOptions& options) {
  if (argv.empty() || argv[0].empty()) return Error{"run command: empty command line"};
  const std::string command = CommandLine(argv);
  auto channels = MakeChannels();
  if (!channels.ok()) return Error{command + ": " + channels.error().message, channels.error().sys_errno};
  SpawnSetup setup;
  Status configured = setup.Configure(*channels);
  if (!configured.ok()) return Error{command + ": " + configured.error().message, configured.error().sys_errno};

  std::vector<char*> cargv;
  cargv.reserve(argv.size() + 1);
  for (const std::string& arg : argv) cargv.push_back(const_cast<char*>(arg.c_str()));
  cargv.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, cargv[0], setup.actions(), setup.attr(), cargv.data(), environ);
  if (rc != 0) return Error::FromErrno(command + ": cannot start " + argv[0], rc);
  channels->in_child.reset();
  channels->out_child.reset();
  channels->err_child.reset();

  UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
  if (!pidfd.valid()) {
    const int err = errno;
    kill(pid, SIGKILL);
    Reap(pid);
    return Error::FromErrno(command + ": pidfd_open", err);
  }
  ChildSession session(pid, std::move(pidfd), std::move(*channels), stdin_data, options);
  return session.Run(command);
}

}  // namespace picket
