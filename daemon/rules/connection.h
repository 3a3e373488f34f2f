// Connection: what a rule is matched against — a flow and who sent it.
//
// Borrows both values; the caller keeps them alive for the duration of the match.
// Thread-safety: plain view; no shared state.
#pragma once

#include "netfilter/flow.h"
#include "process/process_info.h"

namespace picket {

struct Connection {
  const Flow& flow;
  const Attribution& attribution;
};

}  // namespace picket
