// IpAddress: an IPv4 or IPv6 address as a value. IPv4-mapped IPv6 (::ffff:a.b.c.d) is kept as
// written; Normalized() turns it into IPv4.
// Thread-safety: plain value.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "common/result.h"

namespace picket {

enum class IpFamily : uint8_t { kV4 = 4, kV6 = 6 };

class IpAddress {
 public:
  IpAddress() = default;  // 0.0.0.0
  static IpAddress V4(std::span<const uint8_t, 4> bytes);
  static IpAddress V6(std::span<const uint8_t, 16> bytes);
  // Parses dotted-quad IPv4 or RFC 4291 IPv6 text; error names the text.
  static Result<IpAddress> Parse(std::string_view text);

  IpFamily family() const { return family_; }
  bool is_v4() const { return family_ == IpFamily::kV4; }
  // Network-order bytes: 4 used for IPv4, 16 for IPv6.
  const std::array<uint8_t, 16>& bytes() const { return bytes_; }
  std::span<const uint8_t> span() const { return {bytes_.data(), is_v4() ? 4u : 16u}; }

  bool IsV4MappedV6() const;
  IpAddress Normalized() const;  // ::ffff:a.b.c.d → a.b.c.d; otherwise itself
  bool IsLoopback() const;

  std::string ToString() const;  // inet_ntop form: "198.18.0.2", "2001:db8::1"

  auto operator<=>(const IpAddress&) const = default;

 private:
  IpFamily family_ = IpFamily::kV4;
  std::array<uint8_t, 16> bytes_{};
};

}  // namespace picket
