// ProcessEventSource: where the exec-event store's fork / exec / exit events come from, behind one
// interface (config `process_monitor`):
//   * "ebpf"           — BpfProcessSource (bpf_process_source.h): tracepoints into one ring buffer;
//   * "proc-connector" — ProcConnectorSource (proc_connector_source.h): netlink process events,
//                        the fallback when BPF cannot load (pids only; data read from /proc, racy);
//   * "proc"           — no event source: /proc walk, on-demand population and liveness sweeps.
// A source is drained on the event-loop thread (when its fd is readable, before every lookup and on
// the sweep timer); Drain() applies every event available now to the store, in order, and reports
// events it lost to the store (ProcessStore::OnLostEvents).
// Ownership: a source owns its kernel objects (BPF links, ring buffer, netlink socket).
// Thread-safety: none; the event-loop thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"
#include "process/process_store.h"

namespace picket {

enum class ProcessMonitor : uint8_t { kAuto, kEbpf, kProcConnector, kProc };

// "auto" | "ebpf" | "proc-connector" | "proc".
Result<ProcessMonitor> ParseProcessMonitor(std::string_view text);
std::string_view ProcessMonitorName(ProcessMonitor monitor);

struct SourceCounters {
  uint64_t events = 0;        // records applied to the store
  uint64_t lost = 0;          // records the kernel could not deliver (ring buffer full, netlink overrun)
  uint64_t malformed = 0;     // records shorter than their type needs (never expected)
  uint64_t procfs_reads = 0;  // proc connector: /proc reads to complete an event
  uint64_t procfs_misses = 0; // proc connector: the process had ended before it could be read
};

class ProcessEventSource {
 public:
  virtual ~ProcessEventSource() = default;

  virtual std::string_view name() const = 0;  // "ebpf" | "proc-connector"
  // Readable when events are waiting (for QSocketNotifier); owned by the source.
  virtual int fd() const = 0;
  // Applies every event available now to `store`. Returns how many were applied; an error when the
  // source broke (the caller logs it and falls back to /proc reads).
  virtual Result<size_t> Drain(ProcessStore& store) = 0;
  // True when its start times are exact kernel nanoseconds (otherwise /proc clock ticks).
  virtual bool exact_start_times() const = 0;
  // Whether exec records should carry the environment (rules ask for variables).
  virtual void SetCaptureEnvironment(bool capture) = 0;
  virtual SourceCounters counters() const = 0;
};

}  // namespace picket
