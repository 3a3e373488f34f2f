// RuleClock: the wall clock timed rules expire by, injectable for tests.
//
// Wall time (not monotonic) because a timed rule's span starts at its `created` time when the file
// has one. Thread-safety: implementations must be safe to call from any thread.
#pragma once

#include "rules/rule.h"

namespace picket {

class RuleClock {
 public:
  virtual ~RuleClock() = default;
  virtual WallTime Now() const = 0;
};

// std::chrono::system_clock.
const RuleClock& SystemRuleClock();

// A clock that only moves when told to (tests).
class ManualRuleClock final : public RuleClock {
 public:
  explicit ManualRuleClock(WallTime start) : now_(start) {}
  WallTime Now() const override { return now_; }
  void Advance(std::chrono::nanoseconds by) { now_ += std::chrono::duration_cast<WallTime::duration>(by); }
  void Set(WallTime now) { now_ = now; }

 private:
  WallTime now_;
};

}  // namespace picket
