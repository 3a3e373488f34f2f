// Attributor: answers "which process sent this queued flow?" for the verdict pipeline.
//
// ProcfsAttributor is the first-version method and the fallback every later one keeps:
//   1. no uid on the queued packet (no user socket)      → kKernel, method "none";
//   2. netlink sock_diag exact lookup of the 5-tuple      → socket inode and owner uid;
//   3. /proc/PID/fd scan for socket:[inode] (recent owners first, see ProcFdIndex);
//   4. the holder's stat/status/cmdline/exe/cwd, read through its /proc/PID directory fd — or, with a
//      ProcessResolver (the exec-event store, process_tracker.h), the store's snapshot of exactly
//      that process —, then a re-check that the fd still links to the socket (so an exited process
//      is never reported).
// Anything not found is kUnknown with a detail saying why, never a guess. Method "sock_diag+procfs",
// or the resolver's method name.
// sock_diag sees the sockets of the caller's network namespace; /proc those of its pid namespace.
//
// Ownership: ProcfsAttributor owns its netlink socket and a /proc fd.
// Thread-safety: none; event-loop thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "common/result.h"
#include "netfilter/flow.h"
#include "process/proc_fd_index.h"
#include "process/process_info.h"
#include "process/process_resolver.h"
#include "process/sock_diag.h"

namespace picket {

class Attributor {
 public:
  virtual ~Attributor() = default;
  virtual Attribution Attribute(const Flow& flow) = 0;
};

struct ProcfsAttributorOptions {
  std::string proc_root = "/proc";
  size_t mru_pids = 64;
  ProcessResolver* resolver = nullptr;  // not owned; must outlive the attributor. nullptr: read /proc
};

class ProcfsAttributor final : public Attributor {
 public:
  static constexpr const char* kMethod = "sock_diag+procfs";
  static constexpr const char* kKernelMethod = "none";

  // Error when the sock_diag socket or the proc root cannot be opened.
  static Result<std::unique_ptr<ProcfsAttributor>> Create(const ProcfsAttributorOptions& options);

  Attribution Attribute(const Flow& flow) override;

  struct Counters {
    uint64_t kernel = 0;               // no uid on the packet
    uint64_t found_mru = 0;            // holder found among recent owners
    uint64_t found_scan = 0;           // holder found by walking /proc
    uint64_t unknown_no_socket = 0;    // sock_diag knows no socket for the tuple
    uint64_t unknown_no_process = 0;   // socket found, no live process holds it
    uint64_t unknown_unsupported = 0;  // protocol sock_diag cannot look up (ICMP)
    uint64_t sock_diag_errors = 0;     // netlink failures (answer is unknown)
  };
  const Counters& counters() const { return counters_; }

  // The parts, for tests and status output.
  const ProcFdIndex& fd_index() const { return *fd_index_; }

 private:
  ProcfsAttributor(std::unique_ptr<SockDiag> sock_diag, std::unique_ptr<ProcFdIndex> fd_index,
                   ProcessResolver* resolver)
      : sock_diag_(std::move(sock_diag)), fd_index_(std::move(fd_index)), resolver_(resolver) {}
  // Steps 3 and 4 for a found socket; fills `out`.
  void AttributeSocket(const SocketEntry& socket, Attribution& out);

  std::unique_ptr<SockDiag> sock_diag_;
  std::unique_ptr<ProcFdIndex> fd_index_;
  ProcessResolver* resolver_;
  Counters counters_;
};

}  // namespace picket
