// ProcessInfo and Attribution: who sent a flow.
//
// Attribution is the answer of the attribution stage for one flow: the owning process, or
// "kernel" (the packet has no user socket: no NFQA_UID on the queued packet), or "unknown" (a user
// socket whose process could not be found). Unknown is never a guess.
// Plain values; thread-safety: none needed.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace picket {

struct ProcessInfo {
  pid_t pid = 0;                   // tgid, in the daemon's pid namespace
  pid_t ppid = 0;
  uint32_t uid = 0;                // real uid from /proc/PID/status
  uint64_t start_time_ticks = 0;   // /proc/PID/stat field 22 (clock ticks since boot)
  std::string exe_path;            // readlink /proc/PID/exe (" (deleted)" suffix kept off; see exe_deleted)
  bool exe_deleted = false;
  std::vector<std::string> argv;   // /proc/PID/cmdline split on NUL
  std::string cwd;                 // readlink /proc/PID/cwd; empty when unreadable

  // argv joined with single spaces (OpenSnitch's process.command).
  std::string Command() const;
};

enum class AttributionKind : uint8_t {
  kProcess,  // `process` is set
  kKernel,   // no user socket
  kUnknown,  // user socket, owner not found
};

struct Attribution {
  AttributionKind kind = AttributionKind::kUnknown;
  std::optional<ProcessInfo> process;  // set iff kind == kProcess
  std::optional<uint32_t> uid;         // socket owner uid when known (from the queue or sock_diag)
  const char* method = "";             // how it was found, e.g. "sock_diag+procfs"; static string
  std::string detail;                  // why unknown, for the log (e.g. "no socket for tuple")
};

}  // namespace picket
