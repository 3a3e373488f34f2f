// The `event` the UI server publishes for one decision (ui-protocol/PROTOCOL.md, topic events).
// Pure function. Thread-safety: reentrant.
#pragma once

#include <string>
#include <vector>

#include "netfilter/flow.h"
#include "process/process_info.h"
#include "ui-protocol/codec.h"
#include "verdict/decider.h"

namespace picket {

// `time` is an RFC 3339 timestamp; `hosts` (DNS names of the destination) may be null.
ui::DecisionEvent MakeDecisionEvent(const Decision& decision, const Flow& flow, const Attribution& attribution,
                                    const std::vector<std::string>* hosts, std::string time);

// Now, UTC, as RFC 3339 with milliseconds.
std::string NowRfc3339();

}  // namespace picket
