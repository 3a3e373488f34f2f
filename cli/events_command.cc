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
  return RunStreamCommand("events", args, kHelp, ui::Topic::kEvents, [](const ui::Message& message, bool json) {
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
