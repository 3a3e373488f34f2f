#include "rules/network.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <string>

namespace picket {
namespace {

IpNetwork Net(std::string_view text) {
  Result<IpNetwork> network = ParseNetwork(text, BareAddress::kReject);
  return network.ok() ? *network : IpNetwork{};
}

struct Alias {
  std::string_view name;
  std::vector<IpNetwork> networks;
};

const std::array<Alias, 2>& Aliases() {
  static const std::array<Alias, 2> aliases = {{
      {"LAN",
       {Net("10.0.0.0/8"), Net("172.16.0.0/12"), Net("192.168.0.0/16"), Net("127.0.0.0/8"), Net("::1/128"),
        Net("fc00::/7")}},
      {"MULTICAST", {Net("224.0.0.0/4"), Net("ff00::/8")}},
  }};
  return aliases;
}

}  // namespace

size_t IpAddressHash::operator()(const IpAddress& address) const {
  // FNV-1a over the family and the used bytes.
  uint64_t hash = 1469598103934665603ULL ^ static_cast<uint64_t>(address.family());
  for (uint8_t byte : address.span()) {
    hash ^= byte;
    hash *= 1099511628211ULL;
  }
  return static_cast<size_t>(hash);
}

IpAddress MaskAddress(const IpAddress& address, uint8_t prefix_len) {
  std::array<uint8_t, 16> bytes = address.bytes();
  const size_t total_bits = address.is_v4() ? 32 : 128;
  const size_t keep = std::min<size_t>(prefix_len, total_bits);
  for (size_t bit = keep; bit < total_bits; ++bit) {
    bytes[bit / 8] = static_cast<uint8_t>(bytes[bit / 8] & ~(0x80u >> (bit % 8)));
  }
  if (address.is_v4()) return IpAddress::V4(std::span<const uint8_t, 4>(bytes.data(), 4));
  return IpAddress::V6(std::span<const uint8_t, 16>(bytes.data(), 16));
}

bool IpNetwork::Contains(const IpAddress& ip) const {
  const IpAddress normalized = ip.Normalized();
  if (normalized.family() != address.family()) return false;
  return MaskAddress(normalized, prefix_len) == address;
}

std::string IpNetwork::ToString() const { return address.ToString() + "/" + std::to_string(prefix_len); }

Result<IpNetwork> ParseNetwork(std::string_view text, BareAddress bare_address) {
  const size_t slash = text.find('/');
  if (slash == std::string_view::npos && bare_address == BareAddress::kReject) {
    return Error{"'" + std::string(text) + "' is not a network: expected ADDRESS/PREFIX (e.g. 192.168.0.0/16)"};
  }
  Result<IpAddress> address = IpAddress::Parse(text.substr(0, slash));
  if (!address.ok()) return Error{"'" + std::string(text) + "' is not a network: " + address.error().message};
  const unsigned max_len = address->is_v4() ? 32 : 128;
  unsigned length = max_len;
  if (slash != std::string_view::npos) {
    const std::string_view digits = text.substr(slash + 1);
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), length);
    const bool canonical = !digits.empty() && digits.size() <= 3 && (digits.size() == 1 || digits[0] != '0');
    if (ec != std::errc() || end != digits.data() + digits.size() || !canonical || length > max_len) {
      return Error{"'" + std::string(text) + "' is not a network: prefix length must be 0-" +
                   std::to_string(max_len)};
    }
  }
  IpAddress base = *address;
  if (base.IsV4MappedV6() && length >= 96) {
    base = base.Normalized();
    length -= 96;
  }
  return IpNetwork{MaskAddress(base, static_cast<uint8_t>(length)), static_cast<uint8_t>(length)};
}

const std::vector<IpNetwork>* NetworkAlias(std::string_view name) {
  for (const Alias& alias : Aliases()) {
    if (alias.name == name) return &alias.networks;
  }
  return nullptr;
}

std::string_view NetworkAliasNames() { return "LAN, MULTICAST"; }

}  // namespace picket
