#include "ui/prompt_event.h"

#include <QJsonArray>
#include <QJsonObject>

namespace picket {
namespace {

QString Text(std::string_view text) { return QString::fromUtf8(text.data(), static_cast<qsizetype>(text.size())); }

QJsonObject ProcessObject(const PendingFlow& flow) {
  QJsonObject process;
  const Attribution& a = flow.attribution;
  if (a.kind == AttributionKind::kProcess && a.process) {
    const ProcessInfo& p = *a.process;
    process["path"] = Text(p.exe_path);
    QJsonArray args;
    for (const std::string& arg : p.argv) args.append(Text(arg));
    process["args"] = args;
    process["pid"] = static_cast<double>(p.pid);
    process["uid"] = static_cast<double>(p.uid);
    QJsonArray parents;
    for (const AncestorInfo& parent : p.ancestors) {
      parents.append(QJsonObject{{"pid", static_cast<double>(parent.pid)}, {"path", Text(parent.exe_path)}});
    }
    process["parents"] = parents;
    if (p.digests.state == DigestState::kReady && !p.digests.sha256.empty()) process["digest"] = Text(p.digests.sha256);
  } else {
    process["path"] = a.kind == AttributionKind::kKernel ? "kernel" : "";
    process["args"] = QJsonArray{};
    process["parents"] = QJsonArray{};
    const std::optional<uint32_t> uid = a.uid ? a.uid : flow.flow.uid;
    if (uid) process["uid"] = static_cast<double>(*uid);
  }
  return process;
}

}  // namespace

ui::PromptEvent MakePromptEvent(const PendingPrompt& prompt, std::string deadline, Action default_action,
                                std::string_view default_duration) {
  const PendingFlow& first = prompt.flows.front();
  QJsonObject destination{{"ip", Text(first.flow.dst.Normalized().ToString())},
                          {"port", static_cast<double>(first.flow.dst_port)},
                          {"protocol", Text(first.flow.protocol_name())}};
  if (!first.hosts.empty()) destination["host"] = Text(first.hosts.front());
  ui::PromptEvent event;
  event.id = prompt.id;
  event.details = QJsonObject{{"deadline", Text(deadline)},
                              {"process", ProcessObject(first)},
                              {"destination", destination},
                              {"flows", static_cast<double>(prompt.flows.size())},
                              {"default", QJsonObject{{"action", Text(ActionName(default_action))},
                                                      {"duration", Text(default_duration)}}}};
  return event;
}

ui::PromptEvent ClosedPromptEvent(uint64_t prompt_id) {
  ui::PromptEvent event;
  event.id = prompt_id;
  event.closed = true;
  return event;
}

}  // namespace picket
