#include "daemon.h"

#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <QCoreApplication>
#include <QJsonDocument>
#include <QJsonObject>
#include <algorithm>

#include "ui/decision_event.h"
#include "ui/stats_json.h"

namespace picket {
namespace {

Action ToAction(DefaultAction action) {
  switch (action) {
    case DefaultAction::kAllow: return Action::kAllow;
    case DefaultAction::kDeny: return Action::kDeny;
    case DefaultAction::kReject: return Action::kReject;
  }
  return Action::kDeny;
}

std::string_view FailModeName(FailMode mode) { return mode == FailMode::kOpen ? "open" : "closed"; }

constexpr std::chrono::milliseconds kLogFlushDelay{50};

}  // namespace

Daemon::Daemon(Config config) : config_(std::move(config)), decider_(ToAction(config_.default_action)) {}

Daemon::~Daemon() {
  Status s = Stop();
  if (!s.ok()) PLOG(kError) << "stop: " << s.error().message;
}

Status Daemon::Start() {
  // First: every thread started below (checksum worker, event-log writer …) inherits this mask, so
  // SIGINT/SIGTERM/SIGHUP only ever reach the signalfd, never kill picketd through another thread.
  if (Status s = BlockTerminationSignals(); !s.ok()) return s;
  users_ = std::make_unique<SystemUserDirectory>();
  rules_ = std::make_unique<RuleEngine>(RuleEngineOptions{config_.rules_dir, users_.get(), &SystemRuleClock(),
                                                          /*remove_ended_files=*/true});
  if (Status s = rules_->Reload(); !s.ok()) return Error{"rules: " + s.error().message};
  LogRuleProblems();
  PLOG(kInfo) << "rules: " << rules_->current()->size() << " loaded from " << config_.rules_dir << ", "
              << rules_->problems().size() << " problem(s); default action "
              << ActionName(decider_.default_action());
  auto watcher = RuleWatcher::Start(*rules_, RuleWatcherOptions{},
                                    [this](const RuleChangeReport& report) { OnRulesChanged(report); });
  if (watcher.ok()) {
    rule_watcher_ = std::move(*watcher);
  } else {
    PLOG(kWarn) << "rules: hot reload unavailable: " << watcher.error().message;
  }

  auto process = ProcessStage::Start(config_);
  if (!process.ok()) return process.error();
  process_ = std::move(*process);
  process_->ApplyRules(*rules_->current());
  process_->SetOnResumed([this] { OnDecisionsResumed(); });

  ProcfsAttributorOptions attributor_options;
  attributor_options.resolver = process_->resolver();
  auto attributor = ProcfsAttributor::Create(attributor_options);
  if (!attributor.ok()) return Error{"attribution: " + attributor.error().message};
  PLOG(kInfo) << "attribution: sock_diag + /proc fd scan find the PID, the exec-event store describes the process";
  attributor_ = process_->WrapAttributor(std::move(*attributor));
  if (attributor_ == nullptr) return Error{"attribution: kernel flow ownership could not start"};

  names_ = NamesAndHistory::Start(config_);
  StartPrompts();

  QueueOptions queue_options;
  queue_options.queue_num = config_.queue_num;
  queue_options.copy_range = config_.queue_copy_range;
  queue_options.max_len = config_.queue_max_len;
  queue_options.fail_mode = config_.fail_mode;
  auto queue = NfQueue::Open(queue_options);
  if (!queue.ok()) return Error{"queue: " + queue.error().message};
  queue_ = std::move(*queue);

  FirewallOptions firewall_options;
  firewall_options.queue_num = config_.queue_num;
  firewall_options.fail_mode = config_.fail_mode;
  firewall_options.reject_mark = config_.reject_mark;
  firewall_options.backend = config_.firewall_backend;
  firewall_options.dns_queue_num = names_->dns_queue_num();
  auto firewall = Firewall::Install(firewall_options);
  if (!firewall.ok()) return Error{"firewall: " + firewall.error().message};
  firewall_ = std::move(*firewall);
  StartFirewallWatch();

  log_flush_timer_.setSingleShot(true);
  log_flush_timer_.setInterval(kLogFlushDelay);
  QObject::connect(&log_flush_timer_, &QTimer::timeout, [] { log::Flush(); });
  queue_notifier_ = std::make_unique<QSocketNotifier>(queue_->fd(), QSocketNotifier::Read);
  QObject::connect(queue_notifier_.get(), &QSocketNotifier::activated, [this] { OnQueueReadable(); });
  signal_notifier_ = std::make_unique<QSocketNotifier>(signal_fd_.get(), QSocketNotifier::Read);
  QObject::connect(signal_notifier_.get(), &QSocketNotifier::activated, [this] { OnSignal(); });

  StartUi();
  PLOG(kInfo) << "ready: intercepting new outbound connections (backend=" << firewall_->display_name()
              << ", attribution=" << process_->attribution_method() << ", netfilter_hook=" << process_->netfilter_hook()
              << ", queue=" << config_.queue_num << ", fail-" << FailModeName(config_.fail_mode) << ")";
  log::Flush();
  return OkStatus();
}

void Daemon::StartFirewallWatch() {
  if (!config_.firewall_watch) {
    PLOG(kInfo) << "firewall watch: off (firewall_watch=false): rules deleted by another tool stay deleted";
    return;
  }
  auto watch = FirewallWatch::Start(firewall_.get(), [this](const std::string& message) {
    if (ui_) ui_->PublishAlert(ui::Severity::kWarning, message);
  });
  if (!watch.ok()) {
    PLOG(kWarn) << "firewall watch: off: " << watch.error().message
                << "; rules deleted by another tool stay deleted until picketd restarts";
    return;
  }
  firewall_watch_ = std::move(*watch);
  PLOG(kInfo) << "firewall watch: on (nf_tables events): rules deleted by another tool are re-installed";
}

Status Daemon::BlockTerminationSignals() {
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGHUP);
  if (sigprocmask(SIG_BLOCK, &mask, nullptr) != 0) return Error::FromErrno("sigprocmask");
  signal_fd_.reset(signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC));
  if (!signal_fd_.valid()) return Error::FromErrno("signalfd");
  return OkStatus();
}

void Daemon::OnSignal() {
  signalfd_siginfo info{};
  while (read(signal_fd_.get(), &info, sizeof(info)) == static_cast<ssize_t>(sizeof(info))) {
    PLOG(kInfo) << "signal " << strsignal(static_cast<int>(info.ssi_signo)) << ": stopping";
    Shutdown(0);
    return;
  }
}

void Daemon::OnQueueReadable() {
  auto handled = queue_->ReadAvailable([this](const QueuedPacket& packet) { HandlePacket(packet); });
  Status sent = SendVerdicts();
  ScheduleLogFlush();
  if (!handled.ok()) {
    PLOG(kError) << "queue: " << handled.error().message;
    Shutdown(1);
  } else if (!sent.ok()) {
    PLOG(kError) << "queue: sending verdicts: " << sent.error().message;
    Shutdown(1);
  }
}

void Daemon::DrainQueue() {
  // Packets already queued when the firewall rules went away would be dropped by the kernel when
  // the queue is unbound; decide them by the rules instead.
  auto handled = queue_->ReadAvailable([this](const QueuedPacket& packet) { HandlePacket(packet); });
  if (!handled.ok()) PLOG(kWarn) << "queue: draining: " << handled.error().message;
  if (process_) process_->ReleaseAll();  // packets still waiting for a digest: decided now
  if (prompts_) prompts_->ReleaseAll();  // flows still waiting for an answer: the default now
  Status sent = SendVerdicts();
  if (!sent.ok()) PLOG(kWarn) << "queue: draining: " << sent.error().message;
}

void Daemon::HandlePacket(const QueuedPacket& packet) {
  if (!packet.flow.ok()) {
    ++unparsed_;
    const Decision decision = decider_.DecideUnparsed();
    PLOG(kWarn) << "decision verdict=" << ActionName(decision.action) << " rule=default unparsed packet: "
                << packet.flow.error().message;
    ApplyDecision(packet, decision);
    names_->RecordUnparsed(decision);
    return;
  }
  Attribution attribution = attributor_->Attribute(*packet.flow);
  if (process_->gate().NeedsWait(attribution)) {
    // A rule needs the executable's digest, which the checksum worker is computing: this packet
    // waits without a verdict (the kernel holds it) and is decided when the digest is ready;
    // other packets go on. The payload is copied: it points into the queue's receive buffer.
    auto payload = std::make_shared<std::vector<uint8_t>>(packet.payload.begin(), packet.payload.end());
    process_->gate().Park(std::move(attribution), [this, held = packet, payload](Attribution resumed) mutable {
      held.payload = std::span<const uint8_t>(*payload);
      DecidePacket(held, std::move(resumed));
    });
    return;
  }
  DecidePacket(packet, std::move(attribution));
}

void Daemon::DecidePacket(const QueuedPacket& packet, Attribution attribution) {
  const Flow& flow = *packet.flow;
  const std::vector<std::string>* hosts = names_->HostsFor(flow, packet.payload);
  const Decision decision = decider_.Decide(*rules_->current(), Connection{flow, attribution, hosts});
  // No rule decides and a client can be asked: the packet waits for the answer without a verdict.
  if (prompts_ && prompts_->Hold(packet, attribution, hosts, decision)) return;
  ApplyDecision(packet, decision);
  RecordDecision(decision, flow, attribution, hosts);
}

// The log line, history row and event of a decision are made after the batch's verdicts are sent
// (FinishDecisions); the current rule set is kept so decision.rule stays valid until then.
void Daemon::RecordDecision(const Decision& decision, const Flow& flow, const Attribution& attribution,
                            const std::vector<std::string>* hosts) {
  decided_.push_back(DecidedPacket{decision, rules_->current(), flow, attribution,
                                   hosts != nullptr ? *hosts : std::vector<std::string>()});
}

Status Daemon::SendVerdicts() {
  Status sent = queue_->SendVerdicts();
  FinishDecisions();
  return sent;
}

void Daemon::FinishDecisions() {
  for (const DecidedPacket& d : decided_) {
    const std::vector<std::string>* hosts = d.hosts.empty() ? nullptr : &d.hosts;
    if (d.decision.log && log::Enabled(log::Level::kInfo)) {
      log::Write(log::Level::kInfo, DecisionLine(d.decision, d.flow, d.attribution) + NamesAndHistory::HostField(hosts));
    }
    names_->Record(d.decision, d.flow, d.attribution, hosts);
    if (ui_ && ui_->HasEventSubscribers()) {
      ui_->PublishEvent(MakeDecisionEvent(d.decision, d.flow, d.attribution, hosts, NowRfc3339()));
    }
  }
  decided_.clear();
}

void Daemon::ScheduleLogFlush() {
  if (!log_flush_timer_.isActive()) log_flush_timer_.start();
}

void Daemon::StartPrompts() {
  PromptHooks hooks;
  hooks.verdict = [this](const HeldPacket& packet, Action action) { ApplyVerdict(packet.id, packet.mark, action); };
  hooks.record = [this](const PendingFlow& flow, const Decision& decision) {
    RecordDecision(decision, flow.flow, flow.attribution, flow.hosts.empty() ? nullptr : &flow.hosts);
  };
  hooks.flush = [this] { OnDecisionsResumed(); };
  hooks.hosts_for = [this](const IpAddress& address) { return names_->NamesFor(address); };
  hooks.rules_changed = [this] {
    if (process_) process_->ApplyRules(*rules_->current());
  };
  prompts_ = std::make_unique<PromptStage>(config_, rules_.get(), &decider_, std::move(hooks));
  prompts_->SetWatcher(rule_watcher_.get());
  names_->SetOnNamesLearned([this] { prompts_->OnNamesLearned(); });
}

// The UI socket is not needed to enforce rules: when it cannot be created picketd runs without it
// (and says why).
void Daemon::StartUi() {
  if (config_.ui_socket.empty()) {
    PLOG(kInfo) << "ui: no socket (ui_socket is empty)";
    return;
  }
  UiServerOptions options;
  options.socket_path = config_.ui_socket;
  options.group = config_.ui_group;
  options.max_client_queue_bytes = config_.ui_client_queue_bytes;
  options.max_clients = config_.ui_max_clients;
  options.server_name = "picketd " + QCoreApplication::applicationVersion().toStdString();
  UiServerHooks hooks;
  hooks.status = [this] { return UiStatus(); };
  hooks.stats = [this](size_t top) { return UiStats(top); };
  hooks.config = [this] { return QJsonDocument::fromJson(QByteArray::fromStdString(ConfigToJson(config_))).object(); };
  hooks.set_config = [this](const std::string& key, const QJsonValue& value) { return SetRuntimeConfig(key, value); };
  hooks.rules_changed = [this] {
    if (process_) process_->ApplyRules(*rules_->current());
    if (prompts_) prompts_->ReDecide();
    log::Flush();
  };
  hooks.answer = [this](const ui::Answer& answer, const UiPeer& peer) { return prompts_->Answer(answer, peer); };
  hooks.prompts_unwatched = [this] { prompts_->ReleaseAll(); };
  auto server = UiServer::Start(options, rules_.get(), std::move(hooks));
  if (!server.ok()) {
    PLOG(kWarn) << "ui: socket unavailable, running without clients: " << server.error().message;
    return;
  }
  ui_ = std::move(*server);
  prompts_->SetUi(ui_.get());
  for (const std::string& problem : logged_rule_problems_) ui_->PublishAlert(ui::Severity::kWarning, "rule file " + problem);
  AlertDegradedModes();
  alert_timer_ = std::make_unique<QTimer>();
  QObject::connect(alert_timer_.get(), &QTimer::timeout, [this] { AlertDegradedModes(); });
  alert_timer_->start(std::chrono::seconds(10));
}

void Daemon::AlertDegradedModes() {
  if (!ui_ || !names_) return;
  std::vector<std::string> now = names_->Degraded();
  for (const std::string& condition : now) {
    if (std::find(alerted_degraded_.begin(), alerted_degraded_.end(), condition) == alerted_degraded_.end()) {
      ui_->PublishAlert(ui::Severity::kError, condition + " (deciding goes on)");
    }
  }
  alerted_degraded_ = std::move(now);
}

// `stats`: the pipeline counters of `status` and the live statistics since start (bounded per
// dimension by LiveStats; `other_keys` counts what went to "(other)").
QJsonObject Daemon::UiStats(size_t top) const {
  QJsonObject data{{"counters", UiStatus().value(QLatin1String("counters"))}, {"top", static_cast<double>(top)}};
  if (names_) {
    data["decisions"] = StatsSnapshotToJson(names_->live_stats().Snapshot(top));
    data["other_keys"] = static_cast<double>(names_->live_stats().overflowed());
  }
  return data;
}

Status Daemon::SetRuntimeConfig(const std::string& key, const QJsonValue& value) {
  auto changed = SetRuntimeConfigKey(config_, key, ui::EncodeValue(value));
  if (!changed.ok()) return changed.error();
  config_ = std::move(*changed);
  decider_ = Decider(ToAction(config_.default_action));
  log::SetLevel(config_.log_level);
  if (prompts_) prompts_->ApplyConfig(config_);
  PLOG(kInfo) << "config: " << key << " changed at run time (default action " << ActionName(decider_.default_action())
              << ", log level " << log::LevelName(config_.log_level) << ")";
  return OkStatus();
}

QJsonObject Daemon::UiStatus() const {
  QJsonObject counters{{"decisions", static_cast<double>(decisions_)}, {"unparsed", static_cast<double>(unparsed_)}};
  if (queue_) {
    const QueueCounters& q = queue_->counters();
    counters["packets"] = static_cast<double>(q.packets);
    counters["verdict_batches"] = static_cast<double>(q.verdict_batches);
    counters["enobufs"] = static_cast<double>(q.enobufs);
  }
  if (ui_) counters["ui_dropped_clients"] = static_cast<double>(ui_->dropped_clients());
  if (firewall_watch_) counters["firewall_reinstalls"] = static_cast<double>(firewall_watch_->reinstalls());
  if (prompts_) {
    const PendingCounters& p = prompts_->table().counters();
    counters["prompts"] = static_cast<double>(p.prompts);
    counters["prompts_pending"] = static_cast<double>(prompts_->table().prompt_count());
    counters["prompts_answered"] = static_cast<double>(prompts_->counters().answered);
    counters["prompts_timed_out"] = static_cast<double>(p.timed_out);
    counters["prompts_overflow"] = static_cast<double>(p.overflow + p.overflow_joins);
  }
  return QJsonObject{
      {"daemon_version", QCoreApplication::applicationVersion()},
      {"attribution", QString::fromStdString(std::string(process_->attribution_method()) +
                                             " (netfilter_hook=" + process_->netfilter_hook() + ")")},
      {"default_action", QString::fromUtf8(ActionName(decider_.default_action()).data(),
                                           static_cast<qsizetype>(ActionName(decider_.default_action()).size()))},
      {"fail_mode", QString::fromUtf8(FailModeName(config_.fail_mode).data(),
                                      static_cast<qsizetype>(FailModeName(config_.fail_mode).size()))},
      {"counters", counters}};
}

void Daemon::OnDecisionsResumed() {
  if (!queue_) return;
  Status sent = SendVerdicts();
  ScheduleLogFlush();
  if (!sent.ok()) {
    PLOG(kError) << "queue: sending verdicts: " << sent.error().message;
    Shutdown(1);
  }
}

void Daemon::ApplyDecision(const QueuedPacket& packet, const Decision& decision) {
  ApplyVerdict(packet.id, packet.mark, decision.action);
}

void Daemon::ApplyVerdict(uint32_t packet_id, uint32_t mark, Action action) {
  ++decisions_;
  switch (action) {
    case Action::kAllow:
      queue_->AddVerdict(packet_id, Verdict::kAccept, std::nullopt);
      break;
    case Action::kDeny:
      queue_->AddVerdict(packet_id, Verdict::kDrop, std::nullopt);
      break;
    case Action::kReject:
      // Accepted with the reject bit: the firewall's reject chain answers with RST / ICMP unreachable.
      queue_->AddVerdict(packet_id, Verdict::kAccept, mark | config_.reject_mark);
      break;
  }
}

void Daemon::LogRuleProblems() {
  std::vector<std::string> now;
  for (const LoadProblem& problem : rules_->problems()) {
    // An error without a previous good version means the rule is not in force.
    const bool skipped = problem.severity == LoadProblem::Severity::kError &&
                         problem.reason.find("previous version stays active") == std::string::npos;
    now.push_back(problem.ToString() + (skipped ? " (skipped)" : ""));
  }
  for (const std::string& problem : now) {
    if (std::find(logged_rule_problems_.begin(), logged_rule_problems_.end(), problem) == logged_rule_problems_.end()) {
      PLOG(kWarn) << "rule file " << problem;
      if (ui_) ui_->PublishAlert(ui::Severity::kWarning, "rule file " + problem);
    }
  }
  logged_rule_problems_ = std::move(now);
}

void Daemon::OnRulesChanged(const RuleChangeReport& report) {
  if (!report.status.ok()) {
    PLOG(kError) << "rules: reload failed, keeping the current rules: " << report.status.error().message;
  }
  for (const std::string& name : report.ended) PLOG(kInfo) << "rules: rule " << name << " ended";
  if (report.kind == RuleChange::kReloaded) LogRuleProblems();
  if (report.rules_replaced && process_) process_->ApplyRules(*rules_->current());
  if (report.rules_replaced && prompts_) prompts_->ReDecide();
  if (report.rules_replaced) {
    PLOG(kInfo) << "rules: " << rules_->current()->size() << " active after "
                << (report.kind == RuleChange::kReloaded ? "reload" : "expiry");
  }
  log::Flush();
}

void Daemon::Shutdown(int exit_code) {
  exit_code_ = exit_code;
  Status s = Stop();
  if (!s.ok()) {
    PLOG(kError) << "stop: " << s.error().message;
    exit_code_ = 1;
  }
  QCoreApplication::exit(exit_code_);
}

void Daemon::LogCounters() const {
  const QueueCounters& q = queue_->counters();
  PLOG(kInfo) << "counters: decisions=" << decisions_ << " unparsed=" << unparsed_ << " packets=" << q.packets
              << " verdict_batches=" << q.verdict_batches << " enobufs=" << q.enobufs;
  if (prompts_) prompts_->LogCounters();
}

Status Daemon::Stop() {
  if (stopped_) return OkStatus();
  stopped_ = true;
  if (prompts_) prompts_->SetUi(nullptr);
  alert_timer_.reset();
  ui_.reset();  // clients see the socket close; the socket file is removed
  queue_notifier_.reset();
  signal_notifier_.reset();
  if (prompts_) prompts_->SetWatcher(nullptr);
  log_flush_timer_.stop();  // the final log::Flush() below writes what is buffered
  rule_watcher_.reset();
  if (firewall_watch_) {
    PLOG(kInfo) << "firewall watch: " << firewall_watch_->reinstalls() << " re-installs after "
                << firewall_watch_->checks() << " checks";
    firewall_watch_.reset();  // before Remove(): Picket's own removal is no tampering
  }
  Status result;
  if (firewall_) {
    result = firewall_->Remove();
    if (result.ok()) PLOG(kInfo) << "firewall: rules removed";
    firewall_.reset();
  }
  if (queue_) {
    DrainQueue();
    LogCounters();
    queue_.reset();
  }
  if (process_) {
    process_->LogCounters();
    attributor_.reset();  // the flow attributor borrows the process stage's tracker
    process_.reset();
  }
  if (names_) {
    names_->SetOnNamesLearned(nullptr);
    names_->Stop();
    names_->LogCounters();
  }
  log::Flush();
  return result;
}

}  // namespace picket
