#include "tests/integration/picketd_harness.h"

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <thread>
#include <utility>

#include "tests/tools/server_stats.h"

namespace picket::testing {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '"' || ch == '\\') out.push_back('\\');
    out.push_back(ch);
  }
  return out + "\"";
}

// SIGTERM, a bounded wait, and the exit code (nullopt: still running).
std::optional<int> Terminate(Subprocess& process, milliseconds timeout) {
  process.Signal(SIGTERM);
  return process.Wait(timeout);
}

}  // namespace

PicketdFixture::PicketdFixture(FixtureOptions options) : options_(std::move(options)) {}

void PicketdFixture::SetUp() {
  if (geteuid() != 0) GTEST_SKIP() << "end-to-end tests need root (network namespaces, netfilter, BPF)";
  NetnsPair::DeleteStale(options_.name);
  std::string tmpl = "/tmp/" + options_.name + "-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl.data()), nullptr) << tmpl;
  dir_ = fs::canonical(tmpl).string();
  rules_dir_ = dir_ + "/rules";
  log_path_ = dir_ + "/picketd.log";
  stats_path_ = dir_ + "/server.stats";
  history_path_ = dir_ + "/history.db";
  socket_path_ = dir_ + "/ui.sock";
  fs::create_directories(rules_dir_);
  client_a_ = CopyExecutable(PICKET_TEST_CLIENT, "bin-a", "picket_test_client");
  client_b_ = CopyExecutable(PICKET_TEST_CLIENT, "bin-b", "picket_test_client");
  net_ = std::make_unique<NetnsPair>(options_.name);
  std::string error;
  ASSERT_TRUE(net_->Create(&error)) << error;
  ASSERT_TRUE(StartServer());
}

void PicketdFixture::TearDown() {
  spawned_.clear();  // still running: SIGKILLed by PID
  StopPicketd();
  if (server_) {
    Terminate(*server_, kStopTimeout);
    server_.reset();  // SIGKILLs it if it is still running
  }
  net_.reset();
  if (dir_.empty()) return;
  if (HasFailure()) std::fprintf(stderr, "--- picketd log (%s) ---\n%s\n", log_path_.c_str(), Log().c_str());
  std::error_code ignored;
  fs::remove_all(dir_, ignored);
}

std::string PicketdFixture::CopyExecutable(const std::string& from, const std::string& subdir,
                                           const std::string& name) {
  fs::create_directories(dir_ + "/" + subdir);
  const std::string to = dir_ + "/" + subdir + "/" + name;
  fs::copy_file(from, to, fs::copy_options::overwrite_existing);
  fs::permissions(to, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                          fs::perms::others_read | fs::perms::others_exec);
  return to;
}

::testing::AssertionResult PicketdFixture::StartServer() {
  std::vector<std::string> argv = {PICKET_TEST_SERVER};
  for (const auto& [flag, ports] : {std::pair{"--tcp", &options_.server.tcp},
                                    std::pair{"--tcp-abort", &options_.server.tcp_abort},
                                    std::pair{"--udp", &options_.server.udp}}) {
    for (int port : *ports) {
      argv.push_back(flag);
      argv.push_back(std::to_string(port));
    }
  }
  argv.push_back("--stats");
  argv.push_back(stats_path_);
  std::string error;
  server_ = Subprocess::Spawn({argv, net_->server(), dir_ + "/server.out", dir_ + "/server.err"}, &error);
  if (!server_) return ::testing::AssertionFailure() << error;
  for (int i = 0; i < 500 && !fs::exists(stats_path_) && server_->running(); i++) {
    std::this_thread::sleep_for(milliseconds(10));
    server_->Wait(milliseconds(0));
  }
  if (fs::exists(stats_path_)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "server did not start: " << ReadFile(dir_ + "/server.err");
}

std::string PicketdFixture::SimpleOperator(const std::string& operand, const std::string& data,
                                           const std::string& type) {
  return "{\"type\":" + JsonString(type) + ",\"operand\":" + JsonString(operand) + ",\"data\":" + JsonString(data) +
         ",\"sensitive\":false}";
}

void PicketdFixture::WriteRule(const std::string& name, const std::string& action, const std::string& operand,
                               const std::string& data, const std::string& type) {
  WriteRuleWithOperator(name, action, SimpleOperator(operand, data, type));
}

void PicketdFixture::WriteRuleWithOperator(const std::string& name, const std::string& action,
                                           const std::string& operator_json) {
  const std::string json = "{\"name\":" + JsonString(name) + ",\"enabled\":true,\"precedence\":false,\"action\":" +
                           JsonString(action) + ",\"duration\":\"always\",\"operator\":" + operator_json + "}\n";
  ASSERT_TRUE(WriteFile(rules_dir_ + "/" + name + ".json", json)) << rules_dir_;
}

::testing::AssertionResult PicketdFixture::StartPicketd(const PicketdOptions& options) {
  std::vector<std::string> argv = {PICKETD_PATH};
  if (options.config_json) {
    const std::string config = dir_ + "/picketd.json";
    if (!WriteFile(config, *options.config_json)) return ::testing::AssertionFailure() << "cannot write " << config;
    argv.insert(argv.end(), {"--config", config});
  }
  // The event log goes to the test's directory, never to /var/lib/picket; the socket likewise.
  argv.insert(argv.end(), {"--rules-dir", rules_dir_, "--log-level", "info"});
  if (options.history == History::kOff) {
    argv.push_back("--no-history");
  } else {
    argv.insert(argv.end(), {"--history-path", history_path_});
  }
  argv.insert(argv.end(), {"--ui-socket", socket_path_});
  argv.insert(argv.end(), options.args.begin(), options.args.end());
  std::string error;
  picketd_ = Subprocess::Spawn({argv, net_->client(), dir_ + "/picketd.out", log_path_, options.env}, &error);
  if (!picketd_) return ::testing::AssertionFailure() << error;
  return WaitForReady();
}

::testing::AssertionResult PicketdFixture::WaitForReady() {
  const auto deadline = std::chrono::steady_clock::now() + kReadyTimeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (Log().find("ready:") != std::string::npos) return ::testing::AssertionSuccess();
    if (auto code = picketd_->Wait(milliseconds(20))) {
      return ::testing::AssertionFailure() << "picketd exited with " << *code << " before ready:\n" << Log();
    }
  }
  return ::testing::AssertionFailure() << "picketd not ready after " << kReadyTimeout.count() << " ms:\n" << Log();
}

std::optional<int> PicketdFixture::StopPicketd() {
  if (!picketd_) return std::nullopt;
  std::optional<int> code = Terminate(*picketd_, kStopTimeout);
  if (!code) {
    ADD_FAILURE() << "picketd did not stop within " << kStopTimeout.count() << " ms of SIGTERM";
    picketd_->Signal(SIGKILL);
    code = picketd_->Wait(kStopTimeout);
  }
  picketd_.reset();
  return code;
}

RunResult PicketdFixture::Client(const std::string& exe, const std::string& proto, const std::string& host,
                                 int port, int timeout_ms) {
  return RunInClient({exe, proto, host, std::to_string(port), "--timeout-ms", std::to_string(timeout_ms)},
                     timeout_ms);
}

RunResult PicketdFixture::ClientV4(const std::string& exe, const std::string& proto, int timeout_ms, int port) {
  return Client(exe, proto, NetnsPair::kServerV4, port, timeout_ms);
}

RunResult PicketdFixture::RunInClient(const std::vector<std::string>& argv, int timeout_ms, milliseconds grace) {
  return RunProgram(argv, net_->client(), milliseconds(timeout_ms) + grace);
}

Subprocess* PicketdFixture::SpawnInClient(const std::vector<std::string>& argv) {
  const std::string out = dir_ + "/spawned-" + std::to_string(spawned_.size()) + ".out";
  std::string error;
  std::unique_ptr<Subprocess> process = Subprocess::Spawn({argv, net_->client(), out, out}, &error);
  if (!process) {
    ADD_FAILURE() << error;
    return nullptr;
  }
  spawned_.push_back(std::move(process));
  return spawned_.back().get();
}

std::string PicketdFixture::Log() const { return ReadFile(log_path_); }

std::map<std::string, long> PicketdFixture::Stats() const { return ParseServerStats(ReadFile(stats_path_)); }

void PicketdFixture::ExpectDecision(const DecisionMatch& want) {
  EXPECT_TRUE(WaitForDecision(log_path_, want, kLogTimeout).has_value())
      << "no log line matching: " << Describe(want) << "\nlog:\n" << Log();
}

std::string ServerDst(int port) {
  return std::string(NetnsPair::kServerV4) + ":" + std::to_string(port);
}

}  // namespace picket::testing
