#include "verdict/answer_rule.h"

#include <time.h>

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include "rules/rule_parser.h"

namespace picket {
namespace {

constexpr size_t kMaxNamePart = 40;  // characters kept of a program or host in a rule name
constexpr int kMaxNameSuffix = 100000;

std::string Rfc3339Seconds(WallTime time) {
  const time_t seconds = std::chrono::system_clock::to_time_t(time);
  struct tm utc {};
  gmtime_r(&seconds, &utc);
  char buffer[32];
  strftime(buffer, sizeof(buffer), "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buffer;
}

// Letters, digits, '.', '_' and '-' kept; anything else becomes one '-'; at most kMaxNamePart.
std::string NamePart(std::string_view text) {
  std::string out;
  for (char ch : text) {
    const bool plain = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                       ch == '.' || ch == '_' || ch == '-';
    if (plain) {
      out += ch;
    } else if (!out.empty() && out.back() != '-') {
      out += '-';
    }
    if (out.size() >= kMaxNamePart) break;
  }
  while (!out.empty() && (out.back() == '-' || out.back() == '.')) out.pop_back();
  return out;
}

std::string_view Basename(std::string_view path) {
  const size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

std::string BaseName(const PromptFacts& facts, const AnswerChoice& choice) {
  std::string name = "prompt-" + std::string(ui::AnswerActionName(choice.action));
  const std::string program = NamePart(Basename(facts.path));
  name += "-" + (program.empty() ? std::string("any") : program);
  const std::string where = NamePart(facts.host.empty() ? facts.dest_ip.Normalized().ToString() : facts.host);
  if (!where.empty()) name += "-" + where;
  name += "-" + facts.protocol + "-" + std::to_string(facts.dest_port);
  return name;
}

std::string UniqueName(const std::string& base, const std::function<bool(const std::string&)>& name_taken) {
  if (!name_taken(base)) return base;
  for (int n = 2; n < kMaxNameSuffix; ++n) {
    std::string candidate = base + "-" + std::to_string(n);
    if (!name_taken(candidate)) return candidate;
  }
  return base + "-" + std::to_string(kMaxNameSuffix);
}

QJsonObject Simple(const char* operand, const std::string& data, bool sensitive) {
  return QJsonObject{{"type", "simple"},
                     {"operand", operand},
                     {"data", QString::fromStdString(data)},
                     {"sensitive", sensitive}};
}

// The operator of one scope field, or an error naming what is missing.
Result<QJsonObject> ScopeOperator(const PromptFacts& facts, ui::ScopeField field) {
  const std::string ip = facts.dest_ip.Normalized().ToString();
  switch (field) {
    case ui::ScopeField::kExecutable:
      if (facts.path.empty()) return Error{"scope 'executable': the prompt's process is not known"};
      return Simple("process.path", facts.path, true);
    case ui::ScopeField::kCommand:
      if (!facts.process) return Error{"scope 'command': the prompt's process is not known"};
      return Simple("process.command", facts.command, true);
    case ui::ScopeField::kHost:
      if (facts.host.empty()) return Simple("dest.ip", ip, false);
      return Simple("dest.host", facts.host, false);
    case ui::ScopeField::kIp: return Simple("dest.ip", ip, false);
    case ui::ScopeField::kPort: return Simple("dest.port", std::to_string(facts.dest_port), false);
    case ui::ScopeField::kUser:
      if (!facts.uid) return Error{"scope 'user': the prompt's user is not known"};
      return Simple("user.id", std::to_string(*facts.uid), false);
  }
  return Error{"scope: unknown field"};
}

}  // namespace

PromptFacts PromptFactsOf(uint64_t prompt_id, const Flow& flow, const Attribution& attribution,
                          const std::vector<std::string>* hosts) {
  PromptFacts facts;
  facts.prompt_id = prompt_id;
  if (attribution.kind == AttributionKind::kProcess && attribution.process) {
    const ProcessInfo& p = *attribution.process;
    facts.path = p.exe_path;
    facts.command = p.Command();
    facts.uid = p.uid;
    facts.process = ProcessKey{p.pid, p.start_time_ticks};
  } else {
    if (attribution.kind == AttributionKind::kKernel) facts.path = "kernel";
    facts.uid = attribution.uid ? attribution.uid : flow.uid;
  }
  facts.dest_ip = flow.dst.Normalized();
  if (hosts != nullptr && !hosts->empty()) facts.host = hosts->front();
  facts.dest_port = flow.dst_port;
  facts.protocol = std::string(flow.protocol_name());
  return facts;
}

Action ActionOf(ui::AnswerAction action) {
  switch (action) {
    case ui::AnswerAction::kAllow: return Action::kAllow;
    case ui::AnswerAction::kDeny: return Action::kDeny;
    case ui::AnswerAction::kReject: return Action::kReject;
  }
  return Action::kDeny;
}

ui::AnswerAction AnswerActionOf(Action action) {
  switch (action) {
    case Action::kAllow: return ui::AnswerAction::kAllow;
    case Action::kDeny: return ui::AnswerAction::kDeny;
    case Action::kReject: return ui::AnswerAction::kReject;
  }
  return ui::AnswerAction::kDeny;
}

std::string_view RuleDurationText(ui::AnswerDuration duration) {
  switch (duration) {
    case ui::AnswerDuration::kOnce: return "once";
    case ui::AnswerDuration::k30s: return "30s";
    case ui::AnswerDuration::k5m: return "5m";
    case ui::AnswerDuration::k15m: return "15m";
    case ui::AnswerDuration::k30m: return "30m";
    case ui::AnswerDuration::k1h: return "1h";
    case ui::AnswerDuration::k12h: return "12h";
    case ui::AnswerDuration::k24h: return "24h";
    case ui::AnswerDuration::kUntilRestart: return "until restart";
    case ui::AnswerDuration::kUntilProcessExits: return "until process exits";
    case ui::AnswerDuration::kAlways: return "always";
  }
  return "once";
}

Result<std::optional<Rule>> MakeAnswerRule(const PromptFacts& facts, const AnswerChoice& choice, WallTime now,
                                           const std::function<bool(const std::string&)>& name_taken) {
  if (choice.scope.empty()) return Error{"scope: at least one field is needed"};
  if (choice.duration == ui::AnswerDuration::kUntilProcessExits && !facts.process) {
    return Error{"duration 'until-process-exits': the prompt's process is not known"};
  }
  QJsonArray list;
  for (ui::ScopeField field : choice.scope) {
    Result<QJsonObject> op = ScopeOperator(facts, field);
    if (!op.ok()) return op.error();
    list.append(*op);
  }
  if (choice.duration == ui::AnswerDuration::kOnce) return std::optional<Rule>();
  list.append(Simple("protocol", facts.protocol, false));
  const std::string created = Rfc3339Seconds(now);
  const std::string name = UniqueName(BaseName(facts, choice), name_taken);
  QJsonObject json{
      {"name", QString::fromStdString(name)},
      {"description", QString::fromStdString("made at prompt " + std::to_string(facts.prompt_id))},
      {"enabled", true},
      {"precedence", false},
      {"action", QString::fromUtf8(ui::AnswerActionName(choice.action).data())},
      {"duration", QString::fromUtf8(RuleDurationText(choice.duration).data())},
      {"nolog", false},
      {"created", QString::fromStdString(created)},
      {"updated", QString::fromStdString(created)},
      {"operator", QJsonObject{{"type", "list"}, {"operand", "list"}, {"list", list}}}};
  const QByteArray bytes = QJsonDocument(json).toJson(QJsonDocument::Compact);
  Result<Rule> rule = ParseRule(std::string_view(bytes.constData(), static_cast<size_t>(bytes.size())));
  if (!rule.ok()) return Error{"answer rule: " + rule.error().message};
  return std::optional<Rule>(std::move(*rule));
}

}  // namespace picket
