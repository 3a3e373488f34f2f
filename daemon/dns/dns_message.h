// DNS message parsing (RFC 1035): what Picket learns from the DNS traffic it sees.
//
//   ParseDnsQuery     a query's first question (the name a program asks for: the `dest.host` of a
//                     DNS query flow).
//   ParseDnsResponse  a response's question and its A, AAAA and CNAME answers (other record types are
//                     skipped over by their length; authority and additional sections are ignored).
//   ResolveAnswers    the addresses a response gives for the name asked: A/AAAA records reached from
//                     the question name through the CNAME chain (so a CNAME chain resolves to the name
//                     the program asked for); records for other owners are ignored (cache poisoning).
//   DnsOverTcpMessage the message inside one TCP segment (2-byte length prefix, RFC 1035 4.2.2).
//
// Pure functions over untrusted bytes: they never read outside the span, follow compression
// pointers only strictly backwards (each jump below every offset visited so far, so a pointer loop
// cannot exist) and at most kMaxCompressionJumps times, bound names to 255 bytes (wire form) and
// labels to 63, and reject malformed input with a reason naming the field and offset.
// Names are returned lowercase (DNS is case-insensitive; resolvers randomize case), without the
// trailing dot; the root name is "". Only the bytes A–Z a–z 0–9 '-' '_' are accepted in labels:
// a name with any other byte (space, '.', control bytes) is rejected so it can never forge a log
// line or masquerade as another name in a rule.
// Thread-safety: stateless; call from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/ip_address.h"
#include "common/result.h"

namespace picket {

inline constexpr uint16_t kDnsTypeA = 1;
inline constexpr uint16_t kDnsTypeCname = 5;
inline constexpr uint16_t kDnsTypeAaaa = 28;
inline constexpr uint16_t kDnsClassIn = 1;

inline constexpr size_t kDnsHeaderBytes = 12;
inline constexpr size_t kMaxDnsNameWireBytes = 255;
inline constexpr size_t kMaxDnsLabelBytes = 63;
inline constexpr size_t kMaxCompressionJumps = 64;
inline constexpr size_t kMaxCnameChain = 16;

struct DnsQuestion {
  std::string name;  // lowercase, no trailing dot; "" = root
  uint16_t type = 0;
  uint16_t klass = 0;
};

struct DnsRecord {
  std::string name;   // owner name
  uint16_t type = 0;  // kDnsTypeA, kDnsTypeAaaa or kDnsTypeCname
  uint32_t ttl = 0;   // seconds; a TTL with the top bit set counts as 0 (RFC 2181 8)
  IpAddress address;  // A / AAAA
  std::string target; // CNAME
};

struct DnsResponse {
  uint16_t id = 0;
  uint8_t rcode = 0;        // 0 NOERROR, 3 NXDOMAIN …
  bool truncated = false;   // TC flag: the server cut the answer (the records present are complete)
  DnsQuestion question;
  std::vector<DnsRecord> records;  // A, AAAA and CNAME answers of class IN, in message order
};

struct ResolvedAddress {
  IpAddress address;
  uint32_t ttl = 0;  // the record's TTL, lowered to the smallest TTL of the CNAMEs leading to it
};

struct DnsResolution {
  std::string name;  // the question name
  std::vector<ResolvedAddress> addresses;
};

// A query (QR = 0, opcode QUERY, at least one question): its first question.
// The bytes may be a prefix of the message (a capture): only the header and the first question
// must be present.
Result<DnsQuestion> ParseDnsQuery(std::span<const uint8_t> message);

// A response (QR = 1, opcode QUERY, exactly one question). Every answer record must be complete.
Result<DnsResponse> ParseDnsResponse(std::span<const uint8_t> message);

// The addresses of the question name (see the header comment). Empty when rcode != 0.
DnsResolution ResolveAnswers(const DnsResponse& response);

// The DNS message carried by a TCP segment's payload: 2-byte big-endian length, then the message,
// which must be complete in this segment (a message split over segments is not reassembled).
Result<std::span<const uint8_t>> DnsOverTcpMessage(std::span<const uint8_t> segment_payload);

}  // namespace picket
