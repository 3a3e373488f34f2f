// Root tests of Firewall against the real kernel and iptables/nft tools. Each test runs in its own
// fresh network namespace (the fixture unshares one for the test thread and returns to the original
// in TearDown), so the machine's own ruleset is never touched.
#include "netfilter/firewall.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/log.h"
#include "common/subprocess.h"
#include "common/unique_fd.h"
#include "netfilter/iptables_backend.h"
#include "netfilter/nft_backend.h"

namespace picket {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

ino_t NetnsInode(const char* path) {
  struct stat st {};
  return stat(path, &st) == 0 ? st.st_ino : 0;
}

// Runs each test in a new network namespace with loopback up.
class FirewallNetnsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces, netfilter)";
    original_.reset(open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
    ASSERT_TRUE(original_.valid()) << std::strerror(errno);
    const ino_t before = NetnsInode("/proc/thread-self/ns/net");
    ASSERT_EQ(unshare(CLONE_NEWNET), 0) << "unshare(CLONE_NEWNET): " << std::strerror(errno);
    entered_ = true;
    ASSERT_NE(NetnsInode("/proc/thread-self/ns/net"), before) << "not in a new network namespace";
    ASSERT_NO_FATAL_FAILURE(BringLoopbackUp());
  }

  void TearDown() override {
    if (entered_) {
      ASSERT_EQ(setns(original_.get(), CLONE_NEWNET), 0) << "setns back: " << std::strerror(errno);
    }
  }

  static void BringLoopbackUp() {
    UniqueFd s(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    ASSERT_TRUE(s.valid());
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
    ASSERT_EQ(ioctl(s.get(), SIOCGIFFLAGS, &ifr), 0) << std::strerror(errno);
    ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
    ASSERT_EQ(ioctl(s.get(), SIOCSIFFLAGS, &ifr), 0) << std::strerror(errno);
  }

 private:
  UniqueFd original_;
  bool entered_ = false;
};

FirewallOptions IptablesOptions(FailMode mode) {
  FirewallOptions o;
  o.backend = FirewallBackendChoice::kIptables;
  o.fail_mode = mode;
  return o;
}

bool NftQueueSupported() {
  auto probe = ProbeNftQueueSupport();
  return probe.ok() && *probe;
}

std::string RunOk(const std::vector<std::string>& argv, std::string_view input = {}) {
  auto r = RunCommand(argv, input);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  if (!r.ok()) return {};
  EXPECT_EQ(r->exit_code, 0) << CommandLine(argv) << ": " << r->err;
  return r->out;
}

// iptables-save output without comments and counters, so two saves can be compared.
std::string Save(IpFamily family) {
  const std::string raw = RunOk({family == IpFamily::kIpv4 ? "iptables-save" : "ip6tables-save"});
  std::string normalized;
  size_t pos = 0;
  while (pos < raw.size()) {
    size_t eol = raw.find('\n', pos);
    if (eol == std::string::npos) eol = raw.size();
    std::string line = raw.substr(pos, eol - pos);
    pos = eol + 1;
    if (line.empty() || line[0] == '#') continue;
    if (line[0] == ':') line = line.substr(0, line.find(" ["));
    normalized += line + "\n";
  }
  return normalized;
}

int CountLines(const std::string& text, const std::string& line) {
  int n = 0;
  size_t pos = 0;
  while ((pos = text.find(line + "\n", pos)) != std::string::npos) {
    if (pos == 0 || text[pos - 1] == '\n') ++n;
    pos += line.size();
  }
  return n;
}

// The section of one table ("*mangle" ... "COMMIT") in a normalized save.
std::string Table(const std::string& save, const std::string& name) {
  const size_t begin = save.find("*" + name + "\n");
  if (begin == std::string::npos) return {};
  return save.substr(begin, save.find("COMMIT\n", begin) - begin);
}

void ExpectNoPicketRules() {
  for (IpFamily family : {IpFamily::kIpv4, IpFamily::kIpv6}) {
    EXPECT_EQ(Save(family).find("PICKET"), std::string::npos) << Save(family);
  }
  EXPECT_EQ(RunOk({"nft", "list", "tables"}).find("picket"), std::string::npos);
}

// The first rule of `chain` in a table section, or "" when it has none.
std::string FirstRule(const std::string& table, const std::string& chain) {
  const size_t at = table.find("\n-A " + chain + " ");
  if (at == std::string::npos) return {};
  return table.substr(at + 1, table.find('\n', at + 1) - at - 1);
}

void ExpectInstalledOnce(IpFamily family, const FirewallOptions& options) {
  const std::string save = Save(family);
  const std::string mangle = Table(save, "mangle");
  const std::string filter = Table(save, "filter");
  EXPECT_EQ(CountLines(mangle, ":PICKET_OUTPUT -"), 1) << save;
  EXPECT_EQ(CountLines(mangle, "-A OUTPUT -j PICKET_OUTPUT"), 1) << save;
  EXPECT_EQ(CountLines(filter, ":PICKET_REJECT -"), 1) << save;
  EXPECT_EQ(CountLines(filter, "-A OUTPUT -j PICKET_REJECT"), 1) << save;
  // The jumps come first in OUTPUT, so earlier user rules cannot skip Picket.
  EXPECT_EQ(FirstRule(mangle, "OUTPUT"), "-A OUTPUT -j PICKET_OUTPUT") << save;
  EXPECT_EQ(FirstRule(filter, "OUTPUT"), "-A OUTPUT -j PICKET_REJECT") << save;
  for (const std::string& rule : IptablesQueueRules(options)) {
    EXPECT_EQ(CountLines(mangle, rule), 1) << rule << "\n" << save;
  }
  for (const std::string& rule : IptablesRejectRules(family, options)) {
    EXPECT_EQ(CountLines(filter, rule), 1) << rule << "\n" << save;
  }
  int picket_rules = 0;  // 2 queue + 3 reject rules, nothing else in Picket's chains
  for (size_t p = 0; (p = save.find("\n-A PICKET_", p)) != std::string::npos; ++p) ++picket_rules;
  EXPECT_EQ(picket_rules, 5) << save;
}

// Captures log lines written during the object's lifetime.
class LogCapture {
 public:
  LogCapture() : fd_(memfd_create("picket-log", MFD_CLOEXEC)) { log::SetOutputFd(fd_.get()); }
  ~LogCapture() { log::SetOutputFd(STDERR_FILENO); }
  std::string Text() {
    log::Flush();
    std::string text(static_cast<size_t>(lseek(fd_.get(), 0, SEEK_END)), '\0');
    EXPECT_EQ(pread(fd_.get(), text.data(), text.size(), 0), static_cast<ssize_t>(text.size()));
    return text;
  }

 private:
  UniqueFd fd_;
};

// A listening TCP socket on the loopback address of `family`, on a kernel-chosen port.
struct Listener {
  UniqueFd fd;
  sockaddr_storage addr{};
  socklen_t len = 0;
};

Listener Listen(int family) {
  Listener l;
  l.fd.reset(socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  EXPECT_TRUE(l.fd.valid());
  if (family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&l.addr);
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    l.len = sizeof(sockaddr_in);
  } else {
    auto* a = reinterpret_cast<sockaddr_in6*>(&l.addr);
    a->sin6_family = AF_INET6;
    a->sin6_addr = in6addr_loopback;
    l.len = sizeof(sockaddr_in6);
  }
  EXPECT_EQ(bind(l.fd.get(), reinterpret_cast<sockaddr*>(&l.addr), l.len), 0) << std::strerror(errno);
  EXPECT_EQ(listen(l.fd.get(), 16), 0);
  EXPECT_EQ(getsockname(l.fd.get(), reinterpret_cast<sockaddr*>(&l.addr), &l.len), 0);
  return l;
}

struct ConnectOutcome {
  int error = 0;        // SO_ERROR once finished; EINPROGRESS when still pending at the deadline
  milliseconds took{0};
};

// Non-blocking connect from a socket carrying `mark` (0 = none), waiting at most `wait`.
ConnectOutcome Connect(const Listener& l, uint32_t mark, milliseconds wait) {
  UniqueFd s(socket(l.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  EXPECT_TRUE(s.valid());
  if (mark != 0) {
    EXPECT_EQ(setsockopt(s.get(), SOL_SOCKET, SO_MARK, &mark, sizeof(mark)), 0);
  }
  const auto start = steady_clock::now();
  ConnectOutcome out;
  if (connect(s.get(), reinterpret_cast<const sockaddr*>(&l.addr), l.len) == 0) return out;
  if (errno != EINPROGRESS) {
    out.error = errno;
    return out;
  }
  pollfd p{s.get(), POLLOUT, 0};
  if (poll(&p, 1, static_cast<int>(wait.count())) == 0) {
    out.error = EINPROGRESS;
  } else {
    socklen_t len = sizeof(out.error);
    EXPECT_EQ(getsockopt(s.get(), SOL_SOCKET, SO_ERROR, &out.error, &len), 0);
  }
  out.took = std::chrono::duration_cast<milliseconds>(steady_clock::now() - start);
  return out;
}

// ---- backend selection ----

TEST_F(FirewallNetnsTest, AutoPicksIptablesWhenNftLacksQueue) {
  if (NftQueueSupported()) GTEST_SKIP() << "this kernel has nft's queue statement; auto would pick nft";
  LogCapture capture;
  FirewallOptions o;  // kAuto
  auto fw = Firewall::Install(o);
  ASSERT_TRUE(fw.ok()) << fw.error().message;
  EXPECT_EQ((*fw)->backend_name(), "iptables");
  EXPECT_NE((*fw)->selection_reason().find("auto: the kernel lacks nft's queue statement"), std::string::npos)
      << (*fw)->selection_reason();
  EXPECT_NE((*fw)->selection_reason().find("No such file or directory"), std::string::npos)
      << (*fw)->selection_reason();
  EXPECT_NE(capture.Text().find("firewall: backend=" + (*fw)->display_name() +
                                " (auto: the kernel lacks nft's queue statement"),
            std::string::npos)
      << capture.Text();
  ExpectInstalledOnce(IpFamily::kIpv4, o);
  ExpectInstalledOnce(IpFamily::kIpv6, o);
}

TEST_F(FirewallNetnsTest, AutoPicksNftWhenKernelHasQueue) {
  if (!NftQueueSupported()) GTEST_SKIP() << "this kernel lacks nft's queue statement (CONFIG_NFT_QUEUE)";
  auto fw = Firewall::Install(FirewallOptions{});
  ASSERT_TRUE(fw.ok()) << fw.error().message;
  EXPECT_EQ((*fw)->backend_name(), "nft");
  const std::string listed = RunOk({"nft", "list", "table", "inet", "picket"});
  EXPECT_NE(listed.find("queue"), std::string::npos) << listed;
  ASSERT_TRUE((*fw)->Remove().ok());
  ExpectNoPicketRules();
}

TEST_F(FirewallNetnsTest, ForcedNftFailsCleanlyWithoutQueueSupport) {
  if (NftQueueSupported()) GTEST_SKIP() << "this kernel has nft's queue statement";
  FirewallOptions o;
  o.backend = FirewallBackendChoice::kNft;
  auto fw = Firewall::Install(o);
  ASSERT_FALSE(fw.ok());
  const std::string& m = fw.error().message;
  EXPECT_NE(m.find("nft:"), std::string::npos) << m;
  EXPECT_NE(m.find("lacks nft's queue statement"), std::string::npos) << m;
  EXPECT_NE(m.find("Could not process rule: No such file or directory"), std::string::npos) << m;
  EXPECT_EQ(RunOk({"nft", "list", "ruleset"}), "");
  ExpectNoPicketRules();
}

TEST_F(FirewallNetnsTest, ProbeLeavesNothingBehind) {
  auto probe = ProbeNftQueueSupport();
  ASSERT_TRUE(probe.ok()) << probe.error().message;
  EXPECT_EQ(RunOk({"nft", "list", "ruleset"}), "");
}

TEST_F(FirewallNetnsTest, InvalidRejectMarkIsRejected) {
  FirewallOptions o = IptablesOptions(FailMode::kOpen);
  o.reject_mark = 0x3;
  auto fw = Firewall::Install(o);
  ASSERT_FALSE(fw.ok());
  EXPECT_NE(fw.error().message.find("reject_mark must be a single bit, got 0x00000003"), std::string::npos)
      << fw.error().message;
  o.reject_mark = 0;
  EXPECT_FALSE(Firewall::Install(o).ok());
  ExpectNoPicketRules();
}

// ---- iptables backend: content, isolation, removal, staleness ----

TEST_F(FirewallNetnsTest, IptablesFailOpenInstallsChainsAndJumpsInBothFamilies) {
  LogCapture capture;
  const FirewallOptions o = IptablesOptions(FailMode::kOpen);
  auto fw = Firewall::Install(o);
  ASSERT_TRUE(fw.ok()) << fw.error().message;
  EXPECT_EQ((*fw)->backend_name(), "iptables");
  EXPECT_EQ((*fw)->selection_reason(), "configured");
  EXPECT_NE(capture.Text().find("firewall: backend=" + (*fw)->display_name() + " (configured)"), std::string::npos)
      << capture.Text();
  // The tools on PATH decide the variant the start line names and whether changes are announced.
  auto variant = DetectIptablesVariant();
  ASSERT_TRUE(variant.ok()) << variant.error().message;
  const bool nft = *variant == IptablesVariant::kNft;
  EXPECT_EQ((*fw)->display_name(), nft ? "iptables-nft" : "iptables-legacy");
  EXPECT_EQ((*fw)->change_events(), nft ? RuleChangeEvents::kNfTables : RuleChangeEvents::kNone);
  ExpectInstalledOnce(IpFamily::kIpv4, o);
  ExpectInstalledOnce(IpFamily::kIpv6, o);
  EXPECT_EQ(CountLines(Save(IpFamily::kIpv4),
                       "-A PICKET_OUTPUT ! -p tcp -m conntrack --ctstate NEW -j NFQUEUE --queue-num 0 --queue-bypass"),
            1);
  EXPECT_NE(Save(IpFamily::kIpv6).find("--queue-bypass"), std::string::npos);
}

TEST_F(FirewallNetnsTest, IptablesFailClosedHasNoBypass) {
  FirewallOptions o = IptablesOptions(FailMode::kClosed);
  o.queue_num = 17;
  auto fw = Firewall::Install(o);
  ASSERT_TRUE(fw.ok()) << fw.error().message;
  ExpectInstalledOnce(IpFamily::kIpv4, o);
  ExpectInstalledOnce(IpFamily::kIpv6, o);
  for (IpFamily family : {IpFamily::kIpv4, IpFamily::kIpv6}) {
    const std::string save = Save(family);
    EXPECT_EQ(save.find("--queue-bypass"), std::string::npos) << save;
    EXPECT_NE(save.find("-j NFQUEUE --queue-num 17\n"), std::string::npos) << save;
  }
}

TEST_F(FirewallNetnsTest, UnrelatedUserRulesAndChainsAreUntouched) {
  const std::string user_v4 =
      "*mangle\n:USER_MANGLE - [0:0]\n-A OUTPUT -p udp -j MARK --set-xmark 0x7/0xff\n-A OUTPUT -j USER_MANGLE\n"
      "-A USER_MANGLE -p tcp --dport 8080 -j RETURN\nCOMMIT\n"
      "*filter\n:USER_FILTER - [0:0]\n-A OUTPUT -o lo -j ACCEPT\n-A OUTPUT -j USER_FILTER\n"
      "-A USER_FILTER -d 198.18.0.1/32 -j DROP\nCOMMIT\n"
      "*nat\n-A OUTPUT -d 198.18.0.2/32 -p tcp -j REDIRECT --to-ports 9\nCOMMIT\n";
  const std::string user_v6 =
      "*mangle\n-A OUTPUT -p udp -j MARK --set-xmark 0x7/0xff\nCOMMIT\n"
      "*filter\n:USER_FILTER - [0:0]\n-A OUTPUT -j USER_FILTER\n-A USER_FILTER -d 2001:2::1/128 -j DROP\nCOMMIT\n";
  RunOk({"iptables-restore", "-w", "--noflush"}, user_v4);
  RunOk({"ip6tables-restore", "-w", "--noflush"}, user_v6);
  const std::string before_v4 = Save(IpFamily::kIpv4);
  const std::string before_v6 = Save(IpFamily::kIpv6);
  ASSERT_NE(before_v4.find("USER_FILTER"), std::string::npos) << before_v4;

  auto fw = Firewall::Install(IptablesOptions(FailMode::kOpen));
  ASSERT_TRUE(fw.ok()) << fw.error().message;
  const std::string during_v4 = Save(IpFamily::kIpv4);
  for (const char* line : {"-A OUTPUT -p udp -j MARK --set-xmark 0x7/0xff", "-A OUTPUT -j USER_MANGLE",
                           "-A USER_MANGLE -p tcp -m tcp --dport 8080 -j RETURN", "-A OUTPUT -o lo -j ACCEPT",
                           "-A USER_FILTER -d 198.18.0.1/32 -j DROP"}) {
    EXPECT_EQ(CountLines(during_v4, line), 1) << line << "\n" << during_v4;
  }
  // Picket's jump precedes the user's ACCEPT in filter OUTPUT.
  EXPECT_LT(during_v4.find("-A OUTPUT -j PICKET_REJECT"), during_v4.find("-A OUTPUT -o lo -j ACCEPT"));
  ASSERT_TRUE((*fw)->Remove().ok());
  EXPECT_EQ(Save(IpFamily::kIpv4), before_v4);
  EXPECT_EQ(Save(IpFamily::kIpv6), before_v6);
}

TEST_F(FirewallNetnsTest, RemoveLeavesNoChainOrJumpAndIsIdempotent) {
  auto fw = Firewall::Install(IptablesOptions(FailMode::kOpen));
  ASSERT_TRUE(fw.ok()) << fw.error().message;
  Status removed = (*fw)->Remove();
  ASSERT_TRUE(removed.ok()) << removed.error().message;
  ExpectNoPicketRules();
  EXPECT_TRUE((*fw)->Remove().ok());
  EXPECT_TRUE(RemoveIptablesRules().ok());  // nothing present: nothing to do
  ExpectNoPicketRules();
}

TEST_F(FirewallNetnsTest, DestructorRemovesRules) {
  {
    auto fw = Firewall::Install(IptablesOptions(FailMode::kOpen));
    ASSERT_TRUE(fw.ok()) << fw.error().message;
    ASSERT_NE(Save(IpFamily::kIpv4).find("PICKET_OUTPUT"), std::string::npos);
  }
  ExpectNoPicketRules();
}

TEST_F(FirewallNetnsTest, SecondInstallWithoutRemoveLeavesOneCopy) {
  const FirewallOptions o = IptablesOptions(FailMode::kOpen);
  auto first = Firewall::Install(o);  // stands for a crashed run whose rules stayed
  ASSERT_TRUE(first.ok()) << first.error().message;
  auto second = Firewall::Install(o);
  ASSERT_TRUE(second.ok()) << second.error().message;
  ExpectInstalledOnce(IpFamily::kIpv4, o);
  ExpectInstalledOnce(IpFamily::kIpv6, o);
  ASSERT_TRUE((*second)->Remove().ok());
  ExpectNoPicketRules();
  EXPECT_TRUE((*first)->Remove().ok());  // its rules are already gone: no error
}

TEST_F(FirewallNetnsTest, StaleDuplicateJumpsAndOldRulesAreReplaced) {
  // What a crashed run of some version might leave: two jumps, an old rule, a jump from a user chain.
  RunOk({"iptables-restore", "-w", "--noflush"},
      "*mangle\n:PICKET_OUTPUT - [0:0]\n:USER - [0:0]\n-A PICKET_OUTPUT -j NFQUEUE --queue-num 9\n"
      "-A OUTPUT -j PICKET_OUTPUT\n-A OUTPUT -j PICKET_OUTPUT\n-A USER -p udp -j PICKET_OUTPUT\nCOMMIT\n"
      "*filter\n:PICKET_REJECT - [0:0]\n-A OUTPUT -j PICKET_REJECT\n-A OUTPUT -j PICKET_REJECT\nCOMMIT\n");
  const FirewallOptions o = IptablesOptions(FailMode::kClosed);
  auto fw = Firewall::Install(o);
  ASSERT_TRUE(fw.ok()) << fw.error().message;
  ExpectInstalledOnce(IpFamily::kIpv4, o);
  const std::string save = Save(IpFamily::kIpv4);
  EXPECT_EQ(save.find("--queue-num 9"), std::string::npos) << save;
  EXPECT_EQ(save.find("-A USER -p udp -j PICKET_OUTPUT"), std::string::npos) << save;
  ASSERT_TRUE((*fw)->Remove().ok());
  ExpectNoPicketRules();
  EXPECT_NE(Save(IpFamily::kIpv4).find(":USER -"), std::string::npos);  // the user chain itself stays
}

TEST_F(FirewallNetnsTest, StaleNftTableIsRemovedByIptablesInstall) {
  RunOk({"nft", "-f", "-"}, "table inet picket {\n chain c {\n type filter hook output priority 0;\n }\n}\n");
  auto fw = Firewall::Install(IptablesOptions(FailMode::kOpen));
  ASSERT_TRUE(fw.ok()) << fw.error().message;
  EXPECT_EQ(RunOk({"nft", "list", "tables"}).find("inet picket"), std::string::npos);
}

TEST_F(FirewallNetnsTest, RestoreFailureNamesToolAndLine) {
  // A fake iptables-save reports a jump that does not exist, so the real restore fails on its -D.
  char dir[] = "/tmp/picket-fw-test-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string fake = std::string(dir) + "/iptables-save";
  {
    std::ofstream f(fake);
    f << "#!/bin/sh\nprintf '*mangle\\n:PICKET_OUTPUT - [0:0]\\n-A OUTPUT -j PICKET_OUTPUT\\nCOMMIT\\n'\n";
  }
  ASSERT_EQ(chmod(fake.c_str(), 0755), 0);
  const std::string old_path = getenv("PATH") != nullptr ? getenv("PATH") : "/usr/sbin:/usr/bin:/sbin:/bin";
  setenv("PATH", (std::string(dir) + ":" + old_path).c_str(), 1);
  auto fw = Firewall::Install(IptablesOptions(FailMode::kOpen));
  setenv("PATH", old_path.c_str(), 1);
  unlink(fake.c_str());
  rmdir(dir);
  ASSERT_FALSE(fw.ok());
  const std::string& m = fw.error().message;
  EXPECT_NE(m.find("iptables: installing IPv4 chains PICKET_OUTPUT and PICKET_REJECT: "
                   "`iptables-restore -w --noflush` failed (exit "),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("(`-D OUTPUT -j PICKET_OUTPUT`)"), std::string::npos) << m;
  ExpectNoPicketRules();
}

// ---- the rules work on real traffic ----

TEST_F(FirewallNetnsTest, MarkedConnectIsRefusedAtOnceUnmarkedSucceeds) {
  // Fail-open: nobody reads queue 0, so bypass accepts the queued SYNs and they reach the reject chain.
  const FirewallOptions o = IptablesOptions(FailMode::kOpen);
  auto fw = Firewall::Install(o);
  ASSERT_TRUE(fw.ok()) << fw.error().message;
  for (int family : {AF_INET, AF_INET6}) {
    SCOPED_TRACE(family == AF_INET ? "IPv4" : "IPv6");
    Listener l = Listen(family);
    ConnectOutcome marked = Connect(l, o.reject_mark, milliseconds(3000));
    EXPECT_EQ(marked.error, ECONNREFUSED) << std::strerror(marked.error);
    EXPECT_LT(marked.took.count(), 1000);
    ConnectOutcome other_bits = Connect(l, 0x1, milliseconds(3000));
    EXPECT_EQ(other_bits.error, 0) << std::strerror(other_bits.error);
    ConnectOutcome unmarked = Connect(l, 0, milliseconds(3000));
    EXPECT_EQ(unmarked.error, 0) << std::strerror(unmarked.error);
  }
}

TEST_F(FirewallNetnsTest, MarkedUdpGetsPortUnreachable) {
  const FirewallOptions o = IptablesOptions(FailMode::kOpen);
  auto fw = Firewall::Install(o);
  ASSERT_TRUE(fw.ok()) << fw.error().message;
  UniqueFd server(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(bind(server.get(), reinterpret_cast<sockaddr*>(&addr), len), 0);
  ASSERT_EQ(getsockname(server.get(), reinterpret_cast<sockaddr*>(&addr), &len), 0);
  UniqueFd client(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  const uint32_t mark = o.reject_mark;
  ASSERT_EQ(setsockopt(client.get(), SOL_SOCKET, SO_MARK, &mark, sizeof(mark)), 0);
  ASSERT_EQ(connect(client.get(), reinterpret_cast<sockaddr*>(&addr), len), 0);
  // The REJECT target drops the datagram on its way out, which send() reports as EPERM; the ICMP
  // port unreachable it sends back then surfaces as ECONNREFUSED.
  EXPECT_EQ(send(client.get(), "x", 1, 0), -1);
  EXPECT_EQ(errno, EPERM) << std::strerror(errno);
  pollfd p{client.get(), POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 2000), 1);
  char buf[4];
  EXPECT_EQ(recv(client.get(), buf, sizeof(buf), MSG_DONTWAIT), -1);
  EXPECT_EQ(errno, ECONNREFUSED);
  pollfd q{server.get(), POLLIN, 0};
  EXPECT_EQ(poll(&q, 1, 0), 0);  // the datagram never arrived
}

TEST_F(FirewallNetnsTest, FailClosedHoldsNewConnectionsWhileNobodyReadsTheQueue) {
  auto fw = Firewall::Install(IptablesOptions(FailMode::kClosed));
  ASSERT_TRUE(fw.ok()) << fw.error().message;
  Listener l = Listen(AF_INET);
  EXPECT_EQ(Connect(l, 0, milliseconds(300)).error, EINPROGRESS);  // SYN dropped: no queue reader
  ASSERT_TRUE((*fw)->Remove().ok());
  EXPECT_EQ(Connect(l, 0, milliseconds(3000)).error, 0);
}

// ---- nft backend content, as far as this kernel can load it ----

// The chain block `name` of BuildNftTable's text, e.g. "\tchain output_reject {\n ... \t}\n".
std::string NftChain(const std::string& table, const std::string& name) {
  const size_t begin = table.find("\tchain " + name + " {\n");
  if (begin == std::string::npos) return {};
  const size_t end = table.find("\t}\n", begin);
  return table.substr(begin, end + 3 - begin);
}

TEST_F(FirewallNetnsTest, NftTransactionPassesKernelCheckExceptMissingQueue) {
  Status checked = RunNftTransaction("install table inet picket", BuildNftInstallTransaction(FirewallOptions{}),
                                     NftRunMode::kCheckOnly);
  if (NftQueueSupported()) {
    EXPECT_TRUE(checked.ok()) << checked.error().message;
  } else {
    ASSERT_FALSE(checked.ok());
    const std::string& m = checked.error().message;
    EXPECT_NE(m.find("nft: install table inet picket (check only) failed: "), std::string::npos) << m;
    // Exactly the two queue rules fail; parsing, evaluation and every other statement passed.
    size_t errors = 0;
    for (size_t p = 0; (p = m.find("Error: ", p)) != std::string::npos; ++p) ++errors;
    EXPECT_EQ(errors, 2u) << m;
    size_t queue_errors = 0;
    for (size_t p = 0; (p = m.find("No such file or directory (in `", p)) != std::string::npos; ++p) {
      const size_t end = m.find('`', p + 31);
      if (m.substr(p, end - p).find(" queue num 0 bypass") != std::string::npos) ++queue_errors;
    }
    EXPECT_EQ(queue_errors, 2u) << m;
  }
  EXPECT_EQ(RunOk({"nft", "list", "ruleset"}), "");  // check-only commits nothing
}

TEST_F(FirewallNetnsTest, NftRejectChainRejectsMarkedConnections) {
  const FirewallOptions o;
  const std::string chain = NftChain(BuildNftTable(o), "output_reject");
  ASSERT_NE(chain.find("reject with tcp reset"), std::string::npos) << chain;
  Status loaded = RunNftTransaction("load reject chain", "table inet picket {\n" + chain + "}\n", NftRunMode::kCommit);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  for (int family : {AF_INET, AF_INET6}) {
    SCOPED_TRACE(family == AF_INET ? "IPv4" : "IPv6");
    Listener l = Listen(family);
    EXPECT_EQ(Connect(l, o.reject_mark, milliseconds(3000)).error, ECONNREFUSED);
    EXPECT_EQ(Connect(l, 0, milliseconds(3000)).error, 0);
  }
  ASSERT_TRUE(RemoveStaleNftTable().ok());
  EXPECT_EQ(RunOk({"nft", "list", "ruleset"}), "");
  EXPECT_TRUE(RemoveStaleNftTable().ok());  // idempotent: no table, no error
}

TEST_F(FirewallNetnsTest, NftBackendInstallsAndRemoves) {
  if (!NftQueueSupported()) GTEST_SKIP() << "this kernel lacks nft's queue statement (CONFIG_NFT_QUEUE)";
  FirewallOptions o;
  o.backend = FirewallBackendChoice::kNft;
  auto fw = Firewall::Install(o);
  ASSERT_TRUE(fw.ok()) << fw.error().message;
  auto again = Firewall::Install(o);  // replaces the table atomically
  ASSERT_TRUE(again.ok()) << again.error().message;
  const std::string listed = RunOk({"nft", "list", "table", "inet", "picket"});
  EXPECT_NE(listed.find("queue"), std::string::npos) << listed;
  Listener l = Listen(AF_INET);
  EXPECT_EQ(Connect(l, o.reject_mark, milliseconds(3000)).error, ECONNREFUSED);
  EXPECT_EQ(Connect(l, 0, milliseconds(3000)).error, 0);
  ASSERT_TRUE((*again)->Remove().ok());
  EXPECT_TRUE((*fw)->Remove().ok());
  ExpectNoPicketRules();
}

// ---- DNS response interception (rule 3) ----

TEST_F(FirewallNetnsTest, IptablesDnsChainFromInputInBothFamiliesAndRemoved) {
  FirewallOptions o = IptablesOptions(FailMode::kClosed);
  o.dns_queue_num = 5;
  auto fw = Firewall::Install(o);
  ASSERT_TRUE(fw.ok()) << fw.error().message;
  for (IpFamily family : {IpFamily::kIpv4, IpFamily::kIpv6}) {
    const std::string mangle = Table(Save(family), "mangle");
    EXPECT_EQ(CountLines(mangle, ":PICKET_DNS -"), 1) << mangle;
    EXPECT_EQ(FirstRule(mangle, "INPUT"), "-A INPUT -j PICKET_DNS") << mangle;
    for (const std::string& rule : IptablesDnsRules(o)) EXPECT_EQ(CountLines(mangle, rule), 1) << rule << "\n" << mangle;
  }
  auto again = Firewall::Install(o);  // a second install (stale rules of a crashed run) leaves one copy
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(CountLines(Table(Save(IpFamily::kIpv4), "mangle"), "-A INPUT -j PICKET_DNS"), 1);
  ASSERT_TRUE((*again)->Remove().ok());
  ExpectNoPicketRules();
  EXPECT_TRUE((*fw)->Remove().ok());
}

TEST_F(FirewallNetnsTest, NftDnsChainMatchesPassTheKernelCheck) {
  FirewallOptions o;
  o.dns_queue_num = 8;
  std::string chain = NftChain(BuildNftTable(o), "input_dns");
  ASSERT_NE(chain.find("ct direction reply"), std::string::npos) << chain;
  if (!NftQueueSupported()) {
    // Without nft's queue statement, check everything but the queue verdict.
    for (size_t at; (at = chain.find("queue num 8 bypass")) != std::string::npos;) chain.replace(at, 18, "accept");
  }
  Status checked = RunNftTransaction("check input_dns", "table inet picket {\n" + chain + "}\n", NftRunMode::kCheckOnly);
  EXPECT_TRUE(checked.ok()) << checked.error().message;
  EXPECT_EQ(RunOk({"nft", "list", "ruleset"}), "");
}

}  // namespace
}  // namespace picket
