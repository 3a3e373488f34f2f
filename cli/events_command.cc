// `picket events`: the live stream of decisions from picketd, over the UI socket.
#include <QJsonDocument>
#include <QJsonObject>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "command.h"
#include "ui_client.h"

namespace picket::cli {
namespace {

constexpr const char* kHelp =
    "usage: picket events [--json] [--count N] [--socket PATH]\n"
    "\n"
    "Prints every decision picketd makes from now on (one line each) until interrupted, or until\n"
    "N decisions were printed (--count). --json prints each event as one JSON object per line\n"
    "(the `event` object of ui-protocol/PROTOCOL.md). Past decisions: `picket log`.\n";

constexpr std::chrono::milliseconds kTimeout{5000};

void PrintText(const ui::DecisionEvent& e) {
  std::string who = e.path.value_or("?");
  if (e.pid) who += " pid " + std::to_string(*e.pid);
  if (e.uid) who += " uid " + std::to_string(*e.uid);
  std::string to = e.dst + ":" + std::to_string(e.dst_port);
  if (e.host) to = *e.host + " (" + to + ")";
  std::printf("%s %-6s %s %s → %s rule=%s\n", e.time.c_str(), std::string(ui::AnswerActionName(e.action)).c_str(),
              e.protocol.c_str(), who.c_str(), to.c_str(), e.rule.c_str());
}

int RunEvents(const std::vector<std::string>& args) {
  bool json = false;
  long long count = -1;
  std::string socket = kDefaultUiSocket;
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--json") {
      json = true;
    } else if (args[i] == "--socket" && i + 1 < args.size()) {
      socket = args[++i];
    } else if (args[i] == "--count" && i + 1 < args.size()) {
      char* end = nullptr;
      count = std::strtoll(args[++i].c_str(), &end, 10);
      if (*end != '\0' || count < 1) {
        std::fprintf(stderr, "picket events: --count: expected a positive integer, got '%s'\n", args[i].c_str());
        return 2;
      }
    } else if (args[i] == "--help" || args[i] == "-h") {
      std::fputs(kHelp, stdout);
      return 0;
    } else {
      std::fprintf(stderr, "picket events: unexpected argument '%s'\n%s", args[i].c_str(), kHelp);
      return 2;
    }
  }
  auto client = UiClient::Connect(socket, kTimeout);
  if (!client.ok()) {
    std::fprintf(stderr, "picket events: %s\n", client.error().message.c_str());
    return 1;
  }
  return StreamTopic("events", *client, ui::Topic::kEvents, count, [json](const ui::Message& message) {
    const auto* event = std::get_if<ui::DecisionEvent>(&message);
    if (event == nullptr) return false;
    if (json) {
      // The event object alone, without the {"type":"event","event":…} envelope.
      const QJsonObject envelope = QJsonDocument::fromJson(QByteArray::fromStdString(ui::Encode(*event))).object();
      PrintJsonLine(envelope.value(QLatin1String("event")).toObject());
    } else {
      PrintText(*event);
    }
    return true;
  });
}

const Registration kEvents{"events", "live stream of picketd's decisions", &RunEvents};

}  // namespace
}  // namespace picket::cli
