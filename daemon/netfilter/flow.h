// Flow: what Picket knows about one queued packet's connection before attribution.
// The packet parser fills the L3/L4 fields; the queue reader adds uid/gid and interfaces from
// the netlink attributes. Plain value; thread-safety: none needed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/ip_address.h"

namespace picket {

// IANA protocol numbers.
enum class Protocol : uint8_t {
  kIcmp = 1,
  kTcp = 6,
  kUdp = 17,
  kIcmpV6 = 58,
  kSctp = 132,
  kUdpLite = 136,
};

// OpenSnitch-compatible protocol name: "tcp", "udp", "udplite", "sctp", "icmp", with a "6"
// suffix for IPv6 ("tcp6", "icmp6"; ICMPv6 is "icmp6").
std::string_view ProtocolName(Protocol protocol, IpFamily family);

struct Flow {
  Protocol protocol = Protocol::kTcp;
  IpAddress src;
  IpAddress dst;
  uint16_t src_port = 0;  // 0 for ICMP
  uint16_t dst_port = 0;  // 0 for ICMP
  uint8_t icmp_type = 0;  // ICMP / ICMPv6 only
  uint8_t icmp_code = 0;
  uint16_t icmp_id = 0;   // ICMP / ICMPv6 echo request or reply: the identifier (host order)
  bool tcp_syn = false;   // TCP: SYN set and ACK clear

  // From the queue's netlink attributes; absent when the packet has no user socket.
  std::optional<uint32_t> uid;
  std::optional<uint32_t> gid;
  uint32_t in_ifindex = 0;   // 0 = none (locally generated packets have no input interface)
  uint32_t out_ifindex = 0;
  std::string in_iface;      // resolved names, empty when unknown
  std::string out_iface;

  IpFamily family() const { return dst.family(); }
  std::string_view protocol_name() const { return ProtocolName(protocol, family()); }
};

}  // namespace picket
