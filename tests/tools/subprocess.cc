#include "tests/tools/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string_view>

namespace picket::testing {
namespace {

using Clock = std::chrono::steady_clock;

int OpenOutput(const std::string& path) {
  if (path.empty()) return open("/dev/null", O_WRONLY | O_CLOEXEC);
  return open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
}

// Runs in the forked child: only async-signal-safe calls, then exec. Never returns.
[[noreturn]] void ExecChild(char* const* argv, char* const* envp, int netns_fd, int out_fd, int err_fd) {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  if (netns_fd >= 0 && setns(netns_fd, CLONE_NEWNET) != 0) _exit(126);
  int null_in = open("/dev/null", O_RDONLY);
  if (null_in < 0 || dup2(null_in, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0) _exit(126);
  execve(argv[0], argv, envp);
  _exit(127);
}

int ExitCodeOf(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

std::string_view EnvName(std::string_view entry) { return entry.substr(0, entry.find('=')); }

// The caller's environment with `overrides` ("NAME=value") replacing or adding variables.
std::vector<std::string> ChildEnvironment(const std::vector<std::string>& overrides) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string_view entry(*e);
    bool replaced = false;
    for (const std::string& o : overrides) replaced = replaced || EnvName(o) == EnvName(entry);
    if (!replaced) env.emplace_back(entry);
  }
  env.insert(env.end(), overrides.begin(), overrides.end());
  return env;
}

std::vector<char*> NullTerminated(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (const std::string& s : strings) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

// Forks and execs; the child's stdout/stderr go to out_fd/err_fd. Returns the pid or -1 (+ *error).
pid_t ForkExec(const std::vector<std::string>& args, const std::vector<std::string>& env_overrides,
               const std::string& netns, int out_fd, int err_fd, std::string* error) {
  if (args.empty()) {
    *error = "empty argv";
    return -1;
  }
  int netns_fd = -1;
  if (!netns.empty()) {
    const std::string path = "/run/netns/" + netns;
    netns_fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (netns_fd < 0) {
      *error = "open " + path + ": " + std::strerror(errno);
      return -1;
    }
  }
  // Built before fork: the child may only make async-signal-safe calls.
  const std::vector<std::string> env = ChildEnvironment(env_overrides);
  std::vector<char*> argv = NullTerminated(args);
  std::vector<char*> envp = NullTerminated(env);
  const pid_t pid = fork();
  if (pid == 0) ExecChild(argv.data(), envp.data(), netns_fd, out_fd, err_fd);
  const int fork_errno = errno;
  if (netns_fd >= 0) close(netns_fd);
  if (pid < 0) *error = std::string("fork: ") + std::strerror(fork_errno);
  return pid;
}

}  // namespace

std::unique_ptr<Subprocess> Subprocess::Spawn(const SpawnOptions& options, std::string* error) {
  const int out_fd = OpenOutput(options.stdout_path);
  const int err_fd = options.stderr_path == options.stdout_path ? dup(out_fd) : OpenOutput(options.stderr_path);
  if (out_fd < 0 || err_fd < 0) {
    *error = "cannot open output file for " + options.argv.at(0) + ": " + std::strerror(errno);
    if (out_fd >= 0) close(out_fd);
    if (err_fd >= 0) close(err_fd);
    return nullptr;
  }
  const pid_t pid = ForkExec(options.argv, options.env, options.netns, out_fd, err_fd, error);
  close(out_fd);
  close(err_fd);
  if (pid < 0) return nullptr;
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) {
    *error = std::string("pidfd_open: ") + std::strerror(errno);
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    return nullptr;
  }
  return std::unique_ptr<Subprocess>(new Subprocess(pid, pidfd));
}

Subprocess::~Subprocess() {
  if (running()) {
    Signal(SIGKILL);
    Wait(std::chrono::seconds(10));
  }
  close(pidfd_);
}

std::optional<int> Subprocess::Wait(std::chrono::milliseconds timeout) {
  if (exit_code_) return exit_code_;
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    pollfd p{pidfd_, POLLIN, 0};
    const int n = poll(&p, 1, static_cast<int>(std::max<long long>(left.count(), 0)));
    if (n > 0) break;
    if (n == 0) return std::nullopt;
    if (errno != EINTR) return std::nullopt;
  }
  int status = 0;
  if (waitpid(pid_, &status, 0) != pid_) return std::nullopt;
  exit_code_ = ExitCodeOf(status);
  return exit_code_;
}

void Subprocess::Signal(int sig) {
  if (running()) kill(pid_, sig);
}

RunResult RunProgram(const std::vector<std::string>& argv, const std::string& netns,
              std::chrono::milliseconds timeout) {
  RunResult result;
  const auto start = Clock::now();
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    result.output = std::string("pipe2: ") + std::strerror(errno);
    return result;
  }
  std::string error;
  const pid_t pid = ForkExec(argv, {}, netns, pipe_fds[1], pipe_fds[1], &error);
  close(pipe_fds[1]);
  if (pid < 0) {
    close(pipe_fds[0]);
    result.output = error;
    return result;
  }
  const auto deadline = start + timeout;
  char buf[4096];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      result.timed_out = true;
      kill(pid, SIGKILL);
      break;
    }
    pollfd p{pipe_fds[0], POLLIN, 0};
    const int n = poll(&p, 1, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) continue;
    const ssize_t got = read(pipe_fds[0], buf, sizeof(buf));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    result.output.append(buf, static_cast<size_t>(got));
  }
  close(pipe_fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  result.exit_code = ExitCodeOf(status);
  result.elapsed_ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
  return result;
}

std::string FindProgram(const std::string& name) {
  for (const char* dir : {"/usr/sbin/", "/sbin/", "/usr/bin/", "/bin/"}) {
    const std::string path = dir + name;
    if (access(path.c_str(), X_OK) == 0) return path;
  }
  return name;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

bool WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << contents;
  out.close();
  return static_cast<bool>(out);
}

}  // namespace picket::testing
