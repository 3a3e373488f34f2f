// Test helper: builds DNS messages byte by byte (uncompressed names unless a pointer is written
// explicitly). Used by the DNS unit tests and the fuzz corpus generator test.
// Thread-safety: plain value.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace picket::testing {

class DnsBuilder {
 public:
  // Header: id 0x1234, flags, qdcount, ancount, nscount 0, arcount 0.
  DnsBuilder(uint16_t flags, uint16_t questions, uint16_t answers) {
    U16(0x1234);
    U16(flags);
    U16(questions);
    U16(answers);
    U16(0);
    U16(0);
  }
  static constexpr uint16_t kQueryFlags = 0x0100;     // RD
  static constexpr uint16_t kResponseFlags = 0x8180;  // QR RD RA, NOERROR

  DnsBuilder& U8(uint8_t v) { bytes.push_back(v); return *this; }
  DnsBuilder& U16(uint16_t v) { bytes.push_back(static_cast<uint8_t>(v >> 8)); return U8(static_cast<uint8_t>(v)); }
  DnsBuilder& U32(uint32_t v) { U16(static_cast<uint16_t>(v >> 16)); return U16(static_cast<uint16_t>(v)); }
  // "www.example.org" as length-prefixed labels, terminated by the root label.
  DnsBuilder& Name(std::string_view name) {
    Labels(name);
    return U8(0);
  }
  // Labels without the terminator (to be followed by Pointer()).
  DnsBuilder& Labels(std::string_view name) {
    size_t start = 0;
    while (start < name.size()) {
      size_t dot = name.find('.', start);
      if (dot == std::string_view::npos) dot = name.size();
      U8(static_cast<uint8_t>(dot - start));
      for (size_t i = start; i < dot; ++i) U8(static_cast<uint8_t>(name[i]));
      start = dot + 1;
    }
    return *this;
  }
  DnsBuilder& Pointer(uint16_t offset) { return U16(static_cast<uint16_t>(0xc000 | offset)); }
  DnsBuilder& Question(std::string_view name, uint16_t type = 1) { return Name(name).U16(type).U16(1); }
  // A record with an uncompressed owner name.
  DnsBuilder& A(std::string_view owner, uint32_t ttl, std::vector<uint8_t> ip) {
    Name(owner).U16(1).U16(1).U32(ttl).U16(4);
    for (uint8_t b : ip) U8(b);
    return *this;
  }
  DnsBuilder& Aaaa(std::string_view owner, uint32_t ttl, std::vector<uint8_t> ip) {
    Name(owner).U16(28).U16(1).U32(ttl).U16(16);
    for (uint8_t b : ip) U8(b);
    return *this;
  }
  DnsBuilder& Cname(std::string_view owner, uint32_t ttl, std::string_view target) {
    Name(owner).U16(5).U16(1).U32(ttl);
    U16(static_cast<uint16_t>(target.empty() ? 1 : target.size() + 2));
    return Name(target);
  }
  // The offset the next byte will have (for compression pointers).
  uint16_t offset() const { return static_cast<uint16_t>(bytes.size()); }

  std::vector<uint8_t> bytes;
};

}  // namespace picket::testing
