// FlowOwnerMap against the real kernel: the test process moves into its own network namespace
// (loopback only), loads and attaches bpf/flow_owner.bpf.c, makes TCP and UDP flows and checks
// that each is recorded with this process as owner. Needs root; skips otherwise.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

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

}  // namespace
}  // namespace picket
