// BpfProcessSource: the eBPF process-event source (bpf/process_events.bpf.c): tp_btf
// sched_process_fork / exec / exit into one ring buffer, decoded into ForkEvent / ExecEvent /
// ExitEvent for the store. Records lost in the kernel (ring buffer full, per-CPU scratch busy) are
// counted by the program and reported to the store as lost events.
//
// Open() loads and attaches the program (CO-RE, needs BTF and CAP_BPF/CAP_PERFMON or root); its
// error says which step failed so the daemon can log why it falls back.
// Ownership: owns the skeleton (program, maps, links) and the ring buffer reader.
// Thread-safety: none; the event-loop thread only.
#pragma once

#include <cstdint>
#include <memory>

#include "common/result.h"
#include "process/process_source.h"

struct process_events_bpf;
struct ring_buffer;

namespace picket {

struct BpfSourceOptions {
  uint32_t ring_buffer_bytes = 8u << 20;  // power of two, multiple of the page size
  // Wake the reader only once this many bytes wait (0: on every record). The store is drained before
  // every lookup and on the sweep timer anyway, so records never wait for a lookup that needs them.
  uint64_t wakeup_bytes = 256u << 10;
};

class BpfProcessSource final : public ProcessEventSource {
 public:
  static Result<std::unique_ptr<BpfProcessSource>> Open(const BpfSourceOptions& options);
  ~BpfProcessSource() override;
  BpfProcessSource(const BpfProcessSource&) = delete;
  BpfProcessSource& operator=(const BpfProcessSource&) = delete;

  std::string_view name() const override { return "ebpf"; }
  int fd() const override;
  Result<size_t> Drain(ProcessStore& store) override;
  bool exact_start_times() const override { return true; }
  void SetCaptureEnvironment(bool capture) override;
  SourceCounters counters() const override { return counters_; }

  // The program's own counters (ring buffer full per event type, scratch busy).
  uint64_t kernel_lost_total() const;

  // Decodes one ring-buffer record and applies it to `store`. Public for tests. Returns false for a
  // malformed record.
  static bool ApplyRecord(const void* data, size_t size, ProcessStore& store);

 private:
  BpfProcessSource() = default;
  static int OnRecord(void* ctx, void* data, size_t size);

  process_events_bpf* skel_ = nullptr;
  ring_buffer* ring_ = nullptr;
  ProcessStore* draining_ = nullptr;
  uint64_t lost_reported_ = 0;
  SourceCounters counters_;
};

}  // namespace picket
