// ParsePacket: IPv4 / IPv6 packet bytes → Flow (protocol, addresses, ports, ICMP type/code, TCP
// SYN).
//
// Pure function over untrusted bytes: it never reads outside `bytes`, never allocates beyond the
// returned value, and rejects malformed input with a message naming what was wrong.
//
// The bytes may be a PREFIX of the packet (NFQUEUE copies only `copy_range` bytes), so a capture
// shorter than the IP total length is accepted as long as every header the parser needs is inside
// it. Bytes beyond the IP total length / IPv6 payload length are ignored.
//
// Supported: IPv4 (with options; a non-first fragment is rejected), IPv6 with up to
// kMaxIpv6ExtensionHeaders extension headers (hop-by-hop, routing, destination options, fragment —
// only the first fragment carries the transport header —, AH); transport TCP, UDP, UDPLite, SCTP,
// ICMP (IPv4 only), ICMPv6 (IPv6 only). Anything else is an error "unsupported protocol N".
// The uid/gid/interface fields of the returned Flow are left empty; the queue reader fills them.
// Thread-safety: stateless; call from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "common/result.h"
#include "netfilter/flow.h"

namespace picket {

// Upper bound of the IPv6 extension-header walk; more headers than this are rejected.
inline constexpr size_t kMaxIpv6ExtensionHeaders = 8;

Result<Flow> ParsePacket(std::span<const uint8_t> bytes);

// A parsed packet and its transport payload: the captured bytes after the TCP header (data offset)
// or the UDP / UDPLite header, up to the IP length; empty for other protocols, and clipped (or
// empty) when the capture ends early. The span points into `bytes`.
// Bits of ParsedPacket::tcp_flags.
namespace tcp_flags {
inline constexpr uint8_t kFin = 0x01;
inline constexpr uint8_t kSyn = 0x02;
inline constexpr uint8_t kRst = 0x04;
}  // namespace tcp_flags

struct ParsedPacket {
  Flow flow;
  std::span<const uint8_t> payload;
  uint32_t tcp_seq = 0;    // TCP: sequence number (host order); 0 for other protocols
  uint8_t tcp_flags = 0;   // TCP: the flags byte (FIN 0x01, SYN 0x02, RST 0x04, …); 0 for others
};

Result<ParsedPacket> ParsePacketWithPayload(std::span<const uint8_t> bytes);

}  // namespace picket
