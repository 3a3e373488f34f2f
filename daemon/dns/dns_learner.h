// DnsLearner: turns the DNS packets picketd sees into host names.
//
//   Learn()        a DNS response's transport payload (UDP datagram, or one TCP segment holding a
//                  whole length-prefixed message) → every address it gives for the question name
//                  goes into the DnsCache with its TTL. A packet that does not parse is counted and
//                  its reason kept (the caller accepts every DNS packet either way).
//   QuestionName() the name an outgoing DNS query asks for (the `dest.host` of a query flow), from
//                  the query's UDP payload; nullopt when the payload does not hold a whole question.
// Ownership: borrows the cache, which must outlive the learner.
// Thread-safety: none; the event-loop thread owns both.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "dns/dns_cache.h"

namespace picket {

enum class DnsTransport : uint8_t { kUdp, kTcp };

struct DnsLearnerCounters {
  uint64_t responses = 0;        // responses parsed
  uint64_t addresses = 0;        // (address, name) pairs handed to the cache
  uint64_t rejected = 0;         // packets that did not parse (see last_rejection)
  uint64_t empty_segments = 0;   // TCP segments without payload (handshake, ACKs): nothing to learn
  std::string last_rejection;    // the parser's reason for the latest rejected packet
};

class DnsLearner {
 public:
  explicit DnsLearner(DnsCache* cache) : cache_(cache) {}

  // Returns the number of addresses learned from this packet.
  size_t Learn(DnsTransport transport, std::span<const uint8_t> payload, DnsCache::Clock::time_point now);

  static std::optional<std::string> QuestionName(std::span<const uint8_t> udp_payload);

  const DnsLearnerCounters& counters() const { return counters_; }

 private:
  DnsCache* cache_;
  DnsLearnerCounters counters_;
};

}  // namespace picket
