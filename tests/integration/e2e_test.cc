// End-to-end tests of picketd: real packets between two network namespaces, real NFQUEUE, real
// firewall rules, real processes. Needs root; skips itself otherwise.
//
// Each test gets the shared stage of PicketdFixture (picketd_harness.h): fresh namespaces, an echo
// server, two byte-identical copies of picket_test_client (bin-a, bin-b), a temp rules directory and
// picketd in the client namespace; all of it is removed after the test, also after a failed assertion.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <sstream>
#include <thread>

#include "tests/integration/picketd_harness.h"

namespace picket::testing {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

constexpr int kOtherPort = 7001;
constexpr int kAbortPort = 7002;   // the server resets each connection right after its echo
constexpr int kReusedSourcePort = 40000;

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

class PicketE2eTest : public PicketdFixture {
 protected:
  PicketE2eTest()
      : PicketdFixture({.name = "picket-e2e",
                        .server = {.tcp = {kPort, kOtherPort},
                                   .tcp_abort = {kAbortPort},
                                   .udp = {kPort, kOtherPort}}}) {}

  // Output of a ruleset dump tool run in the client namespace (iptables-save, ip6tables-save, nft).
  std::string Dump(const std::vector<std::string>& argv) {
    RunResult r = RunProgram(argv, net_->client(), milliseconds(10000));
    EXPECT_EQ(r.exit_code, 0) << argv[0] << ": " << r.output;
    return r.output;
  }

  std::string AllRulesets() {
    return Dump({FindProgram("iptables-save")}) + Dump({FindProgram("ip6tables-save")}) +
           Dump({FindProgram("nft"), "list", "ruleset"});
  }
};

const std::string kServerDst = ServerDst(kPort);

TEST_F(PicketE2eTest, AllowedCopyReachesServerDeniedCopyDoesNot) {
  WriteRule("allow-client-a", "allow", "process.path", client_a_);
  WriteRule("deny-client-b", "deny", "process.path", client_b_);
  ASSERT_TRUE(StartPicketd());

  RunResult a_tcp = ClientV4(client_a_, "tcp", kAllowedTimeoutMs);
  EXPECT_EQ(a_tcp.exit_code, kExitOk) << a_tcp.output;
  RunResult b_tcp = ClientV4(client_b_, "tcp", kBlockedTimeoutMs);
  EXPECT_EQ(b_tcp.exit_code, kExitTimeout) << b_tcp.output;
  RunResult a_udp = ClientV4(client_a_, "udp", kAllowedTimeoutMs);
  EXPECT_EQ(a_udp.exit_code, kExitOk) << a_udp.output;
  RunResult b_udp = ClientV4(client_b_, "udp", kBlockedTimeoutMs);
  EXPECT_EQ(b_udp.exit_code, kExitTimeout) << b_udp.output;

  auto stats = Stats();
  EXPECT_EQ(stats["tcp_from:" + client_a_], 1);
  EXPECT_EQ(stats["udp_from:" + client_a_], 1);
  EXPECT_EQ(stats["tcp_from:" + client_b_], 0);
  EXPECT_EQ(stats["udp_from:" + client_b_], 0);
  EXPECT_EQ(stats["tcp_accepted"], 1) << "the denied client's SYN reached the server";
  EXPECT_EQ(stats["udp_datagrams"], 1) << "the denied client's datagram reached the server";

  ExpectDecision({"allow", "allow-client-a", "tcp", kServerDst, client_a_});
  ExpectDecision({"deny", "deny-client-b", "tcp", kServerDst, client_b_});
  ExpectDecision({"allow", "allow-client-a", "udp", kServerDst, client_a_});
  ExpectDecision({"deny", "deny-client-b", "udp", kServerDst, client_b_});
  // Attribution must never name the other copy for these connections.
  for (const DecisionLine& d : ParseDecisions(Log())) {
    if (d.Get("rule") == "deny-client-b") {
      EXPECT_EQ(d.Get("exe"), client_b_) << d.raw;
    }
    if (d.Get("rule") == "allow-client-a") {
      EXPECT_EQ(d.Get("exe"), client_a_) << d.raw;
    }
  }
}

TEST_F(PicketE2eTest, RejectedTcpConnectFailsFast) {
  WriteRule("reject-client-b", "reject", "process.path", client_b_);
  ASSERT_TRUE(StartPicketd());

  const int connect_timeout_ms = 5000;
  RunResult b = ClientV4(client_b_, "tcp", connect_timeout_ms);
  EXPECT_EQ(b.exit_code, kExitRefused) << b.output;
  EXPECT_LT(b.elapsed_ms, 1000) << "a reject must fail fast, not wait for the " << connect_timeout_ms
                                << " ms timeout: " << b.output;
  // UDP has no RST: the reject chain answers with ICMP port unreachable, seen as ECONNREFUSED.
  RunResult b_udp = ClientV4(client_b_, "udp", connect_timeout_ms);
  EXPECT_EQ(b_udp.exit_code, kExitRefused) << b_udp.output;
  EXPECT_LT(b_udp.elapsed_ms, 1000) << b_udp.output;
  RunResult a = ClientV4(client_a_, "tcp", kAllowedTimeoutMs);
  EXPECT_EQ(a.exit_code, kExitOk) << a.output;
  EXPECT_EQ(Stats()["tcp_from:" + client_b_], 0);
  EXPECT_EQ(Stats()["udp_from:" + client_b_], 0);
  ExpectDecision({"reject", "reject-client-b", "tcp", kServerDst, client_b_});
  ExpectDecision({"reject", "reject-client-b", "udp", kServerDst, client_b_});
}

// A new connection that reuses the 4-tuple of a connection the server reset moments ago finds the old
// conntrack entry (state CLOSE, replies seen): its SYN is not "ct state NEW". It must be decided all
// the same — otherwise any program gets past its deny rule by picking a recently used source port.
TEST_F(PicketE2eTest, ReusedTupleOfResetConnectionIsStillDecided) {
  WriteRule("deny-client-b", "deny", "process.path", client_b_);
  ASSERT_TRUE(StartPicketd());
  const std::vector<std::string> common = {"tcp", NetnsPair::kServerV4, std::to_string(kAbortPort), "--sport",
                                           std::to_string(kReusedSourcePort), "--timeout-ms"};
  auto run = [&](const std::string& exe, int timeout_ms, const std::vector<std::string>& extra) {
    std::vector<std::string> argv = {exe};
    argv.insert(argv.end(), common.begin(), common.end());
    argv.push_back(std::to_string(timeout_ms));
    argv.insert(argv.end(), extra.begin(), extra.end());
    return RunInClient(argv, timeout_ms);
  };

  // The allowed copy waits for the server's reset instead of closing first, so the reset is the
  // connection's last packet (no FIN from the client that would let conntrack reopen the tuple).
  RunResult a = run(client_a_, kAllowedTimeoutMs, {"--wait-peer-close"});
  EXPECT_EQ(a.exit_code, kExitOk) << a.output;
  ASSERT_EQ(Stats()["tcp_from:" + client_a_], 1) << "the allowed copy must reach the server first";
  RunResult b = run(client_b_, kBlockedTimeoutMs, {});
  EXPECT_EQ(Stats()["tcp_from:" + client_b_], 0)
      << "the denied copy reached the server by reusing the allowed connection's 4-tuple: " << b.output;
  EXPECT_EQ(b.exit_code, kExitTimeout) << b.output;
  const std::string dst = ServerDst(kAbortPort);
  ExpectDecision({"deny", "deny-client-b", "tcp", dst, client_b_});
}

TEST_F(PicketE2eTest, DestPortRuleDeniesOnlyThatPort) {
  WriteRule("deny-port-7001", "deny", "dest.port", std::to_string(kOtherPort));
  ASSERT_TRUE(StartPicketd());

  RunResult denied_tcp = ClientV4(client_a_, "tcp", kBlockedTimeoutMs, kOtherPort);
  EXPECT_EQ(denied_tcp.exit_code, kExitTimeout) << denied_tcp.output;
  RunResult denied_udp = ClientV4(client_a_, "udp", kBlockedTimeoutMs, kOtherPort);
  EXPECT_EQ(denied_udp.exit_code, kExitTimeout) << denied_udp.output;
  RunResult other_tcp = ClientV4(client_a_, "tcp", kAllowedTimeoutMs, kPort);
  EXPECT_EQ(other_tcp.exit_code, kExitOk) << other_tcp.output;
  RunResult other_udp = ClientV4(client_a_, "udp", kAllowedTimeoutMs, kPort);
  EXPECT_EQ(other_udp.exit_code, kExitOk) << other_udp.output;

  auto stats = Stats();
  EXPECT_EQ(stats["tcp_accepted:" + std::to_string(kOtherPort)], 0);
  EXPECT_EQ(stats["udp_datagrams:" + std::to_string(kOtherPort)], 0);
  EXPECT_EQ(stats["tcp_accepted:" + std::to_string(kPort)], 1);
  const std::string other_dst = ServerDst(kOtherPort);
  ExpectDecision({"deny", "deny-port-7001", "tcp", other_dst, client_a_});
  ExpectDecision({"allow", "default", "tcp", kServerDst, client_a_});
}

TEST_F(PicketE2eTest, DefaultDenyBlocksClientNoRuleAllows) {
  WriteRule("allow-client-a", "allow", "process.path", client_a_);
  ASSERT_TRUE(StartPicketd({.args = {"--default-action", "deny"}}));

  RunResult b = ClientV4(client_b_, "tcp", kBlockedTimeoutMs);
  EXPECT_EQ(b.exit_code, kExitTimeout) << b.output;
  RunResult a = ClientV4(client_a_, "tcp", kAllowedTimeoutMs);
  EXPECT_EQ(a.exit_code, kExitOk) << a.output;
  EXPECT_EQ(Stats()["tcp_from:" + client_b_], 0);
  ExpectDecision({"deny", "default", "tcp", kServerDst, client_b_});
  ExpectDecision({"allow", "allow-client-a", "tcp", kServerDst, client_a_});
}

TEST_F(PicketE2eTest, SigtermRemovesEveryRuleAndExitsZero) {
  WriteRule("deny-client-b", "deny", "process.path", client_b_);
  ASSERT_TRUE(StartPicketd({.args = {"--queue-num", "9"}}));
  const std::string installed = AllRulesets();
  ASSERT_NE(installed.find("PICKET"), std::string::npos) << "no Picket chain while running:\n" << installed;
  EXPECT_NE(installed.find("--queue-num 9"), std::string::npos) << installed;

  EXPECT_EQ(StopPicketd(), 0) << Log();
  const std::string after = AllRulesets();
  EXPECT_EQ(Lower(after).find("picket"), std::string::npos) << "left behind after SIGTERM:\n" << after;
  // Nothing is intercepted any more: the formerly denied copy gets through.
  RunResult b = ClientV4(client_b_, "tcp", kAllowedTimeoutMs);
  EXPECT_EQ(b.exit_code, kExitOk) << b.output;
}

TEST_F(PicketE2eTest, SigkillInFailOpenLetsConnectionsThrough) {
  WriteRule("deny-client-b", "deny", "process.path", client_b_);
  ASSERT_TRUE(StartPicketd({.args = {"--fail-open"}}));
  ASSERT_EQ(ClientV4(client_a_, "tcp", kAllowedTimeoutMs).exit_code, kExitOk);

  picketd_->Signal(SIGKILL);
  ASSERT_EQ(picketd_->Wait(kStopTimeout), 128 + SIGKILL);
  EXPECT_NE(AllRulesets().find("PICKET"), std::string::npos) << "SIGKILL cannot remove rules; the bypass must carry";
  RunResult a = ClientV4(client_a_, "tcp", kAllowedTimeoutMs);
  EXPECT_EQ(a.exit_code, kExitOk) << a.output;
  RunResult a_udp = ClientV4(client_a_, "udp", kAllowedTimeoutMs);
  EXPECT_EQ(a_udp.exit_code, kExitOk) << a_udp.output;
  RunResult b = ClientV4(client_b_, "tcp", kAllowedTimeoutMs);
  EXPECT_EQ(b.exit_code, kExitOk) << "fail-open: no daemon, no decision, no block: " << b.output;
}

TEST_F(PicketE2eTest, SigkillInFailClosedBlocksConnections) {
  WriteRule("allow-client-a", "allow", "process.path", client_a_);
  ASSERT_TRUE(StartPicketd({.args = {"--fail-closed"}}));
  ASSERT_EQ(ClientV4(client_a_, "tcp", kAllowedTimeoutMs).exit_code, kExitOk);
  const long accepted_before = Stats()["tcp_accepted"];

  picketd_->Signal(SIGKILL);
  ASSERT_EQ(picketd_->Wait(kStopTimeout), 128 + SIGKILL);
  RunResult a = ClientV4(client_a_, "tcp", kBlockedTimeoutMs);
  EXPECT_EQ(a.exit_code, kExitTimeout) << a.output;
  RunResult a_udp = ClientV4(client_a_, "udp", kBlockedTimeoutMs);
  EXPECT_EQ(a_udp.exit_code, kExitTimeout) << a_udp.output;
  EXPECT_EQ(Stats()["tcp_accepted"], accepted_before);
}

TEST_F(PicketE2eTest, MalformedRuleFileIsReportedAndOthersStillApply) {
  const std::string broken = rules_dir_ + "/000-broken.json";
  ASSERT_TRUE(WriteFile(broken, "{\"name\": \"000-broken\", \"action\": \"deny\", \"operator\": {"));
  WriteRule("deny-client-b", "deny", "process.path", client_b_);
  ASSERT_TRUE(StartPicketd());

  bool reported = false;
  std::istringstream log(Log());
  for (std::string line; std::getline(log, line);) {
    if (line.find(broken) != std::string::npos && line.find("skipped") != std::string::npos) reported = true;
  }
  EXPECT_TRUE(reported) << "no line naming " << broken << " and 'skipped':\n" << Log();
  RunResult b = ClientV4(client_b_, "tcp", kBlockedTimeoutMs);
  EXPECT_EQ(b.exit_code, kExitTimeout) << b.output;
  RunResult a = ClientV4(client_a_, "tcp", kAllowedTimeoutMs);
  EXPECT_EQ(a.exit_code, kExitOk) << a.output;
  ExpectDecision({"deny", "deny-client-b", "tcp", kServerDst, client_b_});
}

// Hot reload: a rule file written, broken and deleted while picketd runs takes effect within a
// second, and a broken edit keeps the rule's previous version.
TEST_F(PicketE2eTest, RuleFileEditsTakeEffectWithoutARestart) {
  ASSERT_TRUE(StartPicketd());
  ASSERT_EQ(ClientV4(client_b_, "tcp", kAllowedTimeoutMs).exit_code, kExitOk);

  WriteRule("deny-client-b", "deny", "process.path", client_b_);
  std::this_thread::sleep_for(milliseconds(1000));
  RunResult denied = ClientV4(client_b_, "tcp", kBlockedTimeoutMs);
  EXPECT_EQ(denied.exit_code, kExitTimeout) << "the new rule is not in force after 1 s: " << denied.output;

  const std::string file = rules_dir_ + "/deny-client-b.json";
  ASSERT_TRUE(WriteFile(file, "{\"name\": \"deny-client-b\", \"enabled\": tru"));
  std::this_thread::sleep_for(milliseconds(1000));
  RunResult still = ClientV4(client_b_, "tcp", kBlockedTimeoutMs);
  EXPECT_EQ(still.exit_code, kExitTimeout) << "a broken edit must keep the previous version: " << still.output;
  EXPECT_NE(Log().find("the previous version stays active"), std::string::npos) << Log();

  ASSERT_TRUE(fs::remove(file));
  std::this_thread::sleep_for(milliseconds(1000));
  RunResult allowed = ClientV4(client_b_, "tcp", kAllowedTimeoutMs);
  EXPECT_EQ(allowed.exit_code, kExitOk) << "the deleted rule still applies after 1 s: " << allowed.output;
}

// The UI socket: created by picketd in its directory, `picket status` reads it, `picket events`
// sees a live decision, and the socket is gone after the stop.
TEST_F(PicketE2eTest, UiSocketServesStatusAndLiveEvents) {
  WriteRule("allow-client-a", "allow", "process.path", client_a_);
  ASSERT_TRUE(StartPicketd());
  const std::string socket = dir_ + "/ui.sock";
  ASSERT_TRUE(std::filesystem::is_socket(socket)) << Log();

  RunResult status = RunProgram({PICKET_CLI, "status", "--json", "--socket", socket}, "", milliseconds(10000));
  ASSERT_EQ(status.exit_code, 0) << status.output;
  EXPECT_NE(status.output.find("\"role\":\"admin\""), std::string::npos) << status.output;
  EXPECT_NE(status.output.find("\"rules\":1"), std::string::npos) << status.output;

  std::string error;
  auto events = Subprocess::Spawn(
      {{PICKET_CLI, "events", "--json", "--count", "1", "--socket", socket}, "", dir_ + "/events.out", dir_ + "/events.err"},
      &error);
  ASSERT_TRUE(events) << error;
  // Subscribed once a status call sees two clients (the events stream and itself).
  bool subscribed = false;
  for (int i = 0; i < 100 && !subscribed; ++i) {
    RunResult s = RunProgram({PICKET_CLI, "status", "--json", "--socket", socket}, "", milliseconds(10000));
    subscribed = s.output.find("\"clients\":2") != std::string::npos;
    if (!subscribed) std::this_thread::sleep_for(milliseconds(50));
  }
  ASSERT_TRUE(subscribed);
  // Connected is not yet subscribed (the CLI's subscribe follows its hello): a decision made in
  // between is not streamed to it, so connect again (bounded) until the stream has its event.
  std::optional<int> code;
  for (int attempt = 0; attempt < 5 && !code; ++attempt) {
    RunResult a_tcp = ClientV4(client_a_, "tcp", kAllowedTimeoutMs);
    EXPECT_EQ(a_tcp.exit_code, kExitOk) << a_tcp.output;
    code = events->Wait(milliseconds(2000));
  }
  if (!code) events->Signal(SIGKILL);
  ASSERT_EQ(code, 0) << ReadFile(dir_ + "/events.err");
  const std::string event = ReadFile(dir_ + "/events.out");
  EXPECT_NE(event.find("\"rule\":\"allow-client-a\""), std::string::npos) << event;
  EXPECT_NE(event.find("\"path\":\"" + client_a_ + "\""), std::string::npos) << event;
  EXPECT_NE(event.find("\"dst\":\"" + std::string(NetnsPair::kServerV4) + "\""), std::string::npos) << event;

  EXPECT_EQ(StopPicketd(), 0);
  EXPECT_FALSE(std::filesystem::exists(socket));
}

// Over the UI socket of a real picketd: `config set default_action deny` changes the decision of the
// next connection no rule decides; live `stats` count both decisions; `alerts` replays the rejected
// rule file and the config change; `rules list --socket` pages through picketd's rules.
TEST_F(PicketE2eTest, RuntimeConfigLiveStatsAndAlertsOverTheSocket) {
  const std::string broken = rules_dir_ + "/000-broken.json";
  ASSERT_TRUE(WriteFile(broken, "{\"name\": \"000-broken\", \"action\": \"deny\", \"operator\": {"));
  WriteRule("allow-client-a", "allow", "process.path", client_a_);
  ASSERT_TRUE(StartPicketd());
  const std::string socket = dir_ + "/ui.sock";
  auto picket = [&socket](std::vector<std::string> args) {
    args.insert(args.begin(), PICKET_CLI);
    args.insert(args.end(), {"--socket", socket});
    return RunProgram(args, "", milliseconds(10000));
  };

  RunResult before = ClientV4(client_b_, "tcp", kAllowedTimeoutMs);
  EXPECT_EQ(before.exit_code, kExitOk) << before.output;
  RunResult set = picket({"config", "set", "default_action", "deny"});
  ASSERT_EQ(set.exit_code, 0) << set.output;
  RunResult after = ClientV4(client_b_, "tcp", kBlockedTimeoutMs);
  EXPECT_EQ(after.exit_code, kExitTimeout) << after.output;
  ExpectDecision({"deny", "default", "tcp", kServerDst, client_b_});
  EXPECT_EQ(picket({"config", "get", "default_action"}).output, "deny\n");
  RunResult refused = picket({"config", "set", "queue_num", "5"});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.output.find("'queue_num' cannot be changed while picketd runs"), std::string::npos) << refused.output;

  RunResult stats = picket({"stats", "--json"});
  ASSERT_EQ(stats.exit_code, 0) << stats.output;
  EXPECT_NE(stats.output.find("\"key\":\"deny\""), std::string::npos) << stats.output;
  EXPECT_NE(stats.output.find("\"key\":\"allow\""), std::string::npos) << stats.output;
  EXPECT_NE(stats.output.find("\"key\":\"" + client_b_ + "\""), std::string::npos) << stats.output;
  EXPECT_NE(stats.output.find("\"decisions\":"), std::string::npos) << stats.output;

  RunResult alerts = picket({"alerts", "--count", "2"});
  ASSERT_EQ(alerts.exit_code, 0) << alerts.output;
  EXPECT_NE(alerts.output.find("warning rule file " + broken), std::string::npos) << alerts.output;
  EXPECT_NE(alerts.output.find("config: default_action set to \"deny\""), std::string::npos) << alerts.output;

  RunResult rules = picket({"rules", "list"});
  ASSERT_EQ(rules.exit_code, 0) << rules.output;
  EXPECT_NE(rules.output.find("allow-client-a"), std::string::npos) << rules.output;
  EXPECT_EQ(StopPicketd(), 0);
}

TEST_F(PicketE2eTest, MissingRulesDirFailsNamingThePath) {
  const std::string missing = dir_ + "/no-such-rules-dir";
  RunResult r = RunProgram({PICKETD_PATH, "--rules-dir", missing}, net_->client(), milliseconds(10000));
  EXPECT_FALSE(r.timed_out) << "picketd kept running without a rules dir:\n" << r.output;
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find(missing), std::string::npos) << r.output;
}

TEST_F(PicketE2eTest, MalformedOrMissingConfigFailsNamingThePath) {
  const std::string config = dir_ + "/picketd.json";
  ASSERT_TRUE(WriteFile(config, "{ \"rules_dir\": \"" + rules_dir_ + "\", this is not json"));
  RunResult malformed = RunProgram({PICKETD_PATH, "--config", config}, net_->client(), milliseconds(10000));
  EXPECT_FALSE(malformed.timed_out) << malformed.output;
  EXPECT_NE(malformed.exit_code, 0) << malformed.output;
  EXPECT_NE(malformed.output.find(config), std::string::npos) << malformed.output;

  const std::string missing = dir_ + "/no-such-config.json";
  RunResult absent = RunProgram({PICKETD_PATH, "--config", missing}, net_->client(), milliseconds(10000));
  EXPECT_FALSE(absent.timed_out) << absent.output;
  EXPECT_NE(absent.exit_code, 0) << absent.output;
  EXPECT_NE(absent.output.find(missing), std::string::npos) << absent.output;
}

TEST_F(PicketE2eTest, DenyRuleAppliesToIpv6) {
  WriteRule("deny-client-b", "deny", "process.path", client_b_);
  ASSERT_TRUE(StartPicketd());

  RunResult a = Client(client_a_, "tcp6", NetnsPair::kServerV6, kPort, kAllowedTimeoutMs);
  EXPECT_EQ(a.exit_code, kExitOk) << a.output;
  RunResult b = Client(client_b_, "tcp6", NetnsPair::kServerV6, kPort, kBlockedTimeoutMs);
  EXPECT_EQ(b.exit_code, kExitTimeout) << b.output;
  RunResult a_udp = Client(client_a_, "udp6", NetnsPair::kServerV6, kPort, kAllowedTimeoutMs);
  EXPECT_EQ(a_udp.exit_code, kExitOk) << a_udp.output;
  RunResult b_udp = Client(client_b_, "udp6", NetnsPair::kServerV6, kPort, kBlockedTimeoutMs);
  EXPECT_EQ(b_udp.exit_code, kExitTimeout) << b_udp.output;

  auto stats = Stats();
  EXPECT_EQ(stats["tcp_from:" + client_b_], 0);
  EXPECT_EQ(stats["udp_from:" + client_b_], 0);
  const std::string dst6 = "[" + std::string(NetnsPair::kServerV6) + "]:" + std::to_string(kPort);
  ExpectDecision({"deny", "deny-client-b", "tcp6", dst6, client_b_});
  ExpectDecision({"allow", "default", "tcp6", dst6, client_a_});
  ExpectDecision({"deny", "deny-client-b", "udp6", dst6, client_b_});
}

}  // namespace
}  // namespace picket::testing
