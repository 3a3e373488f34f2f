// End-to-end tests of prompts: picketd in the client namespace of a NetnsPair, the test echo
// server in the server namespace, and a scripted protocol client (the codec, over picketd's UI
// socket) that subscribes to `prompts` and answers them. Needs root; skips itself otherwise.
// Each test removes what it created (picketd and server by PID, namespaces, temp directory).
#include <grp.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <QJsonArray>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <memory>
#include <thread>

#include "tests/integration/decision_log.h"
#include "tests/integration/netns_pair.h"
#include "tests/tools/server_stats.h"
#include "tests/tools/subprocess.h"
#include "ui-protocol/codec.h"

namespace picket::testing {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

constexpr int kPort = 7000;
constexpr int kOtherPort = 7001;
constexpr milliseconds kReadyTimeout{15000};
constexpr milliseconds kStopTimeout{10000};
constexpr milliseconds kPromptTimeout{5000};  // a prompt reaches the client within this
constexpr milliseconds kLogTimeout{3000};
constexpr int kExitOk = 0;
constexpr int kExitTimeout = 1;
const std::string kServerDst = std::string(NetnsPair::kServerV4) + ":" + std::to_string(kPort);

// A blocking protocol client with bounded waits.
class ProtocolClient {
 public:
  explicit ProtocolClient(const std::string& path) {
    fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, path.data(), std::min(path.size(), sizeof(address.sun_path) - 1));
    if (connect(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
      ADD_FAILURE() << "connect " << path << ": " << std::strerror(errno);
      close(fd_);
      fd_ = -1;
    }
  }
  ~ProtocolClient() {
    if (fd_ >= 0) close(fd_);
  }
  void Send(const ui::Message& message) {
    const std::string line = ui::Encode(message);
    ASSERT_EQ(send(fd_, line.data(), line.size(), MSG_NOSIGNAL), static_cast<ssize_t>(line.size()));
  }
  // The next message within `timeout`, or nullopt.
  std::optional<ui::Message> Read(milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      if (std::optional<std::string> line = splitter_.Next()) {
        auto decoded = ui::Decode(*line);
        if (auto* message = std::get_if<ui::Message>(&decoded)) return *message;
        ADD_FAILURE() << "undecodable line from picketd: " << *line;
        return std::nullopt;
      }
      const auto left = std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0 || fd_ < 0) return std::nullopt;
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buffer[65536];
      const ssize_t n = recv(fd_, buffer, sizeof(buffer), 0);
      if (n <= 0) return std::nullopt;
      splitter_.Append(std::string_view(buffer, static_cast<size_t>(n)));
    }
  }
  // Reads until a message `want` accepts (others are skipped); nullopt after `timeout`.
  template <typename T>
  std::optional<T> ReadUntil(const std::function<bool(const T&)>& want, milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      auto left = std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
      std::optional<ui::Message> message = Read(left);
      if (!message) return std::nullopt;
      if (const T* typed = std::get_if<T>(&*message); typed != nullptr && want(*typed)) return *typed;
    }
    return std::nullopt;
  }
  std::optional<ui::PromptEvent> NextPrompt(milliseconds timeout = kPromptTimeout) {
    return ReadUntil<ui::PromptEvent>([](const ui::PromptEvent& p) { return !p.closed; }, timeout);
  }
  // Sends `request` and returns its response (events in between are skipped).
  ui::Message Call(const ui::Message& request) {
    Send(request);
    const uint64_t id = ui::IdOf(request).value_or(0);
    const auto deadline = std::chrono::steady_clock::now() + milliseconds(5000);
    while (std::chrono::steady_clock::now() < deadline) {
      std::optional<ui::Message> message = Read(milliseconds(5000));
      if (!message) break;
      if (ui::IdOf(*message) == id && (std::holds_alternative<ui::ResultReply>(*message) ||
                                       std::holds_alternative<ui::ErrorReply>(*message))) {
        return *message;
      }
    }
    ADD_FAILURE() << "no response to request " << id;
    return ui::ErrorReply{};
  }
  void Greet() {
    ui::Hello hello;
    hello.client = "prompt_e2e_test";
    Send(hello);
    std::optional<ui::Message> reply = Read(milliseconds(5000));
    ASSERT_TRUE(reply && std::holds_alternative<ui::Hello>(*reply));
  }
  void SubscribePrompts() {
    Greet();
    ui::Message reply = Call(ui::Subscribe{1, {ui::Topic::kPrompts}});
    ASSERT_TRUE(std::holds_alternative<ui::ResultReply>(reply)) << ui::Encode(reply);
  }
  ui::Message Answer(uint64_t prompt, ui::AnswerAction action, ui::AnswerDuration duration,
                     std::vector<ui::ScopeField> scope) {
    return Call(ui::Answer{next_id_++, prompt, action, duration, std::move(scope)});
  }

 private:
  int fd_ = -1;
  ui::LineSplitter splitter_;
  uint64_t next_id_ = 100;
};

class PromptE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (geteuid() == 0) NetnsPair::DeleteStale("picket-prompt");
  }

  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "end-to-end tests need root (network namespaces, netfilter)";
    char tmpl[] = "/tmp/picket-prompt-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = fs::canonical(tmpl).string();
    rules_dir_ = dir_ + "/rules";
    log_path_ = dir_ + "/picketd.log";
    stats_path_ = dir_ + "/server.stats";
    socket_path_ = dir_ + "/ui.sock";
    fs::create_directories(rules_dir_);
    client_a_ = CopyClient("bin-a");
    client_b_ = CopyClient("bin-b");
    net_ = std::make_unique<NetnsPair>("picket-prompt");
    std::string error;
    ASSERT_TRUE(net_->Create(&error)) << error;
    const std::vector<std::string> argv = {PICKET_TEST_SERVER, "--tcp", std::to_string(kPort), "--tcp",
                                           std::to_string(kOtherPort), "--udp", std::to_string(kOtherPort),
                                           "--stats", stats_path_};
    server_ = Subprocess::Spawn({argv, net_->server(), dir_ + "/server.out", dir_ + "/server.err"}, &error);
    ASSERT_NE(server_, nullptr) << error;
    for (int i = 0; i < 500 && !fs::exists(stats_path_); i++) std::this_thread::sleep_for(milliseconds(10));
    ASSERT_TRUE(fs::exists(stats_path_)) << "server did not start: " << ReadFile(dir_ + "/server.err");
  }

  void TearDown() override {
    clients_.clear();  // connection attempts still running are killed by PID
    if (picketd_) {
      picketd_->Signal(SIGTERM);
      if (!picketd_->Wait(kStopTimeout)) ADD_FAILURE() << "picketd did not stop after SIGTERM";
      picketd_.reset();
    }
    server_.reset();
    net_.reset();
    if (!dir_.empty()) {
      if (HasFailure()) std::fprintf(stderr, "--- picketd log ---\n%s\n", ReadFile(log_path_).c_str());
      std::error_code ignored;
      fs::remove_all(dir_, ignored);
    }
  }

  std::string CopyClient(const std::string& subdir) {
    const std::string path = dir_ + "/" + subdir + "/picket_test_client";
    fs::create_directories(dir_ + "/" + subdir);
    fs::copy_file(PICKET_TEST_CLIENT, path, fs::copy_options::overwrite_existing);
    fs::permissions(path, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                              fs::perms::others_read | fs::perms::others_exec);
    return path;
  }

  // Starts picketd with `config` (JSON object members) and waits for "ready:".
  void StartPicketd(const std::string& config) {
    ASSERT_TRUE(WriteFile(dir_ + "/config.json", "{" + config + "}\n"));
    const std::vector<std::string> argv = {PICKETD_PATH, "--config", dir_ + "/config.json", "--rules-dir", rules_dir_,
                                           "--log-level", "info", "--history-path", dir_ + "/history.db",
                                           "--ui-socket", socket_path_};
    std::string error;
    picketd_ = Subprocess::Spawn({argv, net_->client(), dir_ + "/picketd.out", log_path_}, &error);
    ASSERT_NE(picketd_, nullptr) << error;
    const auto deadline = std::chrono::steady_clock::now() + kReadyTimeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (ReadFile(log_path_).find("ready:") != std::string::npos) return;
      ASSERT_FALSE(picketd_->Wait(milliseconds(20)).has_value()) << "picketd exited:\n" << ReadFile(log_path_);
    }
    FAIL() << "picketd not ready:\n" << ReadFile(log_path_);
  }

  // StartPicketd, then `ui_` connects and subscribes to prompts.
  void StartWithPromptsClient(const std::string& config) {
    ASSERT_NO_FATAL_FAILURE(StartPicketd(config));
    ui_ = std::make_unique<ProtocolClient>(socket_path_);
    ASSERT_NO_FATAL_FAILURE(ui_->SubscribePrompts());
  }

  // Starts a connection attempt in the client namespace without waiting for it.
  Subprocess* StartClient(const std::string& exe, const std::string& proto, int port, int timeout_ms) {
    std::string error;
    const std::string out = dir_ + "/client" + std::to_string(clients_.size()) + ".out";
    clients_.push_back(Subprocess::Spawn(
        {{exe, proto, NetnsPair::kServerV4, std::to_string(port), "--timeout-ms", std::to_string(timeout_ms)},
         net_->client(), out, out},
        &error));
    EXPECT_NE(clients_.back(), nullptr) << error;
    return clients_.back().get();
  }

  RunResult RunClient(const std::string& exe, const std::string& proto, int port, int timeout_ms) {
    return RunProgram({exe, proto, NetnsPair::kServerV4, std::to_string(port), "--timeout-ms",
                       std::to_string(timeout_ms)},
                      net_->client(), milliseconds(timeout_ms + 10000));
  }

  long Accepted(int port = kPort) {
    return ParseServerStats(ReadFile(stats_path_))["tcp_accepted:" + std::to_string(port)];
  }

  void ExpectDecision(const DecisionMatch& want) {
    EXPECT_TRUE(WaitForDecision(log_path_, want, kLogTimeout).has_value())
        << "no log line matching: " << Describe(want) << "\nlog:\n" << ReadFile(log_path_);
  }

  std::string dir_, rules_dir_, log_path_, stats_path_, socket_path_, client_a_, client_b_;
  std::unique_ptr<NetnsPair> net_;
  std::unique_ptr<Subprocess> server_;
  std::unique_ptr<Subprocess> picketd_;
  std::vector<std::unique_ptr<Subprocess>> clients_;
  std::unique_ptr<ProtocolClient> ui_;
};

QJsonObject Member(const QJsonObject& object, const char* name) { return object.value(name).toObject(); }

TEST_F(PromptE2eTest, WithoutAPromptsClientTheDefaultAppliesAtOnce) {
  ASSERT_NO_FATAL_FAILURE(StartPicketd(R"("default_action":"allow")"));
  RunResult r = RunClient(client_a_, "tcp", kPort, 3000);
  EXPECT_EQ(r.exit_code, kExitOk) << r.output;
  EXPECT_LT(r.elapsed_ms, 1000) << "nobody can be asked: the default must not wait";
  ExpectDecision({"allow", "default", "tcp", kServerDst, client_a_});
}

TEST_F(PromptE2eTest, HeldFlowLeaksNothingUntilAnsweredAllowOnce) {
  ASSERT_NO_FATAL_FAILURE(StartWithPromptsClient(R"("default_action":"deny","prompt_timeout_seconds":60)"));
  ProtocolClient& ui = *ui_;
  Subprocess* client = StartClient(client_a_, "tcp", kPort, 15000);
  std::optional<ui::PromptEvent> prompt = ui.NextPrompt();
  ASSERT_TRUE(prompt.has_value());
  const QJsonObject process = Member(prompt->details, "process");
  const QJsonObject destination = Member(prompt->details, "destination");
  EXPECT_EQ(process.value("path").toString().toStdString(), client_a_);
  EXPECT_EQ(process.value("pid").toInteger(), client->pid());
  EXPECT_EQ(destination.value("ip").toString(), NetnsPair::kServerV4);
  EXPECT_EQ(destination.value("port").toInt(), kPort);
  EXPECT_EQ(destination.value("protocol").toString(), "tcp");
  EXPECT_EQ(Member(prompt->details, "default").value("action").toString(), "deny");
  // The SYN and its retransmits (1 s, 3 s) wait without a verdict: nothing reaches the server.
  std::this_thread::sleep_for(milliseconds(3500));
  EXPECT_EQ(Accepted(), 0);
  EXPECT_TRUE(client->running());
  EXPECT_TRUE(ParseDecisions(ReadFile(log_path_)).empty()) << ReadFile(log_path_);
  ui::Message reply = ui.Answer(prompt->id, ui::AnswerAction::kAllow, ui::AnswerDuration::kOnce,
                                {ui::ScopeField::kExecutable});
  ASSERT_TRUE(std::holds_alternative<ui::ResultReply>(reply)) << ui::Encode(reply);
  EXPECT_FALSE(std::get<ui::ResultReply>(reply).data.contains("rule"));
  EXPECT_EQ(client->Wait(milliseconds(5000)), std::optional<int>(kExitOk));
  EXPECT_EQ(Accepted(), 1);
  ExpectDecision({"allow", "prompt", "tcp", kServerDst, client_a_});
  // Once: the next connection is asked again.
  StartClient(client_a_, "tcp", kPort, 15000);
  EXPECT_TRUE(ui.NextPrompt().has_value());
}

TEST_F(PromptE2eTest, DenyAlwaysWritesARuleAndTheNextConnectionIsDeniedWithoutAPrompt) {
  ASSERT_NO_FATAL_FAILURE(StartWithPromptsClient(R"("default_action":"allow","prompt_timeout_seconds":60)"));
  ProtocolClient& ui = *ui_;
  Subprocess* client = StartClient(client_b_, "tcp", kPort, 4000);
  std::optional<ui::PromptEvent> prompt = ui.NextPrompt();
  ASSERT_TRUE(prompt.has_value());
  ui::Message reply = ui.Answer(prompt->id, ui::AnswerAction::kDeny, ui::AnswerDuration::kAlways,
                                {ui::ScopeField::kExecutable, ui::ScopeField::kPort});
  ASSERT_TRUE(std::holds_alternative<ui::ResultReply>(reply)) << ui::Encode(reply);
  const std::string rule = std::get<ui::ResultReply>(reply).data.value("rule").toString().toStdString();
  ASSERT_FALSE(rule.empty());
  const std::string file = ReadFile(rules_dir_ + "/" + rule + ".json");
  EXPECT_NE(file.find("\"deny\""), std::string::npos) << file;
  EXPECT_NE(file.find(client_b_), std::string::npos) << file;
  EXPECT_EQ(client->Wait(milliseconds(10000)), std::optional<int>(kExitTimeout));
  ExpectDecision({"deny", rule, "tcp", kServerDst, client_b_});
  RunResult again = RunClient(client_b_, "tcp", kPort, 1500);
  EXPECT_EQ(again.exit_code, kExitTimeout) << again.output;
  EXPECT_FALSE(ui.NextPrompt(milliseconds(500)).has_value()) << "the rule decides: no prompt";
  EXPECT_EQ(Accepted(), 0);
  // Every decision (the answered flow, then each SYN of the next attempt) was made by the rule.
  const std::vector<DecisionLine> decisions = ParseDecisions(ReadFile(log_path_));
  EXPECT_GE(decisions.size(), 2u);
  for (const DecisionLine& d : decisions) EXPECT_EQ(d.Get("rule"), rule) << d.raw;
}

TEST_F(PromptE2eTest, TwoPromptsAnsweredInReverseOrder) {
  ASSERT_NO_FATAL_FAILURE(StartWithPromptsClient(R"("default_action":"deny","prompt_timeout_seconds":60)"));
  ProtocolClient& ui = *ui_;
  Subprocess* a = StartClient(client_a_, "tcp", kPort, 15000);
  std::optional<ui::PromptEvent> first = ui.NextPrompt();
  Subprocess* b = StartClient(client_b_, "tcp", kOtherPort, 15000);
  std::optional<ui::PromptEvent> second = ui.NextPrompt();
  ASSERT_TRUE(first && second);
  EXPECT_NE(first->id, second->id);
  EXPECT_EQ(Member(second->details, "process").value("path").toString().toStdString(), client_b_);
  ui::Message reply = ui.Answer(second->id, ui::AnswerAction::kAllow, ui::AnswerDuration::kOnce,
                                {ui::ScopeField::kExecutable});
  ASSERT_TRUE(std::holds_alternative<ui::ResultReply>(reply)) << ui::Encode(reply);
  EXPECT_EQ(b->Wait(milliseconds(5000)), std::optional<int>(kExitOk));
  EXPECT_TRUE(a->running()) << "the first prompt is still unanswered";
  EXPECT_EQ(Accepted(kPort), 0);
  reply = ui.Answer(first->id, ui::AnswerAction::kAllow, ui::AnswerDuration::kOnce, {ui::ScopeField::kExecutable});
  ASSERT_TRUE(std::holds_alternative<ui::ResultReply>(reply)) << ui::Encode(reply);
  EXPECT_EQ(a->Wait(milliseconds(5000)), std::optional<int>(kExitOk));
  // Answering again: the prompt is gone.
  reply = ui.Answer(first->id, ui::AnswerAction::kDeny, ui::AnswerDuration::kOnce, {ui::ScopeField::kExecutable});
  ASSERT_TRUE(std::holds_alternative<ui::ErrorReply>(reply));
  EXPECT_EQ(std::get<ui::ErrorReply>(reply).code, ui::ErrorCode::kNotFound);
}

TEST_F(PromptE2eTest, TimeoutAppliesTheDefaultAndClosesThePrompt) {
  ASSERT_NO_FATAL_FAILURE(StartWithPromptsClient(R"("default_action":"allow","prompt_timeout_seconds":2)"));
  ProtocolClient& ui = *ui_;
  Subprocess* client = StartClient(client_a_, "tcp", kPort, 15000);
  std::optional<ui::PromptEvent> prompt = ui.NextPrompt();
  ASSERT_TRUE(prompt.has_value());
  const uint64_t id = prompt->id;
  auto closed = ui.ReadUntil<ui::PromptEvent>([&](const ui::PromptEvent& p) { return p.closed && p.id == id; },
                                              milliseconds(5000));
  EXPECT_TRUE(closed.has_value()) << "no closed event after the timeout";
  EXPECT_EQ(client->Wait(milliseconds(5000)), std::optional<int>(kExitOk));
  ExpectDecision({"allow", "timeout", "tcp", kServerDst, client_a_});
}

// The socket is root-only (mode 0600: the test's ui_group does not exist); another uid cannot
// even connect, so it cannot answer; the prompt stays pending for an admin.
TEST_F(PromptE2eTest, UnauthorizedUidCannotAnswer) {
  ASSERT_NO_FATAL_FAILURE(StartWithPromptsClient(R"("default_action":"deny","prompt_timeout_seconds":60,"ui_group":"picket-no-such-group")"));
  ProtocolClient& ui = *ui_;
  Subprocess* client = StartClient(client_a_, "tcp", kPort, 15000);
  std::optional<ui::PromptEvent> prompt = ui.NextPrompt();
  ASSERT_TRUE(prompt.has_value());
  ASSERT_EQ(chmod(dir_.c_str(), 0755), 0);
  const std::string answer =
      "{\"type\":\"hello\",\"version\":1}\n" +
      ui::Encode(ui::Answer{1, prompt->id, ui::AnswerAction::kAllow, ui::AnswerDuration::kAlways,
                            {ui::ScopeField::kExecutable}});
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (setgroups(0, nullptr) != 0 || setgid(65534) != 0 || setuid(65534) != 0) _exit(10);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, socket_path_.data(), socket_path_.size());
    if (connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0) {
      (void)!write(fd, answer.data(), answer.size());
      _exit(11);  // connected: the socket is not root-only
    }
    _exit(errno == EACCES ? 0 : 12);
  }
  int status = -1;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_TRUE(client->running());
  EXPECT_EQ(Accepted(), 0);
  ui::Message reply = ui.Answer(prompt->id, ui::AnswerAction::kAllow, ui::AnswerDuration::kOnce,
                                {ui::ScopeField::kExecutable});
  EXPECT_TRUE(std::holds_alternative<ui::ResultReply>(reply)) << ui::Encode(reply);
  EXPECT_EQ(client->Wait(milliseconds(5000)), std::optional<int>(kExitOk));
}

// A client subscribed to events and prompts that never reads is dropped; verdicts go on, and its
// pending prompt gets the default once no prompts client is left.
TEST_F(PromptE2eTest, ClientThatStopsReadingIsDroppedWithoutStallingVerdicts) {
  ASSERT_TRUE(WriteFile(rules_dir_ + "/allow-udp.json",
                        R"({"name":"allow-udp","enabled":true,"action":"allow","duration":"always",)"
                        R"("operator":{"type":"simple","operand":"dest.port","data":"7001"}})"));
  ASSERT_NO_FATAL_FAILURE(StartPicketd(
      R"("default_action":"allow","prompt_timeout_seconds":60,"ui_client_queue_bytes":4096)"));
  ProtocolClient silent(socket_path_);
  silent.Greet();
  silent.Send(ui::Subscribe{1, {ui::Topic::kEvents, ui::Topic::kPrompts}});
  // From here `silent` never reads. A held flow waits for it...
  Subprocess* held = StartClient(client_a_, "tcp", kPort, 20000);
  // ... while many allowed datagrams make events until its queue overflows.
  RunResult flood = RunProgram({client_b_, "udp", NetnsPair::kServerV4, std::to_string(kOtherPort), "--count", "3000",
                                "--timeout-ms", "2000"},
                               net_->client(), milliseconds(60000));
  EXPECT_EQ(flood.exit_code, kExitOk) << flood.output;
  // Dropped → no prompts client → the held flow gets the default (allow).
  EXPECT_EQ(held->Wait(milliseconds(10000)), std::optional<int>(kExitOk));
  ProtocolClient status(socket_path_);
  status.Greet();
  ui::Message reply = status.Call(ui::StatusRequest{7});
  ASSERT_TRUE(std::holds_alternative<ui::ResultReply>(reply));
  const QJsonObject counters = Member(std::get<ui::ResultReply>(reply).data, "counters");
  EXPECT_GE(counters.value("ui_dropped_clients").toInteger(), 1);
  RunResult after = RunClient(client_a_, "tcp", kPort, 3000);
  EXPECT_EQ(after.exit_code, kExitOk) << after.output;
  EXPECT_LT(after.elapsed_ms, 1000);
}

}  // namespace
}  // namespace picket::testing
