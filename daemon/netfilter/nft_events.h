// NftEventSocket: a NETLINK_NETFILTER socket subscribed to NFNLGRP_NFTABLES, the multicast group on
// which the kernel announces every committed nf_tables change (tables, chains, rules, sets, …) of
// the socket's network namespace — including the changes of iptables-nft, whose rules live in
// nf_tables. Used to notice another tool deleting Picket's rules without polling.
//
// CountNftEvents is the pure classifier of a buffer of such messages (testable without a kernel).
// Ownership: owns the socket. Thread-safety: one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <utility>

#include "common/result.h"
#include "common/unique_fd.h"

namespace picket {

struct NftEventCounts {
  uint64_t messages = 0;   // nf_tables messages read
  uint64_t deletions = 0;  // of them, deletions of a table, chain or rule (a ruleset flush is many)
  bool overflowed = false;  // the kernel dropped messages (ENOBUFS): anything may have changed
};

// Adds the nf_tables messages in `bytes` (a datagram of netlink messages) to `counts`. Other
// subsystems' messages and malformed tails are ignored.
void CountNftEvents(std::span<const uint8_t> bytes, NftEventCounts* counts);

class NftEventSocket {
 public:
  // Opens the socket (non-blocking, close-on-exec) and joins NFNLGRP_NFTABLES. Needs CAP_NET_ADMIN.
  static Result<std::unique_ptr<NftEventSocket>> Open();

  int fd() const { return fd_.get(); }

  // Reads every datagram queued now (never blocks) and counts them. ENOBUFS is not an error: it
  // sets `overflowed`. Error for any other failing recv.
  Result<NftEventCounts> ReadAvailable();

 private:
  explicit NftEventSocket(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

}  // namespace picket
