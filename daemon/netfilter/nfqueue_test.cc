// Root test: the test process moves into its own network namespace (unshare(CLONE_NEWNET)), queues
// its own loopback datagrams with iptables NFQUEUE rules there, and checks what NfQueue reads and
// what its verdicts do. The namespace, its rules and its queues disappear with the process.
#include "netfilter/nfqueue.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "common/unique_fd.h"

namespace picket {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

constexpr milliseconds kArrivalWait{2000};
constexpr milliseconds kAbsenceWait{300};

int Shell(const std::string& command) {
  const int status = std::system((command + " >/dev/null 2>&1").c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string Output(const std::string& command) {
  std::string out;
  if (FILE* pipe = popen((command + " 2>/dev/null").c_str(), "r")) {
    char buffer[512];
    while (size_t n = fread(buffer, 1, sizeof(buffer), pipe)) out.append(buffer, n);
    pclose(pipe);
  }
  return out;
}

ino_t NetnsInode(const char* path) {
  struct stat st {};
  return stat(path, &st) == 0 ? st.st_ino : 0;
}

enum class Family { kV4, kV6 };

const char* LoopbackText(Family family) { return family == Family::kV4 ? "127.0.0.1" : "::1"; }
const char* Iptables(Family family) { return family == Family::kV4 ? "iptables" : "ip6tables"; }

// A loopback socket address with port.
struct Endpoint {
  sockaddr_storage storage{};
  socklen_t length = 0;
  uint16_t port = 0;
};

Endpoint Loopback(Family family, uint16_t port) {
  Endpoint e;
  e.port = port;
  if (family == Family::kV4) {
    auto* a = reinterpret_cast<sockaddr_in*>(&e.storage);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    e.length = sizeof(sockaddr_in);
  } else {
    auto* a = reinterpret_cast<sockaddr_in6*>(&e.storage);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    a->sin6_addr = in6addr_loopback;
    e.length = sizeof(sockaddr_in6);
  }
  return e;
}

// A socket bound to loopback port 0; returns it with the port the kernel chose.
std::pair<UniqueFd, uint16_t> BoundSocket(Family family, int type) {
  UniqueFd fd(socket(family == Family::kV4 ? AF_INET : AF_INET6, type | SOCK_CLOEXEC, 0));
  Endpoint e = Loopback(family, 0);
  if (!fd.valid() || bind(fd.get(), reinterpret_cast<sockaddr*>(&e.storage), e.length) != 0) {
    return {UniqueFd(), 0};
  }
  sockaddr_storage bound{};
  socklen_t length = sizeof(bound);
  getsockname(fd.get(), reinterpret_cast<sockaddr*>(&bound), &length);
  const uint16_t port = family == Family::kV4
                            ? ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port)
                            : ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
  return {std::move(fd), port};
}

bool SendTo(int fd, Family family, uint16_t port, const std::string& data) {
  Endpoint e = Loopback(family, port);
  return sendto(fd, data.data(), data.size(), 0, reinterpret_cast<sockaddr*>(&e.storage),
                e.length) == static_cast<ssize_t>(data.size());
}

std::optional<std::string> Receive(int fd, milliseconds timeout) {
  pollfd pfd{fd, POLLIN, 0};
  if (poll(&pfd, 1, static_cast<int>(timeout.count())) != 1) return std::nullopt;
  char buffer[2048];
  const ssize_t n = recv(fd, buffer, sizeof(buffer), MSG_DONTWAIT);
  if (n < 0) return std::nullopt;
  return std::string(buffer, static_cast<size_t>(n));
}

std::vector<std::string> ReceiveAll(int fd, size_t at_most, milliseconds timeout) {
  std::vector<std::string> got;
  const auto deadline = Clock::now() + timeout;
  while (got.size() < at_most && Clock::now() < deadline) {
    auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
    if (auto data = Receive(fd, left)) got.push_back(*data);
  }
  return got;
}

// Polls the queue until `want` packets were read or `timeout` passed.
std::vector<QueuedPacket> ReadPackets(NfQueue& queue, size_t want, milliseconds timeout) {
  std::vector<QueuedPacket> packets;
  const auto deadline = Clock::now() + timeout;
  while (packets.size() < want && Clock::now() < deadline) {
    pollfd pfd{queue.fd(), POLLIN, 0};
    auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
    if (poll(&pfd, 1, static_cast<int>(std::max<int64_t>(left.count(), 0))) != 1) continue;
    auto read = queue.ReadAvailable([&](const QueuedPacket& p) { packets.push_back(p); });
    EXPECT_TRUE(read.ok()) << read.error().message;
    if (!read.ok()) break;
  }
  return packets;
}

class NfQueueTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (geteuid() != 0) return;
    const ino_t before = NetnsInode("/proc/self/ns/net");
    in_own_netns_ = unshare(CLONE_NEWNET) == 0 && NetnsInode("/proc/self/ns/net") != before &&
                    NetnsInode("/proc/self/ns/net") != NetnsInode("/proc/1/ns/net") &&
                    Shell("ip link set lo up") == 0;
  }

  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (network namespace, iptables, NFQUEUE)";
    ASSERT_TRUE(in_own_netns_) << "could not create a private network namespace";
  }

  void TearDown() override {
    if (!in_own_netns_) return;
    for (const char* tool : {"iptables", "ip6tables"}) {
      Shell(std::string(tool) + " -F OUTPUT");
      Shell(std::string(tool) + " -t mangle -F");
    }
  }

  // Queues UDP (or TCP SYNs) to loopback `port` in queue `queue_num`.
  void QueueRule(Family family, const std::string& match, uint16_t port, uint16_t queue_num) {
    const std::string rule =
        std::string(Iptables(family)) + " -w -A OUTPUT -d " + LoopbackText(family) + " " + match +
        " --dport " + std::to_string(port) + " -j NFQUEUE --queue-num " + std::to_string(queue_num);
    ASSERT_EQ(Shell(rule), 0) << rule;
  }

  std::unique_ptr<NfQueue> OpenQueue(QueueOptions options) {
    auto queue = NfQueue::Open(options);
    EXPECT_TRUE(queue.ok()) << queue.error().message;
    return queue.ok() ? std::move(*queue) : nullptr;
  }

  void AcceptDeliversDatagram(Family family, uint16_t queue_num);
  void QueueOverflow(FailMode mode, uint16_t queue_num, size_t expect_at_once);

  static bool in_own_netns_;
};

bool NfQueueTest::in_own_netns_ = false;

void ExpectLoopbackUdp(const QueuedPacket& packet, Family family, uint16_t src_port,
                       uint16_t dst_port) {
  ASSERT_TRUE(packet.flow.ok()) << packet.flow.error().message;
  const Flow& flow = *packet.flow;
  EXPECT_EQ(flow.protocol, Protocol::kUdp);
  EXPECT_EQ(flow.protocol_name(), family == Family::kV4 ? "udp" : "udp6");
  EXPECT_EQ(flow.src.ToString(), LoopbackText(family));
  EXPECT_EQ(flow.dst.ToString(), LoopbackText(family));
  EXPECT_EQ(flow.src_port, src_port);
  EXPECT_EQ(flow.dst_port, dst_port);
  EXPECT_EQ(flow.uid, geteuid());
  EXPECT_EQ(flow.gid, getegid());
  EXPECT_EQ(flow.in_ifindex, 0u);
  EXPECT_EQ(flow.in_iface, "");
  EXPECT_EQ(flow.out_ifindex, if_nametoindex("lo"));
  EXPECT_EQ(flow.out_iface, "lo");
}

void NfQueueTest::AcceptDeliversDatagram(Family family, uint16_t queue_num) {
  auto [receiver, port] = BoundSocket(family, SOCK_DGRAM);
  auto [sender, sender_port] = BoundSocket(family, SOCK_DGRAM);
  ASSERT_TRUE(receiver.valid() && sender.valid());
  QueueRule(family, "-p udp", port, queue_num);
  QueueOptions options;
  options.queue_num = queue_num;
  auto queue = NfQueue::Open(options);
  ASSERT_TRUE(queue.ok()) << queue.error().message;

  ASSERT_TRUE(SendTo(sender.get(), family, port, "hello"));
  auto packets = ReadPackets(**queue, 1, kArrivalWait);
  ASSERT_EQ(packets.size(), 1u);
  ExpectLoopbackUdp(packets[0], family, sender_port, port);
  EXPECT_EQ(packets[0].mark, 0u);
  EXPECT_FALSE(Receive(receiver.get(), kAbsenceWait)) << "delivered before the verdict";

  (*queue)->AddVerdict(packets[0].id, Verdict::kAccept, std::nullopt);
  ASSERT_TRUE((*queue)->SendVerdicts().ok());
  EXPECT_EQ(Receive(receiver.get(), kArrivalWait), "hello");
  const QueueCounters& c = (*queue)->counters();
  EXPECT_EQ(c.packets, 1u);
  EXPECT_EQ(c.parse_errors, 0u);
  EXPECT_EQ(c.verdicts, 1u);
  EXPECT_EQ(c.verdict_batches, 1u);
  EXPECT_EQ(c.netlink_errors, 0u);
}

TEST_F(NfQueueTest, UdpV4AcceptDeliversWithFlowFields) { AcceptDeliversDatagram(Family::kV4, 1); }

TEST_F(NfQueueTest, UdpV6AcceptDeliversWithFlowFields) { AcceptDeliversDatagram(Family::kV6, 2); }

TEST_F(NfQueueTest, UidIsTheSendingProcessUser) {
  auto [receiver, port] = BoundSocket(Family::kV4, SOCK_DGRAM);
  ASSERT_TRUE(receiver.valid());
  QueueRule(Family::kV4, "-p udp", port, 3);
  auto queue = OpenQueue({.queue_num = 3});
  ASSERT_TRUE(queue);

  constexpr uid_t kNobody = 65534;
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const bool ok =
        setresgid(kNobody, kNobody, kNobody) == 0 && setresuid(kNobody, kNobody, kNobody) == 0;
    UniqueFd fd(socket(AF_INET, SOCK_DGRAM, 0));
    _exit(ok && SendTo(fd.get(), Family::kV4, port, "nobody") ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);

  auto packets = ReadPackets(*queue, 1, kArrivalWait);
  ASSERT_EQ(packets.size(), 1u);
  ASSERT_TRUE(packets[0].flow.ok()) << packets[0].flow.error().message;
  EXPECT_EQ(packets[0].flow->uid, kNobody);
  EXPECT_EQ(packets[0].flow->gid, kNobody);
  queue->AddVerdict(packets[0].id, Verdict::kAccept, std::nullopt);
  ASSERT_TRUE(queue->SendVerdicts().ok());
  EXPECT_EQ(Receive(receiver.get(), kArrivalWait), "nobody");
}

TEST_F(NfQueueTest, DropIsNotDelivered) {
  auto [receiver, port] = BoundSocket(Family::kV4, SOCK_DGRAM);
  auto [sender, sender_port] = BoundSocket(Family::kV4, SOCK_DGRAM);
  ASSERT_TRUE(receiver.valid() && sender.valid());
  QueueRule(Family::kV4, "-p udp", port, 4);
  auto queue = OpenQueue({.queue_num = 4});
  ASSERT_TRUE(queue);

  ASSERT_TRUE(SendTo(sender.get(), Family::kV4, port, "dropped"));
  auto packets = ReadPackets(*queue, 1, kArrivalWait);
  ASSERT_EQ(packets.size(), 1u);
  ExpectLoopbackUdp(packets[0], Family::kV4, sender_port, port);
  queue->AddVerdict(packets[0].id, Verdict::kDrop, std::nullopt);
  ASSERT_TRUE(queue->SendVerdicts().ok());
  EXPECT_FALSE(Receive(receiver.get(), kAbsenceWait));

  // The queue keeps working after a drop.
  ASSERT_TRUE(SendTo(sender.get(), Family::kV4, port, "second"));
  packets = ReadPackets(*queue, 1, kArrivalWait);
  ASSERT_EQ(packets.size(), 1u);
  queue->AddVerdict(packets[0].id, Verdict::kAccept, std::nullopt);
  ASSERT_TRUE(queue->SendVerdicts().ok());
  EXPECT_EQ(Receive(receiver.get(), kArrivalWait), "second");
}

uint64_t MarkRulePackets(const std::string& mark) {
  // "[pkts:bytes] -A POSTROUTING -p udp -m mark --mark 0x2a"
  const std::string saved = Output("iptables-save -c -t mangle");
  for (size_t pos = 0; pos < saved.size();) {
    size_t end = saved.find('\n', pos);
    if (end == std::string::npos) end = saved.size();
    const std::string line = saved.substr(pos, end - pos);
    if (line.find("--mark " + mark) != std::string::npos && line.starts_with("[")) {
      return std::strtoull(line.c_str() + 1, nullptr, 10);
    }
    pos = end + 1;
  }
  return ~0ull;
}

TEST_F(NfQueueTest, ReadsTheMarkAndSetsOneWithTheVerdict) {
  auto [receiver, port] = BoundSocket(Family::kV4, SOCK_DGRAM);
  auto [sender, sender_port] = BoundSocket(Family::kV4, SOCK_DGRAM);
  ASSERT_TRUE(receiver.valid() && sender.valid());
  const std::string dport = std::to_string(port);
  // mangle OUTPUT runs before filter OUTPUT: the queued packet carries mark 7.
  ASSERT_EQ(
      Shell("iptables -w -t mangle -A OUTPUT -p udp --dport " + dport + " -j MARK --set-mark 7"),
      0);
  ASSERT_EQ(Shell("iptables -w -t mangle -A POSTROUTING -p udp --dport " + dport +
                  " -m mark --mark 0x2a"),
            0);
  QueueRule(Family::kV4, "-p udp", port, 5);
  auto queue = OpenQueue({.queue_num = 5});
  ASSERT_TRUE(queue);
  ASSERT_EQ(MarkRulePackets("0x2a"), 0u);

  ASSERT_TRUE(SendTo(sender.get(), Family::kV4, port, "marked"));
  auto packets = ReadPackets(*queue, 1, kArrivalWait);
  ASSERT_EQ(packets.size(), 1u);
  EXPECT_EQ(packets[0].mark, 7u);
  queue->AddVerdict(packets[0].id, Verdict::kAccept, 0x2a);
  ASSERT_TRUE(queue->SendVerdicts().ok());
  EXPECT_EQ(Receive(receiver.get(), kArrivalWait), "marked");
  EXPECT_EQ(MarkRulePackets("0x2a"), 1u);
}

TEST_F(NfQueueTest, SeveralVerdictsGoInOneBatch) {
  constexpr size_t kCount = 8;
  auto [receiver, port] = BoundSocket(Family::kV4, SOCK_DGRAM);
  auto [sender, sender_port] = BoundSocket(Family::kV4, SOCK_DGRAM);
  ASSERT_TRUE(receiver.valid() && sender.valid());
  QueueRule(Family::kV4, "-p udp", port, 6);
  auto queue = OpenQueue({.queue_num = 6});
  ASSERT_TRUE(queue);

  for (size_t i = 0; i < kCount; ++i) {
    ASSERT_TRUE(SendTo(sender.get(), Family::kV4, port, "m" + std::to_string(i)));
  }
  auto packets = ReadPackets(*queue, kCount, kArrivalWait);
  ASSERT_EQ(packets.size(), kCount);
  for (size_t i = 1; i < kCount; ++i) EXPECT_GT(packets[i].id, packets[i - 1].id);
  // Drop the odd ones, accept the even ones, in one batch.
  for (size_t i = 0; i < kCount; ++i) {
    queue->AddVerdict(packets[i].id, i % 2 == 0 ? Verdict::kAccept : Verdict::kDrop, std::nullopt);
  }
  EXPECT_EQ(queue->pending_verdicts(), kCount);
  ASSERT_TRUE(queue->SendVerdicts().ok());
  EXPECT_EQ(queue->pending_verdicts(), 0u);
  EXPECT_EQ(queue->counters().verdicts, kCount);
  EXPECT_EQ(queue->counters().verdict_batches, 1u);

  auto got = ReceiveAll(receiver.get(), kCount / 2, kArrivalWait);
  EXPECT_EQ(got, (std::vector<std::string>{"m0", "m2", "m4", "m6"}));
  EXPECT_FALSE(Receive(receiver.get(), kAbsenceWait)) << "a dropped datagram arrived";
  EXPECT_EQ(queue->counters().netlink_errors, 0u);
}

TEST_F(NfQueueTest, UnparsablePacketStillReachesTheHandlerAndTakesAVerdict) {
  auto [receiver, port] = BoundSocket(Family::kV4, SOCK_DGRAM);
  auto [sender, sender_port] = BoundSocket(Family::kV4, SOCK_DGRAM);
  ASSERT_TRUE(receiver.valid() && sender.valid());
  QueueRule(Family::kV4, "-p udp", port, 8);
  auto queue = OpenQueue({.queue_num = 8, .copy_range = 24});  // IP header + 4 bytes of UDP
  ASSERT_TRUE(queue);

  ASSERT_TRUE(SendTo(sender.get(), Family::kV4, port, "short"));
  auto packets = ReadPackets(*queue, 1, kArrivalWait);
  ASSERT_EQ(packets.size(), 1u);
  ASSERT_FALSE(packets[0].flow.ok());
  EXPECT_EQ(packets[0].flow.error().message, "truncated UDP header: 4 bytes present, 8 needed");
  EXPECT_EQ(queue->counters().parse_errors, 1u);
  queue->AddVerdict(packets[0].id, Verdict::kAccept, std::nullopt);
  ASSERT_TRUE(queue->SendVerdicts().ok());
  EXPECT_EQ(Receive(receiver.get(), kArrivalWait), "short");
}

TEST_F(NfQueueTest, TcpSynIsQueuedAndAcceptCompletesTheConnect) {
  auto [listener, port] = BoundSocket(Family::kV4, SOCK_STREAM);
  ASSERT_TRUE(listener.valid());
  ASSERT_EQ(listen(listener.get(), 4), 0);
  QueueRule(Family::kV4, "-p tcp --syn", port, 9);
  auto queue = OpenQueue({.queue_num = 9});
  ASSERT_TRUE(queue);

  UniqueFd client(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  Endpoint e = Loopback(Family::kV4, port);
  ASSERT_EQ(connect(client.get(), reinterpret_cast<sockaddr*>(&e.storage), e.length), -1);
  ASSERT_EQ(errno, EINPROGRESS);

  auto packets = ReadPackets(*queue, 1, kArrivalWait);
  ASSERT_EQ(packets.size(), 1u);
  ASSERT_TRUE(packets[0].flow.ok()) << packets[0].flow.error().message;
  EXPECT_EQ(packets[0].flow->protocol, Protocol::kTcp);
  EXPECT_TRUE(packets[0].flow->tcp_syn);
  EXPECT_EQ(packets[0].flow->dst_port, port);
  EXPECT_EQ(packets[0].flow->uid, geteuid());
  queue->AddVerdict(packets[0].id, Verdict::kAccept, std::nullopt);
  ASSERT_TRUE(queue->SendVerdicts().ok());

  pollfd pfd{client.get(), POLLOUT, 0};
  ASSERT_EQ(poll(&pfd, 1, static_cast<int>(kArrivalWait.count())), 1);
  int error = -1;
  socklen_t length = sizeof(error);
  ASSERT_EQ(getsockopt(client.get(), SOL_SOCKET, SO_ERROR, &error, &length), 0);
  EXPECT_EQ(error, 0);
}

TEST_F(NfQueueTest, SecondBindOfTheSameQueueFailsNamingIt) {
  auto first = OpenQueue({.queue_num = 10});
  ASSERT_TRUE(first);
  auto second = NfQueue::Open({.queue_num = 10});
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.error().message.find("NFQUEUE 10"), std::string::npos) << second.error().message;
  EXPECT_TRUE(second.error().sys_errno == EPERM || second.error().sys_errno == EBUSY)
      << second.error().message;
  EXPECT_NE(second.error().message.find("another program holds this queue"), std::string::npos)
      << second.error().message;

  first.reset();  // unbinds
  auto third = NfQueue::Open({.queue_num = 10});
  EXPECT_TRUE(third.ok()) << third.error().message;
}

// With max_len 1 only one packet waits in the kernel; the others overflow the queue.
void NfQueueTest::QueueOverflow(FailMode mode, uint16_t queue_num, size_t expect_at_once) {
  auto [receiver, port] = BoundSocket(Family::kV4, SOCK_DGRAM);
  auto [sender, sender_port] = BoundSocket(Family::kV4, SOCK_DGRAM);
  ASSERT_TRUE(receiver.valid() && sender.valid());
  QueueRule(Family::kV4, "-p udp", port, queue_num);
  auto queue = NfQueue::Open({.queue_num = queue_num, .max_len = 1, .fail_mode = mode});
  ASSERT_TRUE(queue.ok()) << queue.error().message;

  for (const char* data : {"a", "b", "c"})
    ASSERT_TRUE(SendTo(sender.get(), Family::kV4, port, data));
  auto at_once = ReceiveAll(receiver.get(), 3, kAbsenceWait);
  EXPECT_EQ(at_once.size(), expect_at_once);

  auto packets = ReadPackets(**queue, 1, kArrivalWait);
  ASSERT_EQ(packets.size(), 1u);
  (*queue)->AddVerdict(packets[0].id, Verdict::kAccept, std::nullopt);
  ASSERT_TRUE((*queue)->SendVerdicts().ok());
  EXPECT_EQ(Receive(receiver.get(), kArrivalWait), "a");
}

TEST_F(NfQueueTest, FailOpenAcceptsWhatDoesNotFitTheQueue) {
  QueueOverflow(FailMode::kOpen, 11, 2);
}

TEST_F(NfQueueTest, FailClosedDropsWhatDoesNotFitTheQueue) {
  QueueOverflow(FailMode::kClosed, 12, 0);
}

TEST_F(NfQueueTest, SocketOverflowIsCountedAsEnobufs) {
  constexpr size_t kCount = 64;
  auto [receiver, port] = BoundSocket(Family::kV4, SOCK_DGRAM);
  auto [sender, sender_port] = BoundSocket(Family::kV4, SOCK_DGRAM);
  ASSERT_TRUE(receiver.valid() && sender.valid());
  QueueRule(Family::kV4, "-p udp", port, 13);
  // The kernel raises a tiny buffer to its minimum (a few KiB): a handful of messages fit.
  auto queue = OpenQueue({.queue_num = 13, .socket_buffer_bytes = 1});
  ASSERT_TRUE(queue);

  for (size_t i = 0; i < kCount; ++i) {
    ASSERT_TRUE(SendTo(sender.get(), Family::kV4, port, std::string(100, 'x')));
  }
  auto packets = ReadPackets(*queue, kCount, kAbsenceWait);
  EXPECT_GE(queue->counters().enobufs, 1u);
  EXPECT_LT(packets.size(), kCount);
  for (const auto& p : packets) queue->AddVerdict(p.id, Verdict::kAccept, std::nullopt);
  ASSERT_TRUE(queue->SendVerdicts().ok());
  // Fail-open: what could not be delivered to the socket was accepted by the kernel.
  EXPECT_EQ(ReceiveAll(receiver.get(), kCount, kArrivalWait).size(), kCount);
}

}  // namespace
}  // namespace picket
