#include "daemon.h"

#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <QCoreApplication>
#include <QJsonObject>
#include <algorithm>

#include "ui/decision_event.h"

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

  queue_notifier_ = std::make_unique<QSocketNotifier>(queue_->fd(), QSocketNotifier::Read);
  QObject::connect(queue_notifier_.get(), &QSocketNotifier::activated, [this] { OnQueueReadable(); });
  signal_notifier_ = std::make_unique<QSocketNotifier>(signal_fd_.get(), QSocketNotifier::Read);
  QObject::connect(signal_notifier_.get(), &QSocketNotifier::activated, [this] { OnSignal(); });

  StartUi();
  PLOG(kInfo) << "ready: intercepting new outbound connections (backend=" << firewall_->backend_name()
              << ", attribution=" << process_->attribution_method()
              << ", queue=" << config_.queue_num << ", fail-" << FailModeName(config_.fail_mode) << ")";
  log::Flush();
  return OkStatus();
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
  Status sent = queue_->SendVerdicts();
  log::Flush();
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
  Status sent = queue_->SendVerdicts();
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
      DecidePacket(held, resumed);
    });
    return;
  }
  DecidePacket(packet, attribution);
}

void Daemon::DecidePacket(const QueuedPacket& packet, const Attribution& attribution) {
  const Flow& flow = *packet.flow;
  const std::vector<std::string>* hosts = names_->HostsFor(flow, packet.payload);
  const Decision decision = decider_.Decide(*rules_->current(), Connection{flow, attribution, hosts});
  ApplyDecision(packet, decision);
  if (decision.log) PLOG(kInfo) << DecisionLine(decision, flow, attribution) << NamesAndHistory::HostField(hosts);
  names_->Record(decision, flow, attribution, hosts);
  if (ui_ && ui_->HasEventSubscribers()) {
    ui_->PublishEvent(MakeDecisionEvent(decision, flow, attribution, hosts, NowRfc3339()));
  }
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
  hooks.rules_changed = [this] {
    if (process_) process_->ApplyRules(*rules_->current());
    log::Flush();
  };
  auto server = UiServer::Start(options, rules_.get(), std::move(hooks));
  if (!server.ok()) {
    PLOG(kWarn) << "ui: socket unavailable, running without clients: " << server.error().message;
    return;
  }
  ui_ = std::move(*server);
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
  return QJsonObject{
      {"daemon_version", QCoreApplication::applicationVersion()},
      {"attribution", "sock_diag + /proc fd scan find the PID, the exec-event store describes the process"},
      {"default_action", QString::fromUtf8(ActionName(decider_.default_action()).data(),
                                           static_cast<qsizetype>(ActionName(decider_.default_action()).size()))},
      {"fail_mode", QString::fromUtf8(FailModeName(config_.fail_mode).data(),
                                      static_cast<qsizetype>(FailModeName(config_.fail_mode).size()))},
      {"counters", counters}};
}

void Daemon::OnDecisionsResumed() {
  if (!queue_) return;
  Status sent = queue_->SendVerdicts();
  log::Flush();
  if (!sent.ok()) {
    PLOG(kError) << "queue: sending verdicts: " << sent.error().message;
    Shutdown(1);
  }
}

void Daemon::ApplyDecision(const QueuedPacket& packet, const Decision& decision) {
  ++decisions_;
  switch (decision.action) {
    case Action::kAllow:
      queue_->AddVerdict(packet.id, Verdict::kAccept, std::nullopt);
      break;
    case Action::kDeny:
      queue_->AddVerdict(packet.id, Verdict::kDrop, std::nullopt);
      break;
    case Action::kReject:
      // Accepted with the reject bit: the firewall's reject chain answers with RST / ICMP unreachable.
      queue_->AddVerdict(packet.id, Verdict::kAccept, packet.mark | config_.reject_mark);
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
}

Status Daemon::Stop() {
  if (stopped_) return OkStatus();
  stopped_ = true;
  ui_.reset();  // clients see the socket close; the socket file is removed
  queue_notifier_.reset();
  signal_notifier_.reset();
  rule_watcher_.reset();
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
    names_->Stop();
    names_->LogCounters();
  }
  log::Flush();
  return result;
}

}  // namespace picket
