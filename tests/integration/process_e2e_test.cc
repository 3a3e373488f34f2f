// End-to-end tests of the exec-event store in picketd: rules on process.hash.sha256 and
// process.parent.path decide real connections, with the eBPF source and with the proc connector
// fallback chosen by config. Needs root; skips itself otherwise.
//
// Each test: the stage of PicketdFixture (picketd_harness.h) with picketd on a config file, where
// bin-b/picket_test_client has one byte appended (so its sha256 differs from bin-a's), plus a copy
// of /bin/sh as a parent. Everything is removed after the test.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <signal.h>

#include <fstream>
#include <sstream>

#include "tests/integration/picketd_harness.h"

namespace picket::testing {
namespace {

std::string Sha256Of(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  const std::string data = bytes.str();
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), md, &length, EVP_sha256(), nullptr);
  std::string hex;
  char buf[3];
  for (unsigned int i = 0; i < length; ++i) {
    std::snprintf(buf, sizeof(buf), "%02x", md[i]);
    hex += buf;
  }
  return hex;
}

class ProcessE2eTest : public PicketdFixture {
 protected:
  ProcessE2eTest() : PicketdFixture({.name = "picket-proc", .server = {.tcp = {kPort}}}) {}

  void SetUp() override {
    PicketdFixture::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    std::ofstream(client_b_, std::ios::binary | std::ios::app) << '\n';  // same program, another digest
    shell_ = CopyExecutable("/bin/sh", "parent", "sh");
  }

  // picketd on a config file (no history).
  ::testing::AssertionResult StartWithConfig(const std::string& config_json = "{}") {
    return StartPicketd({.config_json = config_json, .history = History::kOff});
  }

  std::vector<std::string> ClientArgs(const std::string& exe, int timeout_ms) {
    return {exe, "tcp", NetnsPair::kServerV4, std::to_string(kPort), "--timeout-ms", std::to_string(timeout_ms)};
  }
  // The client run as a child of the copied shell (not exec'd by it: the shell stays its parent).
  RunResult RunUnderShell(const std::string& exe, int timeout_ms) {
    std::vector<std::string> argv = {shell_, "-c", "\"$0\" \"$@\"; exit $?"};
    for (const std::string& a : ClientArgs(exe, timeout_ms)) argv.push_back(a);
    return RunInClient(argv, timeout_ms);
  }
  long Reached(const std::string& exe) { return Stats()["tcp_from:" + exe]; }

  std::string shell_;
};

const std::string kServerDst = ServerDst(kPort);

TEST_F(ProcessE2eTest, Sha256RuleDecidesByTheExecutablesDigest) {
  const std::string sha_b = Sha256Of(client_b_);
  ASSERT_NE(sha_b, Sha256Of(client_a_));
  WriteRule("deny-sha-b", "deny", "process.hash.sha256", sha_b);
  ASSERT_TRUE(StartWithConfig());
  ASSERT_NE(Log().find("checksums: rules use sha256"), std::string::npos) << Log();

  RunResult b = ClientV4(client_b_, "tcp", kBlockedTimeoutMs);
  EXPECT_EQ(b.exit_code, kExitTimeout) << b.output;
  RunResult a = ClientV4(client_a_, "tcp", kAllowedTimeoutMs);
  EXPECT_EQ(a.exit_code, kExitOk) << a.output;
  // A second process of the same unchanged file: decided from the cached digest.
  RunResult b2 = ClientV4(client_b_, "tcp", kBlockedTimeoutMs);
  EXPECT_EQ(b2.exit_code, kExitTimeout) << b2.output;
  EXPECT_EQ(Reached(client_b_), 0);
  EXPECT_EQ(Reached(client_a_), 1);
  ExpectDecision({"deny", "deny-sha-b", "tcp", kServerDst, client_b_});
  ExpectDecision({"allow", "default", "tcp", kServerDst, client_a_});

  picketd_->Signal(SIGTERM);
  ASSERT_TRUE(picketd_->Wait(kStopTimeout).has_value());
  picketd_.reset();
  const std::string log = Log();
  // Two files hashed (bin-a and bin-b), each once, however many processes ran them.
  EXPECT_NE(log.find("files_hashed=2 "), std::string::npos) << log;
}

TEST_F(ProcessE2eTest, ParentPathRuleMatchesAnyAncestor) {
  WriteRule("deny-under-parent-sh", "deny", "process.parent.path", shell_);
  ASSERT_TRUE(StartWithConfig());

  RunResult under = RunUnderShell(client_a_, kBlockedTimeoutMs);
  EXPECT_EQ(under.exit_code, kExitTimeout) << under.output;
  RunResult direct = ClientV4(client_a_, "tcp", kAllowedTimeoutMs);
  EXPECT_EQ(direct.exit_code, kExitOk) << direct.output;
  EXPECT_EQ(Reached(client_a_), 1) << "only the direct run reaches the server";
  ExpectDecision({"deny", "deny-under-parent-sh", "tcp", kServerDst, client_a_});
  ExpectDecision({"allow", "default", "tcp", kServerDst, client_a_});
  const std::string log = Log();
  EXPECT_NE(log.find("via=bpf-flow"), std::string::npos) << log;
}

TEST_F(ProcessE2eTest, ProcConnectorFallbackChosenByConfigStillAttributesExactly) {
  WriteRule("deny-client-b", "deny", "process.path", client_b_);
  WriteRule("deny-under-parent-sh", "deny", "process.parent.path", shell_);
  ASSERT_TRUE(StartWithConfig(R"({"process_monitor": "proc-connector"})"));
  const std::string started = Log();
  EXPECT_NE(started.find("process tracking: proc-connector (configured)"), std::string::npos) << started;

  RunResult b = ClientV4(client_b_, "tcp", kBlockedTimeoutMs);
  EXPECT_EQ(b.exit_code, kExitTimeout) << b.output;
  RunResult a = ClientV4(client_a_, "tcp", kAllowedTimeoutMs);
  EXPECT_EQ(a.exit_code, kExitOk) << a.output;
  RunResult under = RunUnderShell(client_a_, kBlockedTimeoutMs);
  EXPECT_EQ(under.exit_code, kExitTimeout) << under.output;
  EXPECT_EQ(Reached(client_b_), 0);
  EXPECT_EQ(Reached(client_a_), 1);
  ExpectDecision({"deny", "deny-client-b", "tcp", kServerDst, client_b_});
  ExpectDecision({"deny", "deny-under-parent-sh", "tcp", kServerDst, client_a_});
  for (const DecisionLine& d : ParseDecisions(Log())) {
    EXPECT_EQ(d.Get("via"), "sock_diag+proc-connector") << d.raw;
  }
}

}  // namespace
}  // namespace picket::testing
