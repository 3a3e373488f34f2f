// DigestGate: holds the decisions that need an executable's digest that is not computed yet, so
// the verdict path never waits for hashing.
//
// When loaded rules use process.hash.* (SetRequired), NeedsWait() fills the attribution's digests from
// the checksum cache. If they are there (or can never be computed: unknown file identity, a deleted
// or memfd image of an ended process), it returns false and the caller decides at once. Otherwise
// it opens the executable (through /proc/PID/exe), asks the ChecksumService's worker (single-flight
// per file version) and returns true; Park() then keeps the attribution with the caller's `resume`
// callback: the caller leaves that packet without a verdict (the kernel holds it; other packets go on) and
// OnFinished() — run when the service's notify_fd is readable — resumes it with the digests filled
// (or marked unhashable when hashing failed). At most `max_waiting` decisions are held; beyond that
// a decision goes on without the digest (hash operands do not match) and is counted.
// ReleaseAll() resumes everything still held (shutdown).
// Ownership: borrows the service; owns the held attributions and callbacks.
// Thread-safety: none; the event-loop thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "process/checksums.h"
#include "process/process_info.h"

namespace picket {

struct DigestGateCounters {
  uint64_t ready = 0;        // digests were cached: decided at once
  uint64_t unhashable = 0;   // decided at once without a digest (cannot be computed)
  uint64_t held = 0;         // decisions that waited for the worker
  uint64_t resumed = 0;      // ... and were resumed
  uint64_t over_cap = 0;     // decided without a digest because max_waiting were already held
};

class DigestGate {
 public:
  using Resume = std::function<void(Attribution)>;

  DigestGate(ChecksumService& service, size_t max_waiting, std::string proc_root = "/proc");

  // The digests the loaded rules use (0: none; Hold never holds).
  void SetRequired(DigestMask mask) { required_ = mask; }
  DigestMask required() const { return required_; }

  // Fills the attribution's digests (cached, or unhashable) and returns false when the decision
  // can be made now; returns true when it must wait — hashing has then been asked for, and the
  // caller hands the decision over with Park().
  bool NeedsWait(Attribution& attribution);
  // Keeps a decision NeedsWait() said must wait; `resume` runs later, exactly once.
  void Park(Attribution attribution, Resume resume);
  // NeedsWait + Park. Returns true when the decision is held.
  bool Hold(Attribution& attribution, Resume resume);
  // Resumes the held decisions whose file version has finished. Returns how many.
  size_t OnFinished();
  // Resumes every held decision now, digests as far as known. Returns how many.
  size_t ReleaseAll();

  size_t waiting() const { return waiting_; }
  const DigestGateCounters& counters() const { return counters_; }

 private:
  struct Held {
    Attribution attribution;
    Resume resume;
  };
  // Fills `process.digests` from the cache; true when they are all there.
  bool FillFromCache(ProcessInfo& process, const FileVersion& version);
  void ResumeAll(std::vector<Held>& held, bool finished_ok);

  ChecksumService& service_;
  size_t max_waiting_;
  std::string proc_root_;
  DigestMask required_ = 0;
  std::unordered_map<FileVersion, std::vector<Held>, FileVersionHash> held_;
  size_t waiting_ = 0;
  DigestGateCounters counters_;
};

}  // namespace picket
