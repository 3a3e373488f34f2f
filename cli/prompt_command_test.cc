// `picket prompt` driven as a person would: the real binary runs on a pseudo-terminal (forkpty),
// the test types keys into it and reads its screen, and a scripted fake picketd (a UNIX socket
// server in this process, speaking through the codec) sends prompts and receives the answers.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <QDateTime>
#include <QJsonArray>
#include <QJsonObject>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "tests/tools/pty_process.h"
#include "ui-protocol/codec.h"

namespace picket {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr auto kWait = std::chrono::seconds(10);

std::string TempDir() {
  char path[] = "/tmp/picket-prompt-test-XXXXXX";
  const char* made = mkdtemp(path);
  return made != nullptr ? made : "";
}

// One accepted client of the fake picketd.
class FakeServer {
 public:
  explicit FakeServer(const std::string& path) : path_(path) {
    listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, path.data(), path.size());
    EXPECT_EQ(bind(listen_fd_, reinterpret_cast<const sockaddr*>(&address), sizeof(address)), 0) << std::strerror(errno);
    EXPECT_EQ(listen(listen_fd_, 4), 0);
  }
  ~FakeServer() {
    if (fd_ >= 0) close(fd_);
    close(listen_fd_);
    unlink(path_.c_str());
  }
  bool Accept() {
    pollfd p{listen_fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(std::chrono::duration_cast<milliseconds>(kWait).count())) != 1) return false;
    fd_ = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    return fd_ >= 0;
  }
  // The next message from the client; nullopt after EOF or kWait without one.
  std::optional<ui::Message> Read() {
    const auto deadline = steady_clock::now() + kWait;
    while (steady_clock::now() < deadline) {
      if (auto line = splitter_.Next()) {
        auto decoded = ui::Decode(*line);
        if (auto* m = std::get_if<ui::Message>(&decoded)) return *m;
        ADD_FAILURE() << "client sent '" << *line << "'";
        return std::nullopt;
      }
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) != 1) continue;
      char buffer[4096];
      const ssize_t n = read(fd_, buffer, sizeof(buffer));
      if (n <= 0) return std::nullopt;
      splitter_.Append(std::string_view(buffer, static_cast<size_t>(n)));
    }
    return std::nullopt;
  }
  void Send(const ui::Message& message) {
    const std::string line = ui::Encode(message);
    ASSERT_EQ(write(fd_, line.data(), line.size()), static_cast<ssize_t>(line.size()));
  }
  // hello → hello(admin); subscribe prompts → result, or `subscribe_error`.
  void Handshake(std::optional<ui::ErrorCode> subscribe_error = std::nullopt) {
    ASSERT_TRUE(Accept());
    auto hello = Read();
    ASSERT_TRUE(hello && std::holds_alternative<ui::Hello>(*hello));
    ui::Hello reply;
    reply.server = "fake-picketd";
    reply.role = subscribe_error ? ui::Role::kReadOnly : ui::Role::kAdmin;
    Send(reply);
    auto subscribe = Read();
    ASSERT_TRUE(subscribe && std::holds_alternative<ui::Subscribe>(*subscribe));
    const auto& topics = std::get<ui::Subscribe>(*subscribe).topics;
    ASSERT_EQ(topics, std::vector<ui::Topic>{ui::Topic::kPrompts});
    const uint64_t id = std::get<ui::Subscribe>(*subscribe).id;
    if (subscribe_error) {
      Send(ui::ErrorReply{id, *subscribe_error, "prompts need the admin role", std::nullopt});
    } else {
      Send(ui::ResultReply{id, QJsonObject{{"topics", QJsonArray{"prompts"}}}});
    }
  }
  ui::Answer ReadAnswer() {
    auto message = Read();
    EXPECT_TRUE(message && std::holds_alternative<ui::Answer>(*message)) << (message ? ui::TypeName(*message) : "nothing");
    return message && std::holds_alternative<ui::Answer>(*message) ? std::get<ui::Answer>(*message) : ui::Answer{};
  }

 private:
  std::string path_;
  int listen_fd_ = -1;
  int fd_ = -1;
  ui::LineSplitter splitter_;
};

ui::PromptEvent SamplePrompt(uint64_t id, const std::string& path, const std::string& host) {
  QJsonObject destination{{"ip", "198.18.0.2"}, {"port", 443}, {"protocol", "tcp"}};
  if (!host.empty()) destination["host"] = QString::fromStdString(host);
  const auto deadline = QDateTime::currentDateTimeUtc().addSecs(120).toString(Qt::ISODateWithMs);
  QJsonObject details{
      {"deadline", deadline},
      {"process",
       QJsonObject{{"path", QString::fromStdString(path)},
                   {"args", QJsonArray{"curl", "--silent", "https://example.org/x"}},
                   {"pid", 4242},
                   {"uid", 0},
                   {"parents", QJsonArray{QJsonObject{{"pid", 4000}, {"path", "/usr/bin/bash"}},
                                          QJsonObject{{"pid", 1}, {"path", "/sbin/init"}}}},
                   {"digest", "sha256:0123abcd"}}},
      {"destination", destination},
      {"default", QJsonObject{{"action", "deny"}, {"duration", "once"}}}};
  return ui::PromptEvent{id, false, details};
}

// The prompter on a pseudo-terminal.
class PromptProcess : public testing::PtyProcess {
 public:
  explicit PromptProcess(const std::string& socket)
      : PtyProcess({PICKET_CLI, "prompt", "--socket", socket}, std::chrono::duration_cast<milliseconds>(kWait)) {
    EXPECT_TRUE(started()) << std::strerror(errno);
  }
  void Type(const std::string& keys) { ASSERT_TRUE(PtyProcess::Type(keys)); }
  tcflag_t LocalModes() const {
    const std::optional<tcflag_t> modes = PtyProcess::LocalModes();
    EXPECT_TRUE(modes.has_value()) << std::strerror(errno);
    return modes.value_or(0);
  }
};

void ExpectAnswer(const ui::Answer& answer, uint64_t prompt, ui::AnswerAction action, ui::AnswerDuration duration,
                  const std::vector<ui::ScopeField>& scope) {
  EXPECT_EQ(answer.prompt, prompt);
  EXPECT_EQ(answer.action, action);
  EXPECT_EQ(answer.duration, duration);
  EXPECT_EQ(answer.scope, scope);
}

class PromptCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TempDir();
    ASSERT_FALSE(dir_.empty());
    socket_ = dir_ + "/ui.sock";
  }
  void TearDown() override { rmdir(dir_.c_str()); }
  std::string dir_;
  std::string socket_;
};

TEST_F(PromptCommandTest, ShowsThePromptAndSendsTheAnswerTheKeysChose) {
  FakeServer server(socket_);
  PromptProcess prompt(socket_);
  server.Handshake();
  server.Send(SamplePrompt(17, "/usr/bin/curl", "example.org"));
  for (const char* field : {"prompt 17", "/usr/bin/curl", "curl --silent https://example.org/x", "pid 4242",
                            "user root (uid 0)", "/usr/bin/bash (4000) < /sbin/init (1)", "sha256:0123abcd",
                            "example.org (198.18.0.2) port 443 tcp", "s left", "default applies: deny once",
                            "answer: deny once scope executable"}) {
    EXPECT_TRUE(prompt.WaitFor(field)) << "missing '" << field << "' on screen:\n" << prompt.screen();
  }
  // In raw mode now: no echo, no line editing.
  EXPECT_EQ(prompt.LocalModes() & (ECHO | ICANON), 0u);

  // allow, 1h, scope host + port (executable toggled off).
  prompt.Mark();
  prompt.Type("a5hpe");
  ASSERT_TRUE(prompt.WaitFor("answer: allow 1h scope host+port")) << prompt.screen();
  prompt.Type("\r");
  ui::Answer first = server.ReadAnswer();
  ExpectAnswer(first, 17, ui::AnswerAction::kAllow, ui::AnswerDuration::k1h, {ui::ScopeField::kHost, ui::ScopeField::kPort});
  server.Send(ui::ResultReply{first.id, QJsonObject{{"rule", "picket-prompt-17"}}});
  EXPECT_TRUE(prompt.WaitFor("prompt 17 answered: rule picket-prompt-17")) << prompt.screen();
  EXPECT_TRUE(prompt.WaitFor("no open prompts")) << prompt.screen();

  // reject, always, scope executable + command + ip + user.
  server.Send(SamplePrompt(18, "/usr/bin/wget", ""));
  prompt.Mark();
  ASSERT_TRUE(prompt.WaitFor("198.18.0.2 port 443 tcp")) << prompt.screen();
  prompt.Type("rfciu\n");
  ui::Answer second = server.ReadAnswer();
  ExpectAnswer(second, 18, ui::AnswerAction::kReject, ui::AnswerDuration::kAlways,
               {ui::ScopeField::kExecutable, ui::ScopeField::kCommand, ui::ScopeField::kIp, ui::ScopeField::kUser});
  server.Send(ui::ErrorReply{second.id, ui::ErrorCode::kNotFound, "prompt 18 is not pending", std::nullopt});
  EXPECT_TRUE(prompt.WaitFor("prompt 18 answer failed: not-found")) << prompt.screen();

  prompt.Type("q");
  const int status = prompt.Wait();
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(prompt.LocalModes() & (ECHO | ICANON), static_cast<tcflag_t>(ECHO | ICANON));
}

TEST_F(PromptCommandTest, PromptsQueueClosedOnesGoAndResentOnesUpdate) {
  FakeServer server(socket_);
  PromptProcess prompt(socket_);
  server.Handshake();
  server.Send(SamplePrompt(1, "/usr/bin/first", ""));
  server.Send(SamplePrompt(2, "/usr/bin/second", ""));
  ASSERT_TRUE(prompt.WaitFor("2 open prompts")) << prompt.screen();
  ASSERT_TRUE(prompt.WaitFor("/usr/bin/first")) << prompt.screen();
  prompt.Mark();
  server.Send(ui::PromptEvent{1, true, {}});
  EXPECT_TRUE(prompt.WaitFor("prompt 1 closed (answered elsewhere or timed out)")) << prompt.screen();
  EXPECT_TRUE(prompt.WaitFor("/usr/bin/second")) << prompt.screen();
  prompt.Mark();
  server.Send(SamplePrompt(2, "/usr/bin/second", "late.example.org"));  // the host became known
  EXPECT_TRUE(prompt.WaitFor("late.example.org (198.18.0.2)")) << prompt.screen();
  EXPECT_TRUE(prompt.WaitFor("1 open prompt")) << prompt.screen();
  // The choice starts at the prompt's default: deny once, scope executable.
  prompt.Type("\r");
  ui::Answer answer = server.ReadAnswer();
  ExpectAnswer(answer, 2, ui::AnswerAction::kDeny, ui::AnswerDuration::kOnce, {ui::ScopeField::kExecutable});
  server.Send(ui::ResultReply{answer.id, QJsonObject{}});
  EXPECT_TRUE(prompt.WaitFor("prompt 2 answered: once, no rule made")) << prompt.screen();
  prompt.Type("q");
  EXPECT_TRUE(WIFEXITED(prompt.Wait()));
}

TEST_F(PromptCommandTest, SignalRestoresTheTerminal) {
  FakeServer server(socket_);
  PromptProcess prompt(socket_);
  server.Handshake();
  server.Send(SamplePrompt(5, "/usr/bin/curl", ""));
  ASSERT_TRUE(prompt.WaitFor("/usr/bin/curl")) << prompt.screen();
  ASSERT_EQ(prompt.LocalModes() & (ECHO | ICANON), 0u);
  prompt.Signal(SIGTERM);
  const int status = prompt.Wait();
  ASSERT_TRUE(WIFSIGNALED(status)) << status;
  EXPECT_EQ(WTERMSIG(status), SIGTERM);
  EXPECT_EQ(prompt.LocalModes() & (ECHO | ICANON), static_cast<tcflag_t>(ECHO | ICANON));
}

TEST_F(PromptCommandTest, ServerClosingEndsWithAMessageAndARestoredTerminal) {
  PromptProcess* prompt = nullptr;
  {
    FakeServer server(socket_);
    prompt = new PromptProcess(socket_);
    server.Handshake();
    ASSERT_TRUE(prompt->WaitFor("no open prompts")) << prompt->screen();
  }
  EXPECT_TRUE(prompt->WaitFor("picketd closed the connection")) << prompt->screen();
  const int status = prompt->Wait();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << status;
  EXPECT_EQ(prompt->LocalModes() & (ECHO | ICANON), static_cast<tcflag_t>(ECHO | ICANON));
  delete prompt;
}

TEST_F(PromptCommandTest, ReadOnlyPeerIsToldItNeedsTheAdminRole) {
  FakeServer server(socket_);
  PromptProcess prompt(socket_);
  server.Handshake(ui::ErrorCode::kForbidden);
  EXPECT_TRUE(prompt.WaitFor("needs the admin role")) << prompt.screen();
  EXPECT_TRUE(prompt.WaitFor("ui_group")) << prompt.screen();
  const int status = prompt.Wait();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << status;
}

TEST(PromptCommandNoTty, RefusesWithoutATerminal) {
  const std::string command = std::string(PICKET_CLI) + " prompt --socket /nonexistent </dev/null 2>&1";
  FILE* out = popen(command.c_str(), "r");
  ASSERT_NE(out, nullptr);
  std::string text;
  char buffer[512];
  while (std::fgets(buffer, sizeof(buffer), out) != nullptr) text += buffer;
  const int status = pclose(out);
  EXPECT_NE(text.find("must be a terminal"), std::string::npos) << text;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 2) << status;
}

}  // namespace
}  // namespace picket
