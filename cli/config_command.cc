// `picket config get|set`: picketd's effective configuration, and the keys it can change while it
// runs, over the UI socket.
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
    "usage: picket config get [KEY] [--json] [--socket PATH]\n"
    "       picket config set KEY VALUE [--socket PATH]\n"
    "\n"
    "get   Prints the configuration the running picketd uses (every key of docs/CONFIG.md; its\n"
    "      defaults, then the config file, then its command line), or one KEY. --json prints the\n"
    "      object (or the one value) as JSON.\n"
    "set   Changes a key while picketd runs (admin role). Run-time keys: default_action\n"
    "      (allow|deny|reject), log_level (error|warn|info|debug), prompt_timeout_seconds (1-86400)\n"
    "      and prompt_default_duration (once, 5m, always ...; both for prompts opened after the change).\n"
    "      VALUE is JSON; a bare word is taken\n"
    "      as a string. The change lasts until picketd restarts (edit the config file to keep it).\n"
    "      Other keys are refused, naming the key and why.\n";

constexpr std::chrono::milliseconds kTimeout{5000};

// VALUE as JSON: "5" → 5, "true" → true, "\"x\"" → "x", a bare word → that string.
QJsonValue ValueFromText(const std::string& text) {
  const QJsonDocument doc = QJsonDocument::fromJson(QByteArray::fromStdString("[" + text + "]"));
  if (doc.isArray() && doc.array().size() == 1) return doc.array().at(0);
  return QJsonValue(QString::fromStdString(text));
}

// The value for people: strings without quotes.
std::string ValueText(const QJsonValue& value) {
  return value.isString() ? value.toString().toStdString() : ui::EncodeValue(value);
}

int Get(UiClient& client, const SocketOptions& options) {
  auto data = CallForData(client, ui::ConfigRequest{1, ui::ConfigOp::kGet, "", {}}, kTimeout);
  if (!data.ok()) {
    std::fprintf(stderr, "picket config get: %s\n", data.error().message.c_str());
    return 1;
  }
  const QJsonObject config = data->value(QLatin1String("config")).toObject();
  if (options.rest.size() == 2) {
    const QString key = QString::fromStdString(options.rest[1]);
    if (!config.contains(key)) {
      std::fprintf(stderr, "picket config get: picketd has no key '%s'\n", options.rest[1].c_str());
      return 1;
    }
    const QJsonValue value = config.value(key);
    std::printf("%s\n", (options.json ? ui::EncodeValue(value) : ValueText(value)).c_str());
    return 0;
  }
  if (options.json) {
    PrintJsonLine(config);
    return 0;
  }
  for (auto it = config.begin(); it != config.end(); ++it) {
    std::printf("%-30s %s\n", it.key().toStdString().c_str(), ValueText(it.value()).c_str());
  }
  return 0;
}

int Set(UiClient& client, const SocketOptions& options) {
  const std::string& key = options.rest[1];
  const QJsonValue value = ValueFromText(options.rest[2]);
  auto data = CallForData(client, ui::ConfigRequest{1, ui::ConfigOp::kSet, key, value}, kTimeout);
  if (!data.ok()) {
    std::fprintf(stderr, "picket config set: %s\n", data.error().message.c_str());
    return 1;
  }
  std::printf("%s = %s\n", key.c_str(), ValueText(value).c_str());
  return 0;
}

int RunConfig(const std::vector<std::string>& args) {
  const SocketOptions options = ParseSocketOptions(args);
  if (options.help) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  const std::string op = options.rest.empty() ? "" : options.rest[0];
  const bool get = op == "get" && options.rest.size() <= 2;
  const bool set = op == "set" && options.rest.size() == 3 && !options.json;
  if (!get && !set) {
    std::fprintf(stderr, "picket config: expected `get [KEY]` or `set KEY VALUE`\n%s", kHelp);
    return 2;
  }
  auto client = ConnectOrReport("config", options.socket);
  if (!client) return 1;
  return get ? Get(*client, options) : Set(*client, options);
}

const Registration kConfig{"config", "picketd's effective config (get) and run-time changes (set)", &RunConfig};

}  // namespace
}  // namespace picket::cli
