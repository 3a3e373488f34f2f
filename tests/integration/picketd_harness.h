// PicketdFixture: the shared stage of the root end-to-end tests — picketd in the client namespace of a
// NetnsPair, the test echo server (picket_test_client's peer) in the server namespace, two
// byte-identical copies of picket_test_client at different paths, a temp rules directory, and the
// daemon's log read back as decision lines.
//
// Use: derive the test's fixture from PicketdFixture and pass a FixtureOptions to its constructor:
//
//   class MyE2eTest : public PicketdFixture {
//    protected:
//     MyE2eTest() : PicketdFixture({.name = "picket-my", .server = {.tcp = {kPort}}}) {}
//   };
//   TEST_F(MyE2eTest, Something) {
//     WriteRule("deny-b", "deny", "process.path", client_b_);
//     ASSERT_TRUE(StartPicketd());
//     EXPECT_EQ(ClientV4(client_b_, "tcp", kBlockedTimeoutMs).exit_code, kExitTimeout);
//     ExpectDecision({"deny", "deny-b", "tcp", ServerDst(kPort), client_b_});
//   }
//
// A fixture with more to set up overrides SetUp, calls PicketdFixture::SetUp() first and returns when
// `IsSkipped() || HasFatalFailure()`; one with more to tear down stops its own processes, then calls
// PicketdFixture::TearDown().
//
// What SetUp does (skipping the test when not root): deletes namespaces of this name left by killed
// runs, makes /tmp/<name>-XXXXXX (dir_) with rules/ (rules_dir_), copies picket_test_client to
// dir_/bin-a and dir_/bin-b (client_a_, client_b_), creates the NetnsPair "<name>-c-<pid>" /
// "<name>-s-<pid>" (net_), and starts the echo server in the server namespace on the ports of
// FixtureOptions::server with its stats in stats_path_ (server_). picketd is started by the test
// (StartPicketd) so that it can write rules and config first.
//
// Ownership: the fixture owns every process, namespace and file it creates. TearDown — also after a
// failed assertion — stops picketd (SIGTERM by PID, SIGKILL after a bounded wait, which is a test
// failure), the server, deletes both namespaces and dir_; on failure it prints picketd's log first.
// Processes are signalled by the PID the fixture started, never by name. Every wait is bounded.
// Thread-safety: none; use from the test's thread.
//
// The programs under test come from compile definitions that the picket_e2e_harness target exports
// to every test linking it: PICKETD_PATH, PICKET_CLI, PICKET_TEST_CLIENT, PICKET_TEST_SERVER.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/integration/decision_log.h"
#include "tests/integration/netns_pair.h"
#include "tests/tools/subprocess.h"

namespace picket::testing {

// picket_test_client's exit codes (see tests/tools/picket_test_client.c).
constexpr int kExitOk = 0;
constexpr int kExitTimeout = 1;     // no answer: the flow was dropped
constexpr int kExitRefused = 2;     // refused or reset: the flow was rejected
constexpr int kExitUnresolved = 4;  // --resolver given and the name did not resolve

constexpr int kPort = 7000;              // the echo server's usual port
constexpr int kAllowedTimeoutMs = 3000;  // generous: an allowed connection answers in microseconds
constexpr int kBlockedTimeoutMs = 1500;  // how long a blocked client waits before giving up

// Bounds of the fixture's waits. Namespace-scope on purpose: a test's own constant of the same name
// (in its unnamed namespace) is found first in its fixture's member functions and test bodies.
constexpr std::chrono::milliseconds kReadyTimeout{15000};  // picketd's "ready:" line
constexpr std::chrono::milliseconds kStopTimeout{10000};   // each wait for a process to end
constexpr std::chrono::milliseconds kLogTimeout{3000};     // a decision line to appear (ExpectDecision)
constexpr std::chrono::milliseconds kClientGrace{10000};   // beyond a client's own timeout

// "198.18.0.2:<port>": the server's IPv4 endpoint as decision lines write it (dst=).
std::string ServerDst(int port);

// What the echo server (picket_test_server) listens on, TCP and UDP, on all of the server
// namespace's addresses. A tcp_abort port resets each connection right after its echo.
struct ServerPorts {
  std::vector<int> tcp = {};
  std::vector<int> tcp_abort = {};
  std::vector<int> udp = {};
};

struct FixtureOptions {
  std::string name = {};    // e.g. "picket-e2e": names the namespaces and the temp directory
  ServerPorts server = {};  // at least one port
};

// Whether picketd keeps its event log (history database).
enum class History {
  kInTestDir,  // --history-path <dir_>/history.db (history_path_)
  kOff,        // --no-history
};

struct PicketdOptions {
  // Extra command-line arguments, after the fixture's own (--rules-dir, --log-level info, the history
  // flag, --ui-socket <socket_path_>), so they may override them.
  std::vector<std::string> args = {};
  // When set: written to <dir_>/picketd.json and passed as --config (first on the command line).
  std::optional<std::string> config_json = {};
  History history = History::kInTestDir;
  // "NAME=value" entries for picketd's environment (replacing the test's variable of that name), e.g.
  // a PATH whose first directory holds other iptables tools.
  std::vector<std::string> env = {};
};

class PicketdFixture : public ::testing::Test {
 protected:
  explicit PicketdFixture(FixtureOptions options);

  void SetUp() override;
  void TearDown() override;

  // Copies `from` to dir_/<subdir>/<name> (mode 0755) and returns the new path.
  std::string CopyExecutable(const std::string& from, const std::string& subdir, const std::string& name);

  // Rules as OpenSnitch JSON files dir_/rules/<name>.json (enabled, duration "always", precedence and
  // sensitive false). SimpleOperator builds {"type":…,"operand":…,"data":…,"sensitive":false}; the
  // other forms take an operator object as JSON text (e.g. a "list" operator).
  static std::string SimpleOperator(const std::string& operand, const std::string& data,
                                    const std::string& type = "simple");
  void WriteRule(const std::string& name, const std::string& action, const std::string& operand,
                 const std::string& data, const std::string& type = "simple");
  void WriteRuleWithOperator(const std::string& name, const std::string& action, const std::string& operator_json);

  // Starts picketd in the client namespace (stdout to dir_/picketd.out, stderr to log_path_) and waits
  // (bounded by kReadyTimeout) for its "ready:" line. Failure names why and carries the log.
  ::testing::AssertionResult StartPicketd(const PicketdOptions& options = {});

  // SIGTERM, then SIGKILL (and a test failure) if it does not stop within kStopTimeout. Returns its
  // exit code, nullopt when it was not started. picketd_ is reset, so a later StartPicketd may follow.
  std::optional<int> StopPicketd();

  // The test client `exe PROTO HOST PORT --timeout-ms N` in the client namespace, run to completion.
  RunResult Client(const std::string& exe, const std::string& proto, const std::string& host, int port,
                   int timeout_ms);
  RunResult ClientV4(const std::string& exe, const std::string& proto, int timeout_ms, int port = kPort);
  // Any argv in the client namespace; killed after timeout_ms + grace.
  RunResult RunInClient(const std::vector<std::string>& argv, int timeout_ms,
                        std::chrono::milliseconds grace = kClientGrace);
  // Starts argv in the client namespace without waiting (stdout+stderr to dir_/spawned-<n>.out). The
  // fixture owns it and kills it by PID in TearDown; nullptr (and a test failure) when it cannot start.
  Subprocess* SpawnInClient(const std::vector<std::string>& argv);

  std::string Log() const;                     // picketd's stderr so far
  std::map<std::string, long> Stats() const;   // the echo server's counters (tcp_from:<exe>, …)
  void ExpectDecision(const DecisionMatch& want);  // a matching decision line within kLogTimeout

  std::string dir_, rules_dir_, log_path_, stats_path_, history_path_, socket_path_;
  std::string client_a_, client_b_;
  std::unique_ptr<NetnsPair> net_;
  std::unique_ptr<Subprocess> server_;
  std::unique_ptr<Subprocess> picketd_;

 private:
  ::testing::AssertionResult StartServer();
  ::testing::AssertionResult WaitForReady();

  FixtureOptions options_;
  std::vector<std::unique_ptr<Subprocess>> spawned_;
};

}  // namespace picket::testing
