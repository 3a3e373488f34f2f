// `picket alerts`: the live stream of things picketd wants a user to know (rule files rejected,
// history or DNS names off, clients dropped, run-time config changes), over the UI socket.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "command.h"
#include "ui_client.h"

namespace picket::cli {
namespace {

constexpr const char* kHelp =
    "usage: picket alerts [--json] [--count N] [--socket PATH]\n"
    "\n"
    "Prints picketd's recent alerts (it keeps the last 32) and then every new one until interrupted,\n"
    "or until N alerts were printed (--count): TIME SEVERITY MESSAGE. --json prints each `alert`\n"
    "object of ui-protocol/PROTOCOL.md as one JSON object per line.\n";

int RunAlerts(const std::vector<std::string>& args) {
  return RunStreamCommand("alerts", args, kHelp, ui::Topic::kAlerts, [](const ui::Message& message, bool json) {
    const auto* alert = std::get_if<ui::Alert>(&message);
    if (alert == nullptr) return false;
    if (json) {
      PrintJsonLine(QJsonObject{{"time", QString::fromStdString(alert->time)},
                                {"severity", QString::fromUtf8(ui::SeverityName(alert->severity).data())},
                                {"message", QString::fromStdString(alert->message)}});
    } else {
      std::printf("%s %-7s %s\n", alert->time.c_str(), std::string(ui::SeverityName(alert->severity)).c_str(),
                  alert->message.c_str());
    }
    return true;
  });
}

const Registration kAlerts{"alerts", "live stream of picketd's alerts (rule files rejected, history off ...)",
                           &RunAlerts};

}  // namespace
}  // namespace picket::cli
