// ProcessStage: picketd's process side, wired onto the Qt event loop — the exec-event store with its
// source (process/process_tracker.h), the checksum worker (process/checksums.h) and the gate that
// holds decisions waiting for a digest (process/digest_gate.h).
//
//   * the source's fd readable          → drain events into the store;
//   * the checksum worker's eventfd     → resume held decisions, then on_resumed (the daemon sends
//                                          the verdict batch and flushes the log);
//   * a timer every process_sweep_seconds → eviction / liveness sweep (no faster periodic wake-up).
// Start() logs which process source is active and why; a degraded source is a warning.
// WrapAttributor() puts exact kernel flow attribution (process/flow_owner_map.h) in front of the
// sock_diag + /proc attributor when the eBPF process source runs; it logs the method in use.
// ApplyRules() derives from the loaded rules which digests (process.hash.*) and which environment
// variables (process.env.NAME) are needed — nothing is hashed or captured otherwise.
// Ownership: owns the tracker, the checksum service, the gate and the notifiers/timer.
// Thread-safety: event-loop thread only (the checksum worker is internal to ChecksumService).
#pragma once

#include <QSocketNotifier>
#include <QTimer>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "config.h"
#include "process/checksums.h"
#include "process/digest_gate.h"
#include "process/flow_owner_map.h"
#include "process/process_tracker.h"
#include "rules/rule_set.h"

namespace picket {

// What a rule set needs from the process side.
struct ProcessNeeds {
  DigestMask digests = 0;
  std::vector<std::string> env;  // sorted, unique
};
ProcessNeeds NeedsOf(const RuleSet& rules);

class ProcessStage {
 public:
  // REQUIRES: a QCoreApplication exists.
  static Result<std::unique_ptr<ProcessStage>> Start(const Config& config);
  ~ProcessStage();
  ProcessStage(const ProcessStage&) = delete;
  ProcessStage& operator=(const ProcessStage&) = delete;

  ProcessResolver* resolver() { return tracker_.get(); }
  // `fallback` with the kernel flow-ownership lookup in front of it when available and
  // config.flow_attribution is on, else `fallback`.
  std::unique_ptr<Attributor> WrapAttributor(std::unique_ptr<Attributor> fallback);
  // The attribution method in use, for the start line: "bpf-flow" or "sock_diag+proc".
  const char* attribution_method() const { return flow_attributor_ != nullptr ? "bpf-flow" : "sock_diag+proc"; }
  // The kernel path's netfilter LOCAL_OUT hook (raw and ping sockets): "on", "off", "unavailable";
  // "off" too when the kernel path itself is not in use.
  std::string netfilter_hook() const {
    return flow_attributor_ != nullptr ? flow_attributor_->map().netfilter_status() : std::string("off");
  }
  void ApplyRules(const RuleSet& rules);
  void SetOnResumed(std::function<void()> on_resumed) { on_resumed_ = std::move(on_resumed); }

  DigestGate& gate() { return *gate_; }
  // Resumes every held decision now (before the queue closes).
  size_t ReleaseAll() { return gate_->ReleaseAll(); }
  // Drains the process events still buffered, then logs the counters.
  void LogCounters();

 private:
  ProcessStage() = default;
  void OnChecksumsReady();

  SystemClock clock_;
  std::unique_ptr<ProcessTracker> tracker_;
  FlowOwnerAttributor* flow_attributor_ = nullptr;  // owned by the daemon's attributor slot
  std::unique_ptr<ChecksumService> checksums_;
  std::unique_ptr<DigestGate> gate_;
  std::unique_ptr<QSocketNotifier> events_notifier_;
  std::unique_ptr<QSocketNotifier> checksum_notifier_;
  std::unique_ptr<QTimer> sweep_timer_;
  std::function<void()> on_resumed_;
  ProcessNeeds needs_;
  bool flow_attribution_ = true;  // config.flow_attribution
  bool flow_attribution_netfilter_ = true;  // config.flow_attribution_netfilter
};

}  // namespace picket
