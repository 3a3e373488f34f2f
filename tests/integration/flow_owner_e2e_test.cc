// End-to-end tests of exact flow attribution (bpf/flow_owner.bpf.c, process/flow_owner_map.h):
// short-lived clients that exit right after their packet leaves must still be named exactly.
// Needs root; skips itself otherwise.
//
// Two byte-identical copies of picket_test_client at two paths (bin-a, bin-b); a rule denies
// process.path == bin-b. Each variant runs kProcesses processes of each copy, interleaved, and
// checks: every decision line for the test port names the copy that really sent the flow (matched
// by source port where the client reports it, in run order when the kernel gave a port again),
// with via=bpf-flow (connected UDP: or bpf-cookie); bin-b never reaches the server; bin-a always
// does (counted by the server from the path the client's payload carries).
// Variants: blocking TCP; non-blocking TCP + exit; UDP sendto + exit; connected UDP + exit; IPv6
// UDP; a child that connects after its parent exited; a second thread connects; sh -c 'exec
// client'; the client in its own pid namespace; both copies with the same pid in one pid namespace
// (picket_test_pidns --same-pid); IPv4-mapped IPv6 TCP and UDP; raw sockets (ICMP echo v4 and v6,
// an IP_HDRINCL TCP SYN), recorded by the netfilter LOCAL_OUT hook; and, with that hook turned off,
// raw echoes are never attributed to the wrong process (the fallback: `unknown` at worst).
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <sstream>
#include <thread>

#include "tests/integration/decision_log.h"
#include "tests/integration/netns_pair.h"
#include "tests/tools/server_stats.h"
#include "tests/tools/subprocess.h"

namespace picket::testing {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

constexpr int kPort = 7100;
constexpr int kProcesses = 300;  // per copy and variant
constexpr int kDeniedTimeoutMs = 100;
constexpr int kFirstSport = 20000;
constexpr int kAllowedTimeoutMs = 3000;
constexpr milliseconds kReadyTimeout{15000};
constexpr milliseconds kStopTimeout{10000};
constexpr milliseconds kLogTimeout{5000};
// Without the netfilter hook every raw echo request waits send_wait (20 ms) for a ping-socket
// entry that never comes: 600 of them take 12 s to decide.
constexpr milliseconds kFallbackLogTimeout{30000};

std::string PortOf(const std::string& endpoint) {
  const size_t colon = endpoint.rfind(':');
  return colon == std::string::npos ? std::string() : endpoint.substr(colon + 1);
}

std::string SportOf(const std::string& client_output) {
  const size_t at = client_output.find(" sport=");
  if (at == std::string::npos) return std::string();
  const size_t start = at + 7;
  size_t end = start;
  while (end < client_output.size() && std::isdigit(static_cast<unsigned char>(client_output[end]))) ++end;
  return client_output.substr(start, end - start);
}

class FlowOwnerE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (geteuid() == 0) NetnsPair::DeleteStale("picket-flow");
  }

  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "end-to-end tests need root (network namespaces, netfilter, BPF)";
    char tmpl[] = "/tmp/picket-flow-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = fs::canonical(tmpl).string();
    rules_dir_ = dir_ + "/rules";
    log_path_ = dir_ + "/picketd.log";
    stats_path_ = dir_ + "/server.stats";
    fs::create_directories(rules_dir_);
    client_a_ = Copy("bin-a");
    client_b_ = Copy("bin-b");
    net_ = std::make_unique<NetnsPair>("picket-flow");
    std::string error;
    ASSERT_TRUE(net_->Create(&error)) << error;
    const std::vector<std::string> argv = {PICKET_TEST_SERVER, "--tcp", std::to_string(kPort), "--udp",
                                           std::to_string(kPort), "--stats", stats_path_};
    server_ = Subprocess::Spawn({argv, net_->server(), dir_ + "/server.out", dir_ + "/server.err"}, &error);
    ASSERT_NE(server_, nullptr) << error;
    for (int i = 0; i < 500 && !fs::exists(stats_path_); i++) std::this_thread::sleep_for(milliseconds(10));
    ASSERT_TRUE(fs::exists(stats_path_)) << "server did not start";
    const std::string rule = "{\"name\":\"deny-b\",\"enabled\":true,\"action\":\"deny\",\"duration\":\"always\","
                             "\"operator\":{\"type\":\"simple\",\"operand\":\"process.path\",\"data\":\"" +
                             client_b_ + "\"}}\n";
    ASSERT_TRUE(WriteFile(rules_dir_ + "/deny-b.json", rule));
    ASSERT_TRUE(StartPicketd());
  }

  void TearDown() override {
    if (picketd_) {
      picketd_->Signal(SIGTERM);
      if (!picketd_->Wait(kStopTimeout)) {
        ADD_FAILURE() << "picketd did not stop on SIGTERM";
        picketd_->Signal(SIGKILL);
        picketd_->Wait(kStopTimeout);
      }
    }
    if (server_) {
      server_->Signal(SIGTERM);
      server_->Wait(kStopTimeout);
      server_.reset();
    }
    net_.reset();
    if (!dir_.empty()) {
      if (HasFailure()) std::fprintf(stderr, "--- picketd log ---\n%s\n", ReadFile(log_path_).c_str());
      const std::string log = ReadFile(log_path_);
      const size_t counters = log.find("flow attribution counters:");
      if (counters != std::string::npos) std::fprintf(stderr, "%s\n", log.substr(counters, log.find('\n', counters) - counters).c_str());
      std::error_code ignored;
      fs::remove_all(dir_, ignored);
    }
  }

  std::string Copy(const std::string& subdir) {
    fs::create_directories(dir_ + "/" + subdir);
    const std::string to = dir_ + "/" + subdir + "/picket_test_client";
    fs::copy_file(PICKET_TEST_CLIENT, to, fs::copy_options::overwrite_existing);
    fs::permissions(to, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                            fs::perms::others_read | fs::perms::others_exec);
    return to;
  }

  // Stops picketd and starts it again with `config_json` (a test's own settings).
  ::testing::AssertionResult RestartPicketd(const std::string& config_json) {
    picketd_->Signal(SIGTERM);
    if (!picketd_->Wait(kStopTimeout)) return ::testing::AssertionFailure() << "picketd did not stop on SIGTERM";
    picketd_.reset();
    std::error_code ignored;
    fs::remove(log_path_, ignored);
    return StartPicketd(config_json);
  }

  ::testing::AssertionResult StartPicketd(const std::string& config_json = "{}") {
    const std::string config = dir_ + "/picketd.json";
    if (!WriteFile(config, config_json)) return ::testing::AssertionFailure() << "cannot write " << config;
    const std::vector<std::string> argv = {PICKETD_PATH, "--config", config, "--rules-dir", rules_dir_,
                                           "--log-level", "info", "--no-history"};
    std::string error;
    picketd_ = Subprocess::Spawn({argv, net_->client(), dir_ + "/picketd.out", log_path_}, &error);
    if (!picketd_) return ::testing::AssertionFailure() << error;
    const auto deadline = std::chrono::steady_clock::now() + kReadyTimeout;
    while (std::chrono::steady_clock::now() < deadline) {
      const std::string log = ReadFile(log_path_);
      if (log.find("ready:") != std::string::npos) {
        if (log.find("attribution=bpf-flow") == std::string::npos) {
          return ::testing::AssertionFailure() << "kernel flow attribution not active:\n" << log;
        }
        return ::testing::AssertionSuccess();
      }
      if (auto code = picketd_->Wait(milliseconds(20))) {
        return ::testing::AssertionFailure() << "picketd exited with " << *code << ":\n" << ReadFile(log_path_);
      }
    }
    return ::testing::AssertionFailure() << "picketd not ready:\n" << ReadFile(log_path_);
  }

  // How a client process is started.
  enum class Launch {
    kDirect,          // the client itself
    kShellExec,       // /bin/sh -c 'exec client ...'
    kOwnPidNamespace, // picket_test_pidns: the client in a new pid namespace
    kPidReuse,        // picket_test_pidns --same-pid: a copy of each client in one new pid
                      // namespace, one after the other, both with the same pid
  };

  struct Variant {
    std::string proto{};             // client protocol argument: tcp, udp, tcp6, udp6
    std::string host{};
    std::vector<std::string> flags{};  // extra client flags
    bool reports_sport = true;       // the client prints its source port (sport=N)
    std::string stats_prefix{};      // "tcp_from:" / "udp_from:"; empty: the payload may not arrive
    bool own_sport = false;          // each process binds its own source port (UDP: conntrack would
                                     // treat a reused 4-tuple as the same flow and not queue it)
    bool cookie_ok = false;          // via=bpf-cookie is right too (connected UDP: the daemon may look
                                     // before the send's flow entry is written; the socket is alive then)
    Launch launch = Launch::kDirect;
    bool waits_for_answer = false;   // the client waits for the echo: the allowed copy reports
                                     // result=ok, the denied one never does
    bool ping = false;               // icmp/icmp6 from a ping or raw socket: decisions (no ports in
                                     // the log) are matched to clients in run order (each client has
                                     // sent before the next starts: the queue keeps that order)
    std::string decision_proto{};    // proto= in the decision log when it differs from `proto`
                                     // (rawicmp → icmp)
    bool fallback_ok = false;        // the netfilter hook is off: any via= is right, and exe may be
                                     // `unknown` (never the other copy); verdicts are not checked
  };

  static constexpr int kReusedPid = 300;  // pid both clients get inside their pid namespace

  std::vector<std::string> ClientArgv(const Variant& v, const std::string& exe, int index) const {
    const int timeout = exe == client_b_ ? kDeniedTimeoutMs : kAllowedTimeoutMs;
    std::vector<std::string> argv = {exe, v.proto, v.host, std::to_string(kPort), "--timeout-ms",
                                     std::to_string(timeout)};
    argv.insert(argv.end(), v.flags.begin(), v.flags.end());
    if (v.own_sport) {
      argv.push_back("--sport");
      argv.push_back(std::to_string(kFirstSport + index));
    }
    return argv;
  }

  // The command that starts run `index` (of 2 * kProcesses flows) and the client copies it starts,
  // in order. Even runs start bin-a, odd ones bin-b; a kPidReuse run starts both (alternating which
  // comes first) and counts as two.
  std::vector<std::string> Command(const Variant& v, int index, std::vector<std::string>* exes) const {
    const bool b_first = v.launch == Launch::kPidReuse ? (index / 2) % 2 == 1 : index % 2 == 1;
    const std::string& first = b_first ? client_b_ : client_a_;
    exes->assign({first});
    std::vector<std::string> client = ClientArgv(v, first, index);
    switch (v.launch) {
      case Launch::kDirect:
        return client;
      case Launch::kShellExec: {
        std::string script = "exec";
        for (const std::string& arg : client) script += " '" + arg + "'";
        return {"/bin/sh", "-c", script};
      }
      case Launch::kOwnPidNamespace:
        client.insert(client.begin(), {PICKET_TEST_PIDNS, "--"});
        return client;
      case Launch::kPidReuse: {
        const std::string& second = b_first ? client_a_ : client_b_;
        exes->push_back(second);
        std::vector<std::string> argv = {PICKET_TEST_PIDNS, "--same-pid", std::to_string(kReusedPid), "--"};
        argv.insert(argv.end(), client.begin(), client.end());
        argv.push_back("--");
        const std::vector<std::string> other = ClientArgv(v, second, index + 1);
        argv.insert(argv.end(), other.begin(), other.end());
        return argv;
      }
    }
    return client;
  }

  // Checks one run's output (one result line per client started, in order) and records each
  // client's source port.
  void CheckRun(const Variant& v, const RunResult& r, const std::vector<std::string>& exes,
                std::map<std::string, std::deque<std::string>>& exes_by_sport, std::deque<std::string>& run_order) {
    std::vector<std::string> results, launched;
    std::istringstream lines(r.output);
    for (std::string line; std::getline(lines, line);) {
      if (line.rfind("result=", 0) == 0) results.push_back(line);
      if (line.rfind("launched pid=", 0) == 0) launched.push_back(line);
    }
    ASSERT_EQ(results.size(), exes.size()) << r.output;
    for (size_t k = 0; k < exes.size(); ++k) {
      const bool allowed = exes[k] == client_a_;
      run_order.push_back(exes[k]);
      if (v.waits_for_answer) {
        EXPECT_EQ(results[k].rfind("result=ok ", 0) == 0, allowed) << exes[k] << ": " << r.output;
      } else if (v.reports_sport) {
        EXPECT_EQ(results[k].rfind("result=sent ", 0), 0u) << exes[k] << ": " << r.output;
      } else {
        ASSERT_EQ(r.exit_code, allowed ? 0 : 1) << exes[k] << ": " << r.output;
      }
      if (!v.reports_sport) continue;
      const std::string sport = SportOf(results[k]);
      ASSERT_FALSE(sport.empty()) << r.output;
      exes_by_sport[sport].push_back(exes[k]);
    }
    if (v.launch == Launch::kPidReuse) {
      ASSERT_EQ(launched.size(), 2u) << r.output;
      const std::string want = "launched pid=" + std::to_string(kReusedPid) + " ";
      EXPECT_EQ(launched[0].rfind(want, 0), 0u) << r.output;
      EXPECT_EQ(launched[1].rfind(want, 0), 0u) << r.output;
    }
  }

  // The server namespace's counts of datagrams dropped for a full socket buffer (shown when fewer
  // allowed datagrams arrived than were sent).
  std::string ServerDropCounters() const {
    std::string out;
    for (const char* file : {"/proc/net/snmp", "/proc/net/snmp6"}) {
      const RunResult r = RunProgram({"/bin/cat", file}, net_->server(), milliseconds(5000));
      std::istringstream lines(r.output);
      for (std::string line; std::getline(lines, line);) {
        if (line.find("RcvbufErrors") != std::string::npos || line.find("InErrors") != std::string::npos) {
          out += line + "\n";
        }
      }
    }
    return out;
  }

  // Lets every group open ping sockets in the client namespace (the sysctl is per namespace).
  void EnablePingSockets() {
    const RunResult r = RunProgram({"/bin/sh", "-c", "echo '0 2147483647' > /proc/sys/net/ipv4/ping_group_range"},
                                   net_->client(), milliseconds(5000));
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }

  // Runs kProcesses of each copy, interleaved; checks every decision as described at the top.
  void RunVariant(const Variant& v) {
    // Source port → the clients that used it, in the order they ran (the kernel may give a port
    // again once its previous socket is closed; that client's flow is decided after the earlier one).
    std::map<std::string, std::deque<std::string>> exes_by_sport;
    std::deque<std::string> run_order;
    if (v.ping) EnablePingSockets();
    for (int i = 0; i < 2 * kProcesses;) {
      std::vector<std::string> exes;
      const std::vector<std::string> argv = Command(v, i, &exes);
      RunResult r = RunProgram(argv, net_->client(), milliseconds(2 * kAllowedTimeoutMs + 10000));
      CheckRun(v, r, exes, exes_by_sport, run_order);
      if (HasFatalFailure()) return;
      i += static_cast<int>(exes.size());
    }
    // Every flow's decision is in the log (the daemon flushes after each batch).
    std::vector<DecisionLine> mine;
    const auto deadline = std::chrono::steady_clock::now() + (v.fallback_ok ? kFallbackLogTimeout : kLogTimeout);
    do {
      mine.clear();
      for (const DecisionLine& d : ParseDecisions(ReadFile(log_path_))) {
        const std::string& proto = v.decision_proto.empty() ? v.proto : v.decision_proto;
        const bool ours = v.ping ? d.Get("proto") == proto : PortOf(d.Get("dst")) == std::to_string(kPort);
        if (ours) mine.push_back(d);
      }
      if (mine.size() >= 2u * kProcesses) break;
      std::this_thread::sleep_for(milliseconds(50));
    } while (std::chrono::steady_clock::now() < deadline);
    ASSERT_EQ(mine.size(), 2u * kProcesses) << ReadFile(log_path_);
    int allowed = 0, denied = 0, by_cookie = 0, unknown = 0;
    for (const DecisionLine& d : mine) {
      const std::string exe = d.Get("exe");
      if (v.cookie_ok && d.Get("via") == "bpf-cookie") {
        ++by_cookie;
      } else if (!v.fallback_ok) {
        EXPECT_EQ(d.Get("via"), "bpf-flow") << d.raw;
      }
      if (v.fallback_ok) {
        ASSERT_FALSE(run_order.empty()) << "more decisions than clients: " << d.raw;
        if (exe == "unknown") {
          ++unknown;
        } else {
          EXPECT_EQ(exe, run_order.front()) << "wrong process: " << d.raw;
        }
        run_order.pop_front();
        continue;
      }
      if (v.ping) {
        ASSERT_FALSE(run_order.empty()) << "more decisions than clients: " << d.raw;
        EXPECT_EQ(exe, run_order.front()) << "wrong process: " << d.raw;
        run_order.pop_front();
      } else if (v.reports_sport) {
        auto it = exes_by_sport.find(PortOf(d.Get("src")));
        ASSERT_TRUE(it != exes_by_sport.end() && !it->second.empty()) << "no client used this source port: " << d.raw;
        EXPECT_EQ(exe, it->second.front()) << "wrong process: " << d.raw;
        it->second.pop_front();
      }
      if (exe == client_a_) {
        ++allowed;
        EXPECT_EQ(d.Get("verdict"), "allow") << d.raw;
      } else if (exe == client_b_) {
        ++denied;
        EXPECT_EQ(d.Get("verdict"), "deny") << d.raw;
      } else {
        ADD_FAILURE() << "not one of the clients: " << d.raw;
      }
    }
    if (v.fallback_ok) {
      std::fprintf(stderr, "%d of %d flows unknown without the netfilter hook\n", unknown, 2 * kProcesses);
      return;
    }
    EXPECT_EQ(allowed, kProcesses);
    EXPECT_EQ(denied, kProcesses);
    if (by_cookie > 0) std::fprintf(stderr, "%d flows attributed via bpf-cookie\n", by_cookie);
    if (!v.stats_prefix.empty()) {
      // Allowed datagrams/connections arrive; give the last ones (and the server's stats file) up to 5 s.
      for (int i = 0; i < 250; ++i) {
        if (ParseServerStats(ReadFile(stats_path_))[v.stats_prefix + client_a_] >= kProcesses) break;
        std::this_thread::sleep_for(milliseconds(20));
      }
      auto stats = ParseServerStats(ReadFile(stats_path_));
      EXPECT_EQ(stats[v.stats_prefix + client_a_], kProcesses) << ServerDropCounters();
      EXPECT_EQ(stats[v.stats_prefix + client_b_], 0);
    }
  }

  std::string dir_, rules_dir_, log_path_, stats_path_, client_a_, client_b_;
  std::unique_ptr<NetnsPair> net_;
  std::unique_ptr<Subprocess> server_;
  std::unique_ptr<Subprocess> picketd_;
};

TEST_F(FlowOwnerE2eTest, BlockingTcpConnectThenExit) {
  RunVariant({.proto = "tcp", .host = NetnsPair::kServerV4, .reports_sport = false, .stats_prefix = "tcp_from:"});
}

TEST_F(FlowOwnerE2eTest, NonBlockingTcpConnectThenImmediateExit) {
  RunVariant({.proto = "tcp", .host = NetnsPair::kServerV4, .flags = {"--exit-after-send"}});
}

TEST_F(FlowOwnerE2eTest, UdpSendtoOneDatagramThenImmediateExit) {
  RunVariant({.proto = "udp", .host = NetnsPair::kServerV4, .flags = {"--exit-after-send", "--sendto"},
              .stats_prefix = "udp_from:", .own_sport = true});
}

TEST_F(FlowOwnerE2eTest, ConnectedUdpSendThenExit) {
  RunVariant({.proto = "udp", .host = NetnsPair::kServerV4, .flags = {"--exit-after-send"},
              .stats_prefix = "udp_from:", .own_sport = true, .cookie_ok = true});
}

TEST_F(FlowOwnerE2eTest, Ipv6UdpSendtoThenImmediateExit) {
  RunVariant({.proto = "udp6", .host = NetnsPair::kServerV6, .flags = {"--exit-after-send", "--sendto"},
              .stats_prefix = "udp_from:", .own_sport = true});
}

// The parent forks and exits; the child connects only once it has been re-parented.
TEST_F(FlowOwnerE2eTest, ChildConnectsAfterItsParentExited) {
  RunVariant({.proto = "tcp", .host = NetnsPair::kServerV4, .flags = {"--fork-first", "--report-sport"},
              .stats_prefix = "tcp_from:", .waits_for_answer = true});
}

// A second thread (not the thread-group leader) connects: the owner is its process.
TEST_F(FlowOwnerE2eTest, SecondThreadConnects) {
  RunVariant({.proto = "tcp", .host = NetnsPair::kServerV4, .flags = {"--thread", "--report-sport"},
              .stats_prefix = "tcp_from:", .waits_for_answer = true});
}

// sh -c 'exec client': the shell's process becomes the client; the new image is what is named.
TEST_F(FlowOwnerE2eTest, ShellExecsTheClient) {
  RunVariant({.proto = "tcp", .host = NetnsPair::kServerV4, .flags = {"--report-sport"},
              .stats_prefix = "tcp_from:", .launch = Launch::kShellExec, .waits_for_answer = true});
}

TEST_F(FlowOwnerE2eTest, ClientInItsOwnPidNamespace) {
  RunVariant({.proto = "tcp", .host = NetnsPair::kServerV4, .flags = {"--report-sport"},
              .stats_prefix = "tcp_from:", .launch = Launch::kOwnPidNamespace, .waits_for_answer = true});
}

// The two copies run one after the other with the same pid (inside a fresh pid namespace; the
// machine's ns_last_pid is never touched, so their pids in the initial namespace differ) and exit
// right after sending: the second's datagram is often decided after the first has exited.
TEST_F(FlowOwnerE2eTest, PidReusedBetweenTheTwoClients) {
  RunVariant({.proto = "udp", .host = NetnsPair::kServerV4, .flags = {"--exit-after-send", "--sendto"},
              .stats_prefix = "udp_from:", .own_sport = true, .launch = Launch::kPidReuse});
}

// ICMP echo from a ping socket (SOCK_DGRAM, IPPROTO_ICMP): attributed by the echo identifier the
// kernel gives the socket, written right after the send.
TEST_F(FlowOwnerE2eTest, PingSocketEcho) {
  RunVariant({.proto = "icmp", .host = NetnsPair::kServerV4, .flags = {"--report-sport"},
              .waits_for_answer = true, .ping = true});
}

TEST_F(FlowOwnerE2eTest, Ping6SocketEcho) {
  RunVariant({.proto = "icmp6", .host = NetnsPair::kServerV6, .flags = {"--report-sport"},
              .waits_for_answer = true, .ping = true});
}

// An AF_INET6 socket to ::ffff:198.18.0.2: the packet is IPv4; the programs' keys normalise it.
TEST_F(FlowOwnerE2eTest, Ipv4MappedIpv6Tcp) {
  RunVariant({.proto = "tcp6", .host = std::string("::ffff:") + NetnsPair::kServerV4, .flags = {"--report-sport"},
              .stats_prefix = "tcp_from:", .waits_for_answer = true});
}

TEST_F(FlowOwnerE2eTest, Ipv4MappedIpv6UdpSendtoThenImmediateExit) {
  RunVariant({.proto = "udp6", .host = std::string("::ffff:") + NetnsPair::kServerV4,
              .flags = {"--exit-after-send", "--sendto"}, .stats_prefix = "udp_from:", .own_sport = true});
}

// Raw sockets: cgroup hooks do not run for them; the netfilter LOCAL_OUT hook records each packet
// inside the sender's sendto(), before it is queued. Each client uses its own echo identifier
// (--sport; conntrack would take a reused one for the same flow) and exits right after sending.
TEST_F(FlowOwnerE2eTest, RawSocketIcmpEchoThenImmediateExit) {
  RunVariant({.proto = "rawicmp", .host = NetnsPair::kServerV4, .flags = {"--exit-after-send"}, .own_sport = true,
              .ping = true, .decision_proto = "icmp"});
}

// ICMPv6 from a raw socket; the client waits for the reply, so the allowed copy is seen to get
// through and the denied one not.
TEST_F(FlowOwnerE2eTest, RawSocketIcmp6EchoWaitsForTheReply) {
  RunVariant({.proto = "rawicmp6", .host = NetnsPair::kServerV6, .flags = {"--report-sport"}, .own_sport = true,
              .waits_for_answer = true, .ping = true, .decision_proto = "icmp6"});
}

// A TCP SYN built by hand and sent with IP_HDRINCL (as nmap does), then the process exits.
TEST_F(FlowOwnerE2eTest, RawSocketHdrinclTcpSynThenImmediateExit) {
  RunVariant({.proto = "rawsyn", .host = NetnsPair::kServerV4, .own_sport = true});
}

// flow_attribution_netfilter: false — raw packets are not recorded; the fallback may not find a
// raw socket (`unknown`), but never names the other copy.
TEST_F(FlowOwnerE2eTest, RawSocketEchoWithoutTheNetfilterHookIsNeverWrong) {
  ASSERT_TRUE(RestartPicketd(R"({"flow_attribution_netfilter": false})"));
  ASSERT_NE(ReadFile(log_path_).find("netfilter_hook=off"), std::string::npos) << ReadFile(log_path_);
  RunVariant({.proto = "rawicmp", .host = NetnsPair::kServerV4, .flags = {"--exit-after-send"}, .own_sport = true,
              .ping = true, .decision_proto = "icmp", .fallback_ok = true});
}

}  // namespace
}  // namespace picket::testing
