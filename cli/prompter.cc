#include "prompter.h"

#include <QDateTime>
#include <QJsonArray>
#include <QJsonObject>

#include <algorithm>
#include <array>
#include <cmath>

namespace picket::cli {
namespace {

constexpr size_t kMaxNotes = 5;

// Keys of the durations, in AnswerDuration order.
constexpr std::array<char, 11> kDurationKeys = {'0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'f'};
// Keys of the scope fields, in ScopeField order.
constexpr std::array<char, 6> kScopeKeys = {'e', 'c', 'h', 'i', 'p', 'u'};
constexpr std::array<char, 3> kActionKeys = {'a', 'd', 'r'};

std::string Str(const QJsonObject& o, const char* key) { return o.value(QLatin1String(key)).toString().toStdString(); }

std::optional<int64_t> Int(const QJsonObject& o, const char* key) {
  const QJsonValue v = o.value(QLatin1String(key));
  if (!v.isDouble()) return std::nullopt;
  const double d = v.toDouble();
  if (std::floor(d) != d) return std::nullopt;
  return static_cast<int64_t>(d);
}

std::string Join(const std::vector<std::string>& parts, const std::string& separator) {
  std::string out;
  for (const std::string& part : parts) out += (out.empty() ? "" : separator) + part;
  return out;
}

template <typename E, size_t N>
std::optional<E> FromKey(const std::array<char, N>& keys, char key) {
  for (size_t i = 0; i < N; ++i) {
    if (keys[i] == key) return static_cast<E>(i);
  }
  return std::nullopt;
}

std::optional<ui::AnswerAction> ActionNamed(const std::string& name) {
  for (ui::AnswerAction a : {ui::AnswerAction::kAllow, ui::AnswerAction::kDeny, ui::AnswerAction::kReject}) {
    if (ui::AnswerActionName(a) == name) return a;
  }
  return std::nullopt;
}

std::string ScopeText(const std::vector<ui::ScopeField>& scope) {
  std::vector<std::string> names;
  for (ui::ScopeField f : scope) names.emplace_back(ui::ScopeFieldName(f));
  return Join(names, "+");
}

}  // namespace

Result<PromptView> ParsePromptView(const ui::PromptEvent& event) {
  const QJsonObject& d = event.details;
  PromptView v;
  v.id = event.id;
  const QJsonObject process = d.value(QLatin1String("process")).toObject();
  const QJsonObject destination = d.value(QLatin1String("destination")).toObject();
  if (process.isEmpty()) return Error{"prompt " + std::to_string(event.id) + ": member 'process' missing"};
  if (destination.isEmpty()) return Error{"prompt " + std::to_string(event.id) + ": member 'destination' missing"};
  v.path = Str(process, "path");
  for (const QJsonValue& arg : process.value(QLatin1String("args")).toArray()) v.args.push_back(arg.toString().toStdString());
  v.pid = Int(process, "pid");
  v.uid = Int(process, "uid");
  v.user = Str(process, "user");
  for (const QJsonValue& parent : process.value(QLatin1String("parents")).toArray()) {
    const QJsonObject p = parent.toObject();
    v.parents.emplace_back(Int(p, "pid").value_or(0), Str(p, "path"));
  }
  v.digest = Str(process, "digest");
  v.ip = Str(destination, "ip");
  v.host = Str(destination, "host");
  v.port = Int(destination, "port");
  v.protocol = Str(destination, "protocol");
  const QDateTime deadline = QDateTime::fromString(d.value(QLatin1String("deadline")).toString(), Qt::ISODateWithMs);
  if (deadline.isValid()) {
    v.deadline = std::chrono::system_clock::time_point(std::chrono::milliseconds(deadline.toMSecsSinceEpoch()));
  }
  const QJsonObject fallback = d.value(QLatin1String("default")).toObject();
  v.default_action = Str(fallback, "action");
  v.default_duration = Str(fallback, "duration");
  return v;
}

Prompter::Prompter(UserNameFn user_names) : user_names_(std::move(user_names)) {}

Prompter::Entry* Prompter::Find(uint64_t prompt) {
  for (Entry& entry : entries_) {
    if (entry.view.id == prompt) return &entry;
  }
  return nullptr;
}

void Prompter::Remove(uint64_t prompt) {
  entries_.erase(std::remove_if(entries_.begin(), entries_.end(), [prompt](const Entry& e) { return e.view.id == prompt; }),
                 entries_.end());
}

void Prompter::Note(std::string text) {
  notes_.push_back(std::move(text));
  while (notes_.size() > kMaxNotes) notes_.pop_front();
}

void Prompter::OnPrompt(const ui::PromptEvent& event) {
  if (event.closed) {
    if (Find(event.id) != nullptr) {
      Remove(event.id);
      Note("prompt " + std::to_string(event.id) + " closed (answered elsewhere or timed out)");
    }
    return;
  }
  auto view = ParsePromptView(event);
  if (!view.ok()) return Note("ignored a malformed prompt: " + view.error().message);
  if (Entry* existing = Find(event.id)) {
    existing->view = std::move(*view);  // re-sent with more detail (the host became known)
    return;
  }
  Entry entry;
  entry.action = ActionNamed(view->default_action).value_or(ui::AnswerAction::kDeny);
  entry.view = std::move(*view);
  entries_.push_back(std::move(entry));
}

void Prompter::ToggleScope(Entry& entry, ui::ScopeField field) {
  auto it = std::find(entry.scope.begin(), entry.scope.end(), field);
  if (it == entry.scope.end()) {
    entry.scope.push_back(field);
    std::sort(entry.scope.begin(), entry.scope.end());
  } else if (entry.scope.size() > 1) {
    entry.scope.erase(it);
  } else {
    Note("the scope needs at least one field");
  }
}

KeyOutcome Prompter::OnKey(char key) {
  if (key == 'q') return KeyOutcome{std::nullopt, true};
  if (entries_.empty()) return {};
  Entry& entry = entries_.front();
  if (key == 'n' || key == '\t') {
    entries_.push_back(std::move(entries_.front()));
    entries_.pop_front();
    return {};
  }
  if (entry.answering) return {};
  if (auto action = FromKey<ui::AnswerAction>(kActionKeys, key)) {
    entry.action = *action;
  } else if (auto duration = FromKey<ui::AnswerDuration>(kDurationKeys, key)) {
    entry.duration = *duration;
  } else if (auto field = FromKey<ui::ScopeField>(kScopeKeys, key)) {
    ToggleScope(entry, *field);
  } else if (key == '\r' || key == '\n') {
    ui::Answer answer{next_request_id_++, entry.view.id, entry.action, entry.duration, entry.scope};
    in_flight_[answer.id] = entry.view.id;
    entry.answering = true;
    return KeyOutcome{answer, false};
  }
  return {};
}

void Prompter::OnReply(const ui::Message& reply) {
  const std::optional<uint64_t> id = ui::IdOf(reply);
  auto it = id ? in_flight_.find(*id) : in_flight_.end();
  if (it == in_flight_.end()) return;
  const uint64_t prompt = it->second;
  in_flight_.erase(it);
  const std::string name = "prompt " + std::to_string(prompt);
  if (const auto* result = std::get_if<ui::ResultReply>(&reply)) {
    const QString rule = result->data.value(QLatin1String("rule")).toString();
    Note(name + " answered: " + (rule.isEmpty() ? std::string("once, no rule made") : "rule " + rule.toStdString()));
    return Remove(prompt);
  }
  const auto* error = std::get_if<ui::ErrorReply>(&reply);
  if (error == nullptr) return;
  Note(name + " answer failed: " + std::string(ui::ErrorCodeName(error->code)) + ": " + error->message);
  if (error->code == ui::ErrorCode::kNotFound) return Remove(prompt);  // no longer pending
  if (Entry* entry = Find(prompt)) entry->answering = false;             // the user may try again
}

std::string Prompter::RenderPrompt(const Entry& entry, std::chrono::system_clock::time_point now) const {
  const PromptView& v = entry.view;
  std::string out = "prompt " + std::to_string(v.id);
  if (v.deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::seconds>(*v.deadline - now).count();
    out += ": " + std::to_string(std::max<int64_t>(0, left)) + " s left";
  }
  out += ", then the default applies: " + (v.default_action.empty() ? "?" : v.default_action) + " " +
         (v.default_duration.empty() ? "?" : v.default_duration) + "\n";
  out += "  program   " + (v.path.empty() ? std::string("(unknown)") : v.path) + "\n";
  if (!v.args.empty()) out += "  command   " + Join(v.args, " ") + "\n";
  std::string who = v.pid ? "pid " + std::to_string(*v.pid) : std::string("pid ?");
  if (v.uid) {
    const std::string user = !v.user.empty() ? v.user : (user_names_ ? user_names_(*v.uid) : std::string());
    who += ", user " + (user.empty() ? std::string("?") : user) + " (uid " + std::to_string(*v.uid) + ")";
  }
  out += "  process   " + who + "\n";
  if (!v.parents.empty()) {
    std::vector<std::string> chain;
    for (const auto& [pid, path] : v.parents) chain.push_back(path + " (" + std::to_string(pid) + ")");
    out += "  parents   " + Join(chain, " < ") + "\n";
  }
  if (!v.digest.empty()) out += "  digest    " + v.digest + "\n";
  std::string to = v.host.empty() ? v.ip : v.host + " (" + v.ip + ")";
  if (v.port) to += " port " + std::to_string(*v.port);
  out += "  to        " + to + " " + v.protocol + "\n\n";
  out += "  action    a allow · d deny · r reject\n";
  out += "  duration  0 once · 1 30s · 2 5m · 3 15m · 4 30m · 5 1h · 6 12h · 7 24h · 8 until-restart ·\n";
  out += "            9 until-process-exits · f always\n";
  out += "  scope     e executable · c command · h host · i ip · p port · u user (toggle)\n";
  out += "  Enter send · n next prompt · q quit\n\n";
  out += "  answer: " + std::string(ui::AnswerActionName(entry.action)) + " " +
         std::string(ui::AnswerDurationName(entry.duration)) + " scope " + ScopeText(entry.scope) +
         (entry.answering ? "  (sent, waiting for picketd)" : "") + "\n";
  return out;
}

std::string Prompter::Render(std::chrono::system_clock::time_point now) const {
  std::string out = "picket prompt: ";
  if (entries_.empty()) {
    out += "no open prompts; waiting (q quits)\n";
  } else {
    out += std::to_string(entries_.size()) + (entries_.size() == 1 ? " open prompt" : " open prompts") + "\n\n";
    out += RenderPrompt(entries_.front(), now);
  }
  if (!notes_.empty()) {
    out += "\n";
    for (const std::string& note : notes_) out += "* " + note + "\n";
  }
  return out;
}

}  // namespace picket::cli
