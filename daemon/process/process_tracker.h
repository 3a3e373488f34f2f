// ProcessTracker: the exec-event store with its source — what the daemon's attribution path asks
// "which process is this PID, exactly?".
//
// Create() picks the source by config `process_monitor` (auto: eBPF, else the proc connector, else
// /proc only; an explicit choice that cannot start is an error), attaches it, THEN walks /proc so
// processes started before picketd are known (kernel events that arrive meanwhile win), and says
// which source is active and why (source_reason()).
// Resolve(pid, pid_dir) — pid_dir is an open /proc/PID directory of the process found holding the
// socket — drains the source, reads that process's start time through pid_dir, and answers from the
// store when the held entry has that start time; otherwise (unknown, partial, or another process)
// it populates the store from /proc through pid_dir (parents first, so the ancestor chain is
// complete) and counts a /proc fallback. An ended process or a PID held by another process is never
// returned for a live pid_dir.
// Sweep() (on the daemon's sweep timer, config `process_sweep_seconds`) drains, removes exited
// entries past grace, and — when there is no event source or events were lost — checks liveness of
// every live entry by start time and resynchronises from /proc.
// Ownership: owns the store and the source. Thread-safety: none; the event-loop thread only.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"
#include "process/bpf_process_source.h"
#include "process/cgroup_paths.h"
#include "process/proc_connector_source.h"
#include "process/process_resolver.h"
#include "process/process_source.h"
#include "process/process_store.h"
#include "process/procfs_scan.h"

namespace picket {

struct TrackerOptions {
  ProcessMonitor monitor = ProcessMonitor::kAuto;
  StoreOptions store;
  std::string proc_root = "/proc";
  std::string init_netns = "/proc/1/ns/net";  // where the proc connector socket is created
  BpfSourceOptions bpf;
  ProcfsReadOptions procfs;                   // cgroup2_root is filled in by Create
  size_t max_parent_depth = 64;               // /proc parents populated per lookup
};

struct TrackerCounters {
  uint64_t resolves = 0;
  uint64_t resolve_hits = 0;        // answered from the store
  uint64_t procfs_fallbacks = 0;    // populated from /proc (unknown, partial or other process)
  uint64_t resolve_errors = 0;      // the process had ended or could not be read
  uint64_t walk_inserted = 0;       // processes found by the start-up walk and resyncs
  uint64_t resyncs = 0;             // /proc resynchronisations after lost events
  uint64_t source_errors = 0;       // Drain() failures
};

class ProcessTracker final : public ProcessResolver {
 public:
  static Result<std::unique_ptr<ProcessTracker>> Create(const TrackerOptions& options, const Clock& clock);
  ~ProcessTracker() override;
  ProcessTracker(const ProcessTracker&) = delete;
  ProcessTracker& operator=(const ProcessTracker&) = delete;

  // "ebpf" | "proc-connector" | "proc", and why that one (for the log and status).
  std::string_view source_name() const;
  const std::string& source_reason() const { return reason_; }
  // Readable when the source has events (-1 without a source).
  int event_fd() const;
  // Applies every event waiting in the source.
  void Drain();
  // Periodic housekeeping, see above.
  void Sweep();

  // The exact process whose /proc/PID directory is `pid_dir`. Error when it has ended or cannot be read.
  Result<ProcessSnapshot> ResolveSnapshot(pid_t pid, int pid_dir);
  // ProcessResolver.
  Result<ProcessInfo> Resolve(pid_t pid, int pid_dir) override;
  const char* method() const override { return method_; }

  // Environment variables rules ask for (captured from the next exec / /proc read on).
  void SetWantedEnv(std::vector<std::string> names);

  ProcessStore& store() { return *store_; }
  const ProcessStore& store() const { return *store_; }
  ProcessEventSource* source() { return source_.get(); }
  const TrackerCounters& counters() const { return counters_; }
  int proc_dir() const { return proc_dir_.get(); }
  // Resolves cgroup ids of kernel events to paths; nullptr when it could not start (then only
  // processes read from /proc have a cgroup path).
  CgroupHandleResolver* cgroup_resolver() { return cgroup_resolver_.get(); }

 private:
  ProcessTracker(const TrackerOptions& options, const Clock& clock);
  Status OpenSource();
  // Reads `pid` through `pid_dir` into the store, its unknown parents first.
  Result<ProcessSnapshot> Populate(pid_t pid, int pid_dir, size_t depth);
  void EnsureParent(const ExecEvent& child, size_t depth);
  void Walk();

  TrackerOptions options_;
  std::unique_ptr<CgroupHandleResolver> cgroup_resolver_;  // declared before the store that borrows it
  std::unique_ptr<ProcessStore> store_;
  std::unique_ptr<ProcessEventSource> source_;
  UniqueFd proc_dir_;
  UniqueFd cgroup2_root_;
  std::unique_ptr<ProcfsLivenessProbe> probe_;
  std::string reason_;
  const char* method_ = "sock_diag+procfs+store";
  TrackerCounters counters_;
};

}  // namespace picket
