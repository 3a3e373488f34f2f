// End-to-end tests of tamper detection (daemon/firewall_watch.h): another tool deletes Picket's
// rules inside picketd's namespace and picketd puts them back from nf_tables events. Needs root;
// skips itself otherwise. Every wait is bounded (kRestoreTimeout).
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/picketd_harness.h"

namespace picket::testing {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

constexpr milliseconds kRestoreTimeout{2000};
constexpr milliseconds kPollStep{20};
constexpr char kReinstalledLine[] = "firewall: rules removed by another tool; re-installed";

class FirewallWatchE2eTest : public PicketdFixture {
 protected:
  FirewallWatchE2eTest() : PicketdFixture({.name = "picket-fwwatch", .server = {.tcp = {kPort}}}) {}

  void Run(const std::vector<std::string>& argv) {
    RunResult r = RunProgram(argv, net_->client(), milliseconds(10000));
    ASSERT_EQ(r.exit_code, 0) << argv[0] << ": " << r.output;
  }

  std::string Save(const std::string& tool) {
    RunResult r = RunProgram({FindProgram(tool)}, net_->client(), milliseconds(10000));
    EXPECT_EQ(r.exit_code, 0) << tool << ": " << r.output;
    return r.output;
  }

  // Both families have the jumps to Picket's queue and reject chains and the queue rule.
  bool RulesInstalled() {
    for (const char* tool : {"iptables-save", "ip6tables-save"}) {
      const std::string saved = Save(tool);
      for (const char* want : {"-A OUTPUT -j PICKET_OUTPUT", "-A OUTPUT -j PICKET_REJECT", "-j NFQUEUE --queue-num"}) {
        if (saved.find(want) == std::string::npos) return false;
      }
    }
    return true;
  }

  // Polls until RulesInstalled (true) or kRestoreTimeout passed (false); `took` is the time spent.
  bool WaitForRules(milliseconds* took) {
    const auto start = Clock::now();
    while (Clock::now() - start < kRestoreTimeout) {
      if (RulesInstalled()) {
        *took = std::chrono::duration_cast<milliseconds>(Clock::now() - start);
        return true;
      }
      std::this_thread::sleep_for(kPollStep);
    }
    return false;
  }

  void ExpectClientBDenied() {
    RunResult b = ClientV4(client_b_, "tcp", kBlockedTimeoutMs);
    EXPECT_EQ(b.exit_code, kExitTimeout) << b.output;
  }
};

TEST_F(FirewallWatchE2eTest, MangleTableFlushIsUndoneAndDeniedClientStaysDenied) {
  WriteRule("deny-client-b", "deny", "process.path", client_b_);
  ASSERT_TRUE(StartPicketd());
  EXPECT_NE(Log().find("firewall watch: on"), std::string::npos) << Log();
  ExpectClientBDenied();

  Run({FindProgram("iptables"), "-w", "-t", "mangle", "-F"});
  milliseconds took{};
  ASSERT_TRUE(WaitForRules(&took)) << "rules not back within " << kRestoreTimeout.count() << " ms\n"
                                   << Save("iptables-save") << Log();
  std::printf("rules back %lld ms after `iptables -t mangle -F` returned (including polling)\n",
              static_cast<long long>(took.count()));
  ExpectClientBDenied();
  ExpectDecision({"deny", "deny-client-b", "tcp", ServerDst(kPort), client_b_});
  EXPECT_NE(Log().find(kReinstalledLine), std::string::npos) << Log();
  RunResult status = RunInClient({PICKET_CLI, "status", "--socket", socket_path_}, 5000);
  EXPECT_NE(status.output.find("firewall_reinstalls: 1\n"), std::string::npos) << status.output;
}

TEST_F(FirewallWatchE2eTest, NftFlushRulesetIsUndoneInBothFamilies) {
  WriteRule("deny-client-b", "deny", "process.path", client_b_);
  ASSERT_TRUE(StartPicketd());

  Run({FindProgram("nft"), "flush", "ruleset"});
  milliseconds took{};
  ASSERT_TRUE(WaitForRules(&took)) << Save("iptables-save") << Save("ip6tables-save") << Log();
  std::printf("rules back %lld ms after `nft flush ruleset` returned (including polling)\n",
              static_cast<long long>(took.count()));
  ExpectClientBDenied();
  EXPECT_NE(Log().find(kReinstalledLine), std::string::npos) << Log();
  // A clean stop still removes everything: the watch does not fight Picket's own removal.
  EXPECT_EQ(StopPicketd(), 0) << Log();
  EXPECT_EQ(Save("iptables-save").find("PICKET"), std::string::npos);
}

TEST_F(FirewallWatchE2eTest, RepeatedFlushesAreEachUndone) {
  WriteRule("deny-client-b", "deny", "process.path", client_b_);
  ASSERT_TRUE(StartPicketd());
  for (int i = 0; i < 3; ++i) {
    Run({FindProgram("ip6tables"), "-w", "-t", "filter", "-F"});
    Run({FindProgram("iptables"), "-w", "-t", "mangle", "-F"});
    milliseconds took{};
    ASSERT_TRUE(WaitForRules(&took)) << "round " << i << "\n" << Log();
  }
  ExpectClientBDenied();
  EXPECT_EQ(StopPicketd(), 0) << Log();
  EXPECT_NE(Log().find("firewall watch: "), std::string::npos);
  EXPECT_EQ(Log().find("re-installing them failed"), std::string::npos) << Log();
}

TEST_F(FirewallWatchE2eTest, WatchOffLeavesDeletedRulesDeleted) {
  WriteRule("deny-client-b", "deny", "process.path", client_b_);
  ASSERT_TRUE(StartPicketd({.config_json = std::string(R"({"firewall_watch": false})")}));
  EXPECT_NE(Log().find("firewall watch: off (firewall_watch=false)"), std::string::npos) << Log();

  Run({FindProgram("iptables"), "-w", "-t", "mangle", "-F"});
  milliseconds took{};
  EXPECT_FALSE(WaitForRules(&took)) << "rules came back although firewall_watch is false";
  EXPECT_EQ(Log().find(kReinstalledLine), std::string::npos) << Log();
  // Nothing queues the client's connection any more: it gets through.
  RunResult b = ClientV4(client_b_, "tcp", kAllowedTimeoutMs);
  EXPECT_EQ(b.exit_code, kExitOk) << b.output;
}

}  // namespace
}  // namespace picket::testing
