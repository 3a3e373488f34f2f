// PromptStage: picketd's prompt policy around the PendingTable (verdict/pending_table.h).
//
//   Hold()            a flow no rule decides, attributed to a process, while an admin client is
//                     subscribed to `prompts`: its packet is held without a verdict and a prompt
//                     is published (further packets of the flow, and flows of the same program to
//                     the same destination, join). No subscriber, or the table full → not held: the
//                     caller applies the default at once.
//   Answer()          the first answer wins: the rule is made (verdict/answer_rule.h) and added to
//                     the RuleEngine (`always` saved atomically), the prompt's flows get the answer's
//                     action (logged with the rule's name, or `prompt` for once), the other
//                     subscribers get `{"closed":true}`, and every pending flow is re-decided.
//   deadline          one single-shot timer at the earliest deadline: the default action (and a rule
//                     of prompt_default_duration unless `once`), logged as `timeout`.
//   ReDecide()        after any rule change: a rule that now decides a pending flow releases it.
//   OnNamesLearned()  a DNS name learned for a pending prompt's destination re-sends the prompt
//                     (same id) with `host`, then re-decides (dest.host rules).
//   ReleaseAll()      the last prompts subscriber left, or shutdown: the default at once.
// Verdicts and records go through the daemon's callbacks (ReleaseHooks); `flush` sends the batch.
// Ownership: owns the table and timer; borrows the engine, watcher, decider and UI server.
// Thread-safety: event-loop thread only. REQUIRES: a QCoreApplication exists.
#pragma once

#include <QJsonObject>
#include <QTimer>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "config.h"
#include "netfilter/nfqueue.h"
#include "rules/rule_engine.h"
#include "rules/rule_watcher.h"
#include "ui/ui_server.h"
#include "verdict/answer_rule.h"
#include "verdict/decider.h"
#include "verdict/pending_table.h"

namespace picket {

struct PromptHooks {
  // One held packet's verdict (no log line).
  std::function<void(const HeldPacket& packet, Action action)> verdict;
  // One released flow: log line, history row, event (once per flow).
  std::function<void(const PendingFlow& flow, const Decision& decision)> record;
  // Send the verdicts added so far and flush the log.
  std::function<void()> flush;
  // The DNS names known now for an address.
  std::function<std::vector<std::string>(const IpAddress& address)> hosts_for;
  // After the stage added a rule (process stage needs, etc.).
  std::function<void()> rules_changed;
};

struct PromptCounters {
  uint64_t answered = 0;
  uint64_t released_by_rules = 0;  // flows a rule change decided while pending
  uint64_t released_default = 0;   // flows given the default when the last subscriber left / at stop
  uint64_t resent_with_host = 0;   // prompts re-sent when their destination's name was learned
};

class PromptStage {
 public:
  PromptStage(const Config& config, RuleEngine* rules, const Decider* decider, PromptHooks hooks);
  ~PromptStage();
  PromptStage(const PromptStage&) = delete;
  PromptStage& operator=(const PromptStage&) = delete;

  void SetUi(UiServer* ui) { ui_ = ui; }
  void SetWatcher(RuleWatcher* watcher) { watcher_ = watcher; }
  // Run-time config (`config set`): prompt_timeout_seconds and prompt_default_duration apply to
  // prompts opened from now on; open prompts keep the deadline and default they were shown with.
  void ApplyConfig(const Config& config);

  // True when the packet was taken (held, or dropped as a pending flow's packet over the bound):
  // the caller must not decide it. `by_rules` is the rules' decision for it.
  bool Hold(const QueuedPacket& packet, const Attribution& attribution, const std::vector<std::string>* hosts,
            const Decision& by_rules);
  std::variant<QJsonObject, UiRefusal> Answer(const ui::Answer& answer, const UiPeer& peer);
  void ReDecide();
  void OnNamesLearned();
  void ReleaseAll();

  const PendingTable& table() const { return table_; }
  const PromptCounters& counters() const { return counters_; }
  void LogCounters() const;

 private:
  void Publish(const PendingPrompt& prompt);
  void Close(uint64_t prompt_id);
  ui::AnswerDuration DefaultDurationOf(uint64_t prompt_id) const;
  void Release(PendingFlow& flow, const Decision& decision);
  void ReleasePrompt(PendingPrompt& prompt, const Decision& decision);
  // Makes and adds the rule for `choice`; the name, "" for once, or the refusal.
  std::variant<std::string, UiRefusal> AddAnswerRule(const PendingPrompt& prompt, const AnswerChoice& choice);
  void OnDeadline();
  void ArmTimer();

  RuleEngine* rules_;
  const Decider* decider_;
  PromptHooks hooks_;
  UiServer* ui_ = nullptr;
  RuleWatcher* watcher_ = nullptr;
  PendingTable table_;
  ui::AnswerDuration default_duration_ = ui::AnswerDuration::kOnce;  // for prompts opened from now on
  std::map<uint64_t, ui::AnswerDuration> prompt_defaults_;           // open prompt id → its default duration
  std::unique_ptr<QTimer> timer_;
  PromptCounters counters_;
};

// The protocol duration named `name` ("once", "5m", "until-restart" …); kOnce when unknown.
ui::AnswerDuration AnswerDurationNamed(std::string_view name);

}  // namespace picket
