// ProcConnectorSource: the netlink proc connector (NETLINK_CONNECTOR, CN_IDX_PROC) as the process
// event source when BPF cannot load. Its events carry only pids, so each fork / exec is completed by
// reading /proc at once (racy: a process that has already ended is missed and counted); exits end
// the held process for that PID (events are delivered in order, so it is the one that ended).
// Start times are clock ticks (coarse keys).
//
// The kernel delivers proc events only to sockets of the initial network namespace (elsewhere the
// subscription fails with ECONNREFUSED), so Open() creates the socket after setns() into
// /proc/1/ns/net and returns the calling thread to its own namespace before it returns.
// Limitation: a thread-group leader that exits while its other threads keep running is seen as the
// process's end.
// Ownership: owns the netlink socket and a /proc fd. Thread-safety: none; event-loop thread only.
#pragma once

#include <memory>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"
#include "process/process_source.h"
#include "process/procfs_scan.h"

namespace picket {

struct ProcConnectorOptions {
  std::string proc_root = "/proc";
  std::string init_netns = "/proc/1/ns/net";
  ProcfsReadOptions read;  // read_environ is switched by SetCaptureEnvironment
  int receive_buffer_bytes = 4 << 20;
};

class ProcConnectorSource final : public ProcessEventSource {
 public:
  static Result<std::unique_ptr<ProcConnectorSource>> Open(const ProcConnectorOptions& options);

  std::string_view name() const override { return "proc-connector"; }
  int fd() const override { return socket_.get(); }
  Result<size_t> Drain(ProcessStore& store) override;
  bool exact_start_times() const override { return false; }
  void SetCaptureEnvironment(bool capture) override { options_.read.read_environ = capture; }
  SourceCounters counters() const override { return counters_; }

 private:
  ProcConnectorSource(const ProcConnectorOptions& options, UniqueFd socket, UniqueFd proc_dir);
  void HandleMessage(const void* data, size_t size, ProcessStore& store);
  void OnForkOrExec(pid_t tgid, ProcessStore& store, bool is_exec);
  void OnExit(pid_t tgid, uint64_t monotonic_ns, ProcessStore& store);

  ProcConnectorOptions options_;
  UniqueFd socket_;
  UniqueFd proc_dir_;
  std::vector<char> buffer_;
  SourceCounters counters_;
};

}  // namespace picket
