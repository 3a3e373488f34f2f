#include "netfilter/packet_parser.h"

#include <algorithm>
#include <string>
#include <string_view>

namespace picket {
namespace {

constexpr size_t kIpv4MinHeaderBytes = 20;
constexpr size_t kIpv6HeaderBytes = 40;
constexpr size_t kTcpHeaderBytes = 20;
constexpr size_t kUdpHeaderBytes = 8;
constexpr size_t kSctpCommonHeaderBytes = 12;
constexpr size_t kIcmpHeaderBytes = 8;    // RFC 792: type, code, checksum, 4 bytes rest-of-header
constexpr size_t kIcmpV6HeaderBytes = 4;  // RFC 4443: type, code, checksum

// IPv6 next-header values that are not transport protocols.
constexpr uint8_t kHopByHop = 0;
constexpr uint8_t kRouting = 43;
constexpr uint8_t kFragment = 44;
constexpr uint8_t kEsp = 50;
constexpr uint8_t kAuthHeader = 51;
constexpr uint8_t kNoNextHeader = 59;
constexpr uint8_t kDestOptions = 60;

constexpr uint8_t kTcpFlagSyn = 0x02;
constexpr uint8_t kTcpFlagAck = 0x10;

// The transport header's protocol number and the bytes from its first byte to the end of the
// IP packet, clipped to what was captured.
struct Transport {
  uint8_t protocol = 0;
  std::span<const uint8_t> bytes;
};

uint16_t Be16(std::span<const uint8_t> bytes, size_t offset) {
  return static_cast<uint16_t>(bytes[offset] << 8 | bytes[offset + 1]);
}

Error Truncated(std::string_view what, size_t have, size_t need) {
  return Error{"truncated " + std::string(what) + " header: " + std::to_string(have) +
               " bytes present, " + std::to_string(need) + " needed"};
}

Error Unsupported(uint8_t protocol, IpFamily family) {
  return Error{"unsupported protocol " + std::to_string(protocol) +
               (family == IpFamily::kV4 ? " in IPv4" : " in IPv6")};
}

void ReadPorts(std::span<const uint8_t> l4, Flow& flow) {
  flow.src_port = Be16(l4, 0);
  flow.dst_port = Be16(l4, 2);
}

Status ParseTcp(std::span<const uint8_t> l4, Flow& flow) {
  if (l4.size() < kTcpHeaderBytes) return Truncated("TCP", l4.size(), kTcpHeaderBytes);
  const unsigned data_offset = l4[12] >> 4;
  if (data_offset < 5) {
    return Error{"TCP data offset " + std::to_string(data_offset) + " < 5"};
  }
  ReadPorts(l4, flow);
  const uint8_t flags = l4[13];
  flow.tcp_syn = (flags & kTcpFlagSyn) != 0 && (flags & kTcpFlagAck) == 0;
  return OkStatus();
}

Status ParsePorts(std::string_view name, size_t header_bytes, std::span<const uint8_t> l4,
                  Flow& flow) {
  if (l4.size() < header_bytes) return Truncated(name, l4.size(), header_bytes);
  ReadPorts(l4, flow);
  return OkStatus();
}

Status ParseIcmp(std::string_view name, size_t header_bytes, std::span<const uint8_t> l4,
                 Flow& flow) {
  if (l4.size() < header_bytes) return Truncated(name, l4.size(), header_bytes);
  flow.icmp_type = l4[0];
  flow.icmp_code = l4[1];
  // Echo request / reply (ICMP 8/0, ICMPv6 128/129): the identifier follows the checksum.
  const bool echo = name == "ICMP" ? (flow.icmp_type == 8 || flow.icmp_type == 0)
                                   : (flow.icmp_type == 128 || flow.icmp_type == 129);
  if (echo && l4.size() >= 6) flow.icmp_id = static_cast<uint16_t>((l4[4] << 8) | l4[5]);
  return OkStatus();
}

Status ParseTransport(const Transport& transport, IpFamily family, Flow& flow) {
  const auto& l4 = transport.bytes;
  const bool v4 = family == IpFamily::kV4;
  switch (transport.protocol) {
    case static_cast<uint8_t>(Protocol::kTcp):
      flow.protocol = Protocol::kTcp;
      return ParseTcp(l4, flow);
    case static_cast<uint8_t>(Protocol::kUdp):
      flow.protocol = Protocol::kUdp;
      return ParsePorts("UDP", kUdpHeaderBytes, l4, flow);
    case static_cast<uint8_t>(Protocol::kUdpLite):
      flow.protocol = Protocol::kUdpLite;
      return ParsePorts("UDPLite", kUdpHeaderBytes, l4, flow);
    case static_cast<uint8_t>(Protocol::kSctp):
      flow.protocol = Protocol::kSctp;
      return ParsePorts("SCTP common", kSctpCommonHeaderBytes, l4, flow);
    case static_cast<uint8_t>(Protocol::kIcmp):
      if (!v4) break;
      flow.protocol = Protocol::kIcmp;
      return ParseIcmp("ICMP", kIcmpHeaderBytes, l4, flow);
    case static_cast<uint8_t>(Protocol::kIcmpV6):
      if (v4) break;
      flow.protocol = Protocol::kIcmpV6;
      return ParseIcmp("ICMPv6", kIcmpV6HeaderBytes, l4, flow);
    default:
      break;
  }
  return Unsupported(transport.protocol, family);
}

Result<Transport> ParseIpv4(std::span<const uint8_t> bytes, Flow& flow) {
  if (bytes.size() < kIpv4MinHeaderBytes) {
    return Truncated("IPv4", bytes.size(), kIpv4MinHeaderBytes);
  }
  const unsigned ihl = bytes[0] & 0x0f;
  if (ihl < 5) return Error{"IPv4 header length (IHL) " + std::to_string(ihl) + " < 5"};
  const size_t header_bytes = ihl * 4u;
  if (header_bytes > bytes.size()) {
    return Error{"IPv4 header length " + std::to_string(header_bytes) + " exceeds the " +
                 std::to_string(bytes.size()) + " captured bytes"};
  }
  const size_t total_length = Be16(bytes, 2);
  if (total_length < header_bytes) {
    return Error{"IPv4 total length " + std::to_string(total_length) +
                 " smaller than header length " + std::to_string(header_bytes)};
  }
  const unsigned fragment_offset = Be16(bytes, 6) & 0x1fff;
  if (fragment_offset != 0) {
    return Error{"non-first fragment (IPv4 fragment offset " + std::to_string(fragment_offset) +
                 ")"};
  }
  flow.src = IpAddress::V4(bytes.subspan<12, 4>());
  flow.dst = IpAddress::V4(bytes.subspan<16, 4>());
  const size_t end = std::min(bytes.size(), total_length);
  return Transport{bytes[9], bytes.subspan(header_bytes, end - header_bytes)};
}

std::string_view ExtensionName(uint8_t next_header) {
  switch (next_header) {
    case kHopByHop:
      return "hop-by-hop options";
    case kRouting:
      return "routing";
    case kFragment:
      return "fragment";
    case kAuthHeader:
      return "authentication";
    case kDestOptions:
      return "destination options";
    default:
      return {};
  }
}

// Length of the extension header at the start of `rest` (which is non-empty), or an error.
Result<size_t> ExtensionLength(uint8_t next_header, std::span<const uint8_t> rest) {
  const std::string name = "IPv6 " + std::string(ExtensionName(next_header)) + " extension";
  if (next_header == kFragment) {
    constexpr size_t kFragmentHeaderBytes = 8;
    if (rest.size() < kFragmentHeaderBytes) {
      return Truncated(name, rest.size(), kFragmentHeaderBytes);
    }
    const unsigned fragment_offset = Be16(rest, 2) >> 3;
    if (fragment_offset != 0) {
      return Error{"non-first fragment (IPv6 fragment offset " + std::to_string(fragment_offset) +
                   ")"};
    }
    return kFragmentHeaderBytes;
  }
  if (rest.size() < 2) return Truncated(name, rest.size(), 2);
  // RFC 4302: AH length counts 4-byte units minus 2; the others count 8-byte units minus 1.
  const size_t length = next_header == kAuthHeader ? (rest[1] + 2u) * 4u : (rest[1] + 1u) * 8u;
  if (length > rest.size()) return Truncated(name, rest.size(), length);
  return length;
}

Result<Transport> ParseIpv6(std::span<const uint8_t> bytes, Flow& flow) {
  if (bytes.size() < kIpv6HeaderBytes) return Truncated("IPv6", bytes.size(), kIpv6HeaderBytes);
  flow.src = IpAddress::V6(bytes.subspan<8, 16>());
  flow.dst = IpAddress::V6(bytes.subspan<24, 16>());
  // Payload length 0 is a jumbogram (RFC 2675) or a GSO super-packet: bounded by the capture only.
  const size_t payload_length = Be16(bytes, 4);
  const size_t end = payload_length == 0
                         ? bytes.size()
                         : std::min(bytes.size(), kIpv6HeaderBytes + payload_length);
  uint8_t next_header = bytes[6];
  size_t offset = kIpv6HeaderBytes;
  for (size_t count = 0; !ExtensionName(next_header).empty(); ++count) {
    if (count == kMaxIpv6ExtensionHeaders) {
      return Error{"too many IPv6 extension headers (more than " +
                   std::to_string(kMaxIpv6ExtensionHeaders) + ")"};
    }
    const auto rest = bytes.subspan(offset, end - offset);
    auto length = ExtensionLength(next_header, rest);
    if (!length.ok()) return length.error();
    next_header = rest[0];
    offset += *length;
  }
  if (next_header == kEsp) return Error{"IPv6 ESP (50): encrypted, no transport header"};
  if (next_header == kNoNextHeader) return Error{"IPv6 no next header (59): no transport header"};
  return Transport{next_header, bytes.subspan(offset, end - offset)};
}

}  // namespace

Result<ParsedPacket> ParsePacketWithPayload(std::span<const uint8_t> bytes) {
  if (bytes.empty()) return Error{"empty packet"};
  const unsigned version = bytes[0] >> 4;
  if (version != 4 && version != 6) return Error{"bad IP version " + std::to_string(version)};
  const IpFamily family = version == 4 ? IpFamily::kV4 : IpFamily::kV6;
  ParsedPacket packet;
  auto transport = family == IpFamily::kV4 ? ParseIpv4(bytes, packet.flow) : ParseIpv6(bytes, packet.flow);
  if (!transport.ok()) return transport.error();
  if (auto status = ParseTransport(*transport, family, packet.flow); !status.ok()) return status.error();
  size_t header_bytes = 0;
  switch (packet.flow.protocol) {
    case Protocol::kTcp:
      header_bytes = (transport->bytes[12] >> 4) * 4u;
      packet.tcp_seq = (uint32_t{transport->bytes[4]} << 24) | (uint32_t{transport->bytes[5]} << 16) |
                       (uint32_t{transport->bytes[6]} << 8) | transport->bytes[7];
      packet.tcp_flags = transport->bytes[13];
      break;
    case Protocol::kUdp:
    case Protocol::kUdpLite: header_bytes = kUdpHeaderBytes; break;
    default: header_bytes = transport->bytes.size(); break;
  }
  packet.payload = transport->bytes.subspan(std::min(header_bytes, transport->bytes.size()));
  return packet;
}

Result<Flow> ParsePacket(std::span<const uint8_t> bytes) {
  auto packet = ParsePacketWithPayload(bytes);
  if (!packet.ok()) return packet.error();
  return std::move(packet->flow);
}

}  // namespace picket
