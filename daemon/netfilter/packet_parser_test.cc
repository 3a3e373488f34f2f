#include "netfilter/packet_parser.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace picket {
namespace {

using Bytes = std::vector<uint8_t>;
using ::testing::HasSubstr;

constexpr uint8_t kTcp = 6, kUdp = 17, kUdpLite = 136, kSctp = 132, kIcmp = 1, kIcmpV6 = 58;
constexpr uint8_t kHopByHop = 0, kRouting = 43, kFragment = 44, kEsp = 50, kAh = 51, kNoNext = 59,
                  kDestOpts = 60, kGre = 47;
constexpr uint8_t kSyn = 0x02, kAck = 0x10, kFin = 0x01;

Bytes Cat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

void PutBe16(Bytes& bytes, size_t offset, size_t value) {
  bytes[offset] = static_cast<uint8_t>(value >> 8);
  bytes[offset + 1] = static_cast<uint8_t>(value);
}

// IPv4 198.18.0.1 → 198.18.0.2 with `options` (a multiple of 4 bytes) and `payload`.
Bytes Ipv4(uint8_t protocol, const Bytes& payload, const Bytes& options = {}) {
  Bytes ip = {0x45, 0, 0, 0, 0x12, 0x34, 0x40, 0, 64, protocol, 0, 0, 198, 18, 0, 1, 198, 18, 0, 2};
  ip[0] = static_cast<uint8_t>(0x40 | (20 + options.size()) / 4);
  ip = Cat(ip, options);
  PutBe16(ip, 2, ip.size() + payload.size());
  return Cat(ip, payload);
}

// IPv6 2001:2::1 → 2001:2::2; `payload` holds any extension headers and the transport header.
Bytes Ipv6(uint8_t next_header, const Bytes& payload) {
  Bytes ip = {0x60, 0, 0, 0, 0, 0, next_header, 64};
  const Bytes src = {0x20, 0x01, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  Bytes dst = src;
  dst[15] = 2;
  ip = Cat(Cat(ip, src), dst);
  PutBe16(ip, 4, payload.size());
  return Cat(ip, payload);
}

Bytes Tcp(uint16_t src, uint16_t dst, uint8_t flags, uint8_t data_offset = 5) {
  Bytes tcp(20, 0);
  PutBe16(tcp, 0, src);
  PutBe16(tcp, 2, dst);
  tcp[12] = static_cast<uint8_t>(data_offset << 4);
  tcp[13] = flags;
  return tcp;
}

Bytes Udp(uint16_t src, uint16_t dst) {
  Bytes udp = {0, 0, 0, 0, 0, 12, 0, 0, 'p', 'i', 'n', 'g'};
  PutBe16(udp, 0, src);
  PutBe16(udp, 2, dst);
  return udp;
}

Bytes Sctp(uint16_t src, uint16_t dst) {
  Bytes sctp(12, 0xab);
  PutBe16(sctp, 0, src);
  PutBe16(sctp, 2, dst);
  return sctp;
}

Bytes Icmp(uint8_t type, uint8_t code) { return {type, code, 0, 0, 0, 1, 0, 1}; }

// Generic extension header (hop-by-hop, routing, destination options) of 8 * (units + 1) bytes.
Bytes Extension(uint8_t next_header, uint8_t units = 0) {
  Bytes ext(8u * (units + 1u), 0);
  ext[0] = next_header;
  ext[1] = units;
  return ext;
}

Bytes FragmentHeader(uint8_t next_header, uint16_t offset_units, bool more) {
  Bytes ext = {next_header, 0, 0, 0, 0, 0, 0, 7};
  PutBe16(ext, 2, static_cast<size_t>(offset_units << 3 | (more ? 1 : 0)));
  return ext;
}

// AH with `words` 4-byte words after the fixed 12 bytes (RFC 4302 length = words + 1).
Bytes AuthHeader(uint8_t next_header, uint8_t words) {
  Bytes ext(12u + 4u * words, 0);
  ext[0] = next_header;
  ext[1] = static_cast<uint8_t>(words + 1);
  return ext;
}

Result<Flow> Parse(const Bytes& bytes) { return ParsePacket(bytes); }

std::string ErrorOf(const Bytes& bytes) {
  auto flow = Parse(bytes);
  if (flow.ok()) return "<parsed OK>";
  return flow.error().message;
}

// ---- IPv4, good ----

TEST(PacketParserTest, Ipv4TcpSyn) {
  auto flow = Parse(Ipv4(kTcp, Tcp(40000, 443, kSyn)));
  ASSERT_TRUE(flow.ok()) << flow.error().message;
  EXPECT_EQ(flow->protocol, Protocol::kTcp);
  EXPECT_EQ(flow->protocol_name(), "tcp");
  EXPECT_EQ(flow->src.ToString(), "198.18.0.1");
  EXPECT_EQ(flow->dst.ToString(), "198.18.0.2");
  EXPECT_EQ(flow->src_port, 40000);
  EXPECT_EQ(flow->dst_port, 443);
  EXPECT_TRUE(flow->tcp_syn);
  EXPECT_FALSE(flow->uid.has_value());
}

TEST(PacketParserTest, TcpSynWithAckOrWithoutSynIsNotSyn) {
  for (uint8_t flags : {uint8_t(kSyn | kAck), kAck, kFin, uint8_t(0)}) {
    auto flow = Parse(Ipv4(kTcp, Tcp(1, 2, flags)));
    ASSERT_TRUE(flow.ok()) << flow.error().message;
    EXPECT_FALSE(flow->tcp_syn) << "flags " << int(flags);
  }
  auto syn_fin = Parse(Ipv4(kTcp, Tcp(1, 2, kSyn | kFin)));
  ASSERT_TRUE(syn_fin.ok());
  EXPECT_TRUE(syn_fin->tcp_syn);
}

TEST(PacketParserTest, Ipv4UdpUdpLiteSctp) {
  struct Case {
    uint8_t number;
    Bytes l4;
    Protocol protocol;
    std::string name;
  };
  const Case cases[] = {{kUdp, Udp(5353, 53), Protocol::kUdp, "udp"},
                        {kUdpLite, Udp(5353, 53), Protocol::kUdpLite, "udplite"},
                        {kSctp, Sctp(5353, 53), Protocol::kSctp, "sctp"}};
  for (const auto& c : cases) {
    auto flow = Parse(Ipv4(c.number, c.l4));
    ASSERT_TRUE(flow.ok()) << c.name << ": " << flow.error().message;
    EXPECT_EQ(flow->protocol, c.protocol);
    EXPECT_EQ(flow->protocol_name(), c.name);
    EXPECT_EQ(flow->src_port, 5353);
    EXPECT_EQ(flow->dst_port, 53);
    EXPECT_FALSE(flow->tcp_syn);
  }
}

TEST(PacketParserTest, Ipv4Icmp) {
  auto flow = Parse(Ipv4(kIcmp, Icmp(8, 0)));
  ASSERT_TRUE(flow.ok()) << flow.error().message;
  EXPECT_EQ(flow->protocol, Protocol::kIcmp);
  EXPECT_EQ(flow->protocol_name(), "icmp");
  EXPECT_EQ(flow->icmp_type, 8);
  EXPECT_EQ(flow->icmp_code, 0);
  EXPECT_EQ(flow->src_port, 0);
  EXPECT_EQ(flow->dst_port, 0);
  EXPECT_EQ(flow->icmp_id, 1);  // echo identifier (bytes 4-5)

  auto unreachable = Parse(Ipv4(kIcmp, Icmp(3, 13)));
  ASSERT_TRUE(unreachable.ok());
  EXPECT_EQ(unreachable->icmp_type, 3);
  EXPECT_EQ(unreachable->icmp_code, 13);
  EXPECT_EQ(unreachable->icmp_id, 0);
}

TEST(PacketParserTest, Ipv4WithOptions) {
  for (size_t option_bytes : {4u, 12u, 40u}) {
    Bytes options(option_bytes, 0x01);  // NOP options
    auto flow = Parse(Ipv4(kUdp, Udp(1000, 2000), options));
    ASSERT_TRUE(flow.ok()) << option_bytes << ": " << flow.error().message;
    EXPECT_EQ(flow->src_port, 1000);
    EXPECT_EQ(flow->dst_port, 2000);
  }
}

TEST(PacketParserTest, Ipv4FirstFragmentIsParsed) {
  Bytes packet = Ipv4(kUdp, Udp(1000, 2000));
  packet[6] = 0x20;  // MF set, offset 0
  auto flow = Parse(packet);
  ASSERT_TRUE(flow.ok()) << flow.error().message;
  EXPECT_EQ(flow->dst_port, 2000);
}

TEST(PacketParserTest, Ipv4CapturedPrefixShorterThanTotalLengthIsFine) {
  Bytes packet = Ipv4(kTcp, Cat(Tcp(40000, 80, kSyn), Bytes(1400, 'x')));
  packet.resize(20 + 20);  // the queue copied only the headers
  auto flow = Parse(packet);
  ASSERT_TRUE(flow.ok()) << flow.error().message;
  EXPECT_EQ(flow->dst_port, 80);
  EXPECT_TRUE(flow->tcp_syn);
}

TEST(PacketParserTest, Ipv4BytesBeyondTotalLengthAreIgnored) {
  Bytes packet = Ipv4(kUdp, Udp(1, 2));
  PutBe16(packet, 2, 20 + 4);  // total length ends inside the UDP header
  EXPECT_THAT(ErrorOf(packet), HasSubstr("truncated UDP header: 4 bytes present, 8 needed"));
}

// ---- IPv6, good ----

TEST(PacketParserTest, Ipv6EveryTransport) {
  struct Case {
    uint8_t number;
    Bytes l4;
    Protocol protocol;
    std::string name;
  };
  const Case cases[] = {{kTcp, Tcp(40000, 443, kSyn), Protocol::kTcp, "tcp6"},
                        {kUdp, Udp(40000, 443), Protocol::kUdp, "udp6"},
                        {kUdpLite, Udp(40000, 443), Protocol::kUdpLite, "udplite6"},
                        {kSctp, Sctp(40000, 443), Protocol::kSctp, "sctp6"}};
  for (const auto& c : cases) {
    auto flow = Parse(Ipv6(c.number, c.l4));
    ASSERT_TRUE(flow.ok()) << c.name << ": " << flow.error().message;
    EXPECT_EQ(flow->protocol, c.protocol);
    EXPECT_EQ(flow->protocol_name(), c.name);
    EXPECT_EQ(flow->src.ToString(), "2001:2::1");
    EXPECT_EQ(flow->dst.ToString(), "2001:2::2");
    EXPECT_EQ(flow->src_port, 40000);
    EXPECT_EQ(flow->dst_port, 443);
    EXPECT_EQ(flow->tcp_syn, c.number == kTcp);
  }
}

TEST(PacketParserTest, Ipv6IcmpV6) {
  auto flow = Parse(Ipv6(kIcmpV6, {128, 0, 0, 0, 0, 1, 0, 1}));
  ASSERT_TRUE(flow.ok()) << flow.error().message;
  EXPECT_EQ(flow->protocol, Protocol::kIcmpV6);
  EXPECT_EQ(flow->protocol_name(), "icmp6");
  EXPECT_EQ(flow->icmp_type, 128);
  EXPECT_EQ(flow->icmp_code, 0);
  EXPECT_EQ(flow->icmp_id, 1);  // echo identifier

  auto too_big = Parse(Ipv6(kIcmpV6, {2, 0, 0, 0, 0, 1, 0, 1}));  // not an echo: no identifier
  ASSERT_TRUE(too_big.ok());
  EXPECT_EQ(too_big->icmp_id, 0);
}

TEST(PacketParserTest, Ipv6WalksEveryExtensionHeaderKind) {
  // hop-by-hop → routing (24 bytes) → destination options → fragment (first) → AH → UDP
  const Bytes payload =
      Cat(Cat(Cat(Cat(Cat(Extension(kRouting), Extension(kDestOpts, 2)), Extension(kFragment)),
                  FragmentHeader(kAh, 0, true)),
              AuthHeader(kUdp, 3)),
          Udp(7000, 8000));
  auto flow = Parse(Ipv6(kHopByHop, payload));
  ASSERT_TRUE(flow.ok()) << flow.error().message;
  EXPECT_EQ(flow->protocol, Protocol::kUdp);
  EXPECT_EQ(flow->src_port, 7000);
  EXPECT_EQ(flow->dst_port, 8000);
}

TEST(PacketParserTest, Ipv6AtTheExtensionHeaderLimit) {
  Bytes payload = Tcp(1, 2, kSyn);
  uint8_t next = kTcp;
  for (size_t i = 0; i < kMaxIpv6ExtensionHeaders; ++i) {
    payload = Cat(Extension(next), payload);
    next = kDestOpts;
  }
  auto flow = Parse(Ipv6(next, payload));
  ASSERT_TRUE(flow.ok()) << flow.error().message;
  EXPECT_EQ(flow->dst_port, 2);
}

TEST(PacketParserTest, Ipv6CapturedPrefixShorterThanPayloadLengthIsFine) {
  Bytes packet = Ipv6(kTcp, Cat(Tcp(40000, 22, kSyn), Bytes(1000, 'x')));
  packet.resize(40 + 20);
  auto flow = Parse(packet);
  ASSERT_TRUE(flow.ok()) << flow.error().message;
  EXPECT_EQ(flow->dst_port, 22);
}

TEST(PacketParserTest, Ipv6ZeroPayloadLengthIsBoundedByTheCapture) {
  Bytes packet = Ipv6(kUdp, Udp(1, 2));
  PutBe16(packet, 4, 0);  // jumbogram / GSO: length unknown
  auto flow = Parse(packet);
  ASSERT_TRUE(flow.ok()) << flow.error().message;
  EXPECT_EQ(flow->dst_port, 2);
}

TEST(PacketParserTest, Ipv6PayloadLengthLimitsTheHeaders) {
  Bytes packet = Ipv6(kTcp, Tcp(1, 2, kSyn));
  PutBe16(packet, 4, 10);
  EXPECT_THAT(ErrorOf(packet), HasSubstr("truncated TCP header: 10 bytes present, 20 needed"));
}

// ---- malformed ----

TEST(PacketParserTest, RejectsEmptyAndBadVersion) {
  EXPECT_EQ(ErrorOf({}), "empty packet");
  EXPECT_EQ(ErrorOf({0x00}), "bad IP version 0");
  Bytes v5 = Ipv4(kUdp, Udp(1, 2));
  v5[0] = 0x55;
  EXPECT_EQ(ErrorOf(v5), "bad IP version 5");
}

TEST(PacketParserTest, RejectsMalformedIpv4Header) {
  const Bytes good = Ipv4(kUdp, Udp(1, 2));
  EXPECT_EQ(ErrorOf(Bytes(good.begin(), good.begin() + 19)),
            "truncated IPv4 header: 19 bytes present, 20 needed");

  Bytes ihl4 = good;
  ihl4[0] = 0x44;
  EXPECT_EQ(ErrorOf(ihl4), "IPv4 header length (IHL) 4 < 5");

  Bytes ihl15 = good;
  ihl15[0] = 0x4f;  // 60-byte header, only 32 bytes captured
  EXPECT_EQ(ErrorOf(ihl15), "IPv4 header length 60 exceeds the 32 captured bytes");

  Bytes short_total = good;
  PutBe16(short_total, 2, 19);
  EXPECT_EQ(ErrorOf(short_total), "IPv4 total length 19 smaller than header length 20");

  Bytes fragment = good;
  PutBe16(fragment, 6, 0x2000 | 185);  // MF, offset 185 * 8
  EXPECT_EQ(ErrorOf(fragment), "non-first fragment (IPv4 fragment offset 185)");
}

TEST(PacketParserTest, RejectsUnsupportedProtocols) {
  EXPECT_EQ(ErrorOf(Ipv4(kGre, Bytes(8, 0))), "unsupported protocol 47 in IPv4");
  EXPECT_EQ(ErrorOf(Ipv4(kIcmpV6, Icmp(128, 0))), "unsupported protocol 58 in IPv4");
  EXPECT_EQ(ErrorOf(Ipv4(kEsp, Bytes(8, 0))), "unsupported protocol 50 in IPv4");
  EXPECT_EQ(ErrorOf(Ipv6(kIcmp, Icmp(8, 0))), "unsupported protocol 1 in IPv6");
  EXPECT_EQ(ErrorOf(Ipv6(kGre, Bytes(8, 0))), "unsupported protocol 47 in IPv6");
}

TEST(PacketParserTest, RejectsTruncatedTransportHeadersNamingThem) {
  struct Case {
    uint8_t number;
    size_t present;
    std::string expected;
  };
  const Case cases[] = {
      {kTcp, 19, "truncated TCP header: 19 bytes present, 20 needed"},
      {kUdp, 7, "truncated UDP header: 7 bytes present, 8 needed"},
      {kUdpLite, 0, "truncated UDPLite header: 0 bytes present, 8 needed"},
      {kSctp, 11, "truncated SCTP common header: 11 bytes present, 12 needed"},
      {kIcmp, 7, "truncated ICMP header: 7 bytes present, 8 needed"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(ErrorOf(Ipv4(c.number, Bytes(c.present, 0x50))), c.expected);
  }
  EXPECT_EQ(ErrorOf(Ipv6(kIcmpV6, Bytes(3, 0))),
            "truncated ICMPv6 header: 3 bytes present, 4 needed");
  EXPECT_EQ(ErrorOf(Ipv6(kTcp, Bytes(12, 0))), "truncated TCP header: 12 bytes present, 20 needed");
}

TEST(PacketParserTest, RejectsTcpDataOffsetBelowFive) {
  EXPECT_EQ(ErrorOf(Ipv4(kTcp, Tcp(1, 2, kSyn, 4))), "TCP data offset 4 < 5");
  EXPECT_EQ(ErrorOf(Ipv6(kTcp, Tcp(1, 2, kSyn, 0))), "TCP data offset 0 < 5");
}

TEST(PacketParserTest, RejectsMalformedIpv6) {
  EXPECT_EQ(ErrorOf(Bytes{0x60, 0, 0, 0}), "truncated IPv6 header: 4 bytes present, 40 needed");
  EXPECT_EQ(ErrorOf(Ipv6(kEsp, Bytes(16, 0))), "IPv6 ESP (50): encrypted, no transport header");
  EXPECT_EQ(ErrorOf(Ipv6(kNoNext, {})), "IPv6 no next header (59): no transport header");
  EXPECT_EQ(ErrorOf(Ipv6(kDestOpts, Extension(kNoNext))),
            "IPv6 no next header (59): no transport header");
  EXPECT_EQ(ErrorOf(Ipv6(kHopByHop, Extension(kEsp))),
            "IPv6 ESP (50): encrypted, no transport header");
}

TEST(PacketParserTest, RejectsIpv6NonFirstFragment) {
  EXPECT_EQ(ErrorOf(Ipv6(kFragment, Cat(FragmentHeader(kUdp, 181, false), Bytes(64, 0)))),
            "non-first fragment (IPv6 fragment offset 181)");
}

TEST(PacketParserTest, RejectsTruncatedIpv6ExtensionHeaders) {
  EXPECT_EQ(ErrorOf(Ipv6(kHopByHop, {})),
            "truncated IPv6 hop-by-hop options extension header: 0 bytes present, 2 needed");
  Bytes routing = Extension(kUdp, 1);  // claims 16 bytes
  routing.resize(8);
  EXPECT_EQ(ErrorOf(Ipv6(kRouting, routing)),
            "truncated IPv6 routing extension header: 8 bytes present, 16 needed");
  EXPECT_EQ(ErrorOf(Ipv6(kFragment, Bytes(6, 0))),
            "truncated IPv6 fragment extension header: 6 bytes present, 8 needed");
  Bytes ah = AuthHeader(kUdp, 1);  // 16 bytes
  ah.resize(12);
  EXPECT_EQ(ErrorOf(Ipv6(kAh, ah)),
            "truncated IPv6 authentication extension header: 12 bytes present, 16 needed");
  // The payload length, not just the capture, bounds the walk.
  Bytes packet = Ipv6(kDestOpts, Cat(Extension(kUdp), Udp(1, 2)));
  PutBe16(packet, 4, 4);
  EXPECT_EQ(ErrorOf(packet),
            "truncated IPv6 destination options extension header: 4 bytes present, 8 needed");
}

TEST(PacketParserTest, RejectsTooManyIpv6ExtensionHeaders) {
  Bytes payload = Udp(1, 2);
  uint8_t next = kUdp;
  for (size_t i = 0; i < kMaxIpv6ExtensionHeaders + 1; ++i) {
    payload = Cat(Extension(next), payload);
    next = kDestOpts;
  }
  EXPECT_EQ(ErrorOf(Ipv6(next, payload)), "too many IPv6 extension headers (more than 8)");

  // Headers that name each other forever: still bounded.
  Bytes looping;
  for (int i = 0; i < 64; ++i) looping = Cat(looping, Extension(kHopByHop));
  EXPECT_EQ(ErrorOf(Ipv6(kHopByHop, looping)), "too many IPv6 extension headers (more than 8)");
}

// Every prefix of a good packet: shorter than its headers → an error, otherwise the same flow.
TEST(PacketParserTest, EveryPrefixEitherFailsOrGivesTheSameFlow) {
  struct Case {
    Bytes packet;
    size_t headers;  // bytes the parser needs
  };
  const Case cases[] = {
      {Ipv4(kTcp, Cat(Tcp(1, 2, kSyn), Bytes(30, 'x')), Bytes(8, 1)), 28 + 20},
      {Ipv4(kIcmp, Icmp(8, 0)), 20 + 8},
      {Ipv6(kHopByHop, Cat(Cat(Extension(kFragment), FragmentHeader(kSctp, 0, true)),
                           Cat(Sctp(3, 4), Bytes(20, 'y')))),
       40 + 16 + 12},
      {Ipv6(kIcmpV6, Icmp(128, 0)), 40 + 4},
  };
  for (const auto& c : cases) {
    auto full = Parse(c.packet);
    ASSERT_TRUE(full.ok()) << full.error().message;
    for (size_t n = 0; n <= c.packet.size(); ++n) {
      const Bytes prefix(c.packet.begin(), c.packet.begin() + static_cast<ptrdiff_t>(n));
      auto flow = Parse(prefix);
      EXPECT_EQ(flow.ok(), n >= c.headers) << "prefix " << n;
      if (!flow.ok()) continue;
      EXPECT_EQ(flow->protocol, full->protocol);
      EXPECT_EQ(flow->src, full->src);
      EXPECT_EQ(flow->dst_port, full->dst_port);
      EXPECT_EQ(flow->icmp_type, full->icmp_type);
    }
  }
}

}  // namespace
}  // namespace picket

namespace picket {
namespace {

std::string PayloadOf(const Bytes& bytes) {
  auto packet = ParsePacketWithPayload(bytes);
  if (!packet.ok()) return "<error: " + packet.error().message + ">";
  return std::string(packet->payload.begin(), packet->payload.end());
}

TEST(PacketParserTest, PayloadAfterUdpAndTcpHeaders) {
  EXPECT_EQ(PayloadOf(Ipv4(kUdp, Udp(5353, 53))), "ping");
  EXPECT_EQ(PayloadOf(Ipv6(kHopByHop, Cat(Extension(kUdp), Udp(5353, 53)))), "ping");
  // TCP with 8 bytes of options (data offset 7): the payload starts after them.
  EXPECT_EQ(PayloadOf(Ipv4(kTcp, Cat(Tcp(53, 40000, kAck, 7), Cat(Bytes(8, 0), Bytes{'d', 'n', 's'})))), "dns");
  EXPECT_EQ(PayloadOf(Ipv4(kTcp, Tcp(1, 2, kSyn))), "");
  EXPECT_EQ(PayloadOf(Ipv4(kIcmp, Icmp(8, 0))), "");
}

TEST(PacketParserTest, PayloadStopsAtTheIpLengthAndTheCapture) {
  Bytes packet = Ipv4(kUdp, Udp(5353, 53));
  Bytes padded = Cat(packet, Bytes{'x', 'x'});
  EXPECT_EQ(PayloadOf(padded), "ping") << "bytes beyond the IPv4 total length are not payload";
  packet.pop_back();
  EXPECT_EQ(PayloadOf(packet), "pin") << "a capture prefix gives a prefix of the payload";
  // TCP data offset pointing past the capture: an empty payload, not an overrun.
  EXPECT_EQ(PayloadOf(Ipv4(kTcp, Tcp(1, 2, kAck, 15))), "");
}

}  // namespace
}  // namespace picket
