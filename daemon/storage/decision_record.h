// MakeDecisionRecord: the event-log row of one decision, from what the verdict path has at hand —
// the verdict, what decided, the flow, its attribution and the destination's host name.
//
// Kept apart from picket_storage (own library, picket_decision_record) so that readers of the log
// (the CLI) do not link the netfilter and process stages.
// Thread-safety: pure.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "netfilter/flow.h"
#include "process/process_info.h"
#include "storage/event.h"

namespace picket {

struct DecisionFacts {
  std::string_view verdict;  // "allow" | "deny" | "reject"
  DecidedBy decided_by = DecidedBy::kDefault;
  std::string_view rule;     // the deciding rule's name; empty when none
  std::string_view host;     // destination host name; empty when unknown
  int64_t time_us = 0;
};

// ExecId, parent path and digest are filled when the attribution carries them (the exec-event
// store's ProcessInfo: ancestors, digests); otherwise they stay empty (NULL in the database).
EventRecord MakeDecisionRecord(const DecisionFacts& facts, const Flow& flow, const Attribution& attribution);

// The row for a packet that could not be parsed (no addresses, protocol "unknown").
EventRecord MakeUnparsedRecord(const DecisionFacts& facts);

// Wall-clock microseconds since the Unix epoch.
int64_t WallClockMicros();

}  // namespace picket
