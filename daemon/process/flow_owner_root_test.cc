// FlowOwnerMap against the real kernel: the test process moves into its own network namespace
// (loopback only), loads and attaches bpf/flow_owner.bpf.c, makes TCP, UDP and raw-socket flows
// and checks that each is recorded with this process as owner; raw sockets only while the netfilter
// hook is on. Needs root; skips otherwise.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>

#include "common/unique_fd.h"
#include "process/flow_owner_map.h"

namespace picket {
namespace {

bool LoopbackUp() {
  UniqueFd fd(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  ifreq req{};
  std::strncpy(req.ifr_name, "lo", IFNAMSIZ - 1);
  if (ioctl(fd.get(), SIOCGIFFLAGS, &req) != 0) return false;
  req.ifr_flags |= IFF_UP;
  return ioctl(fd.get(), SIOCSIFFLAGS, &req) == 0;
}

uint16_t LocalPort(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  return ss.ss_family == AF_INET ? ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port)
                                 : ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
}

sockaddr_in Loopback4(uint16_t port) {
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(port);
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return sin;
}

Flow LoopbackFlow(Protocol protocol, uint16_t sport, uint16_t dport) {
  Flow flow;
  flow.protocol = protocol;
  flow.src = *IpAddress::Parse("127.0.0.1");
  flow.dst = *IpAddress::Parse("127.0.0.1");
  flow.src_port = sport;
  flow.dst_port = dport;
  flow.uid = getuid();
  return flow;
}

uint16_t InternetChecksum(const uint8_t* bytes, size_t size) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < size; i += 2) sum += static_cast<uint32_t>(bytes[i] << 8 | bytes[i + 1]);
  if (size % 2 != 0) sum += static_cast<uint32_t>(bytes[size - 1] << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

// One ICMP echo request with identifier `id` from a raw socket to the loopback address.
void SendRawEcho(int family, uint16_t id) {
  const int proto = family == AF_INET ? static_cast<int>(IPPROTO_ICMP) : static_cast<int>(IPPROTO_ICMPV6);
  UniqueFd sock(socket(family, SOCK_RAW | SOCK_CLOEXEC, proto));
  ASSERT_TRUE(sock.valid()) << std::strerror(errno);
  uint8_t echo[16] = {static_cast<uint8_t>(family == AF_INET ? 8 : 128), 0, 0, 0, static_cast<uint8_t>(id >> 8),
                      static_cast<uint8_t>(id), 0, 1};
  if (family == AF_INET) {  // ICMPv6: the kernel computes the checksum
    const uint16_t sum = InternetChecksum(echo, sizeof(echo));
    echo[2] = static_cast<uint8_t>(sum >> 8);
    echo[3] = static_cast<uint8_t>(sum);
  }
  sockaddr_storage dst{};
  socklen_t len = 0;
  if (family == AF_INET) {
    *reinterpret_cast<sockaddr_in*>(&dst) = Loopback4(0);
    len = sizeof(sockaddr_in);
  } else {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&dst);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_addr = in6addr_loopback;
    len = sizeof(sockaddr_in6);
  }
  ASSERT_EQ(sendto(sock.get(), echo, sizeof(echo), 0, reinterpret_cast<sockaddr*>(&dst), len),
            static_cast<ssize_t>(sizeof(echo)))
      << std::strerror(errno);
}

Flow EchoFlow(int family, uint16_t id) {
  Flow flow;
  flow.protocol = family == AF_INET ? Protocol::kIcmp : Protocol::kIcmpV6;
  flow.src = *IpAddress::Parse(family == AF_INET ? "127.0.0.1" : "::1");
  flow.dst = flow.src;
  flow.icmp_type = family == AF_INET ? 8 : 128;
  flow.icmp_id = id;
  flow.uid = getuid();
  return flow;
}

// A TCP SYN built by hand (IP_HDRINCL, as nmap sends them) from 127.0.0.1:sport to 127.0.0.1:dport.
void SendHdrinclSyn(uint16_t sport, uint16_t dport) {
  UniqueFd sock(socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW));  // IPPROTO_RAW implies IP_HDRINCL
  ASSERT_TRUE(sock.valid()) << std::strerror(errno);
  uint8_t packet[40] = {0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, IPPROTO_TCP, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1};
  uint8_t* tcp = packet + 20;
  tcp[0] = static_cast<uint8_t>(sport >> 8);
  tcp[1] = static_cast<uint8_t>(sport);
  tcp[2] = static_cast<uint8_t>(dport >> 8);
  tcp[3] = static_cast<uint8_t>(dport);
  tcp[7] = 1;        // sequence number
  tcp[12] = 5 << 4;  // data offset: 20 bytes
  tcp[13] = 0x02;    // SYN
  tcp[14] = 0xff;    // window
  uint8_t pseudo[12 + 20] = {127, 0, 0, 1, 127, 0, 0, 1, 0, IPPROTO_TCP, 0, 20};
  std::memcpy(pseudo + 12, tcp, 20);
  const uint16_t sum = InternetChecksum(pseudo, sizeof(pseudo));
  tcp[16] = static_cast<uint8_t>(sum >> 8);
  tcp[17] = static_cast<uint8_t>(sum);
  sockaddr_in dst = Loopback4(dport);
  ASSERT_EQ(sendto(sock.get(), packet, sizeof(packet), 0, reinterpret_cast<sockaddr*>(&dst), sizeof(dst)), 40)
      << std::strerror(errno);
}

class FlowOwnerRootTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (geteuid() != 0) return;
    // The whole test process lives in a fresh network namespace from here on.
    ASSERT_EQ(unshare(CLONE_NEWNET), 0) << std::strerror(errno);
    ASSERT_TRUE(LoopbackUp());
  }
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (BPF, network namespace)";
    auto map = FlowOwnerMap::Open();
    ASSERT_TRUE(map.ok()) << map.error().message;
    map_ = std::move(*map);
  }
  void ExpectMine(const FlowOwner& owner) {
    EXPECT_EQ(owner.tgid, static_cast<uint32_t>(getpid()));
    EXPECT_EQ(owner.uid, getuid());
    EXPECT_NE(owner.start_ns, 0u);
    EXPECT_NE(owner.cgroup_id, 0u);
  }
  // An unconnected UDP datagram to loopback `port` is in `map` (the cgroup programs work).
  void ExpectUdpSendtoRecorded(const FlowOwnerMap& map, uint16_t port) {
    UniqueFd sock(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_in dst = Loopback4(port);
    ASSERT_EQ(sendto(sock.get(), "x", 1, 0, reinterpret_cast<sockaddr*>(&dst), sizeof(dst)), 1);
    EXPECT_TRUE(map.Lookup(LoopbackFlow(Protocol::kUdp, LocalPort(sock.get()), port)).has_value()) << port;
  }
  // Raw-socket checks need the netfilter hook; a kernel that refuses it is not this test's subject.
  bool SkipWithoutNetfilterHook() {
    if (map_->netfilter_status() == "unavailable") return true;
    EXPECT_TRUE(map_->netfilter_hook()) << map_->netfilter_status();
    return false;
  }
  std::unique_ptr<FlowOwnerMap> map_;
};

TEST_F(FlowOwnerRootTest, TcpConnectIsRecordedExactlyWithItsSourcePortAndCookie) {
  UniqueFd listener(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in any = Loopback4(0);
  ASSERT_EQ(bind(listener.get(), reinterpret_cast<sockaddr*>(&any), sizeof(any)), 0);
  ASSERT_EQ(listen(listener.get(), 4), 0);
  const uint16_t dport = LocalPort(listener.get());
  UniqueFd client(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in dst = Loopback4(dport);
  ASSERT_EQ(connect(client.get(), reinterpret_cast<sockaddr*>(&dst), sizeof(dst)), 0);
  const uint16_t sport = LocalPort(client.get());

  auto hit = map_->Lookup(LoopbackFlow(Protocol::kTcp, sport, dport));
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(hit->match, FlowKeyMatch::kExact);
  ExpectMine(hit->owner);
  // Another source port, or UDP, is not this flow.
  EXPECT_FALSE(map_->Lookup(LoopbackFlow(Protocol::kTcp, static_cast<uint16_t>(sport + 1), dport)).has_value());
  EXPECT_FALSE(map_->Lookup(LoopbackFlow(Protocol::kUdp, sport, dport)).has_value());

  uint64_t cookie = 0;
  socklen_t len = sizeof(cookie);
  ASSERT_EQ(getsockopt(client.get(), SOL_SOCKET, SO_COOKIE, &cookie, &len), 0);
  auto stamped = map_->LookupCookie(cookie);
  ASSERT_TRUE(stamped.has_value());
  ExpectMine(*stamped);
  EXPECT_EQ(stamped->start_ns, hit->owner.start_ns);
}

TEST_F(FlowOwnerRootTest, UnconnectedUdpSendtoIsRecordedUnderTheSourceWildcard) {
  UniqueFd sock(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_in dst = Loopback4(9);
  ASSERT_EQ(sendto(sock.get(), "x", 1, 0, reinterpret_cast<sockaddr*>(&dst), sizeof(dst)), 1);
  auto hit = map_->Lookup(LoopbackFlow(Protocol::kUdp, LocalPort(sock.get()), 9));
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(hit->match, FlowKeyMatch::kSourceWildcard);
  ExpectMine(hit->owner);
}

TEST_F(FlowOwnerRootTest, ConnectedUdpIsRecordedExactlyAtSendAndByCookie) {
  UniqueFd sock(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_in dst = Loopback4(10);
  ASSERT_EQ(connect(sock.get(), reinterpret_cast<sockaddr*>(&dst), sizeof(dst)), 0);
  uint64_t cookie = 0;
  socklen_t len = sizeof(cookie);
  ASSERT_EQ(getsockopt(sock.get(), SOL_SOCKET, SO_COOKIE, &cookie, &len), 0);
  ASSERT_TRUE(map_->LookupCookie(cookie).has_value());
  EXPECT_FALSE(map_->Lookup(LoopbackFlow(Protocol::kUdp, LocalPort(sock.get()), 10)).has_value())
      << "nothing sent yet";
  ASSERT_EQ(send(sock.get(), "x", 1, 0), 1);
  auto hit = map_->Lookup(LoopbackFlow(Protocol::kUdp, LocalPort(sock.get()), 10));
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(hit->match, FlowKeyMatch::kExact);
  ExpectMine(hit->owner);
}

TEST_F(FlowOwnerRootTest, Ipv4MappedIpv6IsKeyedAsIpv4) {
  UniqueFd sock(socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_in6 dst{};
  dst.sin6_family = AF_INET6;
  dst.sin6_port = htons(11);
  ASSERT_EQ(inet_pton(AF_INET6, "::ffff:127.0.0.1", &dst.sin6_addr), 1);
  ASSERT_EQ(sendto(sock.get(), "x", 1, 0, reinterpret_cast<sockaddr*>(&dst), sizeof(dst)), 1);
  // The queued packet is IPv4; so is the lookup.
  auto hit = map_->Lookup(LoopbackFlow(Protocol::kUdp, LocalPort(sock.get()), 11));
  ASSERT_TRUE(hit.has_value());
  ExpectMine(hit->owner);
  // And a mapped address in the queried flow is normalised the same way.
  Flow mapped = LoopbackFlow(Protocol::kUdp, LocalPort(sock.get()), 11);
  mapped.dst = *IpAddress::Parse("::ffff:127.0.0.1");
  EXPECT_TRUE(map_->Lookup(mapped).has_value());
}

TEST_F(FlowOwnerRootTest, FlowsOfAnotherNetworkNamespaceAreNotSeen) {
  // A second instance (multi-attach: both run) opened in another namespace keys its lookups with
  // that namespace's cookie, so it does not see flows of this one although its programs record them.
  const int saved = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(saved, 0);
  ASSERT_EQ(unshare(CLONE_NEWNET), 0);
  auto other = FlowOwnerMap::Open();
  ASSERT_EQ(setns(saved, CLONE_NEWNET), 0);
  close(saved);
  ASSERT_TRUE(other.ok()) << other.error().message;
  EXPECT_NE((*other)->netns_cookie(), map_->netns_cookie());

  UniqueFd sock(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_in dst = Loopback4(12);
  ASSERT_EQ(sendto(sock.get(), "x", 1, 0, reinterpret_cast<sockaddr*>(&dst), sizeof(dst)), 1);
  const Flow flow = LoopbackFlow(Protocol::kUdp, LocalPort(sock.get()), 12);
  EXPECT_TRUE(map_->Lookup(flow).has_value());
  EXPECT_FALSE((*other)->Lookup(flow).has_value());
  EXPECT_GT((*other)->counters().written, 0u);
}

TEST_F(FlowOwnerRootTest, SocketCreationStampsTheCookieWithoutConnect) {
  const uint64_t created = map_->counters().cookies_created;
  UniqueFd sock(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  uint64_t cookie = 0;
  socklen_t len = sizeof(cookie);
  ASSERT_EQ(getsockopt(sock.get(), SOL_SOCKET, SO_COOKIE, &cookie, &len), 0);
  auto stamped = map_->LookupCookie(cookie);
  ASSERT_TRUE(stamped.has_value()) << "no cookie entry for a socket that never connected";
  ExpectMine(*stamped);
  EXPECT_GT(map_->counters().cookies_created, created);
  // A unix socket is not stamped.
  UniqueFd local(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  ASSERT_EQ(getsockopt(local.get(), SOL_SOCKET, SO_COOKIE, &cookie, &len), 0);
  EXPECT_FALSE(map_->LookupCookie(cookie).has_value());
}

TEST_F(FlowOwnerRootTest, RawIcmpEchoIsRecordedByTheNetfilterHook) {
  if (SkipWithoutNetfilterHook()) GTEST_SKIP() << "kernel refused the netfilter program";
  const uint64_t before = map_->counters().netfilter_written;
  for (int family : {AF_INET, AF_INET6}) {
    SendRawEcho(family, 0x5a01);
    auto hit = map_->Lookup(EchoFlow(family, 0x5a01));
    ASSERT_TRUE(hit.has_value()) << (family == AF_INET ? "icmp" : "icmp6");
    EXPECT_EQ(hit->match, FlowKeyMatch::kExact);
    ExpectMine(hit->owner);
    EXPECT_FALSE(map_->Lookup(EchoFlow(family, 0x5a02)).has_value()) << "another identifier";
  }
  EXPECT_GE(map_->counters().netfilter_written, before + 2);
}

TEST_F(FlowOwnerRootTest, HdrinclTcpSynIsRecordedExactly) {
  if (SkipWithoutNetfilterHook()) GTEST_SKIP() << "kernel refused the netfilter program";
  SendHdrinclSyn(40001, 9);
  auto hit = map_->Lookup(LoopbackFlow(Protocol::kTcp, 40001, 9));
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(hit->match, FlowKeyMatch::kExact);
  ExpectMine(hit->owner);
  EXPECT_FALSE(map_->Lookup(LoopbackFlow(Protocol::kTcp, 40002, 9)).has_value());
}

TEST_F(FlowOwnerRootTest, KernelIcmpErrorsAreNotRecorded) {
  if (SkipWithoutNetfilterHook()) GTEST_SKIP() << "kernel refused the netfilter program";
  // A datagram to a closed port: the kernel answers with port unreachable from its own ICMP socket
  // (SOCK_RAW, no file), often in this task's context; it must not be recorded as this process.
  UniqueFd sock(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_in dst = Loopback4(13);
  const uint64_t before = map_->counters().netfilter_written;
  ASSERT_EQ(sendto(sock.get(), "x", 1, 0, reinterpret_cast<sockaddr*>(&dst), sizeof(dst)), 1);
  usleep(20000);  // loopback delivers (and answers) in softirq, normally before sendto returns
  Flow unreachable = LoopbackFlow(Protocol::kIcmp, 0, 0);
  unreachable.icmp_type = 3;
  unreachable.icmp_code = 3;
  EXPECT_FALSE(map_->Lookup(unreachable).has_value());
  EXPECT_EQ(map_->counters().netfilter_written, before);
}

TEST_F(FlowOwnerRootTest, ARefusedNetfilterHookLeavesTheRestWorking) {
  // NF_IP_PRI_FIRST is refused by the kernel (EINVAL): as on a kernel without netfilter programs,
  // Open succeeds without the hook and the cgroup programs still record.
  auto refused = FlowOwnerMap::Open(FlowOwnerMapOptions{
      .netfilter_hook = true, .local_out_hooks = {LocalOutHook::kNetfilterLink}, .netfilter_priority = INT32_MIN});
  ASSERT_TRUE(refused.ok()) << refused.error().message;
  EXPECT_FALSE((*refused)->netfilter_hook());
  EXPECT_EQ((*refused)->netfilter_status(), "unavailable");
  EXPECT_NE((*refused)->netfilter_refused().find("netfilter link: bpf(BPF_LINK_CREATE)"), std::string::npos)
      << (*refused)->netfilter_refused();
  ExpectUdpSendtoRecorded(**refused, 14);
}

TEST_F(FlowOwnerRootTest, WhenTheNetfilterLinkIsRefusedFentryThenKprobeAreTried) {
  // The optional extras: on a kernel that takes fentry or kprobes on nf_hook_slow, raw packets are
  // still recorded before the queue; where neither is allowed (this test machine: fentry EPERM, no
  // kprobe PMU) each refusal is named and nothing else depends on them.
  auto map = FlowOwnerMap::Open(FlowOwnerMapOptions{.netfilter_hook = true, .netfilter_priority = INT32_MIN});
  ASSERT_TRUE(map.ok()) << map.error().message;
  const std::string& refused = (*map)->netfilter_refused();
  EXPECT_EQ(refused.rfind("netfilter link: ", 0), 0u) << refused;
  const std::string status = (*map)->netfilter_status();
  if (status == "fentry" || status == "kprobe") {
    EXPECT_EQ((*map)->netfilter_hook(), true);
    EXPECT_EQ((*map)->local_out_hook(), status == "fentry" ? LocalOutHook::kFentry : LocalOutHook::kKprobe);
    SendRawEcho(AF_INET, 0x5a04);
    auto hit = (*map)->Lookup(EchoFlow(AF_INET, 0x5a04));
    ASSERT_TRUE(hit.has_value()) << status;
    ExpectMine(hit->owner);
  } else {
    EXPECT_EQ(status, "unavailable");
    EXPECT_FALSE((*map)->netfilter_hook());
    EXPECT_NE(refused.find("; fentry/nf_hook_slow: bpf flow_owner "), std::string::npos) << refused;
    EXPECT_NE(refused.find("; kprobe/nf_hook_slow: bpf flow_owner "), std::string::npos) << refused;
  }
  ExpectUdpSendtoRecorded(**map, 15);
}

TEST_F(FlowOwnerRootTest, WithoutTheSendLengthTracepointAConnectedSocketIsFoundByItsCookie) {
  // As on a kernel before sock_send_length: a connected UDP send writes no flow entry, the socket's
  // cookie (stamped at connect) still names its owner.
  auto plain = FlowOwnerMap::Open(FlowOwnerMapOptions{.netfilter_hook = false, .send_length_hook = false});
  ASSERT_TRUE(plain.ok()) << plain.error().message;
  EXPECT_FALSE((*plain)->send_length_hook());
  EXPECT_TRUE(map_->send_length_hook());
  UniqueFd sock(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_in dst = Loopback4(16);
  ASSERT_EQ(connect(sock.get(), reinterpret_cast<sockaddr*>(&dst), sizeof(dst)), 0);
  ASSERT_EQ(send(sock.get(), "x", 1, 0), 1);
  const Flow flow = LoopbackFlow(Protocol::kUdp, LocalPort(sock.get()), 16);
  EXPECT_FALSE((*plain)->Lookup(flow).has_value());
  EXPECT_TRUE(map_->Lookup(flow).has_value()) << "the default instance records it after the send";
  uint64_t cookie = 0;
  socklen_t len = sizeof(cookie);
  ASSERT_EQ(getsockopt(sock.get(), SOL_SOCKET, SO_COOKIE, &cookie, &len), 0);
  auto stamped = (*plain)->LookupCookie(cookie);
  ASSERT_TRUE(stamped.has_value());
  ExpectMine(*stamped);
}

TEST_F(FlowOwnerRootTest, WithoutTheNetfilterHookRawPacketsAreNotRecorded) {
  // A second instance without the hook (its own maps): the raw echo is not in them, so the daemon
  // goes on to its fallback rather than naming anyone.
  auto plain = FlowOwnerMap::Open(FlowOwnerMapOptions{.netfilter_hook = false});
  ASSERT_TRUE(plain.ok()) << plain.error().message;
  EXPECT_FALSE((*plain)->netfilter_hook());
  EXPECT_EQ((*plain)->netfilter_status(), "off");
  SendRawEcho(AF_INET, 0x5a03);
  EXPECT_FALSE((*plain)->Lookup(EchoFlow(AF_INET, 0x5a03)).has_value());
  EXPECT_EQ((*plain)->counters().netfilter_written, 0u);
  if (map_->netfilter_hook()) {
    EXPECT_TRUE(map_->Lookup(EchoFlow(AF_INET, 0x5a03)).has_value());
  }
}

}  // namespace
}  // namespace picket
