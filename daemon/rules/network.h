// IP networks for the rules: CIDR parsing, the named networks (LAN, MULTICAST) of the `network`
// operator, and PrefixMap, a longest-to-shortest prefix look-up used by the rule index and by
// `lists.nets` / `lists.ips` files.
//
// IpNetwork and the functions are plain values / pure functions. PrefixMap is built once and then
// only read. Thread-safety: const access from any number of threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/ip_address.h"
#include "common/result.h"

namespace picket {

struct IpAddressHash {
  size_t operator()(const IpAddress& address) const;
};

// A network: `address` with every bit after `prefix_len` cleared. IPv4-mapped IPv6 networks
// (::ffff:a.b.c.d/n with n ≥ 96) are stored as the IPv4 network they describe.
struct IpNetwork {
  IpAddress address;
  uint8_t prefix_len = 0;  // 0..32 (IPv4) or 0..128 (IPv6)

  // `ip` is normalized (IPv4-mapped IPv6 seen as IPv4) before the test.
  bool Contains(const IpAddress& ip) const;
  std::string ToString() const;  // "192.168.0.0/16"
  bool operator==(const IpNetwork&) const = default;
};

// The address with every bit after `prefix_len` cleared (prefix_len is clamped to the family).
IpAddress MaskAddress(const IpAddress& address, uint8_t prefix_len);

// "a.b.c.d/n" or "ipv6/n"; host bits may be set and are cleared ("192.168.1.7/24" is
// 192.168.1.0/24). With `bare_address` kAllow, an address without "/n" is a network of one address.
enum class BareAddress : uint8_t { kReject, kAllow };
Result<IpNetwork> ParseNetwork(std::string_view text, BareAddress bare_address);

// The networks behind a name OpenSnitch's `network` operator accepts ("LAN", "MULTICAST"),
// or nullptr when `name` is not one (names are case-sensitive).
const std::vector<IpNetwork>* NetworkAlias(std::string_view name);
// The alias names, for messages: "LAN, MULTICAST".
std::string_view NetworkAliasNames();

// Maps networks to values; Find reports the values of every network containing an address.
template <typename Value>
class PrefixMap {
 public:
  void Insert(const IpNetwork& network, Value value) {
    Family& family = network.address.is_v4() ? v4_ : v6_;
    family.by_length[network.prefix_len][network.address].push_back(std::move(value));
  }
  // Call once after the last Insert.
  void Finish() {
    for (Family* family : {&v4_, &v6_}) {
      family->lengths.clear();
      for (const auto& [length, map] : family->by_length) {
        if (!map.empty()) family->lengths.push_back(length);
      }
    }
  }
  // Calls fn(const std::vector<Value>&) for every prefix length holding a network that contains `ip`
  // (normalized first). Stops early when fn returns false.
  template <typename Fn>
  void Find(const IpAddress& ip, Fn&& fn) const {
    const IpAddress address = ip.Normalized();
    const Family& family = address.is_v4() ? v4_ : v6_;
    for (uint8_t length : family.lengths) {
      const auto& map = family.by_length.at(length);
      auto it = map.find(MaskAddress(address, length));
      if (it != map.end() && !fn(it->second)) return;
    }
  }
  bool empty() const { return v4_.lengths.empty() && v6_.lengths.empty(); }

 private:
  struct Family {
    std::unordered_map<uint8_t, std::unordered_map<IpAddress, std::vector<Value>, IpAddressHash>> by_length;
    std::vector<uint8_t> lengths;  // the prefix lengths present
  };
  Family v4_;
  Family v6_;
};

}  // namespace picket
