// End-to-end tests of picketd's iptables backend on legacy iptables (x_tables): picketd runs with a
// PATH whose first directory holds `iptables`, `ip6tables` and their -save/-restore tools as links to
// the `-legacy` tools, so its rules go into the kernel's x_tables, not into nf_tables. Needs root and
// the iptables-legacy tools; skips itself otherwise. Only the test's own namespaces are touched.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/picketd_harness.h"

namespace picket::testing {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

constexpr int kRejectFastMs = 1000;  // a rejected connect fails at once, far below its timeout
constexpr int kRejectTimeoutMs = 5000;
// How long a deleted rule is given to come back (it must not: the watch is off on legacy).
constexpr milliseconds kNoReinstallWait{500};

constexpr char kQueueJump[] = "-A OUTPUT -j PICKET_OUTPUT";
constexpr char kRejectJump[] = "-A OUTPUT -j PICKET_REJECT";
constexpr char kDnsJump[] = "-A INPUT -j PICKET_DNS";
constexpr char kSynRule[] = "-A PICKET_OUTPUT -p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN -j NFQUEUE --queue-num";

// "iptables-save" → "iptables-legacy-save": the legacy tool of the same function.
std::string LegacyName(const std::string& tool) {
  const size_t dash = tool.find('-');
  return dash == std::string::npos ? tool + "-legacy" : tool.substr(0, dash) + "-legacy" + tool.substr(dash);
}

std::string Dst6(int port) { return "[" + std::string(NetnsPair::kServerV6) + "]:" + std::to_string(port); }

class LegacyIptablesE2eTest : public PicketdFixture {
 protected:
  LegacyIptablesE2eTest() : PicketdFixture({.name = "picket-legacy", .server = {.tcp = {kPort}, .udp = {kPort}}}) {}

  void SetUp() override {
    PicketdFixture::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    if (!fs::exists(FindProgram("iptables-legacy")) || !fs::exists(FindProgram("ip6tables-legacy-restore"))) {
      GTEST_SKIP() << "the iptables-legacy tools are not installed";
    }
    tools_dir_ = dir_ + "/legacy-tools";  // inside dir_: removed with it
    fs::create_directories(tools_dir_);
    for (const char* family : {"iptables", "ip6tables"}) {
      for (const char* suffix : {"", "-save", "-restore"}) {
        const std::string tool = std::string(family) + suffix;
        fs::create_symlink(FindProgram(LegacyName(tool)), tools_dir_ + "/" + tool);
      }
    }
    // The links must really be the legacy tools, or every assertion below tests the wrong thing.
    RunResult version = RunProgram({tools_dir_ + "/iptables", "-V"}, "", milliseconds(5000));
    ASSERT_NE(version.output.find("(legacy)"), std::string::npos) << version.output;
  }

  // picketd with the legacy tools first on its PATH and the iptables backend forced (auto would pick
  // nft on a kernel with nft's queue statement, and then the tools would not matter).
  ::testing::AssertionResult StartOnLegacy() {
    const char* path = std::getenv("PATH");
    const std::string rest = path != nullptr && *path != '\0' ? path : "/usr/sbin:/usr/bin:/sbin:/bin";
    return StartPicketd({.args = {"--firewall-backend", "iptables"}, .env = {"PATH=" + tools_dir_ + ":" + rest}});
  }

  // A ruleset dump in the client namespace (argv[0] found on the standard path, e.g. iptables-legacy-save).
  std::string Dump(const std::vector<std::string>& argv) {
    std::vector<std::string> resolved = argv;
    resolved[0] = FindProgram(argv[0]);
    RunResult r = RunProgram(resolved, net_->client(), milliseconds(10000));
    EXPECT_EQ(r.exit_code, 0) << argv[0] << ": " << r.output;
    return r.output;
  }
  std::string Save(const std::string& tool) { return Dump({tool}); }

  void Run(const std::vector<std::string>& argv) {
    RunResult r = RunProgram(argv, net_->client(), milliseconds(10000));
    ASSERT_EQ(r.exit_code, 0) << argv[0] << ": " << r.output;
  }

  // Both legacy families hold Picket's jumps and its SYN queue rule, and neither nf_tables view
  // (iptables-nft, nft) holds anything of Picket's.
  void ExpectRulesOnlyInLegacyTables() {
    for (const char* tool : {"iptables-legacy-save", "ip6tables-legacy-save"}) {
      const std::string saved = Save(tool);
      for (const char* want : {kQueueJump, kRejectJump, kDnsJump, kSynRule}) {
        EXPECT_NE(saved.find(want), std::string::npos) << tool << " lacks `" << want << "`:\n" << saved;
      }
    }
    for (const char* tool : {"iptables-nft-save", "ip6tables-nft-save"}) {
      const std::string saved = Save(tool);
      EXPECT_EQ(saved.find("PICKET"), std::string::npos) << tool << " shows Picket's rules:\n" << saved;
    }
    const std::string nft = Dump({"nft", "list", "ruleset"});
    EXPECT_EQ(nft.find("picket"), std::string::npos) << nft;
  }

  void ExpectNoPicketInLegacyTables() {
    for (const char* tool : {"iptables-legacy-save", "ip6tables-legacy-save"}) {
      const std::string saved = Save(tool);
      EXPECT_EQ(saved.find("PICKET"), std::string::npos) << tool << " after stop:\n" << saved;
    }
  }

  std::string tools_dir_;
};

TEST_F(LegacyIptablesE2eTest, RulesLiveInXtablesAndDecideBothFamilies) {
  WriteRule("allow-client-a", "allow", "process.path", client_a_);
  WriteRule("deny-client-b", "deny", "process.path", client_b_);
  ASSERT_TRUE(StartOnLegacy());
  EXPECT_NE(Log().find("firewall: backend=iptables-legacy (configured)"), std::string::npos) << Log();
  EXPECT_NE(Log().find("ready: intercepting new outbound connections (backend=iptables-legacy,"), std::string::npos)
      << Log();
  ExpectRulesOnlyInLegacyTables();

  for (const char* proto : {"tcp", "udp"}) {
    RunResult a = ClientV4(client_a_, proto, kAllowedTimeoutMs);
    EXPECT_EQ(a.exit_code, kExitOk) << proto << ": " << a.output;
    RunResult b = ClientV4(client_b_, proto, kBlockedTimeoutMs);
    EXPECT_EQ(b.exit_code, kExitTimeout) << proto << ": " << b.output;
  }
  for (const char* proto : {"tcp6", "udp6"}) {
    RunResult a = Client(client_a_, proto, NetnsPair::kServerV6, kPort, kAllowedTimeoutMs);
    EXPECT_EQ(a.exit_code, kExitOk) << proto << ": " << a.output;
    RunResult b = Client(client_b_, proto, NetnsPair::kServerV6, kPort, kBlockedTimeoutMs);
    EXPECT_EQ(b.exit_code, kExitTimeout) << proto << ": " << b.output;
  }
  auto stats = Stats();
  EXPECT_EQ(stats["tcp_from:" + client_a_], 2);
  EXPECT_EQ(stats["udp_from:" + client_a_], 2);
  EXPECT_EQ(stats["tcp_from:" + client_b_], 0);
  EXPECT_EQ(stats["udp_from:" + client_b_], 0);
  ExpectDecision({"allow", "allow-client-a", "tcp", ServerDst(kPort), client_a_});
  ExpectDecision({"deny", "deny-client-b", "tcp", ServerDst(kPort), client_b_});
  ExpectDecision({"deny", "deny-client-b", "udp", ServerDst(kPort), client_b_});
  ExpectDecision({"allow", "allow-client-a", "tcp6", Dst6(kPort), client_a_});
  ExpectDecision({"deny", "deny-client-b", "tcp6", Dst6(kPort), client_b_});
  ExpectDecision({"deny", "deny-client-b", "udp6", Dst6(kPort), client_b_});

  EXPECT_EQ(StopPicketd(), 0) << Log();
  ExpectNoPicketInLegacyTables();
  EXPECT_EQ(Log().find("firewall: removing"), std::string::npos) << Log();
}

// PICKET_REJECT in the legacy filter table answers a rejected connect at once, IPv4 and IPv6.
TEST_F(LegacyIptablesE2eTest, RejectIsAnsweredByTheLegacyRejectChain) {
  WriteRule("reject-client-b", "reject", "process.path", client_b_);
  ASSERT_TRUE(StartOnLegacy());
  RunResult v4 = ClientV4(client_b_, "tcp", kRejectTimeoutMs);
  EXPECT_EQ(v4.exit_code, kExitRefused) << v4.output;
  EXPECT_LT(v4.elapsed_ms, kRejectFastMs) << v4.output;
  RunResult v6 = Client(client_b_, "tcp6", NetnsPair::kServerV6, kPort, kRejectTimeoutMs);
  EXPECT_EQ(v6.exit_code, kExitRefused) << v6.output;
  EXPECT_LT(v6.elapsed_ms, kRejectFastMs) << v6.output;
  RunResult udp = ClientV4(client_b_, "udp", kRejectTimeoutMs);
  EXPECT_EQ(udp.exit_code, kExitRefused) << udp.output;
  EXPECT_EQ(Stats()["tcp_from:" + client_b_], 0);
  ExpectDecision({"reject", "reject-client-b", "tcp6", Dst6(kPort), client_b_});
}

// Legacy x_tables announce no changes: the watch says it is off, a flushed table stays flushed, and
// the stop still removes whatever of Picket's rules is left.
TEST_F(LegacyIptablesE2eTest, WatchIsOffAndStopRemovesWhatIsLeft) {
  WriteRule("deny-client-b", "deny", "process.path", client_b_);
  ASSERT_TRUE(StartOnLegacy());
  EXPECT_NE(Log().find("firewall watch: off: the iptables-legacy backend runs on legacy iptables (x_tables)"),
            std::string::npos)
      << Log();
  EXPECT_EQ(Log().find("firewall watch: on"), std::string::npos) << Log();
  RunResult status = RunInClient({PICKET_CLI, "status", "--socket", socket_path_}, 5000);
  EXPECT_EQ(status.exit_code, 0) << status.output;
  EXPECT_EQ(status.output.find("firewall_reinstalls"), std::string::npos) << status.output;

  // Flushing mangle empties OUTPUT (the jump) and PICKET_OUTPUT but leaves the chain itself.
  Run({FindProgram("iptables-legacy"), "-w", "-t", "mangle", "-F"});
  std::this_thread::sleep_for(kNoReinstallWait);
  const std::string flushed = Save("iptables-legacy-save");
  EXPECT_EQ(flushed.find(kQueueJump), std::string::npos) << "re-installed on legacy?\n" << flushed;
  EXPECT_NE(flushed.find(":PICKET_OUTPUT"), std::string::npos) << flushed;
  RunResult b = ClientV4(client_b_, "tcp", kAllowedTimeoutMs);
  EXPECT_EQ(b.exit_code, kExitOk) << "nothing queues IPv4 any more: " << b.output;
  RunResult b6 = Client(client_b_, "tcp6", NetnsPair::kServerV6, kPort, kBlockedTimeoutMs);
  EXPECT_EQ(b6.exit_code, kExitTimeout) << "IPv6 rules were not flushed: " << b6.output;

  EXPECT_EQ(StopPicketd(), 0) << Log();
  ExpectNoPicketInLegacyTables();
}

}  // namespace
}  // namespace picket::testing
