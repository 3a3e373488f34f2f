// Runs the picket binary's `status` and `events` against a UiServer served by this test's event loop.
#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <QCoreApplication>
#include <QJsonDocument>
#include <QJsonObject>

#include <chrono>
#include <fstream>
#include <sstream>

#include "rules/rules_test_util.h"
#include "rules/users.h"
#include "ui/ui_server.h"

extern char** environ;

namespace picket {
namespace {

using testing_util::TempDir;

struct PicketRun {
  int exit_code = -1;
  std::string out;
  std::string err;
};

class UiCommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static int argc = 1;
    static char name[] = "picket_ui_commands_test";
    static char* argv[] = {name, nullptr};
    static QCoreApplication* app = new QCoreApplication(argc, argv);
    (void)app;
    ASSERT_EQ(mkdir((dir_.path() + "/rules").c_str(), 0755), 0);
    engine_ = std::make_unique<RuleEngine>(
        RuleEngineOptions{dir_.path() + "/rules", &users_, &SystemRuleClock(), false});
    ASSERT_TRUE(engine_->Reload().ok());
    socket_ = dir_.path() + "/ui.sock";
    UiServerOptions options;
    options.socket_path = socket_;
    options.group = "root";
    UiServerHooks hooks;
    hooks.status = [] {
      return QJsonObject{{"daemon_version", "9.9"}, {"attribution", "test"}, {"counters", QJsonObject{{"decisions", 5}}}};
    };
    auto server = UiServer::Start(options, engine_.get(), hooks);
    ASSERT_TRUE(server.ok()) << server.error().message;
    server_ = std::move(*server);
  }

  // Runs `picket ARGS...`; `tick` is called on every turn of the loop while it runs.
  PicketRun RunPicket(std::vector<std::string> args, const std::function<void()>& tick = nullptr) {
    args.insert(args.begin(), PICKET_CLI);
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const std::string out_path = dir_.path() + "/out", err_path = dir_.path() + "/err";
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    pid_t pid = -1;
    PicketRun run;
    const int spawned = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (spawned != 0) {
      ADD_FAILURE() << "posix_spawn " << argv[0] << ": " << strerror(spawned);
      return run;
    }
    int status = 0;
    bool done = false;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!done && std::chrono::steady_clock::now() < deadline) {
      QCoreApplication::processEvents();
      if (tick) tick();
      done = waitpid(pid, &status, WNOHANG) == pid;
      if (!done) usleep(1000);
    }
    if (!done) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      ADD_FAILURE() << "picket did not finish";
    }
    run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    std::ifstream out(out_path), err(err_path);
    std::stringstream o, e;
    o << out.rdbuf();
    e << err.rdbuf();
    run.out = o.str();
    run.err = e.str();
    return run;
  }

  TempDir dir_;
  SystemUserDirectory users_;
  std::unique_ptr<RuleEngine> engine_;
  std::unique_ptr<UiServer> server_;
  std::string socket_;
};

TEST_F(UiCommandsTest, StatusJson) {
  PicketRun run = RunPicket({"status", "--json", "--socket", socket_});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  QJsonObject status = QJsonDocument::fromJson(QByteArray::fromStdString(run.out)).object();
  EXPECT_EQ(status.value("daemon_version").toString(), "9.9") << run.out;
  EXPECT_EQ(status.value("role").toString(), "admin");
  EXPECT_EQ(status.value("protocol_version").toInt(), 1);
  EXPECT_EQ(status.value("counters").toObject().value("decisions").toInt(), 5);
}

TEST_F(UiCommandsTest, StatusText) {
  PicketRun run = RunPicket({"status", "--socket", socket_});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.out.find("your role:       admin"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("decisions:"), std::string::npos) << run.out;
}

TEST_F(UiCommandsTest, StatusWithoutDaemonFailsWithReason) {
  PicketRun run = RunPicket({"status", "--socket", dir_.path() + "/none.sock"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.err.find("none.sock"), std::string::npos) << run.err;
  EXPECT_EQ(RunPicket({"status", "--bogus"}).exit_code, 2);
}

TEST_F(UiCommandsTest, EventsStreamsDecisions) {
  int sent = 0;
  auto publish = [&] {
    if (!server_->HasEventSubscribers()) return;
    ui::DecisionEvent event;
    event.time = "2026-11-21T00:00:00Z";
    event.action = ui::AnswerAction::kDeny;
    event.rule = "block-" + std::to_string(sent++);
    event.protocol = "udp";
    event.dst = "198.18.0.9";
    event.dst_port = 53;
    event.path = "/usr/bin/dig";
    server_->PublishEvent(event);
  };
  PicketRun json = RunPicket({"events", "--json", "--count", "2", "--socket", socket_}, publish);
  ASSERT_EQ(json.exit_code, 0) << json.err;
  std::istringstream lines(json.out);
  std::string first, second;
  std::getline(lines, first);
  std::getline(lines, second);
  QJsonObject e = QJsonDocument::fromJson(QByteArray::fromStdString(first)).object();
  EXPECT_EQ(e.value("rule").toString(), "block-0") << json.out;
  EXPECT_EQ(e.value("dst_port").toInt(), 53);
  EXPECT_FALSE(e.contains("type")) << "the envelope is stripped";
  EXPECT_EQ(QJsonDocument::fromJson(QByteArray::fromStdString(second)).object().value("rule").toString(), "block-1");

  sent = 0;
  PicketRun text = RunPicket({"events", "--count", "1", "--socket", socket_}, publish);
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("deny"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("/usr/bin/dig"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("198.18.0.9:53"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("rule=block-0"), std::string::npos) << text.out;
}

}  // namespace
}  // namespace picket
