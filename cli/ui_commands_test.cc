// Runs the picket binary's `status`, `events`, `stats`, `config`, `alerts` and `rules list --socket`
// against a UiServer served by this test's event loop.
#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <QCoreApplication>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <chrono>
#include <fstream>
#include <sstream>

#include "rules/rules_test_util.h"
#include "rules/users.h"
#include "rules/rule_parser.h"
#include "storage/stats.h"
#include "storage/storage_test_util.h"
#include "ui/stats_json.h"
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
    options.max_client_queue_bytes = 32 * 1024;  // a small queue: `rules list --socket` must page
    UiServerHooks hooks;
    hooks.stats = [](size_t top) {
      LiveStats live;
      EventRecord record = testing::SampleRecord(0);  // deny, tcp, /usr/bin/curl, port 443, uid 1000
      for (int i = 0; i < 3; ++i) live.Count(record);
      record.exe = "/usr/bin/wget";
      live.Count(record);
      return QJsonObject{{"counters", QJsonObject{{"decisions", 4}}},
                         {"decisions", StatsSnapshotToJson(live.Snapshot(top))}};
    };
    hooks.config = [this] { return QJsonObject{{"default_action", default_action_}, {"queue_num", 0}}; };
    hooks.set_config = [this](const std::string& key, const QJsonValue& value) -> Status {
      if (key != "default_action") return Error{"key '" + key + "' cannot be changed while picketd runs"};
      default_action_ = value.toString();
      return OkStatus();
    };
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
  QString default_action_ = "allow";
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

TEST_F(UiCommandsTest, StatsLiveFromPicketd) {
  PicketRun text = RunPicket({"stats", "--socket", socket_});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("live, since picketd started"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("4 decisions"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("3  /usr/bin/curl"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("1  /usr/bin/wget"), std::string::npos) << text.out;

  PicketRun json = RunPicket({"stats", "--json", "--limit", "1", "--socket", socket_});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  const QJsonObject data = QJsonDocument::fromJson(QByteArray::fromStdString(json.out)).object();
  EXPECT_TRUE(data.value("live").toBool()) << json.out;
  const QJsonArray exes = data.value("decisions").toObject().value("exe").toArray();
  ASSERT_EQ(exes.size(), 1) << json.out;  // --limit 1 is sent as `top`
  EXPECT_EQ(exes[0].toObject().value("key").toString(), "/usr/bin/curl");
  EXPECT_EQ(data.value("counters").toObject().value("decisions").toInt(), 4);
  EXPECT_EQ(RunPicket({"stats", "--limit", "x", "--socket", socket_}).exit_code, 2);
}

TEST_F(UiCommandsTest, ConfigGetAndSet) {
  PicketRun all = RunPicket({"config", "get", "--json", "--socket", socket_});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  EXPECT_EQ(QJsonDocument::fromJson(QByteArray::fromStdString(all.out)).object().value("default_action").toString(), "allow")
      << all.out;
  PicketRun set = RunPicket({"config", "set", "default_action", "deny", "--socket", socket_});
  ASSERT_EQ(set.exit_code, 0) << set.err;
  EXPECT_EQ(default_action_, "deny");
  PicketRun one = RunPicket({"config", "get", "default_action", "--socket", socket_});
  EXPECT_EQ(one.out, "deny\n");
  PicketRun one_json = RunPicket({"config", "get", "default_action", "--json", "--socket", socket_});
  EXPECT_EQ(one_json.out, "\"deny\"\n");
  PicketRun refused = RunPicket({"config", "set", "queue_num", "3", "--socket", socket_});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("invalid: key 'queue_num' cannot be changed"), std::string::npos) << refused.err;
  EXPECT_EQ(RunPicket({"config", "set", "default_action"}).exit_code, 2);
}

TEST_F(UiCommandsTest, AlertsStreamBacklogThenLive) {
  server_->PublishAlert(ui::Severity::kWarning, "rule file 000-x.json: field 'action': unknown action");
  bool published = false;
  auto publish = [&] {
    if (published || server_->client_count() == 0) return;
    published = true;
    server_->PublishAlert(ui::Severity::kError, "history off: disk full");
  };
  PicketRun text = RunPicket({"alerts", "--count", "2", "--socket", socket_}, publish);
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("warning rule file 000-x.json"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("error   history off: disk full"), std::string::npos) << text.out;
  PicketRun json = RunPicket({"alerts", "--json", "--count", "1", "--socket", socket_});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  EXPECT_EQ(QJsonDocument::fromJson(QByteArray::fromStdString(json.out)).object().value("severity").toString(), "warning")
      << json.out;
}

// The one-shot listing of these rules is ~20 times the client queue (32 KiB here): the CLI pages.
TEST_F(UiCommandsTest, RulesListFromPicketdPagesThroughALargeRuleSet) {
  constexpr int kRules = 250;
  for (int i = 0; i < kRules; ++i) {
    char name[32];
    std::snprintf(name, sizeof(name), "r%05d", i);
    auto rule = ParseRule(testing_util::RuleJson(name, "deny",
                                                 testing_util::Op("simple", "process.command", std::string(2800, 'c'))));
    ASSERT_TRUE(rule.ok()) << rule.error().message;
    ASSERT_TRUE(engine_->AddRule(std::move(*rule)).ok());
  }
  PicketRun json = RunPicket({"rules", "list", "--json", "--socket", socket_});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  ASSERT_GT(json.out.size(), size_t{20} * 32 * 1024);
  const QJsonArray rules = QJsonDocument::fromJson(QByteArray::fromStdString(json.out)).array();
  ASSERT_EQ(rules.size(), kRules);
  EXPECT_EQ(rules[0].toObject().value("name").toString(), "r00000");
  EXPECT_EQ(rules[kRules - 1].toObject().value("name").toString(), "r00249");
  EXPECT_EQ(server_->dropped_clients(), 0u);
  PicketRun text = RunPicket({"rules", "list", "--socket", socket_});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("r00249"), std::string::npos);
  EXPECT_NE(text.out.find("process.command"), std::string::npos) << text.out.substr(0, 400);
}

}  // namespace
}  // namespace picket
