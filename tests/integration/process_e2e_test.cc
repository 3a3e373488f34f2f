// End-to-end tests of the exec-event store in picketd: rules on process.hash.sha256 and
// process.parent.path decide real connections, with the eBPF source and with the proc connector
// fallback chosen by config. Needs root; skips itself otherwise.
//
// Each test: fresh namespaces (NetnsPair), an echo server, picketd in the client namespace, and
// clients at distinct paths: bin-a/picket_test_client (a copy) and bin-b/picket_test_client (a copy
// with one byte appended, so its sha256 differs), plus a copy of /bin/sh as a parent. TearDown stops
// picketd and the server by PID and removes everything it created.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
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

constexpr int kPort = 7000;
constexpr int kAllowedTimeoutMs = 3000;
constexpr int kBlockedTimeoutMs = 1500;
constexpr int kExitOk = 0;
constexpr int kExitTimeout = 1;
constexpr milliseconds kReadyTimeout{15000};
constexpr milliseconds kStopTimeout{10000};
constexpr milliseconds kLogTimeout{3000};

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

class ProcessE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (geteuid() == 0) NetnsPair::DeleteStale("picket-proc");
  }

  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "end-to-end tests need root (network namespaces, netfilter, BPF)";
    char tmpl[] = "/tmp/picket-proc-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = fs::canonical(tmpl).string();
    rules_dir_ = dir_ + "/rules";
    log_path_ = dir_ + "/picketd.log";
    stats_path_ = dir_ + "/server.stats";
    fs::create_directories(rules_dir_);
    client_a_ = Copy(PICKET_TEST_CLIENT, "bin-a", "picket_test_client");
    client_b_ = Copy(PICKET_TEST_CLIENT, "bin-b", "picket_test_client");
    std::ofstream(client_b_, std::ios::binary | std::ios::app) << '\n';  // same program, another digest
    shell_ = Copy("/bin/sh", "parent", "sh");
    net_ = std::make_unique<NetnsPair>("picket-proc");
    std::string error;
    ASSERT_TRUE(net_->Create(&error)) << error;
    const std::vector<std::string> argv = {PICKET_TEST_SERVER, "--tcp", std::to_string(kPort), "--stats", stats_path_};
    server_ = Subprocess::Spawn({argv, net_->server(), dir_ + "/server.out", dir_ + "/server.err"}, &error);
    ASSERT_NE(server_, nullptr) << error;
    for (int i = 0; i < 500 && !fs::exists(stats_path_); i++) std::this_thread::sleep_for(milliseconds(10));
    ASSERT_TRUE(fs::exists(stats_path_)) << "server did not start";
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
      std::error_code ignored;
      fs::remove_all(dir_, ignored);
    }
  }

  std::string Copy(const std::string& from, const std::string& subdir, const std::string& name) {
    fs::create_directories(dir_ + "/" + subdir);
    const std::string to = dir_ + "/" + subdir + "/" + name;
    fs::copy_file(from, to, fs::copy_options::overwrite_existing);
    fs::permissions(to, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                            fs::perms::others_read | fs::perms::others_exec);
    return to;
  }

  void WriteRule(const std::string& name, const std::string& action, const std::string& operand,
                 const std::string& data) {
    const std::string json = "{\"name\":\"" + name + "\",\"enabled\":true,\"action\":\"" + action +
                             "\",\"duration\":\"always\",\"operator\":{\"type\":\"simple\",\"operand\":\"" + operand +
                             "\",\"data\":\"" + data + "\"}}\n";
    ASSERT_TRUE(WriteFile(rules_dir_ + "/" + name + ".json", json));
  }

  ::testing::AssertionResult StartPicketd(const std::string& config_json = "{}") {
    const std::string config = dir_ + "/picketd.json";
    if (!WriteFile(config, config_json)) return ::testing::AssertionFailure() << "cannot write " << config;
    const std::vector<std::string> argv = {PICKETD_PATH, "--config", config, "--rules-dir", rules_dir_,
                                           "--log-level", "info", "--no-history", "--ui-socket", dir_ + "/ui.sock"};
    std::string error;
    picketd_ = Subprocess::Spawn({argv, net_->client(), dir_ + "/picketd.out", log_path_}, &error);
    if (!picketd_) return ::testing::AssertionFailure() << error;
    const auto deadline = std::chrono::steady_clock::now() + kReadyTimeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (ReadFile(log_path_).find("ready:") != std::string::npos) return ::testing::AssertionSuccess();
      if (auto code = picketd_->Wait(milliseconds(20))) {
        return ::testing::AssertionFailure() << "picketd exited with " << *code << ":\n" << ReadFile(log_path_);
      }
    }
    return ::testing::AssertionFailure() << "picketd not ready:\n" << ReadFile(log_path_);
  }

  std::vector<std::string> ClientArgs(const std::string& exe, int timeout_ms) {
    return {exe, "tcp", NetnsPair::kServerV4, std::to_string(kPort), "--timeout-ms", std::to_string(timeout_ms)};
  }
  RunResult Run(const std::vector<std::string>& argv, int timeout_ms) {
    return RunProgram(argv, net_->client(), milliseconds(timeout_ms + 10000));
  }
  // The client run as a child of the copied shell (not exec'd by it: the shell stays its parent).
  RunResult RunUnderShell(const std::string& exe, int timeout_ms) {
    std::vector<std::string> argv = {shell_, "-c", "\"$0\" \"$@\"; exit $?"};
    for (const std::string& a : ClientArgs(exe, timeout_ms)) argv.push_back(a);
    return Run(argv, timeout_ms);
  }
  long Reached(const std::string& exe) { return ParseServerStats(ReadFile(stats_path_))["tcp_from:" + exe]; }
  void ExpectDecision(const DecisionMatch& want) {
    EXPECT_TRUE(WaitForDecision(log_path_, want, kLogTimeout).has_value())
        << "no log line matching: " << Describe(want) << "\nlog:\n" << ReadFile(log_path_);
  }

  std::string dir_, rules_dir_, log_path_, stats_path_, client_a_, client_b_, shell_;
  std::unique_ptr<NetnsPair> net_;
  std::unique_ptr<Subprocess> server_;
  std::unique_ptr<Subprocess> picketd_;
};

const std::string kServerDst = std::string(NetnsPair::kServerV4) + ":" + std::to_string(kPort);

TEST_F(ProcessE2eTest, Sha256RuleDecidesByTheExecutablesDigest) {
  const std::string sha_b = Sha256Of(client_b_);
  ASSERT_NE(sha_b, Sha256Of(client_a_));
  WriteRule("deny-sha-b", "deny", "process.hash.sha256", sha_b);
  ASSERT_TRUE(StartPicketd());
  ASSERT_NE(ReadFile(log_path_).find("checksums: rules use sha256"), std::string::npos) << ReadFile(log_path_);

  RunResult b = Run(ClientArgs(client_b_, kBlockedTimeoutMs), kBlockedTimeoutMs);
  EXPECT_EQ(b.exit_code, kExitTimeout) << b.output;
  RunResult a = Run(ClientArgs(client_a_, kAllowedTimeoutMs), kAllowedTimeoutMs);
  EXPECT_EQ(a.exit_code, kExitOk) << a.output;
  // A second process of the same unchanged file: decided from the cached digest.
  RunResult b2 = Run(ClientArgs(client_b_, kBlockedTimeoutMs), kBlockedTimeoutMs);
  EXPECT_EQ(b2.exit_code, kExitTimeout) << b2.output;
  EXPECT_EQ(Reached(client_b_), 0);
  EXPECT_EQ(Reached(client_a_), 1);
  ExpectDecision({"deny", "deny-sha-b", "tcp", kServerDst, client_b_});
  ExpectDecision({"allow", "default", "tcp", kServerDst, client_a_});

  picketd_->Signal(SIGTERM);
  ASSERT_TRUE(picketd_->Wait(kStopTimeout).has_value());
  picketd_.reset();
  const std::string log = ReadFile(log_path_);
  // Two files hashed (bin-a and bin-b), each once, however many processes ran them.
  EXPECT_NE(log.find("files_hashed=2 "), std::string::npos) << log;
}

TEST_F(ProcessE2eTest, ParentPathRuleMatchesAnyAncestor) {
  WriteRule("deny-under-parent-sh", "deny", "process.parent.path", shell_);
  ASSERT_TRUE(StartPicketd());

  RunResult under = RunUnderShell(client_a_, kBlockedTimeoutMs);
  EXPECT_EQ(under.exit_code, kExitTimeout) << under.output;
  RunResult direct = Run(ClientArgs(client_a_, kAllowedTimeoutMs), kAllowedTimeoutMs);
  EXPECT_EQ(direct.exit_code, kExitOk) << direct.output;
  EXPECT_EQ(Reached(client_a_), 1) << "only the direct run reaches the server";
  ExpectDecision({"deny", "deny-under-parent-sh", "tcp", kServerDst, client_a_});
  ExpectDecision({"allow", "default", "tcp", kServerDst, client_a_});
  const std::string log = ReadFile(log_path_);
  EXPECT_NE(log.find("via=bpf-flow"), std::string::npos) << log;
}

TEST_F(ProcessE2eTest, ProcConnectorFallbackChosenByConfigStillAttributesExactly) {
  WriteRule("deny-client-b", "deny", "process.path", client_b_);
  WriteRule("deny-under-parent-sh", "deny", "process.parent.path", shell_);
  ASSERT_TRUE(StartPicketd(R"({"process_monitor": "proc-connector"})"));
  const std::string started = ReadFile(log_path_);
  EXPECT_NE(started.find("process tracking: proc-connector (configured)"), std::string::npos) << started;

  RunResult b = Run(ClientArgs(client_b_, kBlockedTimeoutMs), kBlockedTimeoutMs);
  EXPECT_EQ(b.exit_code, kExitTimeout) << b.output;
  RunResult a = Run(ClientArgs(client_a_, kAllowedTimeoutMs), kAllowedTimeoutMs);
  EXPECT_EQ(a.exit_code, kExitOk) << a.output;
  RunResult under = RunUnderShell(client_a_, kBlockedTimeoutMs);
  EXPECT_EQ(under.exit_code, kExitTimeout) << under.output;
  EXPECT_EQ(Reached(client_b_), 0);
  EXPECT_EQ(Reached(client_a_), 1);
  ExpectDecision({"deny", "deny-client-b", "tcp", kServerDst, client_b_});
  ExpectDecision({"deny", "deny-under-parent-sh", "tcp", kServerDst, client_a_});
  for (const DecisionLine& d : ParseDecisions(ReadFile(log_path_))) {
    EXPECT_EQ(d.Get("via"), "sock_diag+proc-connector") << d.raw;
  }
}

}  // namespace
}  // namespace picket::testing
