#include "ui/decision_event.h"

#include <QDateTime>

#include "verdict/answer_rule.h"

namespace picket {

ui::DecisionEvent MakeDecisionEvent(const Decision& decision, const Flow& flow, const Attribution& attribution,
                                    const std::vector<std::string>* hosts, std::string time) {
  ui::DecisionEvent event;
  event.time = std::move(time);
  event.action = AnswerActionOf(decision.action);
  event.rule = std::string(decision.rule_name());
  event.protocol = std::string(flow.protocol_name());
  event.src = flow.src.ToString();
  event.src_port = flow.src_port;
  event.dst = flow.dst.ToString();
  event.dst_port = flow.dst_port;
  if (hosts != nullptr && !hosts->empty()) event.host = hosts->front();
  if (attribution.uid) event.uid = *attribution.uid;
  if (attribution.process) {
    const ProcessInfo& process = *attribution.process;
    event.pid = process.pid;
    event.uid = process.uid;
    event.path = process.exe_path;
    event.args = process.argv;
    event.inferred = attribution.evidence == AttributionEvidence::kInferred;
  }
  if (attribution.method != nullptr && attribution.method[0] != '\0') event.via = attribution.method;
  return event;
}

std::string NowRfc3339() {
  return QDateTime::currentDateTimeUtc().toString(Qt::ISODateWithMs).toStdString();
}

}  // namespace picket
