// picketd: parses the command line, builds the Config, runs the Daemon on a Qt Core event loop.
// Exit codes: 0 clean stop (SIGINT/SIGTERM), 1 runtime failure, 2 bad command line or config.
#include <QCommandLineParser>
#include <QCoreApplication>

#include <cstdio>
#include <string>

#include "common/log.h"
#include "config.h"
#include "daemon.h"

namespace {

constexpr int kExitUsage = 2;
constexpr int kExitRuntime = 1;

struct Options {
  QCommandLineOption config{"config", "JSON config file (see docs/CONFIG.md).", "FILE"};
  QCommandLineOption rules_dir{"rules-dir", "Directory of rule files (*.json).", "DIR"};
  QCommandLineOption default_action{"default-action", "Action when no rule matches: allow, deny or reject.", "ACTION"};
  QCommandLineOption queue_num{"queue-num", "NFQUEUE number, 0-65535.", "N"};
  QCommandLineOption fail_open{"fail-open", "Let new connections through while picketd is not running."};
  QCommandLineOption fail_closed{"fail-closed", "Block new connections while picketd is not running."};
  QCommandLineOption log_level{"log-level", "error, warn, info or debug.", "LEVEL"};
  QCommandLineOption firewall_backend{"firewall-backend", "auto, nft or iptables.", "BACKEND"};
  QCommandLineOption history_path{"history-path", "SQLite event log of decisions.", "FILE"};
  QCommandLineOption no_history{"no-history", "Keep no event log of decisions."};
  QCommandLineOption ui_socket{"ui-socket", "UNIX socket for clients (picket status, events); \"\" for none.", "PATH"};
};

int Fail(int code, const std::string& message) {
  std::fprintf(stderr, "picketd: %s\n", message.c_str());
  return code;
}

// Applies command-line overrides on top of `config`; errors name the flag.
picket::Status ApplyOverrides(const QCommandLineParser& parser, const Options& o, picket::Config* config) {
  using picket::Error;
  auto value = [&](const QCommandLineOption& opt) { return parser.value(opt).toStdString(); };
  if (parser.isSet(o.rules_dir)) config->rules_dir = value(o.rules_dir);
  if (parser.isSet(o.default_action)) {
    auto a = picket::ParseDefaultAction(value(o.default_action));
    if (!a.ok()) return Error{"--default-action: " + a.error().message};
    config->default_action = *a;
  }
  if (parser.isSet(o.queue_num)) {
    bool ok = false;
    const unsigned n = parser.value(o.queue_num).toUInt(&ok);
    if (!ok || n > 65535) return Error{"--queue-num: expected 0-65535, got '" + value(o.queue_num) + "'"};
    config->queue_num = static_cast<uint16_t>(n);
  }
  if (parser.isSet(o.fail_open) && parser.isSet(o.fail_closed)) return Error{"--fail-open and --fail-closed exclude each other"};
  if (parser.isSet(o.fail_open)) config->fail_mode = picket::FailMode::kOpen;
  if (parser.isSet(o.fail_closed)) config->fail_mode = picket::FailMode::kClosed;
  if (parser.isSet(o.log_level)) {
    auto l = picket::log::ParseLevel(value(o.log_level));
    if (!l.ok()) return Error{"--log-level: " + l.error().message};
    config->log_level = *l;
  }
  if (parser.isSet(o.firewall_backend)) {
    auto b = picket::ParseFirewallBackend(value(o.firewall_backend));
    if (!b.ok()) return Error{"--firewall-backend: " + b.error().message};
    config->firewall_backend = *b;
  }
  if (parser.isSet(o.history_path) && parser.isSet(o.no_history)) {
    return Error{"--history-path and --no-history exclude each other"};
  }
  if (parser.isSet(o.history_path)) {
    if (value(o.history_path).empty()) return Error{"--history-path: expected a file name"};
    config->history_path = value(o.history_path);
  }
  if (parser.isSet(o.no_history)) config->history_path.clear();
  if (parser.isSet(o.ui_socket)) {
    const std::string path = value(o.ui_socket);
    if (!path.empty() && path.front() != '/') return Error{"--ui-socket: expected an absolute path or \"\""};
    config->ui_socket = path;
  }
  return picket::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  QCoreApplication app(argc, argv);
  QCoreApplication::setApplicationName("picketd");
  QCoreApplication::setApplicationVersion(PICKET_VERSION);

  QCommandLineParser parser;
  parser.setApplicationDescription("Picket: decides every new outbound connection by the program that opened it.");
  parser.addHelpOption();
  parser.addVersionOption();
  Options o;
  parser.addOptions({o.config, o.rules_dir, o.default_action, o.queue_num, o.fail_open, o.fail_closed, o.log_level,
                     o.firewall_backend, o.history_path, o.no_history, o.ui_socket});
  if (!parser.parse(QCoreApplication::arguments())) return Fail(kExitUsage, parser.errorText().toStdString());
  if (parser.isSet("help")) parser.showHelp(0);
  if (parser.isSet("version")) parser.showVersion();
  if (!parser.positionalArguments().isEmpty()) {
    return Fail(kExitUsage, "unexpected argument '" + parser.positionalArguments().first().toStdString() + "'");
  }

  picket::Config config;
  if (parser.isSet(o.config)) {
    auto loaded = picket::LoadConfigFile(parser.value(o.config).toStdString());
    if (!loaded.ok()) return Fail(kExitUsage, loaded.error().message);
    config = std::move(*loaded);
  }
  if (picket::Status s = ApplyOverrides(parser, o, &config); !s.ok()) return Fail(kExitUsage, s.error().message);
  picket::log::SetLevel(config.log_level);

  picket::Daemon daemon(config);
  if (picket::Status s = daemon.Start(); !s.ok()) {
    const bool config_problem = s.error().message.rfind("rules:", 0) == 0;
    return Fail(config_problem ? kExitUsage : kExitRuntime, s.error().message);
  }
  const int code = app.exec();
  picket::Status stopped = daemon.Stop();
  if (!stopped.ok()) return Fail(kExitRuntime, stopped.error().message);
  return code;
}
