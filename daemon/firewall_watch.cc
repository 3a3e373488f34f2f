#include "firewall_watch.h"

#include <QObject>

#include <utility>

#include "common/log.h"

namespace picket {

Result<std::unique_ptr<FirewallWatch>> FirewallWatch::Start(Firewall* firewall, AlertFn alert) {
  if (firewall->change_events() != RuleChangeEvents::kNfTables) {
    if (firewall->tools_variant() == "legacy") {
      return Error{"the " + firewall->display_name() +
                   " backend runs on legacy iptables (x_tables), whose changes the kernel does not announce"};
    }
    return Error{"the " + firewall->display_name() +
                 " backend's tools are of an unknown variant, so changes to its rules may not be announced"};
  }
  auto events = NftEventSocket::Open();
  if (!events.ok()) return events.error();
  return std::unique_ptr<FirewallWatch>(new FirewallWatch(firewall, std::move(alert), std::move(*events)));
}

FirewallWatch::FirewallWatch(Firewall* firewall, AlertFn alert, std::unique_ptr<NftEventSocket> events)
    : firewall_(firewall),
      alert_(std::move(alert)),
      events_(std::move(events)),
      notifier_(events_->fd(), QSocketNotifier::Read) {
  debounce_.setSingleShot(true);
  debounce_.setInterval(kDebounce);
  QObject::connect(&debounce_, &QTimer::timeout, [this] { Check(); });
  QObject::connect(&notifier_, &QSocketNotifier::activated, [this] { OnReadable(); });
}

void FirewallWatch::OnReadable() {
  auto counts = events_->ReadAvailable();
  if (!counts.ok()) {
    PLOG(kWarn) << "firewall watch: " << counts.error().message << "; checking the rules";
  } else if (counts->deletions == 0 && !counts->overflowed) {
    return;
  }
  if (!debounce_.isActive()) debounce_.start();
}

void FirewallWatch::Check() {
  ++checks_;
  auto present = firewall_->RulesPresent();
  if (!present.ok()) {
    Report("firewall watch: cannot read the ruleset: " + present.error().message);
    return;
  }
  if (!*present) Restore();
}

void FirewallWatch::Restore() {
  Status restored = firewall_->Reinstall();
  // Everything queued while the re-install ran is its own events (or simultaneous ones, which the
  // confirming read below covers).
  auto own = events_->ReadAvailable();
  if (!own.ok()) PLOG(kWarn) << "firewall watch: discarding own events: " << own.error().message;
  if (!restored.ok()) {
    Report("firewall: rules removed by another tool; re-installing them failed: " + restored.error().message);
    return;
  }
  ++reinstalls_;
  auto held = firewall_->RulesPresent();
  if (held.ok() && *held) {
    Report("firewall: rules removed by another tool; re-installed (" + std::to_string(reinstalls_) +
           " re-installs so far)");
  } else {
    Report("firewall: rules removed by another tool; re-installed, but they are changed again already (" +
           (held.ok() ? std::string("checking at the next change") : held.error().message) + ")");
  }
}

void FirewallWatch::Report(const std::string& message) {
  PLOG(kWarn) << message;
  if (alert_) alert_(message);
}

}  // namespace picket
