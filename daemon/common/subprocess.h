// RunCommand: runs a program (no shell), feeds it stdin, collects stdout and stderr, waits for it.
//
//   auto r = RunCommand({"iptables-restore", "-w", "--noflush"}, rules_text);
//   if (!r.ok()) ...                       // could not start, timed out, output too large
//   else if (r->exit_code != 0) ...        // ran and failed: r->err holds its message
//
// The program is looked up in PATH (posix_spawnp) and starts with default signal dispositions, an
// empty signal mask and no file descriptors beyond 0, 1 and 2. Its stdin, stdout and stderr are
// serviced together with poll(2), so neither side can block the other however much is written.
// When the timeout passes, the child is killed with SIGKILL by its PID (it is not reaped before
// that, so the PID cannot have been reused) and reaped; the result is an error. Output is collected
// until the child exits (grandchildren that keep the pipes open do not hold the call up).
// Ownership: nothing survives the call. Thread-safety: any thread may call it; it blocks the caller.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace picket {

struct CommandResult {
  int exit_code = 0;  // the exit status, or 128 + signal number when a signal ended the child
  std::string out;    // everything it wrote to stdout
  std::string err;    // everything it wrote to stderr
};

struct RunOptions {
  std::chrono::milliseconds timeout{10'000};
  size_t max_output_bytes = 64u << 20;  // per stream; more is an error (the child is killed)
};

// Returns the child's exit status and output, or an Error naming the command when it cannot be
// started (e.g. not found), does not finish within the timeout, or writes more than the limit.
// REQUIRES: nothing; an empty argv is an error.
Result<CommandResult> RunCommand(const std::vector<std::string>& argv, std::string_view stdin_data = {});
Result<CommandResult> RunCommand(const std::vector<std::string>& argv, std::string_view stdin_data,
                                 const RunOptions& options);

// "iptables-restore -w --noflush": the command line for messages (arguments are not quoted).
std::string CommandLine(const std::vector<std::string>& argv);

}  // namespace picket
