// Root test: ProcfsAttributor and SockDiag against real sockets held by forked children, inside the
// test's own network namespace (unshare(CLONE_NEWNET) of this test process; only lo, brought up).
#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "common/unique_fd.h"
#include "process/attributor.h"
#include "process/proc_parsers.h"
#include "process/proc_reader.h"
#include "process/sock_diag.h"

namespace picket {
namespace {

using ::testing::HasSubstr;

// ---- namespace and address helpers ----

bool g_in_netns = false;

Status EnterOwnNetns() {
  if (g_in_netns) return OkStatus();
  if (unshare(CLONE_NEWNET) != 0) return Error::FromErrno("unshare(CLONE_NEWNET)");
  UniqueFd fd(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  if (ioctl(fd.get(), SIOCGIFFLAGS, &ifr) != 0) return Error::FromErrno("SIOCGIFFLAGS lo");
  ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
  if (ioctl(fd.get(), SIOCSIFFLAGS, &ifr) != 0) return Error::FromErrno("SIOCSIFFLAGS lo");
  g_in_netns = true;
  return OkStatus();
}

struct Endpoint {
  IpAddress address;
  uint16_t port = 0;
};

sockaddr_storage ToSockaddr(const Endpoint& ep, int family) {
  sockaddr_storage ss{};
  if (family == AF_INET) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(ep.port);
    std::memcpy(&sin->sin_addr, ep.address.bytes().data(), 4);
  } else {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(ep.port);
    if (ep.address.is_v4()) {  // v4-mapped
      sin6->sin6_addr.s6_addr[10] = 0xff;
      sin6->sin6_addr.s6_addr[11] = 0xff;
      std::memcpy(&sin6->sin6_addr.s6_addr[12], ep.address.bytes().data(), 4);
    } else {
      std::memcpy(&sin6->sin6_addr, ep.address.bytes().data(), 16);
    }
  }
  return ss;
}

socklen_t SockaddrLen(int family) { return family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6); }

uint16_t PortOf(const sockaddr_storage& ss) {
  return ntohs(ss.ss_family == AF_INET ? reinterpret_cast<const sockaddr_in&>(ss).sin_port
                                       : reinterpret_cast<const sockaddr_in6&>(ss).sin6_port);
}

IpAddress Addr(const char* text) { return *IpAddress::Parse(text); }

// A listening TCP or bound UDP socket owned by the test process.
struct Server {
  UniqueFd fd;
  Endpoint endpoint;
};

Server MakeServer(int type, const IpAddress& address, int backlog = 16) {
  const int family = address.is_v4() ? AF_INET : AF_INET6;
  Server server;
  server.fd.reset(socket(family, type | SOCK_CLOEXEC, 0));
  sockaddr_storage ss = ToSockaddr(Endpoint{address, 0}, family);
  EXPECT_EQ(bind(server.fd.get(), reinterpret_cast<sockaddr*>(&ss), SockaddrLen(family)), 0) << strerror(errno);
  if (type == SOCK_STREAM) {
    EXPECT_EQ(listen(server.fd.get(), backlog), 0);
  }
  socklen_t len = sizeof(ss);
  getsockname(server.fd.get(), reinterpret_cast<sockaddr*>(&ss), &len);
  server.endpoint = Endpoint{address, PortOf(ss)};
  return server;
}

// ---- children holding sockets ----

enum class ClientKind { kTcpConnect, kTcpNonBlocking, kUdpSendto, kUdpConnected };

struct ClientSpec {
  ClientKind kind;
  int family;       // socket family (AF_INET6 with a v4 remote = dual-stack socket, v4-mapped)
  Endpoint remote;  // where to connect / send
  int sockets = 1;  // how many sockets the child opens (all to `remote`)
};

// A forked child holding its sockets until destroyed. The child's local ports are reported back
// through a pipe; the child exits when the release pipe closes (or when this test process dies).
class Child {
 public:
  explicit Child(const ClientSpec& spec) {
    int report[2], release[2];
    if (pipe2(report, O_CLOEXEC) != 0 || pipe2(release, O_CLOEXEC) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      close(report[0]);
      close(release[1]);
      RunChild(spec, report[1], release[0]);
    }
    close(report[1]);
    close(release[0]);
    release_.reset(release[1]);
    UniqueFd reader(report[0]);
    for (int i = 0; i < spec.sockets; ++i) {
      uint16_t port = 0;
      pollfd pfd{reader.get(), POLLIN, 0};
      if (poll(&pfd, 1, 5000) != 1 || read(reader.get(), &port, sizeof(port)) != sizeof(port) || port == 0) break;
      ports_.push_back(port);
    }
  }
  ~Child() {
    release_.reset();
    if (pid_ <= 0) return;
    for (int i = 0; i < 500; ++i) {  // up to 5 s for a clean exit
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) return;
      usleep(10000);
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  pid_t pid() const { return pid_; }
  const std::vector<uint16_t>& ports() const { return ports_; }

 private:
  [[noreturn]] static void RunChild(const ClientSpec& spec, int report, int release) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    std::vector<int> fds;
    for (int i = 0; i < spec.sockets; ++i) {
      const bool tcp = spec.kind == ClientKind::kTcpConnect || spec.kind == ClientKind::kTcpNonBlocking;
      const int type = (tcp ? SOCK_STREAM : SOCK_DGRAM) | (spec.kind == ClientKind::kTcpNonBlocking ? SOCK_NONBLOCK : 0);
      const int fd = socket(spec.family, type, 0);
      sockaddr_storage remote = ToSockaddr(spec.remote, spec.family);
      const auto* sa = reinterpret_cast<const sockaddr*>(&remote);
      const socklen_t len = SockaddrLen(spec.family);
      int rc = 0;
      switch (spec.kind) {
        case ClientKind::kTcpConnect: rc = connect(fd, sa, len); break;
        case ClientKind::kTcpNonBlocking: rc = (connect(fd, sa, len) == 0 || errno == EINPROGRESS) ? 0 : -1; break;
        case ClientKind::kUdpSendto: rc = sendto(fd, "x", 1, 0, sa, len) == 1 ? 0 : -1; break;
        case ClientKind::kUdpConnected: rc = (connect(fd, sa, len) == 0 && send(fd, "x", 1, 0) == 1) ? 0 : -1; break;
      }
      sockaddr_storage local{};
      socklen_t local_len = sizeof(local);
      getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_len);
      const uint16_t port = rc == 0 ? PortOf(local) : 0;
      if (write(report, &port, sizeof(port)) != sizeof(port)) _exit(1);
      fds.push_back(fd);
    }
    char byte;
    (void)!read(release, &byte, 1);
    _exit(0);
  }

  pid_t pid_ = -1;
  UniqueFd release_;
  std::vector<uint16_t> ports_;
};

Flow MakeFlow(Protocol protocol, const Endpoint& local, const Endpoint& remote, std::optional<uint32_t> uid) {
  Flow flow;
  flow.protocol = protocol;
  flow.src = local.address;
  flow.src_port = local.port;
  flow.dst = remote.address;
  flow.dst_port = remote.port;
  flow.tcp_syn = protocol == Protocol::kTcp;
  flow.uid = uid;
  return flow;
}

std::string ReadFile(const char* path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string SelfExe() {
  char buf[4096];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf));
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

class AttributionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (own network namespace)";
    Status s = EnterOwnNetns();
    ASSERT_TRUE(s.ok()) << s.error().message;
    auto attributor = ProcfsAttributor::Create(ProcfsAttributorOptions{});
    ASSERT_TRUE(attributor.ok()) << attributor.error().message;
    attributor_ = std::move(*attributor);
    auto diag = SockDiag::Open();
    ASSERT_TRUE(diag.ok()) << diag.error().message;
    diag_ = std::move(*diag);
  }

  // The child's socket `index` as the flow its first packet would be queued with.
  Flow ChildFlow(const Child& child, Protocol protocol, const IpAddress& local_address, const Endpoint& remote,
                 size_t index = 0) {
    EXPECT_GT(child.ports().size(), index) << "child did not open its sockets";
    const uint16_t port = child.ports().size() > index ? child.ports()[index] : 1;
    return MakeFlow(protocol, Endpoint{local_address, port}, remote, 0u);
  }

  void ExpectChild(const Attribution& a, const Child& child) {
    ASSERT_EQ(a.kind, AttributionKind::kProcess) << a.detail;
    ASSERT_TRUE(a.process.has_value());
    EXPECT_STREQ(a.method, "sock_diag+procfs");
    EXPECT_EQ(a.evidence, AttributionEvidence::kInferred) << "the holder in /proc is not a record of the sender";
    EXPECT_EQ(a.uid, std::optional<uint32_t>(0));
    const ProcessInfo& p = *a.process;
    EXPECT_EQ(p.pid, child.pid());
    EXPECT_EQ(p.ppid, getpid());
    EXPECT_EQ(p.uid, 0u);
    EXPECT_GT(p.start_time_ticks, 0u);
    EXPECT_EQ(p.exe_path, SelfExe());
    EXPECT_FALSE(p.exe_deleted);
    EXPECT_EQ(p.argv, ParseCmdline(ReadFile("/proc/self/cmdline")));
    char cwd[4096];
    EXPECT_EQ(p.cwd, std::string(getcwd(cwd, sizeof(cwd))));
  }

  std::unique_ptr<ProcfsAttributor> attributor_;
  std::unique_ptr<SockDiag> diag_;
};

TEST_F(AttributionTest, FlowWithoutUidIsKernel) {
  Flow flow = MakeFlow(Protocol::kTcp, {Addr("127.0.0.1"), 1000}, {Addr("127.0.0.1"), 2000}, std::nullopt);
  const Attribution a = attributor_->Attribute(flow);
  EXPECT_EQ(a.kind, AttributionKind::kKernel);
  EXPECT_STREQ(a.method, "none");
  EXPECT_FALSE(a.process.has_value());
  EXPECT_EQ(attributor_->counters().kernel, 1u);
}

TEST_F(AttributionTest, TupleWithoutSocketIsUnknown) {
  for (Protocol protocol : {Protocol::kTcp, Protocol::kUdp}) {
    Flow flow = MakeFlow(protocol, {Addr("127.0.0.1"), 1000}, {Addr("127.0.0.1"), 2000}, 1000u);
    const Attribution a = attributor_->Attribute(flow);
    EXPECT_EQ(a.kind, AttributionKind::kUnknown);
    EXPECT_EQ(a.detail, "no socket for tuple");
    EXPECT_EQ(a.uid, std::optional<uint32_t>(1000));
    EXPECT_FALSE(a.process.has_value());
  }
  EXPECT_EQ(attributor_->counters().unknown_no_socket, 2u);
}

TEST_F(AttributionTest, IcmpIsUnknownWithDetail) {
  Flow flow = MakeFlow(Protocol::kIcmp, {Addr("127.0.0.1"), 0}, {Addr("127.0.0.1"), 0}, 0u);
  const Attribution a = attributor_->Attribute(flow);
  EXPECT_EQ(a.kind, AttributionKind::kUnknown);
  EXPECT_THAT(a.detail, HasSubstr("icmp"));
  EXPECT_EQ(attributor_->counters().unknown_unsupported, 1u);
}

TEST_F(AttributionTest, TcpEstablishedV4AndV6) {
  for (const char* address : {"127.0.0.1", "::1"}) {
    SCOPED_TRACE(address);
    Server server = MakeServer(SOCK_STREAM, Addr(address));
    const int family = Addr(address).is_v4() ? AF_INET : AF_INET6;
    Child child(ClientSpec{ClientKind::kTcpConnect, family, server.endpoint});
    ExpectChild(attributor_->Attribute(ChildFlow(child, Protocol::kTcp, Addr(address), server.endpoint)), child);
  }
}

TEST_F(AttributionTest, TcpSynSentV4AndV6) {
  for (const char* address : {"127.0.0.1", "::1"}) {
    SCOPED_TRACE(address);
    // Backlog 0: the filler connection fills the accept queue, so the child's SYN is dropped and
    // its socket stays in SYN_SENT, as when the SYN is held in the queue.
    Server server = MakeServer(SOCK_STREAM, Addr(address), 0);
    const int family = Addr(address).is_v4() ? AF_INET : AF_INET6;
    Child filler(ClientSpec{ClientKind::kTcpConnect, family, server.endpoint});
    ASSERT_EQ(filler.ports().size(), 1u);
    Child child(ClientSpec{ClientKind::kTcpNonBlocking, family, server.endpoint});
    const Flow flow = ChildFlow(child, Protocol::kTcp, Addr(address), server.endpoint);
    auto entry = diag_->LookupExact(SocketKey::FromOutboundFlow(flow), family);
    ASSERT_TRUE(entry.ok()) << entry.error().message;
    ASSERT_TRUE(entry->has_value());
    EXPECT_EQ((*entry)->state, TCP_SYN_SENT);
    ExpectChild(attributor_->Attribute(flow), child);
  }
}

TEST_F(AttributionTest, UdpUnconnectedAndConnectedV4AndV6) {
  for (const char* address : {"127.0.0.1", "::1"}) {
    for (ClientKind kind : {ClientKind::kUdpSendto, ClientKind::kUdpConnected}) {
      SCOPED_TRACE(std::string(address) + (kind == ClientKind::kUdpSendto ? " sendto" : " connected"));
      Server server = MakeServer(SOCK_DGRAM, Addr(address));
      const int family = Addr(address).is_v4() ? AF_INET : AF_INET6;
      Child child(ClientSpec{kind, family, server.endpoint});
      const Flow flow = ChildFlow(child, Protocol::kUdp, Addr(address), server.endpoint);
      // The exact lookup alone finds both forms (no dump fallback needed).
      auto exact = diag_->LookupExact(SocketKey::FromOutboundFlow(flow), family);
      ASSERT_TRUE(exact.ok()) << exact.error().message;
      ASSERT_TRUE(exact->has_value()) << "exact lookup missed";
      EXPECT_EQ((*exact)->state, kind == ClientKind::kUdpSendto ? TCP_CLOSE : TCP_ESTABLISHED);
      // So does the fallback, on its own.
      auto dumped = diag_->LookupByLocalPort(SocketKey::FromOutboundFlow(flow), family);
      ASSERT_TRUE(dumped.ok()) << dumped.error().message;
      ASSERT_TRUE(dumped->has_value()) << "dump lookup missed";
      EXPECT_EQ((*dumped)->inode, (*exact)->inode);
      EXPECT_TRUE((*dumped)->from_dump);
      ExpectChild(attributor_->Attribute(flow), child);
    }
  }
}

TEST_F(AttributionTest, UdpExactLookupIgnoresSocketOnOtherRemote) {
  Server server = MakeServer(SOCK_DGRAM, Addr("127.0.0.1"));
  Server other = MakeServer(SOCK_DGRAM, Addr("127.0.0.1"));
  Child child(ClientSpec{ClientKind::kUdpConnected, AF_INET, server.endpoint});
  Flow flow = ChildFlow(child, Protocol::kUdp, Addr("127.0.0.1"), other.endpoint);
  auto entry = diag_->Lookup(SocketKey::FromOutboundFlow(flow));
  ASSERT_TRUE(entry.ok()) << entry.error().message;
  EXPECT_FALSE(entry->has_value());
}

TEST_F(AttributionTest, DualStackSocketsAnswerV4Flows) {
  for (ClientKind kind : {ClientKind::kTcpConnect, ClientKind::kUdpSendto, ClientKind::kUdpConnected}) {
    SCOPED_TRACE(static_cast<int>(kind));
    const bool tcp = kind == ClientKind::kTcpConnect;
    Server server = MakeServer(tcp ? SOCK_STREAM : SOCK_DGRAM, Addr("127.0.0.1"));
    Child child(ClientSpec{kind, AF_INET6, server.endpoint});
    const Flow flow = ChildFlow(child, tcp ? Protocol::kTcp : Protocol::kUdp, Addr("127.0.0.1"), server.endpoint);
    auto entry = diag_->Lookup(SocketKey::FromOutboundFlow(flow));
    ASSERT_TRUE(entry.ok()) << entry.error().message;
    ASSERT_TRUE(entry->has_value());
    EXPECT_EQ((*entry)->family, AF_INET6);
    EXPECT_FALSE((*entry)->from_dump);
    EXPECT_EQ((*entry)->query_family, AF_INET);  // the AF_INET lookup already finds dual-stack sockets
    // Asked as AF_INET6 with v4-mapped addresses, the kernel finds the same socket.
    auto as_v6 = diag_->LookupExact(SocketKey::FromOutboundFlow(flow), AF_INET6);
    ASSERT_TRUE(as_v6.ok()) << as_v6.error().message;
    ASSERT_TRUE(as_v6->has_value());
    EXPECT_EQ((*as_v6)->inode, (*entry)->inode);
    ExpectChild(attributor_->Attribute(flow), child);
    // A flow written with v4-mapped addresses is the same flow.
    Flow mapped = flow;
    mapped.src = Addr("::ffff:127.0.0.1");
    mapped.dst = Addr("::ffff:127.0.0.1");
    ExpectChild(attributor_->Attribute(mapped), child);
  }
}

TEST_F(AttributionTest, SecondSocketOfSameProcessIsFoundThroughMru) {
  Server server = MakeServer(SOCK_STREAM, Addr("127.0.0.1"));
  Child child(ClientSpec{ClientKind::kTcpConnect, AF_INET, server.endpoint, 3});
  ASSERT_EQ(child.ports().size(), 3u);
  ExpectChild(attributor_->Attribute(ChildFlow(child, Protocol::kTcp, Addr("127.0.0.1"), server.endpoint, 0)), child);
  EXPECT_EQ(attributor_->counters().found_scan, 1u);
  EXPECT_EQ(attributor_->counters().found_mru, 0u);
  for (size_t i = 1; i < 3; ++i) {
    const uint64_t dirs_before = attributor_->fd_index().stats().fd_dirs_read;
    ExpectChild(attributor_->Attribute(ChildFlow(child, Protocol::kTcp, Addr("127.0.0.1"), server.endpoint, i)),
                child);
    EXPECT_LE(attributor_->fd_index().stats().fd_dirs_read, dirs_before + 1) << "MRU hit must read one fd dir at most";
  }
  EXPECT_EQ(attributor_->counters().found_scan, 1u);
  EXPECT_EQ(attributor_->counters().found_mru, 2u);
  EXPECT_EQ(attributor_->fd_index().stats().proc_listings, 1u);
}

TEST_F(AttributionTest, TimeWaitSocketHasNoOwner) {
  Server server = MakeServer(SOCK_STREAM, Addr("127.0.0.1"));
  UniqueFd client(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_storage remote = ToSockaddr(server.endpoint, AF_INET);
  ASSERT_EQ(connect(client.get(), reinterpret_cast<sockaddr*>(&remote), sizeof(sockaddr_in)), 0);
  UniqueFd accepted(accept4(server.fd.get(), nullptr, nullptr, SOCK_CLOEXEC));
  sockaddr_storage local{};
  socklen_t len = sizeof(local);
  getsockname(client.get(), reinterpret_cast<sockaddr*>(&local), &len);
  client.reset();  // active close: the client side goes to TIME_WAIT once the peer closes
  accepted.reset();
  usleep(20000);
  const Flow flow = MakeFlow(Protocol::kTcp, {Addr("127.0.0.1"), PortOf(local)}, server.endpoint, 0u);
  const Attribution a = attributor_->Attribute(flow);
  EXPECT_EQ(a.kind, AttributionKind::kUnknown);
  EXPECT_THAT(a.detail, HasSubstr("has no inode"));
  EXPECT_EQ(attributor_->counters().unknown_no_process, 1u);
}

TEST_F(AttributionTest, SocketHeldByNoProcessIsUnknown) {
  // The socket's only reference is an SCM_RIGHTS message in flight: no fd table holds it.
  Server server = MakeServer(SOCK_STREAM, Addr("127.0.0.1"));
  int pair[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, pair), 0);
  UniqueFd keep0(pair[0]), keep1(pair[1]);
  UniqueFd client(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_storage remote = ToSockaddr(server.endpoint, AF_INET);
  ASSERT_EQ(connect(client.get(), reinterpret_cast<sockaddr*>(&remote), sizeof(sockaddr_in)), 0);
  sockaddr_storage local{};
  socklen_t len = sizeof(local);
  getsockname(client.get(), reinterpret_cast<sockaddr*>(&local), &len);
  char byte = 'x';
  iovec iov{&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN(sizeof(int));
  const int client_fd = client.get();
  std::memcpy(CMSG_DATA(cmsg), &client_fd, sizeof(int));
  ASSERT_EQ(sendmsg(keep0.get(), &msg, 0), 1);
  client.reset();

  const Flow flow = MakeFlow(Protocol::kTcp, {Addr("127.0.0.1"), PortOf(local)}, server.endpoint, 0u);
  const Attribution a = attributor_->Attribute(flow);
  EXPECT_EQ(a.kind, AttributionKind::kUnknown);
  EXPECT_THAT(a.detail, ::testing::MatchesRegex("socket inode [0-9]+ held by no process"));
  EXPECT_EQ(a.uid, std::optional<uint32_t>(0));
  EXPECT_EQ(attributor_->counters().unknown_no_process, 1u);
}

TEST_F(AttributionTest, ExitedChildIsNotReported) {
  Server server = MakeServer(SOCK_DGRAM, Addr("127.0.0.1"));
  Flow flow;
  {
    Child child(ClientSpec{ClientKind::kUdpSendto, AF_INET, server.endpoint});
    flow = ChildFlow(child, Protocol::kUdp, Addr("127.0.0.1"), server.endpoint);
    ExpectChild(attributor_->Attribute(flow), child);
  }
  const Attribution a = attributor_->Attribute(flow);
  EXPECT_EQ(a.kind, AttributionKind::kUnknown);
  EXPECT_EQ(a.detail, "no socket for tuple");
}

// Not a check: prints the cost of one lookup of a live TCP socket (MRU path).
// Run with --gtest_also_run_disabled_tests --gtest_filter='*LookupCost*'.
TEST_F(AttributionTest, DISABLED_LookupCost) {
  Server server = MakeServer(SOCK_STREAM, Addr("127.0.0.1"));
  Child child(ClientSpec{ClientKind::kTcpConnect, AF_INET, server.endpoint});
  const Flow flow = ChildFlow(child, Protocol::kTcp, Addr("127.0.0.1"), server.endpoint);
  ExpectChild(attributor_->Attribute(flow), child);
  auto time = [&](int count, auto&& fn) {
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < count; ++i) fn();
    return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count() / count;
  };
  const double full = time(10000, [&] { ASSERT_EQ(attributor_->Attribute(flow).kind, AttributionKind::kProcess); });
  const SocketKey key = SocketKey::FromOutboundFlow(flow);
  const double diag = time(10000, [&] { ASSERT_TRUE(diag_->Lookup(key).ok()); });
  const uint64_t inode = (*diag_->Lookup(key))->inode;
  const double scan = time(1000, [&] {
    auto fresh = ProcFdIndex::Open(ProcFdIndexOptions{});
    ASSERT_TRUE(fresh.ok());
    ASSERT_TRUE((*fresh)->FindSocketHolder(inode, 0u).ok());
  });
  auto mru_index = ProcFdIndex::Open(ProcFdIndexOptions{});
  ASSERT_TRUE(mru_index.ok());
  ASSERT_TRUE((*mru_index)->FindSocketHolder(inode, 0u).ok());
  const double mru = time(10000, [&] { ASSERT_TRUE((*mru_index)->FindSocketHolder(inode, 0u).ok()); });
  auto holder = (*mru_index)->FindSocketHolder(inode, 0u);
  ASSERT_TRUE(holder.ok() && holder->has_value());
  const double read = time(10000, [&] { ASSERT_TRUE(ReadProcessInfo((*holder)->pid_dir.get(), child.pid()).ok()); });
  std::printf("per lookup: Attribute (MRU hit) %.2f us = sock_diag %.2f + fd dir (MRU) %.2f + process read %.2f; "
              "full /proc scan %.2f us\n", full, diag, mru, read, scan);
}

}  // namespace
}  // namespace picket
