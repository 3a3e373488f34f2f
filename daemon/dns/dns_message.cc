#include "dns/dns_message.h"

#include <algorithm>
#include <cstdio>
#include <string_view>

namespace picket {
namespace {

constexpr uint16_t kFlagResponse = 0x8000;
constexpr uint16_t kFlagTruncated = 0x0200;
constexpr unsigned kOpcodeShift = 11;
constexpr uint16_t kOpcodeMask = 0x0f;
constexpr uint16_t kRcodeMask = 0x000f;
constexpr uint8_t kPointerBits = 0xc0;
constexpr size_t kRecordFixedBytes = 10;  // type, class, ttl, rdlength
constexpr size_t kQuestionFixedBytes = 4; // type, class

uint16_t Be16(std::span<const uint8_t> bytes, size_t offset) {
  return static_cast<uint16_t>(bytes[offset] << 8 | bytes[offset + 1]);
}

uint32_t Be32(std::span<const uint8_t> bytes, size_t offset) {
  return static_cast<uint32_t>(bytes[offset]) << 24 | static_cast<uint32_t>(bytes[offset + 1]) << 16 |
         static_cast<uint32_t>(bytes[offset + 2]) << 8 | bytes[offset + 3];
}

std::string Hex(uint8_t byte) {
  char buf[8];
  std::snprintf(buf, sizeof(buf), "0x%02x", byte);
  return buf;
}

Error Truncated(std::string_view what, size_t offset, size_t need, size_t size) {
  return Error{"truncated DNS message: " + std::string(what) + " at offset " + std::to_string(offset) +
               " needs " + std::to_string(need) + " bytes, " + std::to_string(size > offset ? size - offset : 0) +
               " present"};
}

bool IsNameByte(uint8_t c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

struct Header {
  uint16_t id = 0;
  uint16_t flags = 0;
  uint16_t questions = 0;
  uint16_t answers = 0;
};

Result<Header> ReadHeader(std::span<const uint8_t> m) {
  if (m.size() < kDnsHeaderBytes) return Truncated("header", 0, kDnsHeaderBytes, m.size());
  Header h{Be16(m, 0), Be16(m, 2), Be16(m, 4), Be16(m, 6)};
  const unsigned opcode = (h.flags >> kOpcodeShift) & kOpcodeMask;
  if (opcode != 0) return Error{"DNS opcode " + std::to_string(opcode) + " is not QUERY (0)"};
  return h;
}

struct NameRead {
  std::string name;
  size_t next = 0;  // offset just after the name where it started (after the first pointer, if any)
};

// Reads a (possibly compressed) name starting at `offset`.
Result<NameRead> ReadName(std::span<const uint8_t> m, size_t offset) {
  NameRead out;
  size_t pos = offset;
  size_t lowest = offset;  // every pointer must go strictly below every offset visited so far
  size_t wire_bytes = 1;   // the terminating zero
  size_t jumps = 0;
  bool jumped = false;
  for (;;) {
    if (pos >= m.size()) return Truncated("name label", pos, 1, m.size());
    const uint8_t len = m[pos];
    if ((len & kPointerBits) == kPointerBits) {
      if (pos + 1 >= m.size()) return Truncated("compression pointer", pos, 2, m.size());
      const size_t target = static_cast<size_t>(Be16(m, pos) & 0x3fff);
      if (target >= lowest) {
        return Error{"DNS compression pointer at offset " + std::to_string(pos) + " to offset " +
                     std::to_string(target) + " does not point backwards (loop)"};
      }
      if (++jumps > kMaxCompressionJumps) {
        return Error{"DNS name at offset " + std::to_string(offset) + " has more than " +
                     std::to_string(kMaxCompressionJumps) + " compression pointers"};
      }
      if (!jumped) out.next = pos + 2;
      jumped = true;
      pos = target;
      lowest = target;
      continue;
    }
    if ((len & kPointerBits) != 0) {
      return Error{"DNS label type " + Hex(len & kPointerBits) + " at offset " + std::to_string(pos) +
                   " is not supported"};
    }
    if (len == 0) {
      if (!jumped) out.next = pos + 1;
      return out;
    }
    if (pos + 1 + len > m.size()) return Truncated("name label", pos, 1u + len, m.size());
    wire_bytes += 1u + len;
    if (wire_bytes > kMaxDnsNameWireBytes) {
      return Error{"DNS name at offset " + std::to_string(offset) + " is longer than " +
                   std::to_string(kMaxDnsNameWireBytes) + " bytes"};
    }
    if (!out.name.empty()) out.name.push_back('.');
    for (size_t i = pos + 1; i <= pos + len; ++i) {
      const uint8_t c = m[i];
      if (!IsNameByte(c)) {
        return Error{"DNS name label byte " + Hex(c) + " at offset " + std::to_string(i) +
                     " is not a letter, digit, '-' or '_'"};
      }
      out.name.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c));
    }
    pos += 1u + len;
  }
}

Result<DnsQuestion> ReadQuestion(std::span<const uint8_t> m, size_t* offset) {
  auto name = ReadName(m, *offset);
  if (!name.ok()) return name.error();
  if (name->next + kQuestionFixedBytes > m.size()) {
    return Truncated("question type/class", name->next, kQuestionFixedBytes, m.size());
  }
  DnsQuestion q{std::move(name->name), Be16(m, name->next), Be16(m, name->next + 2)};
  *offset = name->next + kQuestionFixedBytes;
  return q;
}

// Reads one resource record at *offset; appends it to `records` when it is an IN A/AAAA/CNAME.
Status ReadRecord(std::span<const uint8_t> m, size_t* offset, std::vector<DnsRecord>* records) {
  auto owner = ReadName(m, *offset);
  if (!owner.ok()) return owner.error();
  const size_t fixed = owner->next;
  if (fixed + kRecordFixedBytes > m.size()) return Truncated("record header", fixed, kRecordFixedBytes, m.size());
  const uint16_t type = Be16(m, fixed);
  const uint16_t klass = Be16(m, fixed + 2);
  uint32_t ttl = Be32(m, fixed + 4);
  if (ttl & 0x80000000u) ttl = 0;
  const size_t rdlength = Be16(m, fixed + 8);
  const size_t rdata = fixed + kRecordFixedBytes;
  if (rdata + rdlength > m.size()) return Truncated("record data", rdata, rdlength, m.size());
  *offset = rdata + rdlength;
  if (klass != kDnsClassIn) return OkStatus();
  DnsRecord record;
  record.type = type;
  record.ttl = ttl;
  if (type == kDnsTypeA || type == kDnsTypeAaaa) {
    const size_t want = type == kDnsTypeA ? 4 : 16;
    if (rdlength != want) {
      return Error{std::string(type == kDnsTypeA ? "A" : "AAAA") + " record at offset " + std::to_string(rdata) +
                   " has " + std::to_string(rdlength) + " data bytes, expected " + std::to_string(want)};
    }
    record.address = type == kDnsTypeA ? IpAddress::V4(m.subspan(rdata).first<4>())
                                       : IpAddress::V6(m.subspan(rdata).first<16>());
  } else if (type == kDnsTypeCname) {
    // The target may point back into the message but must end inside the record data.
    auto target = ReadName(m.first(rdata + rdlength), rdata);
    if (!target.ok()) return Error{"CNAME record data: " + target.error().message};
    if (target->next != rdata + rdlength) {
      return Error{"CNAME record at offset " + std::to_string(rdata) + ": name ends at offset " +
                   std::to_string(target->next) + ", record data at " + std::to_string(rdata + rdlength)};
    }
    record.target = std::move(target->name);
  } else {
    return OkStatus();
  }
  record.name = std::move(owner->name);
  records->push_back(std::move(record));
  return OkStatus();
}

}  // namespace

Result<DnsQuestion> ParseDnsQuery(std::span<const uint8_t> message) {
  auto header = ReadHeader(message);
  if (!header.ok()) return header.error();
  if (header->flags & kFlagResponse) return Error{"DNS message is a response (QR=1), not a query"};
  if (header->questions == 0) return Error{"DNS query has no question"};
  size_t offset = kDnsHeaderBytes;
  return ReadQuestion(message, &offset);
}

Result<DnsResponse> ParseDnsResponse(std::span<const uint8_t> message) {
  auto header = ReadHeader(message);
  if (!header.ok()) return header.error();
  if (!(header->flags & kFlagResponse)) return Error{"DNS message is a query (QR=0), not a response"};
  if (header->questions != 1) {
    return Error{"DNS response has " + std::to_string(header->questions) + " questions, expected 1"};
  }
  DnsResponse response;
  response.id = header->id;
  response.rcode = static_cast<uint8_t>(header->flags & kRcodeMask);
  response.truncated = (header->flags & kFlagTruncated) != 0;
  size_t offset = kDnsHeaderBytes;
  auto question = ReadQuestion(message, &offset);
  if (!question.ok()) return question.error();
  response.question = std::move(*question);
  for (size_t i = 0; i < header->answers; ++i) {
    Status s = ReadRecord(message, &offset, &response.records);
    if (!s.ok()) return Error{"answer " + std::to_string(i + 1) + " of " + std::to_string(header->answers) + ": " +
                              s.error().message};
  }
  return response;
}

DnsResolution ResolveAnswers(const DnsResponse& response) {
  DnsResolution out;
  out.name = response.question.name;
  if (response.rcode != 0) return out;
  // Walk the CNAME chain from the question name; a CNAME loop stops at the chain bound.
  struct ChainName {
    std::string_view name;
    uint32_t ttl;  // smallest TTL of the CNAMEs leading here
  };
  std::vector<ChainName> chain{{response.question.name, UINT32_MAX}};
  while (chain.size() <= kMaxCnameChain) {
    const ChainName& last = chain.back();
    auto cname = std::find_if(response.records.begin(), response.records.end(), [&](const DnsRecord& r) {
      return r.type == kDnsTypeCname && r.name == last.name;
    });
    if (cname == response.records.end()) break;
    const bool seen = std::any_of(chain.begin(), chain.end(), [&](const ChainName& c) { return c.name == cname->target; });
    if (seen) break;
    chain.push_back({cname->target, std::min(last.ttl, cname->ttl)});
  }
  for (const DnsRecord& r : response.records) {
    if (r.type != kDnsTypeA && r.type != kDnsTypeAaaa) continue;
    auto link = std::find_if(chain.begin(), chain.end(), [&](const ChainName& c) { return c.name == r.name; });
    if (link == chain.end()) continue;
    out.addresses.push_back({r.address, std::min(r.ttl, link->ttl)});
  }
  return out;
}

Result<std::span<const uint8_t>> DnsOverTcpMessage(std::span<const uint8_t> segment_payload) {
  if (segment_payload.size() < 2) return Truncated("TCP length prefix", 0, 2, segment_payload.size());
  const size_t length = Be16(segment_payload, 0);
  if (segment_payload.size() < 2 + length) {
    return Error{"DNS over TCP message of " + std::to_string(length) + " bytes is not complete in this segment (" +
                 std::to_string(segment_payload.size() - 2) + " bytes present)"};
  }
  return segment_payload.subspan(2, length);
}

}  // namespace picket
