// Connection: what a rule is matched against — a flow, who sent it, and the host names known
// for its destination.
//
// Borrows every value; the caller keeps them alive for the duration of the match.
// Thread-safety: plain view; no shared state.
#pragma once

#include <string>
#include <vector>

#include "netfilter/flow.h"
#include "process/process_info.h"

namespace picket {

struct Connection {
  const Flow& flow;
  const Attribution& attribution;
  // Names known for the destination address (from the DNS stage; for an outgoing DNS query, the
  // question name), as the resolver returned them. nullptr or empty: no name is known, and
  // `dest.host` sees the empty string (as in OpenSnitch).
  const std::vector<std::string>* dest_hosts = nullptr;
};

}  // namespace picket
