#include "common/ip_address.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

namespace picket {

IpAddress IpAddress::V4(std::span<const uint8_t, 4> bytes) {
  IpAddress a;
  a.family_ = IpFamily::kV4;
  std::copy(bytes.begin(), bytes.end(), a.bytes_.begin());
  return a;
}

IpAddress IpAddress::V6(std::span<const uint8_t, 16> bytes) {
  IpAddress a;
  a.family_ = IpFamily::kV6;
  std::copy(bytes.begin(), bytes.end(), a.bytes_.begin());
  return a;
}

Result<IpAddress> IpAddress::Parse(std::string_view text) {
  std::string s(text);
  uint8_t buf[16];
  if (inet_pton(AF_INET, s.c_str(), buf) == 1) return V4(std::span<const uint8_t, 4>(buf, 4));
  if (inet_pton(AF_INET6, s.c_str(), buf) == 1) return V6(std::span<const uint8_t, 16>(buf, 16));
  return Error{"'" + s + "' is not an IPv4 or IPv6 address"};
}

bool IpAddress::IsV4MappedV6() const {
  static constexpr uint8_t kPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return family_ == IpFamily::kV6 && std::memcmp(bytes_.data(), kPrefix, 12) == 0;
}

IpAddress IpAddress::Normalized() const {
  if (!IsV4MappedV6()) return *this;
  return V4(std::span<const uint8_t, 4>(bytes_.data() + 12, 4));
}

bool IpAddress::IsLoopback() const {
  IpAddress n = Normalized();
  if (n.is_v4()) return n.bytes_[0] == 127;
  static constexpr uint8_t kLoop6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  return std::memcmp(n.bytes_.data(), kLoop6, 16) == 0;
}

std::string IpAddress::ToString() const {
  char buf[INET6_ADDRSTRLEN];
  const int af = is_v4() ? AF_INET : AF_INET6;
  if (inet_ntop(af, bytes_.data(), buf, sizeof(buf)) == nullptr) return "?";
  return buf;
}

}  // namespace picket
