// DnsLearner: turns the DNS packets picketd sees into host names.
//
//   Learn()        a DNS response's transport payload (UDP datagram, or one TCP segment holding a
//                  whole length-prefixed message) → every address it gives for the question name
//                  goes into the DnsCache with its TTL. A packet that does not parse is counted and
//                  its reason kept (the caller accepts every DNS packet either way).
//   LearnTcpSegment() one segment of a TCP stream from a DNS server: responses that span several
//                  segments, or several responses in one stream, are put together by the
//                  DnsTcpReassembler (dns_tcp_reassembler.h) the learner owns; each complete one is
//                  learned as above.
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
#include "dns/dns_tcp_reassembler.h"

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
  explicit DnsLearner(DnsCache* cache, DnsTcpReassemblerOptions tcp = {}) : cache_(cache), tcp_(tcp) {}

  // Returns the number of addresses learned from this packet.
  size_t Learn(DnsTransport transport, std::span<const uint8_t> payload, DnsCache::Clock::time_point now);
  // Returns the number of addresses learned from the responses this segment completed.
  size_t LearnTcpSegment(const DnsTcpSegment& segment, DnsCache::Clock::time_point now);

  static std::optional<std::string> QuestionName(std::span<const uint8_t> udp_payload);

  const DnsLearnerCounters& counters() const { return counters_; }
  const DnsTcpReassembler& tcp() const { return tcp_; }

 private:
  size_t LearnMessage(std::span<const uint8_t> message, DnsCache::Clock::time_point now);

  DnsCache* cache_;
  DnsTcpReassembler tcp_;
  DnsLearnerCounters counters_;
};

}  // namespace picket
