// Subprocess: starts a program (optionally inside a named network namespace, `ip netns` style) for the
// end-to-end tests, waits for it with a bounded timeout and never leaves it behind.
//
// Ownership: a Subprocess owns its child; the destructor SIGKILLs and reaps a child that is still
// running. Every wait is bounded. Signals go to the child's PID only.
// Thread-safety: none; use from one thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace picket::testing {

struct SpawnOptions {
  std::vector<std::string> argv;  // argv[0] is the program's path (no PATH search)
  std::string netns;              // name under /run/netns; empty = the caller's namespace
  std::string stdout_path;        // file to write stdout to (truncated); empty = /dev/null
  std::string stderr_path;        // same for stderr; may equal stdout_path
  // "NAME=value" entries for the child's environment, each replacing the caller's variable of that
  // name or added; empty = the caller's environment unchanged.
  std::vector<std::string> env = {};
};

class Subprocess {
 public:
  // Starts the program. On failure returns nullptr and sets *error (what failed and why).
  static std::unique_ptr<Subprocess> Spawn(const SpawnOptions& options, std::string* error);

  ~Subprocess();
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  pid_t pid() const { return pid_; }
  bool running() const { return !exit_code_.has_value(); }

  // Waits up to `timeout` for the child to end. Returns its exit code (128 + signal when killed by
  // a signal), or nullopt when it is still running after the timeout.
  std::optional<int> Wait(std::chrono::milliseconds timeout);

  // Sends `sig` to the child (no-op once it has been reaped).
  void Signal(int sig);

 private:
  Subprocess(pid_t pid, int pidfd) : pid_(pid), pidfd_(pidfd) {}

  pid_t pid_;
  int pidfd_;
  std::optional<int> exit_code_;
};

struct RunResult {
  int exit_code = -1;     // as Subprocess::Wait; -1 when it could not be started
  bool timed_out = false;  // killed after the timeout
  std::string output;     // stdout and stderr interleaved
  long long elapsed_ms = 0;
};

// Runs argv to completion (in `netns` when not empty), capturing stdout+stderr. A child still running
// after `timeout` is killed and reported with timed_out = true.
RunResult RunProgram(const std::vector<std::string>& argv, const std::string& netns,
              std::chrono::milliseconds timeout);

// Absolute path of a system program (searched in /usr/sbin, /sbin, /usr/bin, /bin); `name` itself
// when it is not found, so the failure shows up as a failed exec naming it.
std::string FindProgram(const std::string& name);

// Shell-free helpers for readable test code.
std::string ReadFile(const std::string& path);  // empty when missing
bool WriteFile(const std::string& path, const std::string& contents);

}  // namespace picket::testing
