// Daemon: the composition root. Owns every pipeline stage and wires them together on the Qt
// event loop: queue fd readable → parse → attribute → decide → batch of verdicts → log lines.
//
// Start order: rules (a missing rules dir is fatal), attributor, queue bound, firewall rules
// installed, "ready:" logged. Stop order is the reverse: firewall rules removed first (so nothing
// is queued to a closing socket), then the queue is unbound.
// Ownership: owns all stages through unique_ptr. Thread-safety: event-loop thread only.
#pragma once

#include <QObject>
#include <QTimer>
#include <QSocketNotifier>
#include <QTimer>

#include <memory>

#include "common/unique_fd.h"
#include "config.h"
#include "firewall_watch.h"
#include "names_and_history.h"
#include "netfilter/firewall.h"
#include "netfilter/nfqueue.h"
#include "process/attributor.h"
#include "process_stage.h"
#include "prompt_stage.h"
#include "rules/rule_engine.h"
#include "rules/rule_watcher.h"
#include "rules/users.h"
#include "ui/ui_server.h"
#include "verdict/decider.h"

namespace picket {

class Daemon {
 public:
  explicit Daemon(Config config);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Loads rules, binds the queue, installs the firewall, hooks SIGINT/SIGTERM into the event loop.
  // On error nothing stays installed. REQUIRES: a QCoreApplication exists.
  Status Start();

  // Removes the firewall rules and unbinds the queue; idempotent. Returns the first error.
  Status Stop();

  // Exit code the event loop should end with after a stop (0 clean, 1 after a runtime failure).
  int exit_code() const { return exit_code_; }

 private:
  Status BlockTerminationSignals();
  void StartFirewallWatch();  // per config_.firewall_watch; logs why when it cannot run
  void OnQueueReadable();
  void OnSignal();
  void DrainQueue();
  void HandlePacket(const QueuedPacket& packet);
  // Decides an attributed packet (at once, or when a held digest is ready), logs and records it.
  void DecidePacket(const QueuedPacket& packet, Attribution attribution);
  // Sends the pending verdicts, then logs, records and publishes their decisions (FinishDecisions).
  Status SendVerdicts();
  // The work a decision needs after its verdict is on its way: log line, statistics and event log,
  // UI event. Kept off the verdict's path so the kernel re-injects the packet first.
  void FinishDecisions();
  // Decision lines are written at most kLogFlushDelay after they were made (one write for every
  // decision of that interval, not one per batch); warnings and errors are written at once.
  void ScheduleLogFlush();
  // Sends the verdicts of decisions resumed by the checksum worker.
  void OnDecisionsResumed();
  void ApplyDecision(const QueuedPacket& packet, const Decision& decision);
  void ApplyVerdict(uint32_t packet_id, uint32_t mark, Action action);
  // The decision's log line, history row and UI event.
  void RecordDecision(const Decision& decision, const Flow& flow, const Attribution& attribution,
                      const std::vector<std::string>* hosts);
  void StartPrompts();
  void Shutdown(int exit_code);
  void LogCounters() const;
  void OnRulesChanged(const RuleChangeReport& report);
  void LogRuleProblems();
  void StartUi();
  QJsonObject UiStatus() const;
  QJsonObject UiStats(size_t top) const;
  Status SetRuntimeConfig(const std::string& key, const QJsonValue& value);
  void AlertDegradedModes();  // new "history off" / "dns off" conditions → UI alerts

  Config config_;
  Decider decider_;
  std::unique_ptr<SystemUserDirectory> users_;
  std::unique_ptr<RuleEngine> rules_;         // current() is the rule set packets are decided by
  std::unique_ptr<RuleWatcher> rule_watcher_;  // hot reload of the rules and list directories
  std::vector<std::string> logged_rule_problems_;
  std::vector<std::string> alerted_degraded_;  // conditions already told to the UI's alerts
  std::unique_ptr<QTimer> alert_timer_;        // checks for degraded modes while the UI is up
  std::unique_ptr<ProcessStage> process_;  // exec-event store, checksums, decisions waiting for a digest
  std::unique_ptr<Attributor> attributor_;
  std::unique_ptr<NfQueue> queue_;
  std::unique_ptr<Firewall> firewall_;
  std::unique_ptr<FirewallWatch> firewall_watch_;  // null when off; destroyed before firewall_
  std::unique_ptr<NamesAndHistory> names_;  // DNS names (dest.host) and the event log of decisions
  std::unique_ptr<PromptStage> prompts_;    // flows waiting for an answer (prompts); needs ui_ to ask
  std::unique_ptr<UiServer> ui_;            // clients' socket (status, rules, live events); null when off
  UniqueFd signal_fd_;
  std::unique_ptr<QSocketNotifier> queue_notifier_;
  std::unique_ptr<QSocketNotifier> signal_notifier_;
  struct DecidedPacket {  // a decision whose verdict is pending: FinishDecisions() completes it
    Decision decision;
    std::shared_ptr<const RuleSet> rules;  // keeps decision.rule alive
    Flow flow;
    Attribution attribution;
    std::vector<std::string> hosts;  // dest.host names; empty when none
  };
  std::vector<DecidedPacket> decided_;
  QTimer log_flush_timer_;
  uint64_t decisions_ = 0;
  uint64_t unparsed_ = 0;
  int exit_code_ = 0;
  bool stopped_ = false;
};

}  // namespace picket
