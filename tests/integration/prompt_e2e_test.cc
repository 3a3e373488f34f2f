// End-to-end tests of prompts: picketd and the test echo server in PicketdFixture's namespaces,
// and a scripted protocol client (the codec, over picketd's UI
// socket) that subscribes to `prompts` and answers them. Needs root; skips itself otherwise.
#include <grp.h>
#include <termios.h>
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
#include "tests/integration/picketd_harness.h"
#include "tests/integration/ui_protocol_client.h"
#include "tests/tools/pty_process.h"
#include "ui-protocol/codec.h"

namespace picket::testing {
namespace {

using std::chrono::milliseconds;

constexpr int kOtherPort = 7001;
const std::string kServerDst = ServerDst(kPort);

class PromptE2eTest : public PicketdFixture {
 protected:
  PromptE2eTest()
      : PicketdFixture({.name = "picket-prompt", .server = {.tcp = {kPort, kOtherPort}, .udp = {kOtherPort}}}) {}

  // Starts picketd with `config` (JSON object members) and waits for "ready:".
  void Start(const std::string& config) { ASSERT_TRUE(StartPicketd({.config_json = "{" + config + "}\n"})); }

  // Start, then `ui_` connects and subscribes to prompts.
  void StartWithPromptsClient(const std::string& config) {
    ASSERT_NO_FATAL_FAILURE(Start(config));
    ui_ = std::make_unique<ProtocolClient>(socket_path_);
    ASSERT_NO_FATAL_FAILURE(ui_->SubscribePrompts());
  }

  // Starts a connection attempt in the client namespace without waiting for it.
  Subprocess* StartClient(const std::string& exe, const std::string& proto, int port, int timeout_ms) {
    return SpawnInClient(
        {exe, proto, NetnsPair::kServerV4, std::to_string(port), "--timeout-ms", std::to_string(timeout_ms)});
  }

  long Accepted(int port = kPort) { return Stats()["tcp_accepted:" + std::to_string(port)]; }

  std::unique_ptr<ProtocolClient> ui_;
};

QJsonObject Member(const QJsonObject& object, const char* name) { return object.value(name).toObject(); }

TEST_F(PromptE2eTest, WithoutAPromptsClientTheDefaultAppliesAtOnce) {
  ASSERT_NO_FATAL_FAILURE(Start(R"("default_action":"allow")"));
  RunResult r = ClientV4(client_a_, "tcp", 3000);
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
  EXPECT_TRUE(ParseDecisions(Log()).empty()) << Log();
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
  RunResult again = ClientV4(client_b_, "tcp", 1500);
  EXPECT_EQ(again.exit_code, kExitTimeout) << again.output;
  EXPECT_FALSE(ui.NextPrompt(milliseconds(500)).has_value()) << "the rule decides: no prompt";
  EXPECT_EQ(Accepted(), 0);
  // Every decision (the answered flow, then each SYN of the next attempt) was made by the rule.
  const std::vector<DecisionLine> decisions = ParseDecisions(Log());
  EXPECT_GE(decisions.size(), 2u);
  for (const DecisionLine& d : decisions) EXPECT_EQ(d.Get("rule"), rule) << d.raw;
}

// `picket prompt` on a terminal, as a person uses it: the held connection is shown (program,
// destination), `d` `f` choose deny + always (scope: executable, the default), Enter answers; the
// connection never reaches the server, a rule file is written and the program's next connection is
// denied by it without a prompt. `q` quits and the terminal is back in canonical mode with echo.
TEST_F(PromptE2eTest, PicketPromptOnATerminalDeniesAlwaysAndTheRuleDecidesTheNextConnection) {
  ASSERT_NO_FATAL_FAILURE(Start(R"("default_action":"allow","prompt_timeout_seconds":60)"));
  PtyProcess prompt({PICKET_CLI, "prompt", "--socket", socket_path_});
  ASSERT_TRUE(prompt.started());
  ASSERT_TRUE(prompt.WaitFor("no open prompts")) << prompt.screen();  // subscribed
  Subprocess* client = StartClient(client_b_, "tcp", kPort, 4000);
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(prompt.WaitFor("1 open prompt")) << prompt.screen();
  EXPECT_TRUE(prompt.WaitFor("program   " + client_b_)) << prompt.screen();
  EXPECT_TRUE(prompt.WaitFor(std::string(NetnsPair::kServerV4) + " port " + std::to_string(kPort) + " tcp"))
      << prompt.screen();
  EXPECT_EQ(prompt.LocalModes().value_or(ECHO) & (ECHO | ICANON), 0u) << "raw mode while prompting";
  prompt.Mark();
  ASSERT_TRUE(prompt.Type("df"));
  ASSERT_TRUE(prompt.WaitFor("answer: deny always scope executable")) << prompt.screen();
  ASSERT_TRUE(prompt.Type("\r"));
  const std::string answered = "answered: rule ";
  ASSERT_TRUE(prompt.WaitFor(answered)) << prompt.screen();
  ASSERT_TRUE(prompt.WaitFor("\n")) << prompt.screen();
  const size_t at = prompt.screen().rfind(answered) + answered.size();
  const std::string rule = prompt.screen().substr(at, prompt.screen().find_first_of("\r\n", at) - at);
  ASSERT_FALSE(rule.empty()) << prompt.screen();
  const std::string file = ReadFile(rules_dir_ + "/" + rule + ".json");
  EXPECT_NE(file.find("\"deny\""), std::string::npos) << file;
  EXPECT_NE(file.find("\"always\""), std::string::npos) << file;
  EXPECT_NE(file.find(client_b_), std::string::npos) << file;
  EXPECT_EQ(client->Wait(milliseconds(10000)), std::optional<int>(kExitTimeout));
  ExpectDecision({"deny", rule, "tcp", kServerDst, client_b_});

  ASSERT_TRUE(prompt.WaitFor("no open prompts")) << prompt.screen();
  prompt.Mark();
  const size_t before = prompt.screen().size();
  RunResult again = ClientV4(client_b_, "tcp", 1500);
  EXPECT_EQ(again.exit_code, kExitTimeout) << again.output;
  ASSERT_TRUE(prompt.WaitFor("no open prompts")) << prompt.screen();  // redrawn after the attempt
  EXPECT_EQ(prompt.screen().find("program   ", before), std::string::npos) << "the rule decides: no prompt\n"
                                                                            << prompt.screen().substr(before);
  EXPECT_EQ(Accepted(), 0);
  const std::vector<DecisionLine> decisions = ParseDecisions(Log());
  EXPECT_GE(decisions.size(), 2u);
  for (const DecisionLine& d : decisions) EXPECT_EQ(d.Get("rule"), rule) << d.raw;

  ASSERT_TRUE(prompt.Type("q"));
  const int status = prompt.Wait();
  ASSERT_TRUE(WIFEXITED(status)) << status << "\n" << prompt.screen();
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(prompt.LocalModes().value_or(0) & (ECHO | ICANON), static_cast<tcflag_t>(ECHO | ICANON));
}

// `picket config set` of prompt_timeout_seconds and prompt_default_duration: a prompt opened after
// the change gets the new deadline and default (it times out within seconds and its `always` default
// writes a rule); the prompt opened before keeps its 60 s deadline and `once` default.
TEST_F(PromptE2eTest, RuntimePromptTimeoutAndDefaultDurationApplyToPromptsOpenedAfterTheChange) {
  ASSERT_NO_FATAL_FAILURE(StartWithPromptsClient(
      R"("default_action":"deny","prompt_timeout_seconds":60,"prompt_default_duration":"once")"));
  ProtocolClient& ui = *ui_;
  Subprocess* before = StartClient(client_a_, "tcp", kPort, 20000);
  std::optional<ui::PromptEvent> first = ui.NextPrompt();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(Member(first->details, "default").value("duration").toString(), "once");
  for (const auto& [key, value] : {std::pair{"prompt_timeout_seconds", "2"},
                                   std::pair{"prompt_default_duration", "always"}}) {
    RunResult set = RunProgram({PICKET_CLI, "config", "set", key, value, "--socket", socket_path_}, "",
                               milliseconds(10000));
    ASSERT_EQ(set.exit_code, 0) << set.output;
  }
  RunResult get = RunProgram({PICKET_CLI, "config", "get", "prompt_timeout_seconds", "--socket", socket_path_}, "",
                             milliseconds(10000));
  EXPECT_EQ(get.output, "2\n");
  Subprocess* after = StartClient(client_b_, "tcp", kOtherPort, 4000);
  std::optional<ui::PromptEvent> second = ui.NextPrompt();
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(Member(second->details, "default").value("duration").toString(), "always");
  const uint64_t id = second->id;
  auto closed = ui.ReadUntil<ui::PromptEvent>([&](const ui::PromptEvent& p) { return p.closed && p.id == id; },
                                              milliseconds(5000));
  EXPECT_TRUE(closed.has_value()) << "the new prompt did not time out after 2 s";
  EXPECT_EQ(after->Wait(milliseconds(10000)), std::optional<int>(kExitTimeout));
  ExpectDecision({"deny", "timeout", "tcp", ServerDst(kOtherPort), client_b_});
  bool rule_written = false;
  for (const auto& entry : std::filesystem::directory_iterator(rules_dir_)) {
    rule_written = rule_written || ReadFile(entry.path().string()).find(client_b_) != std::string::npos;
  }
  EXPECT_TRUE(rule_written) << "the `always` default of the timed-out prompt wrote no rule";
  // The first prompt is still pending (its deadline stayed 60 s) and shows its own default.
  EXPECT_TRUE(before->running());
  ui::Message reply = ui.Answer(first->id, ui::AnswerAction::kAllow, ui::AnswerDuration::kOnce,
                                {ui::ScopeField::kExecutable});
  ASSERT_TRUE(std::holds_alternative<ui::ResultReply>(reply)) << ui::Encode(reply);
  EXPECT_EQ(before->Wait(milliseconds(5000)), std::optional<int>(kExitOk));
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
  WriteRule("allow-udp", "allow", "dest.port", std::to_string(kOtherPort));
  ASSERT_NO_FATAL_FAILURE(Start(R"("default_action":"allow","prompt_timeout_seconds":60,"ui_client_queue_bytes":4096)"));
  ProtocolClient silent(socket_path_);
  silent.Greet();
  silent.Send(ui::Subscribe{1, {ui::Topic::kEvents, ui::Topic::kPrompts}});
  // From here `silent` never reads. A held flow waits for it...
  Subprocess* held = StartClient(client_a_, "tcp", kPort, 20000);
  // ... while many allowed datagrams make events until its queue overflows.
  RunResult flood = RunInClient({client_b_, "udp", NetnsPair::kServerV4, std::to_string(kOtherPort), "--count",
                                 "3000", "--timeout-ms", "2000"},
                                2000, milliseconds(58000));
  EXPECT_EQ(flood.exit_code, kExitOk) << flood.output;
  // Dropped → no prompts client → the held flow gets the default (allow).
  EXPECT_EQ(held->Wait(milliseconds(10000)), std::optional<int>(kExitOk));
  ProtocolClient status(socket_path_);
  status.Greet();
  ui::Message reply = status.Call(ui::StatusRequest{7});
  ASSERT_TRUE(std::holds_alternative<ui::ResultReply>(reply));
  const QJsonObject counters = Member(std::get<ui::ResultReply>(reply).data, "counters");
  EXPECT_GE(counters.value("ui_dropped_clients").toInteger(), 1);
  RunResult after = ClientV4(client_a_, "tcp", 3000);
  EXPECT_EQ(after.exit_code, kExitOk) << after.output;
  EXPECT_LT(after.elapsed_ms, 1000);
}

}  // namespace
}  // namespace picket::testing
