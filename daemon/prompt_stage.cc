#include "prompt_stage.h"

#include <QDateTime>

#include <algorithm>

#include "common/log.h"
#include "ui/prompt_event.h"

namespace picket {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr ui::AnswerDuration kAllDurations[] = {
    ui::AnswerDuration::kOnce, ui::AnswerDuration::k30s, ui::AnswerDuration::k5m, ui::AnswerDuration::k15m,
    ui::AnswerDuration::k30m, ui::AnswerDuration::k1h, ui::AnswerDuration::k12h, ui::AnswerDuration::k24h,
    ui::AnswerDuration::kUntilRestart, ui::AnswerDuration::kUntilProcessExits, ui::AnswerDuration::kAlways};

// The scope of a rule made when a prompt times out with a duration other than once.
const std::vector<ui::ScopeField> kTimeoutScope = {ui::ScopeField::kExecutable, ui::ScopeField::kHost,
                                                   ui::ScopeField::kPort};

std::string Rfc3339In(SteadyClock::duration from_now) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(from_now).count();
  return QDateTime::currentDateTimeUtc().addMSecs(ms).toString(Qt::ISODateWithMs).toStdString();
}

const Rule* FindRule(const RuleSet& rules, const std::string& name) {
  for (const Rule& rule : rules.rules()) {
    if (rule.name == name) return &rule;
  }
  return nullptr;
}

}  // namespace

ui::AnswerDuration AnswerDurationNamed(std::string_view name) {
  for (ui::AnswerDuration d : kAllDurations) {
    if (ui::AnswerDurationName(d) == name) return d;
  }
  return ui::AnswerDuration::kOnce;
}

PromptStage::PromptStage(const Config& config, RuleEngine* rules, const Decider* decider, PromptHooks hooks)
    : rules_(rules),
      decider_(decider),
      hooks_(std::move(hooks)),
      table_(PendingTableOptions{config.prompt_max_pending_packets, config.prompt_max_prompts,
                                 std::chrono::seconds(config.prompt_timeout_seconds)}),
      default_duration_(AnswerDurationNamed(config.prompt_default_duration)),
      timer_(std::make_unique<QTimer>()) {
  timer_->setSingleShot(true);
  QObject::connect(timer_.get(), &QTimer::timeout, [this] { OnDeadline(); });
}

PromptStage::~PromptStage() { timer_.reset(); }

void PromptStage::ApplyConfig(const Config& config) {
  table_.set_timeout(std::chrono::seconds(config.prompt_timeout_seconds));
  default_duration_ = AnswerDurationNamed(config.prompt_default_duration);
}

ui::AnswerDuration PromptStage::DefaultDurationOf(uint64_t prompt_id) const {
  auto it = prompt_defaults_.find(prompt_id);
  return it != prompt_defaults_.end() ? it->second : default_duration_;
}

bool PromptStage::Hold(const QueuedPacket& packet, const Attribution& attribution,
                       const std::vector<std::string>* hosts, const Decision& by_rules) {
  const Flow& flow = *packet.flow;
  const bool pending = table_.HasFlow(flow);
  if (!pending) {
    if (by_rules.rule != nullptr || ui_ == nullptr || !ui_->HasPromptSubscribers()) return false;
    if (attribution.kind != AttributionKind::kProcess) return false;
  }
  const PendingAdded added = table_.Add(flow, attribution, hosts, HeldPacket{packet.id, packet.mark}, SteadyClock::now());
  switch (added.outcome) {
    case PendingOutcome::kOverflow:
      PLOG(kWarn) << "prompt: " << table_.prompt_count() << " prompts / " << table_.packet_count()
                  << " packets pending (prompt_max_prompts / prompt_max_pending_packets): default applied";
      return false;
    case PendingOutcome::kOverflowJoin:
      hooks_.verdict(HeldPacket{packet.id, packet.mark}, Action::kDeny);  // its flow's first packet is still held
      return true;
    case PendingOutcome::kNewPrompt:
      prompt_defaults_[added.prompt_id] = default_duration_;
      Publish(*table_.Find(added.prompt_id));
      ArmTimer();
      return true;
    case PendingOutcome::kJoinedPrompt:
    case PendingOutcome::kJoinedFlow: return true;
  }
  return false;
}

void PromptStage::Publish(const PendingPrompt& prompt) {
  if (ui_ == nullptr) return;
  const auto left = prompt.deadline - SteadyClock::now();
  ui_->PublishPrompt(MakePromptEvent(prompt, Rfc3339In(left), decider_->default_action(),
                                     ui::AnswerDurationName(DefaultDurationOf(prompt.id))));
}

void PromptStage::Close(uint64_t prompt_id) {
  prompt_defaults_.erase(prompt_id);
  if (ui_ != nullptr) ui_->PublishPrompt(ClosedPromptEvent(prompt_id));
}

void PromptStage::Release(PendingFlow& flow, const Decision& decision) {
  for (const HeldPacket& packet : flow.packets) hooks_.verdict(packet, decision.action);
  hooks_.record(flow, decision);
}

void PromptStage::ReleasePrompt(PendingPrompt& prompt, const Decision& decision) {
  for (PendingFlow& flow : prompt.flows) Release(flow, decision);
}

std::variant<std::string, UiRefusal> PromptStage::AddAnswerRule(const PendingPrompt& prompt,
                                                                 const AnswerChoice& choice) {
  const PendingFlow& first = prompt.flows.front();
  const PromptFacts facts = PromptFactsOf(prompt.id, first.flow, first.attribution, &first.hosts);
  std::shared_ptr<const RuleSet> current = rules_->current();
  auto made = MakeAnswerRule(facts, choice, rules_->clock().Now(),
                             [&](const std::string& name) { return FindRule(*current, name) != nullptr; });
  if (!made.ok()) return UiRefusal{ui::ErrorCode::kInvalid, made.error().message};
  if (!made->has_value()) return std::string();
  Rule rule = std::move(**made);
  const std::string name = rule.name;
  std::optional<ProcessKey> owner;
  if (rule.lifetime.kind == LifetimeKind::kUntilProcessExits) owner = facts.process;
  if (Status s = rules_->AddRule(std::move(rule), owner); !s.ok()) {
    return UiRefusal{ui::ErrorCode::kFailed, "rule " + name + ": " + s.error().message};
  }
  if (watcher_ != nullptr) watcher_->RescheduleSweep();
  if (hooks_.rules_changed) hooks_.rules_changed();
  PLOG(kInfo) << "prompt: rule " << name << " made (" << RuleDurationText(choice.duration) << ")";
  return name;
}

std::variant<QJsonObject, UiRefusal> PromptStage::Answer(const ui::Answer& answer, const UiPeer& peer) {
  const PendingPrompt* prompt = table_.Find(answer.prompt);
  if (prompt == nullptr) {
    return UiRefusal{ui::ErrorCode::kNotFound, "prompt " + std::to_string(answer.prompt) + " is not pending"};
  }
  const AnswerChoice choice{answer.action, answer.duration, answer.scope};
  std::variant<std::string, UiRefusal> added = AddAnswerRule(*prompt, choice);
  if (auto* refusal = std::get_if<UiRefusal>(&added)) return std::move(*refusal);
  const std::string& name = std::get<std::string>(added);
  std::optional<PendingPrompt> taken = table_.Take(answer.prompt);
  std::shared_ptr<const RuleSet> current = rules_->current();
  Decision decision{ActionOf(answer.action), nullptr, true, DecisionSource::kPrompt};
  if (!name.empty()) decision.rule = FindRule(*current, name);
  if (decision.rule != nullptr) decision.log = !decision.rule->nolog;
  ReleasePrompt(*taken, decision);
  ++counters_.answered;
  PLOG(kInfo) << "prompt: " << answer.prompt << " answered " << ActionName(decision.action) << " ("
              << taken->flows.size() << " flow(s)) by uid " << peer.uid;
  Close(answer.prompt);
  if (!name.empty()) ReDecide();
  ArmTimer();
  hooks_.flush();
  QJsonObject data;
  if (!name.empty()) data["rule"] = QString::fromStdString(name);
  return data;
}

void PromptStage::ReDecide() {
  if (table_.prompt_count() == 0) return;
  std::shared_ptr<const RuleSet> current = rules_->current();
  // Decide consumes a `once` rule that decides: each flow is decided exactly once here.
  std::vector<uint64_t> emptied = table_.ReleaseFlowsIf([&](uint64_t, PendingFlow& flow) {
    const std::vector<std::string>* hosts = flow.hosts.empty() ? nullptr : &flow.hosts;
    const Decision decision = decider_->Decide(*current, Connection{flow.flow, flow.attribution, hosts});
    if (decision.rule == nullptr) return false;
    Release(flow, decision);
    ++counters_.released_by_rules;
    return true;
  });
  for (uint64_t id : emptied) Close(id);
  ArmTimer();
  hooks_.flush();
}

void PromptStage::OnNamesLearned() {
  if (table_.prompt_count() == 0 || !hooks_.hosts_for) return;
  for (uint64_t id : table_.FillHosts(hooks_.hosts_for)) {
    Publish(*table_.Find(id));
    ++counters_.resent_with_host;
  }
  ReDecide();
}

void PromptStage::ReleaseAll() {
  std::vector<PendingPrompt> all = table_.TakeAll();
  if (all.empty()) return;
  const Decision decision = decider_->DecideUnparsed();  // the default action, no rule
  for (PendingPrompt& prompt : all) {
    counters_.released_default += prompt.flows.size();
    ReleasePrompt(prompt, decision);
    Close(prompt.id);
  }
  PLOG(kInfo) << "prompt: " << all.size() << " pending prompt(s) given the default (no prompts client)";
  ArmTimer();
  hooks_.flush();
}

void PromptStage::OnDeadline() {
  std::vector<PendingPrompt> expired = table_.TakeExpired(SteadyClock::now());
  bool made_rule = false;
  for (PendingPrompt& prompt : expired) {
    const Decision decision{decider_->default_action(), nullptr, true, DecisionSource::kTimeout};
    const ui::AnswerDuration duration = DefaultDurationOf(prompt.id);
    if (duration != ui::AnswerDuration::kOnce) {
      const AnswerChoice choice{AnswerActionOf(decision.action), duration, kTimeoutScope};
      std::variant<std::string, UiRefusal> added = AddAnswerRule(prompt, choice);
      if (auto* refusal = std::get_if<UiRefusal>(&added)) {
        PLOG(kWarn) << "prompt: " << prompt.id << " timed out; no rule made: " << refusal->message;
      }
      made_rule = made_rule || std::holds_alternative<std::string>(added);
    }
    PLOG(kInfo) << "prompt: " << prompt.id << " timed out: " << ActionName(decision.action) << " ("
                << prompt.flows.size() << " flow(s))";
    ReleasePrompt(prompt, decision);
    Close(prompt.id);
  }
  if (made_rule) ReDecide();
  ArmTimer();
  hooks_.flush();
}

void PromptStage::ArmTimer() {
  std::optional<SteadyClock::time_point> next = table_.NextDeadline();
  if (!next) {
    timer_->stop();
    return;
  }
  const auto wait = std::chrono::ceil<std::chrono::milliseconds>(*next - SteadyClock::now());
  timer_->start(std::max<std::chrono::milliseconds>(wait, std::chrono::milliseconds(0)));
}

void PromptStage::LogCounters() const {
  const PendingCounters& c = table_.counters();
  PLOG(kInfo) << "counters: prompts opened=" << c.prompts << " flows=" << c.flows << " packets=" << c.packets
              << " joined_flow=" << c.joined_flow << " joined_prompt=" << c.joined_prompt << " answered="
              << counters_.answered << " timed_out=" << c.timed_out << " released_by_rules="
              << counters_.released_by_rules << " released_default=" << counters_.released_default
              << " overflow=" << c.overflow << " overflow_joins=" << c.overflow_joins
              << " resent_with_host=" << counters_.resent_with_host;
}

}  // namespace picket
