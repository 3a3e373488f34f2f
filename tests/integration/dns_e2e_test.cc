// End-to-end tests of host names and history: dnsmasq (Debian's dnsmasq-base, run on its own config
// file inside the server namespace, never as a system service) answers the test client's lookups;
// picketd in the client namespace learns the answers from its DNS queue and decides connections by
// `dest.host`; the event log records every decision. Needs root and dnsmasq; skips otherwise.
//
//   allowed.picket.test  → 198.18.0.2, 2001:2::2
//   blocked.picket.test  → 198.18.0.3, 2001:2::3   (second addresses on the server's veth)
//   alias.picket.test    CNAME blocked.picket.test
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <thread>

#include "storage/history_reader.h"
#include "tests/integration/picketd_harness.h"
#include "tests/integration/ui_protocol_client.h"

namespace picket::testing {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

constexpr const char* kBlockedV4 = "198.18.0.3";
constexpr const char* kBlockedV6 = "2001:2::3";
constexpr const char* kSplitDnsV4 = "198.18.0.4";  // the split-answer DNS server (TCP only)
constexpr uint8_t kSplitAnswerRecords = 120;       // ≈2 KB of answer
constexpr size_t kSplitChunkBytes = 200;           // written in ≈10 segments
constexpr milliseconds kResolverGrace{15000};       // a client that resolves first: its lookup's retries too

// Writes all of `bytes` (blocking).
bool WriteAll(int fd, const uint8_t* bytes, size_t size) {
  while (size > 0) {
    const ssize_t n = write(fd, bytes, size);
    if (n <= 0) return false;
    bytes += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

// Reads exactly `size` bytes within 5 s.
bool ReadExactly(int fd, uint8_t* bytes, size_t size) {
  while (size > 0) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 5000) != 1) return false;
    const ssize_t n = read(fd, bytes, size);
    if (n <= 0) return false;
    bytes += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

// The answer to `query` (a DNS message): its question, then kSplitAnswerRecords A records for the
// question name — the first kBlockedV4, the others 198.18.2.N.
std::vector<uint8_t> SplitAnswer(const std::vector<uint8_t>& query) {
  size_t end = 12;
  while (end < query.size() && query[end] != 0) end += query[end] + 1u;
  end += 1 + 4;  // root label, type, class
  if (end > query.size()) return {};
  std::vector<uint8_t> out(query.begin(), query.begin() + static_cast<std::ptrdiff_t>(end));
  out[2] = 0x85;  // QR, AA, RD
  out[3] = 0x80;  // RA
  out[6] = 0;
  out[7] = kSplitAnswerRecords;
  out[8] = out[9] = out[10] = out[11] = 0;
  for (uint8_t i = 0; i < kSplitAnswerRecords; ++i) {
    const uint8_t address[4] = {198, 18, static_cast<uint8_t>(i == 0 ? 0 : 2), static_cast<uint8_t>(i == 0 ? 3 : i)};
    const uint8_t record[12] = {0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4};  // name → question, A, IN, TTL 60
    out.insert(out.end(), record, record + sizeof(record));
    out.insert(out.end(), address, address + 4);
  }
  return out;
}

// Child process: a DNS-over-TCP server on kSplitDnsV4:53 in the server namespace that writes each
// answer in kSplitChunkBytes pieces, TCP_NODELAY and a pause between them, so it arrives in many
// segments. Writes one byte to `ready_fd` once listening. Serves a bounded number of connections.
[[noreturn]] void RunSplitDnsServer(const std::string& netns, int ready_fd) {
  const int ns = open(("/run/netns/" + netns).c_str(), O_RDONLY | O_CLOEXEC);
  if (ns < 0 || setns(ns, CLONE_NEWNET) != 0) _exit(2);
  const int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(53);
  inet_pton(AF_INET, kSplitDnsV4, &addr.sin_addr);
  if (bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || listen(listener, 4) != 0) _exit(3);
  const uint8_t ready = 1;
  if (write(ready_fd, &ready, 1) != 1) _exit(4);
  for (int served = 0; served < 8; ++served) {
    pollfd p{listener, POLLIN, 0};
    if (poll(&p, 1, 60000) != 1) _exit(0);
    const int conn = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (conn < 0) continue;
    setsockopt(conn, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    uint8_t prefix[2];
    std::vector<uint8_t> query;
    if (ReadExactly(conn, prefix, 2)) {
      query.resize((size_t{prefix[0]} << 8) | prefix[1]);
      if (!ReadExactly(conn, query.data(), query.size())) query.clear();
    }
    std::vector<uint8_t> answer = SplitAnswer(query);
    if (!answer.empty()) {
      answer.insert(answer.begin(), {static_cast<uint8_t>(answer.size() >> 8), static_cast<uint8_t>(answer.size())});
      for (size_t off = 0; off < answer.size(); off += kSplitChunkBytes) {
        if (!WriteAll(conn, answer.data() + off, std::min(kSplitChunkBytes, answer.size() - off))) break;
        usleep(20000);
      }
    }
    close(conn);
  }
  _exit(0);
}

class DnsE2eTest : public PicketdFixture {
 protected:
  DnsE2eTest() : PicketdFixture({.name = "picket-dns", .server = {.tcp = {kPort}}}) {}

  void SetUp() override {
    PicketdFixture::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    dnsmasq_path_ = FindProgram("dnsmasq");
    if (!fs::exists(dnsmasq_path_)) GTEST_SKIP() << "dnsmasq not installed (scripts/install-deps.sh installs dnsmasq-base)";
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"-n", net_->server(), "addr", "add", std::string(kBlockedV4) + "/24", "dev", "pks0"},
          std::vector<std::string>{"-n", net_->server(), "addr", "add", std::string(kBlockedV6) + "/64", "dev", "pks0",
                                   "nodad"}}) {
      std::vector<std::string> argv = {FindProgram("ip")};
      argv.insert(argv.end(), args.begin(), args.end());
      RunResult r = RunProgram(argv, "", milliseconds(10000));
      ASSERT_EQ(r.exit_code, 0) << r.output;
    }
    StartDnsmasq();
  }

  void TearDown() override {
    StopPicketd();
    if (split_dns_pid_ > 0) {
      kill(split_dns_pid_, SIGKILL);
      int status = 0;
      waitpid(split_dns_pid_, &status, 0);
    }
    if (dnsmasq_) {
      dnsmasq_->Signal(SIGTERM);
      dnsmasq_->Wait(kStopTimeout);
      dnsmasq_.reset();
    }
    if (HasFailure()) std::fprintf(stderr, "--- dnsmasq ---\n%s\n", ReadFile(dir_ + "/dnsmasq.err").c_str());
    PicketdFixture::TearDown();
  }

  // The split-answer DNS server (RunSplitDnsServer) on a third address of the server's veth.
  void StartSplitDnsServer() {
    RunResult r = RunProgram({FindProgram("ip"), "-n", net_->server(), "addr", "add", std::string(kSplitDnsV4) + "/24",
                              "dev", "pks0"},
                             "", milliseconds(10000));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    int ready[2];
    ASSERT_EQ(pipe2(ready, O_CLOEXEC), 0);
    split_dns_pid_ = fork();
    ASSERT_GE(split_dns_pid_, 0);
    if (split_dns_pid_ == 0) RunSplitDnsServer(net_->server(), ready[1]);
    close(ready[1]);
    pollfd p{ready[0], POLLIN, 0};
    uint8_t byte = 0;
    const bool listening = poll(&p, 1, 10000) == 1 && read(ready[0], &byte, 1) == 1;
    close(ready[0]);
    ASSERT_TRUE(listening) << "the split-answer DNS server did not start";
  }

  // dnsmasq in the foreground on its own config: no system files, no upstream, no pid file.
  void StartDnsmasq() {
    const std::string conf = dir_ + "/dnsmasq.conf";
    ASSERT_TRUE(WriteFile(conf,
                          "port=53\n"
                          "listen-address=198.18.0.2\n"
                          "bind-interfaces\n"
                          "no-resolv\n"
                          "no-hosts\n"
                          "no-poll\n"
                          "user=root\n"
                          "local-ttl=60\n"
                          "log-queries\n"
                          "log-facility=-\n"
                          "host-record=allowed.picket.test,198.18.0.2,2001:2::2\n"
                          "host-record=blocked.picket.test,198.18.0.3,2001:2::3\n"
                          "cname=alias.picket.test,blocked.picket.test\n"));
    std::string error;
    dnsmasq_ = Subprocess::Spawn({{dnsmasq_path_, "--keep-in-foreground", "--conf-file=" + conf, "--pid-file="},
                                  net_->server(), dir_ + "/dnsmasq.out", dir_ + "/dnsmasq.err"},
                                 &error);
    ASSERT_NE(dnsmasq_, nullptr) << error;
    // Ready when it answers (a lookup from the client namespace, before any firewall exists).
    for (int i = 0; i < 100; i++) {
      if (Lookup("tcp", "allowed.picket.test").exit_code == kExitOk) return;
      ASSERT_FALSE(dnsmasq_->Wait(milliseconds(50)).has_value()) << "dnsmasq exited: " << ReadFile(dir_ + "/dnsmasq.err");
    }
    FAIL() << "dnsmasq does not answer: " << ReadFile(dir_ + "/dnsmasq.err");
  }

  // The test client connecting to `name` after resolving it through dnsmasq.
  RunResult Lookup(const std::string& proto, const std::string& name, int timeout_ms = kAllowedTimeoutMs,
                   const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv = {client_a_, proto, name, std::to_string(kPort), "--timeout-ms",
                                     std::to_string(timeout_ms), "--resolver", NetnsPair::kServerV4};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return RunInClient(argv, timeout_ms, kResolverGrace);
  }

  // The first decision line matching `want` whose host= is `host`, waiting (bounded) for the log.
  std::optional<DecisionLine> WaitForHostDecision(const DecisionMatch& want, const std::string& host) {
    const auto deadline = std::chrono::steady_clock::now() + kLogTimeout;
    do {
      for (const DecisionLine& d : ParseDecisions(Log())) {
        if (Matches(d, want) && d.Get("host") == host) return d;
      }
      std::this_thread::sleep_for(milliseconds(20));
    } while (std::chrono::steady_clock::now() < deadline);
    return std::nullopt;
  }

  std::string dnsmasq_path_;
  std::unique_ptr<Subprocess> dnsmasq_;
  pid_t split_dns_pid_ = -1;
};

// Only TCP is matched, so the lookup (UDP port 53) goes through: the connection is decided by name.
std::string DenyBlockedTcpByName() {
  return "{\"type\":\"list\",\"operand\":\"list\",\"list\":[" +
         std::string("{\"type\":\"simple\",\"operand\":\"dest.host\",\"data\":\"blocked.picket.test\",\"sensitive\":false},"
                     "{\"type\":\"regexp\",\"operand\":\"protocol\",\"data\":\"^tcp6?$\",\"sensitive\":false}]}");
}

// Issue #7: a prompt for a destination whose name is not known yet (the client connects to the
// address) is re-sent — same id, now with `host` — when a DNS answer for that address is seen.
TEST_F(DnsE2eTest, PendingPromptIsResentWithTheHostWhenADnsAnswerNamesItsDestination) {
  WriteRule("allow-dns", "allow", "dest.port", "53");
  ASSERT_TRUE(StartPicketd({.config_json = R"({"default_action":"deny","prompt_timeout_seconds":60})"}));
  ProtocolClient ui(socket_path_);
  ASSERT_NO_FATAL_FAILURE(ui.SubscribePrompts());
  Subprocess* held =
      SpawnInClient({client_b_, "tcp", kBlockedV4, std::to_string(kPort), "--timeout-ms", "20000"});
  ASSERT_NE(held, nullptr);
  std::optional<ui::PromptEvent> prompt = ui.NextPrompt();
  ASSERT_TRUE(prompt.has_value());
  const QJsonObject destination = prompt->details.value("destination").toObject();
  EXPECT_EQ(destination.value("ip").toString().toStdString(), kBlockedV4);
  EXPECT_FALSE(destination.contains("host")) << "no name is known for " << kBlockedV4 << " yet";
  // Another program looks the name up (its own connection then waits for a prompt of its own).
  ASSERT_NE(SpawnInClient({client_a_, "tcp", "blocked.picket.test", std::to_string(kPort), "--timeout-ms", "20000",
                           "--resolver", NetnsPair::kServerV4}),
            nullptr);
  const uint64_t id = prompt->id;
  std::optional<ui::PromptEvent> resent = ui.ReadUntil<ui::PromptEvent>(
      [&](const ui::PromptEvent& p) { return !p.closed && p.id == id; }, milliseconds(10000));
  ASSERT_TRUE(resent.has_value()) << "prompt " << id << " was not re-sent";
  EXPECT_EQ(resent->details.value("destination").toObject().value("host").toString(), "blocked.picket.test");
  EXPECT_EQ(resent->details.value("process").toObject().value("path").toString().toStdString(), client_b_);
  EXPECT_TRUE(held->running());
  ui::Message reply = ui.Answer(id, ui::AnswerAction::kAllow, ui::AnswerDuration::kOnce, {ui::ScopeField::kExecutable});
  ASSERT_TRUE(std::holds_alternative<ui::ResultReply>(reply)) << ui::Encode(reply);
  EXPECT_EQ(held->Wait(milliseconds(5000)), std::optional<int>(kExitOk));
}

TEST_F(DnsE2eTest, DestHostRuleDecidesConnectionsByTheNameLearnedFromDns) {
  WriteRuleWithOperator("deny-blocked-host", "deny", DenyBlockedTcpByName());
  ASSERT_TRUE(StartPicketd());

  RunResult allowed = Lookup("tcp", "allowed.picket.test");
  EXPECT_EQ(allowed.exit_code, kExitOk) << allowed.output;
  RunResult blocked = Lookup("tcp", "blocked.picket.test", kBlockedTimeoutMs);
  EXPECT_EQ(blocked.exit_code, kExitTimeout) << "resolved, then denied by name: " << blocked.output;
  RunResult blocked6 = Lookup("tcp6", "blocked.picket.test", kBlockedTimeoutMs);
  EXPECT_EQ(blocked6.exit_code, kExitTimeout) << blocked6.output;
  RunResult allowed6 = Lookup("tcp6", "allowed.picket.test");
  EXPECT_EQ(allowed6.exit_code, kExitOk) << allowed6.output;

  const std::string blocked_dst = std::string(kBlockedV4) + ":" + std::to_string(kPort);
  EXPECT_TRUE(WaitForHostDecision({"deny", "deny-blocked-host", "tcp", blocked_dst, client_a_}, "blocked.picket.test"));
  EXPECT_TRUE(WaitForHostDecision({"deny", "deny-blocked-host", "tcp6", "[2001:2::3]:7000", client_a_},
                                  "blocked.picket.test"));
  EXPECT_TRUE(WaitForHostDecision({"allow", "default", "tcp", "198.18.0.2:7000", client_a_}, "allowed.picket.test"));
  // The lookup itself is a flow whose host is the question name, made by the program that asked.
  EXPECT_TRUE(WaitForHostDecision({"allow", "default", "udp", "198.18.0.2:53", client_a_}, "blocked.picket.test"));
}

TEST_F(DnsE2eTest, CnameAnswerIsKnownByTheNameTheProgramAsked) {
  WriteRuleWithOperator("deny-blocked-host", "deny", DenyBlockedTcpByName());
  ASSERT_TRUE(StartPicketd());
  RunResult alias = Lookup("tcp", "alias.picket.test");
  // 198.18.0.3 is now known as alias.picket.test (the name asked): the rule on the CNAME target's
  // name does not match it (see docs/DNS.md).
  EXPECT_EQ(alias.exit_code, kExitOk) << alias.output;
  EXPECT_TRUE(WaitForHostDecision({"allow", "default", "tcp", std::string(kBlockedV4) + ":7000", client_a_},
                                  "alias.picket.test"));
}

TEST_F(DnsE2eTest, BlockingAHostAlsoBlocksItsLookup) {
  // A plain dest.host rule matches the DNS query for that name too (its host is the question name),
  // so the lookup fails fast with reject instead of the connection.
  WriteRule("reject-blocked-host", "reject", "dest.host", "blocked.picket.test");
  ASSERT_TRUE(StartPicketd());
  RunResult blocked = Lookup("tcp", "blocked.picket.test", kBlockedTimeoutMs);
  EXPECT_EQ(blocked.exit_code, kExitUnresolved) << blocked.output;
  RunResult allowed = Lookup("tcp", "allowed.picket.test");
  EXPECT_EQ(allowed.exit_code, kExitOk) << allowed.output;
  EXPECT_TRUE(WaitForHostDecision({"reject", "reject-blocked-host", "udp", "198.18.0.2:53", client_a_},
                                  "blocked.picket.test"));
}

TEST_F(DnsE2eTest, AnswersOverTcpAreLearnedToo) {
  WriteRuleWithOperator("deny-blocked-host", "deny", DenyBlockedTcpByName());
  ASSERT_TRUE(StartPicketd());
  RunResult blocked = Lookup("tcp", "blocked.picket.test", kBlockedTimeoutMs, {"--resolver-tcp"});
  EXPECT_EQ(blocked.exit_code, kExitTimeout) << blocked.output;
  EXPECT_TRUE(WaitForHostDecision({"deny", "deny-blocked-host", "tcp", std::string(kBlockedV4) + ":7000", client_a_},
                                  "blocked.picket.test"));
}

TEST_F(DnsE2eTest, TcpAnswerSpanningManySegmentsIsReassembledAndLearned) {
  ASSERT_NO_FATAL_FAILURE(StartSplitDnsServer());
  WriteRule("deny-split-host", "deny", "dest.host", "split.picket.test");
  ASSERT_TRUE(StartPicketd());
  RunResult blocked = RunInClient({client_a_, "tcp", "split.picket.test", std::to_string(kPort), "--timeout-ms",
                                   std::to_string(kBlockedTimeoutMs), "--resolver", kSplitDnsV4, "--resolver-tcp"},
                                  kBlockedTimeoutMs, kResolverGrace);
  EXPECT_EQ(blocked.exit_code, kExitTimeout) << blocked.output;
  EXPECT_TRUE(WaitForHostDecision({"deny", "deny-split-host", "tcp", std::string(kBlockedV4) + ":7000", client_a_},
                                  "split.picket.test"));
  ASSERT_EQ(StopPicketd(), 0);
  const std::string log = Log();
  EXPECT_NE(log.find("tcp_reassembled=1 "), std::string::npos) << "the answer came in several segments:\n" << log;
}

TEST_F(DnsE2eTest, AddressWithoutAKnownNameDecidesByIp) {
  WriteRuleWithOperator("deny-blocked-host", "deny", DenyBlockedTcpByName());
  ASSERT_TRUE(StartPicketd());
  RunResult direct = Client(client_a_, "tcp", kBlockedV4, kPort, kAllowedTimeoutMs);
  EXPECT_EQ(direct.exit_code, kExitOk) << direct.output;
  EXPECT_TRUE(WaitForHostDecision({"allow", "default", "tcp", std::string(kBlockedV4) + ":7000", client_a_}, "-"));
}

TEST_F(DnsE2eTest, EveryDecisionIsInTheEventLogWithItsFields) {
  WriteRuleWithOperator("deny-blocked-host", "deny", DenyBlockedTcpByName());
  ASSERT_TRUE(StartPicketd());
  EXPECT_EQ(Lookup("tcp", "blocked.picket.test", kBlockedTimeoutMs).exit_code, kExitTimeout);
  EXPECT_EQ(Lookup("tcp", "allowed.picket.test").exit_code, kExitOk);
  ASSERT_EQ(StopPicketd(), 0);
  const std::string log = Log();
  EXPECT_NE(log.find("counters: history on"), std::string::npos) << log;

  auto reader = HistoryReader::Open(history_path_);
  ASSERT_TRUE(reader.ok()) << reader.error().message;
  EventFilter all;
  all.limit = 0;
  auto rows = reader.value()->Query(all);
  ASSERT_TRUE(rows.ok()) << rows.error().message;
  // One row per decision line (the SYN retransmits of the denied connection are decisions too).
  EXPECT_EQ(rows->size(), ParseDecisions(log).size());
  EventFilter denied;
  denied.host = "blocked.picket.test";
  denied.verdict = "deny";
  denied.exe = client_a_;
  auto deny_rows = reader.value()->Query(denied);
  ASSERT_TRUE(deny_rows.ok());
  ASSERT_FALSE(deny_rows->empty());
  const EventRecord& r = deny_rows->back().record;
  EXPECT_EQ(r.rule, "deny-blocked-host");
  EXPECT_EQ(r.decided_by, DecidedBy::kRule);
  EXPECT_EQ(r.protocol, "tcp");
  EXPECT_EQ(r.dst_ip, kBlockedV4);
  EXPECT_EQ(r.dst_port, kPort);
  EXPECT_EQ(r.src_ip, NetnsPair::kClientV4);
  EXPECT_NE(r.src_port, 0);
  EXPECT_EQ(r.uid, 0u);
  EXPECT_TRUE(r.pid.has_value());
  EXPECT_EQ(r.exe, client_a_);
  EXPECT_NE(r.cmdline.find("blocked.picket.test"), std::string::npos) << r.cmdline;
  EXPECT_EQ(r.attribution, "process");
  EXPECT_FALSE(r.method.empty());
  EventFilter queries;
  queries.host = "picket.test";
  queries.rule = "default";
  auto query_rows = reader.value()->Query(queries);
  ASSERT_TRUE(query_rows.ok());
  bool saw_query = false;
  for (const StoredEvent& e : *query_rows) saw_query = saw_query || (e.record.dst_port == 53 && e.record.protocol == "udp");
  EXPECT_TRUE(saw_query) << "the DNS query flows are recorded with their question name";

  // The CLI over the same file.
  RunResult log_json = RunProgram({PICKET_CLI, "log", "--db", history_path_, "--host", "blocked.picket.test",
                                   "--verdict", "deny", "--json"},
                                  "", milliseconds(10000));
  EXPECT_EQ(log_json.exit_code, 0) << log_json.output;
  EXPECT_NE(log_json.output.find("\"rule\":\"deny-blocked-host\""), std::string::npos) << log_json.output;
  EXPECT_NE(log_json.output.find("\"exe\":\"" + client_a_ + "\""), std::string::npos) << log_json.output;
  RunResult top = RunProgram({PICKET_CLI, "top", "--db", history_path_, "--since", "1h"}, "", milliseconds(10000));
  EXPECT_EQ(top.exit_code, 0) << top.output;
  EXPECT_NE(top.output.find(client_a_), std::string::npos) << top.output;
  EXPECT_NE(top.output.find("blocked.picket.test"), std::string::npos) << top.output;
  RunResult stats = RunProgram({PICKET_CLI, "stats", "--db", history_path_, "--json"}, "", milliseconds(10000));
  EXPECT_EQ(stats.exit_code, 0) << stats.output;
  EXPECT_NE(stats.output.find("{\"key\":\"deny-blocked-host\""), std::string::npos) << stats.output;
}

}  // namespace
}  // namespace picket::testing
