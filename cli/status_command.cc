// `picket status`: picketd's versions, attribution method, rule count and counters, over the UI socket.
#include <QJsonDocument>
#include <QJsonObject>

#include <cstdio>
#include <string>
#include <vector>

#include "command.h"
#include "ui_client.h"

namespace picket::cli {
namespace {

constexpr const char* kHelp =
    "usage: picket status [--json] [--socket PATH]\n"
    "\n"
    "Asks the running picketd (over its UI socket, default /run/picket/ui.sock) for its version,\n"
    "protocol version, your role (admin or read-only), how it attributes connections, its default\n"
    "action, the number of rules and clients, and its counters. --json prints the status object.\n";

constexpr std::chrono::milliseconds kTimeout{5000};

int RunStatus(const std::vector<std::string>& args) {
  const SocketOptions options = ParseSocketOptions(args);
  if (options.help) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  if (!options.rest.empty()) {
    std::fprintf(stderr, "picket status: unexpected argument '%s'\n%s", options.rest.front().c_str(), kHelp);
    return 2;
  }
  auto client = ConnectOrReport("status", options.socket);
  if (!client) return 1;
  auto status = CallForData(*client, ui::StatusRequest{1}, kTimeout);
  if (!status.ok()) {
    std::fprintf(stderr, "picket status: %s\n", status.error().message.c_str());
    return 1;
  }
  QJsonObject data = std::move(*status);
  const ui::Hello& hello = client->server_hello();
  data["server"] = QString::fromStdString(hello.server);
  data["role"] = QString::fromUtf8(ui::RoleName(hello.role.value_or(ui::Role::kReadOnly)).data());
  if (options.json) {
    std::fputs(QJsonDocument(data).toJson(QJsonDocument::Compact).append('\n').constData(), stdout);
    return 0;
  }
  auto text = [&](const char* key) { return data.value(QLatin1String(key)).toVariant().toString().toStdString(); };
  std::printf("server:          %s (protocol %s)\n", text("server").c_str(), text("protocol_version").c_str());
  std::printf("your role:       %s\n", text("role").c_str());
  std::printf("attribution:     %s\n", text("attribution").c_str());
  std::printf("default action:  %s (fail-%s)\n", text("default_action").c_str(), text("fail_mode").c_str());
  std::printf("rules:           %s\n", text("rules").c_str());
  std::printf("clients:         %s\n", text("clients").c_str());
  const QJsonObject counters = data.value(QLatin1String("counters")).toObject();
  for (auto it = counters.begin(); it != counters.end(); ++it) {
    std::printf("%-16s %s\n", (it.key().toStdString() + ":").c_str(),
                it.value().toVariant().toString().toStdString().c_str());
  }
  return 0;
}

const Registration kStatus{"status", "picketd's versions, attribution method, rules and counters (live)", &RunStatus};

}  // namespace
}  // namespace picket::cli
