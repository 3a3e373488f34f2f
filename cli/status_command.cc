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
  bool json = false;
  std::string socket = kDefaultUiSocket;
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--json") {
      json = true;
    } else if (args[i] == "--socket" && i + 1 < args.size()) {
      socket = args[++i];
    } else if (args[i] == "--help" || args[i] == "-h") {
      std::fputs(kHelp, stdout);
      return 0;
    } else {
      std::fprintf(stderr, "picket status: unexpected argument '%s'\n%s", args[i].c_str(), kHelp);
      return 2;
    }
  }
  auto client = UiClient::Connect(socket, kTimeout);
  if (!client.ok()) {
    std::fprintf(stderr, "picket status: %s\n", client.error().message.c_str());
    return 1;
  }
  auto reply = client->Call(ui::StatusRequest{1}, kTimeout);
  if (!reply.ok()) {
    std::fprintf(stderr, "picket status: %s\n", reply.error().message.c_str());
    return 1;
  }
  if (auto* error = std::get_if<ui::ErrorReply>(&*reply)) {
    std::fprintf(stderr, "picket status: %s\n", DescribeError(*error).c_str());
    return 1;
  }
  auto* result = std::get_if<ui::ResultReply>(&*reply);
  if (result == nullptr) {
    std::fprintf(stderr, "picket status: unexpected %s reply\n", std::string(ui::TypeName(*reply)).c_str());
    return 1;
  }
  QJsonObject data = result->data;
  const ui::Hello& hello = client->server_hello();
  data["server"] = QString::fromStdString(hello.server);
  data["role"] = QString::fromUtf8(ui::RoleName(hello.role.value_or(ui::Role::kReadOnly)).data());
  if (json) {
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
