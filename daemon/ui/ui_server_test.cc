// Scripted protocol clients against a UiServer on a socket in a temporary directory.
#include "ui/ui_server.h"

#include <grp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <QCoreApplication>
#include <QJsonArray>
#include <QJsonDocument>

#include <chrono>
#include <cstring>

#include "rules/rule_parser.h"
#include "rules/rules_test_util.h"
#include "rules/users.h"
#include "testing/flows.h"
#include "ui/decision_event.h"
#include "ui/prompt_event.h"

namespace picket {
namespace {

using testing_util::Op;
using testing_util::RuleJson;
using testing_util::TempDir;

QCoreApplication& App() {
  static int argc = 1;
  static char name[] = "picket_ui_server_test";
  static char* argv[] = {name, nullptr};
  static QCoreApplication* app = new QCoreApplication(argc, argv);
  return *app;
}

int Connect(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, path.data(), path.size());
  if (connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// A blocking client on the test thread; while it waits for the server it runs the event loop.
class TestClient {
 public:
  explicit TestClient(const std::string& path) : fd_(Connect(path)) { EXPECT_GE(fd_, 0) << std::strerror(errno); }
  ~TestClient() {
    if (fd_ >= 0) close(fd_);
  }
  void Write(const std::string& line) {
    ASSERT_EQ(send(fd_, line.data(), line.size(), MSG_NOSIGNAL), static_cast<ssize_t>(line.size()));
  }
  // The next line from the server, or "" after EOF / 5 s without one.
  std::string ReadLine() {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < deadline) {
      const size_t newline = buffer_.find('\n');
      if (newline != std::string::npos) {
        std::string line = buffer_.substr(0, newline);
        buffer_.erase(0, newline + 1);
        return line;
      }
      if (eof_) return "";
      QCoreApplication::processEvents();
      char chunk[65536];
      const ssize_t n = recv(fd_, chunk, sizeof(chunk), MSG_DONTWAIT);
      if (n > 0) {
        buffer_.append(chunk, static_cast<size_t>(n));
      } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
        eof_ = true;
      } else {
        pollfd p{fd_, POLLIN, 0};
        poll(&p, 1, 1);
      }
    }
    return "";
  }
  ui::Message Read() {
    std::string line = ReadLine();
    auto decoded = ui::Decode(line);
    if (auto* error = std::get_if<ui::DecodeError>(&decoded)) {
      ADD_FAILURE() << "server sent '" << line << "': " << error->message;
      return ui::Hello{};
    }
    return std::get<ui::Message>(decoded);
  }
  ui::Message Call(const ui::Message& request) {
    Write(ui::Encode(request));
    return Read();
  }
  bool ClosedByServer() { return ReadLine().empty() && eof_; }
  ui::Role Greet() {
    ui::Hello hello;
    hello.client = "test";
    ui::Message reply = Call(hello);
    auto* server_hello = std::get_if<ui::Hello>(&reply);
    EXPECT_NE(server_hello, nullptr);
    return server_hello != nullptr ? server_hello->role.value_or(ui::Role::kReadOnly) : ui::Role::kReadOnly;
  }
  int fd() const { return fd_; }

 private:
  int fd_;
  std::string buffer_;
  bool eof_ = false;
};

ui::ErrorReply ExpectError(const ui::Message& message, ui::ErrorCode code) {
  auto* error = std::get_if<ui::ErrorReply>(&message);
  EXPECT_NE(error, nullptr) << "got " << ui::TypeName(message);
  if (error == nullptr) return {};
  EXPECT_EQ(error->code, code) << error->message;
  return *error;
}

QJsonObject ExpectResult(const ui::Message& message, uint64_t id) {
  auto* result = std::get_if<ui::ResultReply>(&message);
  if (auto* error = std::get_if<ui::ErrorReply>(&message)) ADD_FAILURE() << "error: " << error->message;
  EXPECT_NE(result, nullptr) << "got " << ui::TypeName(message);
  if (result == nullptr) return {};
  EXPECT_EQ(result->id, id);
  return result->data;
}

QJsonObject RuleObject(const std::string& json) { return QJsonDocument::fromJson(QByteArray::fromStdString(json)).object(); }

class UiServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    App();
    rules_dir_ = dir_.path() + "/rules";
    ASSERT_EQ(mkdir(rules_dir_.c_str(), 0755), 0);
    engine_ = std::make_unique<RuleEngine>(RuleEngineOptions{rules_dir_, &users_, &SystemRuleClock(), false});
    ASSERT_TRUE(engine_->Reload().ok());
    options_.socket_path = dir_.path() + "/run/ui.sock";
    options_.group = "root";
  }
  void StartServer() {
    UiServerHooks hooks;
    hooks.status = [] { return QJsonObject{{"daemon_version", "test"}, {"attribution", "none"}}; };
    hooks.rules_changed = [this] { ++rules_changed_; };
    hooks.answer = answer_hook_;
    hooks.prompts_unwatched = [this] { ++prompts_unwatched_; };
    if (with_stats_and_config_) {
      hooks.stats = [](size_t top) { return QJsonObject{{"top_asked", static_cast<double>(top)}}; };
      hooks.config = [] { return QJsonObject{{"default_action", "allow"}, {"log_level", "info"}}; };
      hooks.set_config = [this](const std::string& key, const QJsonValue& value) -> Status {
        if (key != "log_level") return Error{"key '" + key + "' cannot be changed at run time"};
        if (!value.isString()) return Error{"key 'log_level': expected a string"};
        config_set_.push_back(key);
        return OkStatus();
      };
    }
    auto server = UiServer::Start(options_, engine_.get(), hooks);
    ASSERT_TRUE(server.ok()) << server.error().message;
    server_ = std::move(*server);
  }

  TempDir dir_;
  std::string rules_dir_;
  SystemUserDirectory users_;
  std::unique_ptr<RuleEngine> engine_;
  UiServerOptions options_;
  bool with_stats_and_config_ = true;
  std::unique_ptr<UiServer> server_;
  int rules_changed_ = 0;
  int prompts_unwatched_ = 0;
  std::function<std::variant<QJsonObject, UiRefusal>(const ui::Answer&, const UiPeer&)> answer_hook_;
  std::vector<std::string> config_set_;  // keys the set_config hook accepted
};

// Runs `script` (protocol lines) as uid/gid 65534 in a forked child against `path` and returns the
// child's exit code: 0 when every string of `expected` was in the server's replies, 10+ the failed step.
int RunAsNobody(const std::string& path, const std::string& script, const std::vector<std::string>& expected,
                size_t reply_lines) {
  const pid_t child = fork();
  if (child < 0) return -1;
  if (child == 0) {
    // Only system calls from here on: exit code = which step failed (0 = all as expected).
    if (setgroups(0, nullptr) != 0 || setgid(65534) != 0 || setuid(65534) != 0) _exit(10);
    int fd = Connect(path);
    if (fd < 0) _exit(11);
    if (write(fd, script.data(), script.size()) != static_cast<ssize_t>(script.size())) _exit(12);
    std::string got;
    char buf[4096];
    for (int i = 0; i < 100 && static_cast<size_t>(std::count(got.begin(), got.end(), '\n')) < reply_lines; ++i) {
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 100) <= 0) continue;
      ssize_t n = read(fd, buf, sizeof(buf));
      if (n <= 0) break;
      got.append(buf, static_cast<size_t>(n));
    }
    for (size_t i = 0; i < expected.size(); ++i) {
      if (got.find(expected[i]) == std::string::npos) _exit(13 + static_cast<int>(i));
    }
    _exit(0);
  }
  int status = -1;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    QCoreApplication::processEvents();
    if (waitpid(child, &status, WNOHANG) == child) break;
    usleep(1000);
  }
  if (!WIFEXITED(status) && !WIFSIGNALED(status)) {
    kill(child, SIGKILL);
    waitpid(child, &status, 0);
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST_F(UiServerTest, SocketHasModeAndGroupAndIsRemovedOnStop) {
  StartServer();
  struct stat st {};
  ASSERT_EQ(stat(options_.socket_path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  EXPECT_EQ(st.st_gid, 0u);
  server_.reset();
  EXPECT_NE(stat(options_.socket_path.c_str(), &st), 0);
}

TEST_F(UiServerTest, MissingGroupMakesTheSocketRootOnly) {
  options_.group = "picket-no-such-group-here";
  StartServer();
  struct stat st {};
  ASSERT_EQ(stat(options_.socket_path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(server_->group(), std::nullopt);
}

TEST_F(UiServerTest, StaleSocketIsReplacedButARegularFileIsNot) {
  StartServer();
  server_.reset();
  ASSERT_EQ(mkdir((dir_.path() + "/run").c_str(), 0755) == 0 || errno == EEXIST, true);
  dir_.Write("run/ui.sock", "not a socket");
  auto refused = UiServer::Start(options_, engine_.get(), {});
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("not a socket"), std::string::npos);
}

TEST_F(UiServerTest, HandshakeAndStatus) {
  StartServer();
  TestClient client(options_.socket_path);
  EXPECT_EQ(client.Greet(), ui::Role::kAdmin);
  QJsonObject status = ExpectResult(client.Call(ui::StatusRequest{7}), 7);
  EXPECT_EQ(status.value("protocol_version").toInt(), 1);
  EXPECT_EQ(status.value("daemon_version").toString(), "test");
  EXPECT_EQ(status.value("clients").toInt(), 1);
  EXPECT_EQ(status.value("rules").toInt(), 0);
}

TEST_F(UiServerTest, VersionMismatchIsAnsweredAndClosed) {
  StartServer();
  TestClient client(options_.socket_path);
  ui::Hello hello;
  hello.version = 3;
  hello.min_version = 2;
  ui::ErrorReply error = ExpectError(client.Call(hello), ui::ErrorCode::kVersionMismatch);
  EXPECT_EQ(error.supported, std::make_pair(1, 1));
  EXPECT_TRUE(client.ClosedByServer());
}

TEST_F(UiServerTest, NewerClientRangeIncludingOneGetsVersionOne) {
  StartServer();
  TestClient client(options_.socket_path);
  ui::Hello hello;
  hello.version = 4;
  hello.min_version = 1;
  auto reply = client.Call(hello);
  ASSERT_TRUE(std::holds_alternative<ui::Hello>(reply));
  EXPECT_EQ(std::get<ui::Hello>(reply).version, 1);
}

TEST_F(UiServerTest, RequestBeforeHelloIsRefusedAndClosed) {
  StartServer();
  TestClient client(options_.socket_path);
  ExpectError(client.Call(ui::StatusRequest{1}), ui::ErrorCode::kHelloRequired);
  EXPECT_TRUE(client.ClosedByServer());
}

TEST_F(UiServerTest, MalformedMessagesGetErrorsAndTheConnectionSurvives) {
  with_stats_and_config_ = false;
  StartServer();
  TestClient client(options_.socket_path);
  client.Greet();
  client.Write("{not json\n");
  ui::ErrorReply e = ExpectError(client.Read(), ui::ErrorCode::kBadJson);
  EXPECT_EQ(e.id, std::nullopt);
  client.Write(R"({"type":"rules","id":5,"op":"delete"})" "\n");
  e = ExpectError(client.Read(), ui::ErrorCode::kBadMessage);
  EXPECT_EQ(e.id, 5u);
  client.Write(R"({"type":"reboot","id":6})" "\n");
  EXPECT_EQ(ExpectError(client.Read(), ui::ErrorCode::kUnknownType).id, 6u);
  client.Write(ui::Encode(ui::Alert{"t", ui::Severity::kInfo, "x"}));
  ExpectError(client.Read(), ui::ErrorCode::kBadMessage);
  ExpectError(client.Call(ui::StatsRequest{8}), ui::ErrorCode::kUnsupported);
  ExpectResult(client.Call(ui::StatusRequest{9}), 9);
}

TEST_F(UiServerTest, OverlongLineClosesTheConnection) {
  options_.max_line_bytes = 1024;
  StartServer();
  TestClient client(options_.socket_path);
  client.Greet();
  client.Write(std::string(2000, 'x'));
  ExpectError(client.Read(), ui::ErrorCode::kTooLong);
  EXPECT_TRUE(client.ClosedByServer());
}

TEST_F(UiServerTest, AdminManagesRules) {
  StartServer();
  TestClient client(options_.socket_path);
  client.Greet();
  const std::string json = RuleJson("000-ui-test", "deny", Op("simple", "dest.port", "4444"));
  ui::RulesRequest add{1, ui::RulesOp::kAdd, "", RuleObject(json)};
  ExpectResult(client.Call(add), 1);
  EXPECT_EQ(rules_changed_, 1);
  EXPECT_EQ(engine_->current()->size(), 1u);
  ExpectError(client.Call(add), ui::ErrorCode::kInvalid);  // exists

  QJsonObject listed = ExpectResult(client.Call(ui::RulesRequest{2, ui::RulesOp::kList, "", {}}), 2);
  ASSERT_EQ(listed.value("rules").toArray().size(), 1);
  EXPECT_EQ(listed.value("rules").toArray()[0].toObject().value("name").toString(), "000-ui-test");

  ExpectResult(client.Call(ui::RulesRequest{3, ui::RulesOp::kDisable, "000-ui-test", {}}), 3);
  QJsonObject got = ExpectResult(client.Call(ui::RulesRequest{4, ui::RulesOp::kGet, "000-ui-test", {}}), 4);
  EXPECT_FALSE(got.value("rule").toObject().value("enabled").toBool(true));
  ExpectResult(client.Call(ui::RulesRequest{5, ui::RulesOp::kEnable, "000-ui-test", {}}), 5);
  got = ExpectResult(client.Call(ui::RulesRequest{6, ui::RulesOp::kGet, "000-ui-test", {}}), 6);
  EXPECT_TRUE(got.value("rule").toObject().value("enabled").toBool(false));

  QJsonObject changed = RuleObject(RuleJson("000-ui-test", "allow", Op("simple", "dest.port", "4444")));
  ExpectResult(client.Call(ui::RulesRequest{7, ui::RulesOp::kReplace, "", changed}), 7);
  got = ExpectResult(client.Call(ui::RulesRequest{8, ui::RulesOp::kGet, "000-ui-test", {}}), 8);
  EXPECT_EQ(got.value("rule").toObject().value("action").toString(), "allow");

  ExpectResult(client.Call(ui::RulesRequest{9, ui::RulesOp::kDelete, "000-ui-test", {}}), 9);
  EXPECT_EQ(engine_->current()->size(), 0u);
  ExpectError(client.Call(ui::RulesRequest{10, ui::RulesOp::kGet, "000-ui-test", {}}), ui::ErrorCode::kNotFound);
  ExpectError(client.Call(ui::RulesRequest{11, ui::RulesOp::kReplace, "", changed}), ui::ErrorCode::kNotFound);
  ui::ErrorReply bad = ExpectError(
      client.Call(ui::RulesRequest{12, ui::RulesOp::kAdd, "", QJsonObject{{"name", "x"}}}), ui::ErrorCode::kInvalid);
  EXPECT_NE(bad.message.find("rule:"), std::string::npos);
}

// A child process that becomes `nobody` connects (the socket is widened for this test, as an
// administrator could) and tries to change rules: read-only, so refused; reading is allowed.
TEST_F(UiServerTest, UnprivilegedPeerIsReadOnly) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to setuid(nobody)";
  StartServer();
  ASSERT_EQ(chmod(dir_.path().c_str(), 0755), 0);
  ASSERT_EQ(chmod((dir_.path() + "/run").c_str(), 0755), 0);
  ASSERT_EQ(chmod(options_.socket_path.c_str(), 0666), 0);
  const std::string add = ui::Encode(ui::RulesRequest{
      2, ui::RulesOp::kAdd, "", RuleObject(RuleJson("000-evil", "allow", Op("simple", "dest.port", "1")))});
  const std::string hello = "{\"type\":\"hello\",\"version\":1}\n";
  const std::string list = "{\"type\":\"rules\",\"id\":3,\"op\":\"list\"}\n";
  const std::string set = "{\"type\":\"config\",\"id\":4,\"op\":\"set\",\"key\":\"log_level\",\"value\":\"debug\"}\n";
  EXPECT_EQ(RunAsNobody(options_.socket_path, hello + add + list + set,
                        {"\"role\":\"read-only\"", "\"code\":\"forbidden\"", "\"rules\":[]",
                         "changing the config needs the admin role"},
                        4),
            0)
      << "child step failed";
  EXPECT_EQ(engine_->current()->size(), 0u);
  EXPECT_EQ(rules_changed_, 0);
  EXPECT_TRUE(config_set_.empty());
}

TEST(UiRoleTest, RolesFromCredentials) {
  EXPECT_EQ(RoleForPeer(UiPeer{1, 0, 0}, std::nullopt), ui::Role::kAdmin);
  EXPECT_EQ(RoleForPeer(UiPeer{1, geteuid(), 0}, std::nullopt), ui::Role::kAdmin);
  if (geteuid() == 0) {
    EXPECT_EQ(RoleForPeer(UiPeer{1, 65534, 65534}, std::nullopt), ui::Role::kReadOnly);
    EXPECT_EQ(RoleForPeer(UiPeer{1, 65534, 65534}, gid_t{65534}), ui::Role::kAdmin);  // primary gid
    EXPECT_EQ(RoleForPeer(UiPeer{1, 65534, 65534}, gid_t{0}), ui::Role::kReadOnly);
  }
}

ui::DecisionEvent SampleEvent(uint16_t port) {
  ui::DecisionEvent event;
  event.time = NowRfc3339();
  event.rule = "default";
  event.protocol = "tcp";
  event.dst = "198.18.0.2";
  event.dst_port = port;
  event.path = std::string(900, 'p');
  return event;
}

TEST_F(UiServerTest, EventsReachSubscribers) {
  StartServer();
  TestClient subscriber(options_.socket_path);
  TestClient other(options_.socket_path);
  subscriber.Greet();
  other.Greet();
  EXPECT_FALSE(server_->HasEventSubscribers());
  QJsonObject topics = ExpectResult(subscriber.Call(ui::Subscribe{1, {ui::Topic::kEvents}}), 1);
  EXPECT_EQ(topics.value("topics").toArray().size(), 1);
  EXPECT_TRUE(server_->HasEventSubscribers());
  server_->PublishEvent(SampleEvent(80));
  ui::Message event = subscriber.Read();
  ASSERT_TRUE(std::holds_alternative<ui::DecisionEvent>(event));
  EXPECT_EQ(std::get<ui::DecisionEvent>(event).dst_port, 80);
  // The other client got nothing: its next line is the answer to its own request.
  ExpectResult(other.Call(ui::StatusRequest{3}), 3);
}

TEST_F(UiServerTest, ClientThatStopsReadingIsDroppedWithoutStallingOthers) {
  options_.max_client_queue_bytes = 64 * 1024;
  StartServer();
  TestClient slow(options_.socket_path);
  TestClient fine(options_.socket_path);
  slow.Greet();
  fine.Greet();
  ExpectResult(slow.Call(ui::Subscribe{1, {ui::Topic::kEvents}}), 1);
  ExpectResult(fine.Call(ui::Subscribe{1, {ui::Topic::kAlerts}}), 1);
  ASSERT_EQ(server_->client_count(), 2u);
  // `slow` never reads again. Far more than its socket buffer plus its queue limit is published;
  // every PublishEvent returns (the server never blocks on a socket).
  int published = 0;
  for (; published < 20000 && server_->HasEventSubscribers(); ++published) server_->PublishEvent(SampleEvent(1));
  EXPECT_FALSE(server_->HasEventSubscribers()) << "still subscribed after " << published << " events";
  EXPECT_EQ(server_->dropped_clients(), 1u);
  EXPECT_EQ(server_->client_count(), 1u);
  ui::Message alert = fine.Read();  // the remaining client is told
  ASSERT_TRUE(std::holds_alternative<ui::Alert>(alert)) << ui::TypeName(alert);
  EXPECT_NE(std::get<ui::Alert>(alert).message.find("stopped reading"), std::string::npos);
  ExpectResult(fine.Call(ui::StatusRequest{2}), 2);
}

TEST_F(UiServerTest, ManyClientsAtOnceAndTheLimit) {
  options_.max_clients = 3;
  StartServer();
  std::vector<std::unique_ptr<TestClient>> clients;
  for (int i = 0; i < 3; ++i) {
    clients.push_back(std::make_unique<TestClient>(options_.socket_path));
    clients.back()->Greet();
  }
  TestClient refused(options_.socket_path);
  refused.Write(ui::Encode(ui::Hello{}));
  EXPECT_TRUE(refused.ClosedByServer());
  for (size_t i = 0; i < clients.size(); ++i) ExpectResult(clients[i]->Call(ui::StatusRequest{i}), i);
}

TEST_F(UiServerTest, StatsAskTheHookWithTop) {
  StartServer();
  TestClient client(options_.socket_path);
  client.Greet();
  QJsonObject data = ExpectResult(client.Call(ui::StatsRequest{1, std::nullopt}), 1);
  EXPECT_EQ(data.value("top_asked").toInt(), 10);
  data = ExpectResult(client.Call(ui::StatsRequest{2, 3}), 2);
  EXPECT_EQ(data.value("top_asked").toInt(), 3);
}

// Stats whose reply would not fit the client's budget are asked again with fewer keys per dimension.
TEST_F(UiServerTest, OversizedStatsAreCutToFit) {
  options_.max_client_queue_bytes = 16 * 1024;
  UiServerHooks hooks;
  std::vector<size_t> asked;
  hooks.stats = [&asked](size_t top) {
    asked.push_back(top);
    QJsonArray rows;
    for (size_t i = 0; i < (top == 0 ? 4096 : top); ++i) rows.append(QString(100, 'x'));
    return QJsonObject{{"rows", rows}, {"top", static_cast<double>(top)}};
  };
  auto server = UiServer::Start(options_, engine_.get(), hooks);
  ASSERT_TRUE(server.ok()) << server.error().message;
  server_ = std::move(*server);
  TestClient client(options_.socket_path);
  client.Greet();
  QJsonObject data = ExpectResult(client.Call(ui::StatsRequest{1, 0}), 1);
  EXPECT_TRUE(data.value("truncated").toBool()) << "asked: " << asked.size();
  EXPECT_LE(data.value("rows").toArray().size() * 103, 8 * 1024);
  EXPECT_EQ(data.value("top").toInt(), data.value("rows").toArray().size());
  EXPECT_EQ(asked.front(), 0u);
  EXPECT_EQ(server_->dropped_clients(), 0u);
  QJsonObject small = ExpectResult(client.Call(ui::StatsRequest{2, 5}), 2);
  EXPECT_FALSE(small.contains("truncated"));
}

TEST_F(UiServerTest, ConfigGetAndSet) {
  StartServer();
  TestClient client(options_.socket_path);
  client.Greet();
  QJsonObject data = ExpectResult(client.Call(ui::ConfigRequest{1, ui::ConfigOp::kGet, "", {}}), 1);
  EXPECT_EQ(data.value("config").toObject().value("log_level").toString(), "info");
  ExpectResult(client.Call(ui::ConfigRequest{2, ui::ConfigOp::kSet, "log_level", QJsonValue("debug")}), 2);
  EXPECT_EQ(config_set_, std::vector<std::string>{"log_level"});
  ui::ErrorReply refused =
      ExpectError(client.Call(ui::ConfigRequest{3, ui::ConfigOp::kSet, "queue_num", QJsonValue(3)}), ui::ErrorCode::kInvalid);
  EXPECT_NE(refused.message.find("'queue_num'"), std::string::npos) << refused.message;
  EXPECT_EQ(config_set_.size(), 1u);
}

TEST_F(UiServerTest, AlertsReachSubscribersAndTheBacklogIsReplayed) {
  options_.alert_backlog = 2;
  StartServer();
  server_->PublishAlert(ui::Severity::kWarning, "first");
  server_->PublishAlert(ui::Severity::kError, "second");
  server_->PublishAlert(ui::Severity::kError, "third");
  TestClient client(options_.socket_path);
  TestClient events_only(options_.socket_path);
  client.Greet();
  events_only.Greet();
  ExpectResult(events_only.Call(ui::Subscribe{1, {ui::Topic::kEvents}}), 1);
  QJsonObject topics = ExpectResult(client.Call(ui::Subscribe{1, {ui::Topic::kAlerts, ui::Topic::kEvents}}), 1);
  EXPECT_EQ(topics.value("topics").toArray().size(), 2);
  for (const char* expected : {"second", "third"}) {  // the backlog keeps the last two
    ui::Message m = client.Read();
    ASSERT_TRUE(std::holds_alternative<ui::Alert>(m)) << ui::TypeName(m);
    EXPECT_EQ(std::get<ui::Alert>(m).message, expected);
  }
  server_->PublishAlert(ui::Severity::kInfo, "live");
  ui::Message live = client.Read();
  ASSERT_TRUE(std::holds_alternative<ui::Alert>(live));
  EXPECT_EQ(std::get<ui::Alert>(live).message, "live");
  EXPECT_EQ(std::get<ui::Alert>(live).severity, ui::Severity::kInfo);
  // Not subscribed to alerts: the next line is its own response.
  ExpectResult(events_only.Call(ui::StatusRequest{2}), 2);
}

// A rule set whose one-shot listing is far beyond the client queue: pages fit, cover every rule once,
// and the client is never dropped.
TEST_F(UiServerTest, RulesListIsPagedWithinTheClientQueue) {
  options_.max_client_queue_bytes = 16 * 1024;
  StartServer();
  constexpr int kRules = 120;
  for (int i = 0; i < kRules; ++i) {
    char name[32];
    std::snprintf(name, sizeof(name), "r%04d", i);
    const std::string json = RuleJson(name, "deny", Op("simple", "process.command", std::string(500, 'c')));
    auto rule = ParseRule(json);
    ASSERT_TRUE(rule.ok()) << rule.error().message;
    ASSERT_TRUE(engine_->AddRule(std::move(*rule)).ok());
  }
  TestClient client(options_.socket_path);
  client.Greet();
  std::vector<std::string> names;
  uint64_t offset = 0;
  int pages = 0;
  for (; pages < kRules; ++pages) {
    ui::RulesRequest list{static_cast<uint64_t>(pages), ui::RulesOp::kList, "", {}, offset, std::nullopt};
    QJsonObject data = ExpectResult(client.Call(list), static_cast<uint64_t>(pages));
    EXPECT_EQ(data.value("total").toInt(), kRules);
    for (const QJsonValue& rule : data.value("rules").toArray()) names.push_back(rule.toObject().value("name").toString().toStdString());
    if (!data.contains("next_offset")) break;
    offset = static_cast<uint64_t>(data.value("next_offset").toInteger());
  }
  EXPECT_GT(pages, 3);
  ASSERT_EQ(names.size(), static_cast<size_t>(kRules));
  EXPECT_EQ(names.front(), "r0000");
  EXPECT_EQ(names.back(), "r0119");
  EXPECT_EQ(server_->dropped_clients(), 0u);
  // limit caps the page; an offset past the end is an empty page.
  QJsonObject five = ExpectResult(client.Call(ui::RulesRequest{900, ui::RulesOp::kList, "", {}, 10, 5}), 900);
  ASSERT_EQ(five.value("rules").toArray().size(), 5);
  EXPECT_EQ(five.value("rules").toArray()[0].toObject().value("name").toString(), "r0010");
  EXPECT_EQ(five.value("next_offset").toInt(), 15);
  QJsonObject past = ExpectResult(client.Call(ui::RulesRequest{901, ui::RulesOp::kList, "", {}, 1000, 5}), 901);
  EXPECT_TRUE(past.value("rules").toArray().isEmpty());
  EXPECT_FALSE(past.contains("next_offset"));
}

TEST(DecisionEventTest, CarriesFlowProcessAndHost) {
  const Attribution who = testing_util::ProcessAttribution(42, "/usr/bin/curl", {"curl", "https://example.org"});
  std::vector<std::string> hosts = {"example.org"};
  Decision decision{Action::kReject, nullptr, true};
  ui::DecisionEvent event =
      MakeDecisionEvent(decision, testing_util::MakeFlow(Protocol::kTcp, "198.18.0.2", 443), who, &hosts, "t");
  EXPECT_EQ(event.action, ui::AnswerAction::kReject);
  EXPECT_EQ(event.rule, "default");
  EXPECT_EQ(event.protocol, "tcp");
  EXPECT_EQ(event.dst, "198.18.0.2");
  EXPECT_EQ(event.dst_port, 443);
  EXPECT_EQ(event.host, "example.org");
  EXPECT_EQ(event.pid, 42);
  EXPECT_EQ(event.uid, 1000);
  EXPECT_EQ(event.args, who.process->argv);
}

}  // namespace
}  // namespace picket

namespace picket {
namespace {

ui::PromptEvent SamplePrompt(uint64_t id) {
  ui::PromptEvent prompt;
  prompt.id = id;
  prompt.details = QJsonObject{{"destination", QJsonObject{{"ip", "198.18.0.2"}, {"port", 443}}}};
  return prompt;
}

// Prompt 5 is pending; any other id is not.
std::variant<QJsonObject, UiRefusal> AnswerFive(const ui::Answer& answer, const UiPeer&) {
  if (answer.prompt != 5) return UiRefusal{ui::ErrorCode::kNotFound, "prompt is not pending"};
  return QJsonObject{{"rule", "made"}};
}

TEST_F(UiServerTest, PromptsReachAdminSubscribersAndAnswersReachTheDaemon) {
  std::vector<uint64_t> answered;
  answer_hook_ = [&](const ui::Answer& answer, const UiPeer& peer) {
    answered.push_back(answer.prompt);
    return AnswerFive(answer, peer);
  };
  StartServer();
  TestClient asker(options_.socket_path);
  TestClient watcher(options_.socket_path);
  ASSERT_EQ(asker.Greet(), ui::Role::kAdmin);
  watcher.Greet();
  EXPECT_FALSE(server_->HasPromptSubscribers());
  QJsonObject topics = ExpectResult(asker.Call(ui::Subscribe{1, {ui::Topic::kPrompts, ui::Topic::kEvents}}), 1);
  EXPECT_EQ(topics.value("topics").toArray().size(), 2);
  EXPECT_TRUE(server_->HasPromptSubscribers());
  server_->PublishPrompt(SamplePrompt(5));
  ui::Message prompt = asker.Read();
  ASSERT_TRUE(std::holds_alternative<ui::PromptEvent>(prompt));
  EXPECT_EQ(std::get<ui::PromptEvent>(prompt).id, 5u);
  // An id that is not pending: not-found, and the connection survives.
  ExpectError(asker.Call(ui::Answer{2, 99, ui::AnswerAction::kAllow, ui::AnswerDuration::kOnce,
                                    {ui::ScopeField::kExecutable}}),
              ui::ErrorCode::kNotFound);
  QJsonObject data = ExpectResult(asker.Call(ui::Answer{3, 5, ui::AnswerAction::kDeny, ui::AnswerDuration::kAlways,
                                                        {ui::ScopeField::kHost}}), 3);
  EXPECT_EQ(data.value("rule").toString(), "made");
  EXPECT_EQ(answered, (std::vector<uint64_t>{99, 5}));
  server_->PublishPrompt(ClosedPromptEvent(5));
  ui::Message closed = asker.Read();
  ASSERT_TRUE(std::holds_alternative<ui::PromptEvent>(closed));
  EXPECT_TRUE(std::get<ui::PromptEvent>(closed).closed);
  // The client not subscribed to prompts got none: its next line answers its own request.
  ExpectResult(watcher.Call(ui::StatusRequest{4}), 4);
}

TEST_F(UiServerTest, WithoutTheAnswerHookPromptsAreUnsupported) {
  StartServer();
  TestClient client(options_.socket_path);
  client.Greet();
  ExpectError(client.Call(ui::Subscribe{1, {ui::Topic::kPrompts}}), ui::ErrorCode::kUnsupported);
  ExpectError(client.Call(ui::Answer{2, 1, ui::AnswerAction::kAllow, ui::AnswerDuration::kOnce,
                                     {ui::ScopeField::kPort}}),
              ui::ErrorCode::kUnsupported);
  EXPECT_FALSE(server_->HasPromptSubscribers());
}

TEST_F(UiServerTest, TheLastPromptSubscriberLeavingIsReportedOnce) {
  answer_hook_ = AnswerFive;
  StartServer();
  auto first = std::make_unique<TestClient>(options_.socket_path);
  auto second = std::make_unique<TestClient>(options_.socket_path);
  first->Greet();
  second->Greet();
  ExpectResult(first->Call(ui::Subscribe{1, {ui::Topic::kPrompts}}), 1);
  ExpectResult(second->Call(ui::Subscribe{1, {ui::Topic::kPrompts}}), 1);
  first.reset();
  for (int i = 0; i < 50; ++i) QCoreApplication::processEvents();
  EXPECT_TRUE(server_->HasPromptSubscribers());
  EXPECT_EQ(prompts_unwatched_, 0);
  // Unsubscribing (an empty topic list) counts as leaving, like disconnecting.
  ExpectResult(second->Call(ui::Subscribe{2, {}}), 2);
  for (int i = 0; i < 50 && prompts_unwatched_ == 0; ++i) QCoreApplication::processEvents();
  EXPECT_FALSE(server_->HasPromptSubscribers());
  EXPECT_EQ(prompts_unwatched_, 1);
  second.reset();
  for (int i = 0; i < 50; ++i) QCoreApplication::processEvents();
  EXPECT_EQ(prompts_unwatched_, 1);
}

// A peer outside the ui group (read-only) may neither subscribe to prompts nor answer one.
TEST_F(UiServerTest, ReadOnlyPeerCannotAnswerPrompts) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to setuid(nobody)";
  int answers = 0;
  answer_hook_ = [&](const ui::Answer& answer, const UiPeer& peer) {
    ++answers;
    return AnswerFive(answer, peer);
  };
  StartServer();
  ASSERT_EQ(chmod(dir_.path().c_str(), 0755), 0);
  ASSERT_EQ(chmod((dir_.path() + "/run").c_str(), 0755), 0);
  ASSERT_EQ(chmod(options_.socket_path.c_str(), 0666), 0);
  const std::string script =
      "{\"type\":\"hello\",\"version\":1}\n"
      "{\"type\":\"subscribe\",\"id\":1,\"topics\":[\"prompts\"]}\n" +
      ui::Encode(ui::Answer{2, 5, ui::AnswerAction::kAllow, ui::AnswerDuration::kAlways, {ui::ScopeField::kPort}});
  EXPECT_EQ(RunAsNobody(options_.socket_path, script,
                        {"\"role\":\"read-only\"", "\"id\":1,\"message\":\"prompts need",
                         "\"code\":\"forbidden\",\"id\":2"},
                        3),
            0)
      << "child step failed";
  EXPECT_EQ(answers, 0);
  EXPECT_FALSE(server_->HasPromptSubscribers());
}

}  // namespace
}  // namespace picket
