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
#include <utility>
#include <vector>

namespace picket {

// One ancestor of a process (parent first), as recorded when the process was forked.
struct AncestorInfo {
  pid_t pid = 0;
  std::string exe_path;
};

// The executable's file version (see process/process_record.h FileIdentity) and its digests.
enum class DigestState : uint8_t {
  kNotRequested,  // no rule or client needed a digest
  kReady,         // the digests asked for are in `md5` / `sha1` / `sha256`
  kUnhashable,    // cannot be computed (image deleted or memfd after exit, unreadable, changed)
};

struct ExeDigests {
  DigestState state = DigestState::kNotRequested;
  std::string md5;     // lowercase hex; empty when not computed
  std::string sha1;
  std::string sha256;
};

struct ProcessInfo {
  pid_t pid = 0;                   // tgid, in the daemon's pid namespace
  pid_t ppid = 0;
  uint32_t uid = 0;                // real uid from /proc/PID/status
  uint64_t start_time_ticks = 0;   // /proc/PID/stat field 22 (clock ticks since boot)
  std::string exe_path;            // readlink /proc/PID/exe (" (deleted)" suffix kept off; see exe_deleted)
  bool exe_deleted = false;
  std::vector<std::string> argv;   // /proc/PID/cmdline split on NUL
  std::string cwd;                 // readlink /proc/PID/cwd; empty when unreadable

  // Filled by the exec-event store (process/process_store.h); defaults when only /proc was read.
  uint64_t start_time_ns = 0;      // CLOCK_BOOTTIME ns (exact from kernel events, tick-precise from /proc)
  uint64_t exec_ns = 0;            // ExecId = (pid, start_time_ns, exec_ns): CLOCK_BOOTTIME ns of this image's exec; 0 = unknown
  pid_t ns_pid = 0;                // pid in its own pid namespace (0 = unknown)
  uint32_t euid = 0;
  uint32_t gid = 0;
  std::vector<AncestorInfo> ancestors;                     // parent first, up to PID 1
  std::vector<std::pair<std::string, std::string>> env;    // only the variables rules ask for
  std::string container_id;        // empty when not in a container
  std::string cgroup_path;         // cgroup v2 path ("/user.slice/…"); empty when unknown
  uint64_t exe_dev = 0;            // executable's file version: st_dev, st_ino, ctime ns, size
  uint64_t exe_ino = 0;
  uint64_t exe_ctime_ns = 0;
  uint64_t exe_size = 0;
  bool exe_identity_known = false;
  bool exe_memfd = false;
  bool exited = false;             // the process had ended when it was looked up
  ExeDigests digests;

  // argv joined with single spaces (OpenSnitch's process.command).
  std::string Command() const;
  // "PID:START_NS:EXEC_NS" — the exec image's identity, stable across PID reuse; empty when the
  // store did not supply it (process read from /proc only).
  std::string ExecIdText() const;
};

enum class AttributionKind : uint8_t {
  kProcess,  // `process` is set
  kKernel,   // no user socket
  kUnknown,  // user socket, owner not found
};

// How the process was known: recorded by the kernel when the flow was sent (exact), or inferred
// afterwards from who holds the socket now (/proc fd scan: the holder may not be the sender, e.g. a
// socket passed on or inherited).
enum class AttributionEvidence : uint8_t { kRecorded, kInferred };

struct Attribution {
  AttributionKind kind = AttributionKind::kUnknown;
  AttributionEvidence evidence = AttributionEvidence::kRecorded;  // meaningful when kind == kProcess
  std::optional<ProcessInfo> process;  // set iff kind == kProcess
  std::optional<uint32_t> uid;         // socket owner uid when known (from the queue or sock_diag)
  const char* method = "";             // how it was found, e.g. "sock_diag+procfs"; static string
  std::string detail;                  // why unknown, for the log (e.g. "no socket for tuple")
};

}  // namespace picket
