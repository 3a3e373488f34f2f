// FirewallWatch: notices another tool removing Picket's firewall rules (`nft flush ruleset`,
// `iptables -t mangle -F`, a deleted chain or rule) and puts them back, without polling.
//
// A NftEventSocket (NFNLGRP_NFTABLES in picketd's network namespace) is read on the Qt event loop.
// A burst of events with any deletion of a table, chain or rule (or a lost-events overflow) arms a
// kDebounce single-shot timer; when it fires, Firewall::RulesPresent() reads the ruleset once and,
// when something is missing, Firewall::Reinstall() puts every rule back. That is logged as a
// warning, counted (reinstalls()) and passed to the alert callback (the UI's alerts). The events
// of Picket's own re-install are read and discarded right after it (it runs synchronously on this
// thread, so everything queued then is its own or simultaneous), then the ruleset is read once more
// to confirm the re-install held. Only a Firewall whose change_events() is kNfTables can be
// watched: legacy iptables announces nothing.
// Ownership: borrows the Firewall (it must outlive the watch); owns the socket, notifier and timer.
// Thread-safety: event-loop thread only.
#pragma once

#include <QSocketNotifier>
#include <QTimer>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/result.h"
#include "netfilter/firewall.h"
#include "netfilter/nft_events.h"

namespace picket {

class FirewallWatch {
 public:
  using AlertFn = std::function<void(const std::string& message)>;

  // Events closer together than this are one burst: one ruleset read for all of them.
  static constexpr std::chrono::milliseconds kDebounce{5};

  // Opens the event socket and starts watching. Error when the firewall's changes are not
  // announced (legacy iptables) or the socket cannot be opened. REQUIRES: a QCoreApplication.
  static Result<std::unique_ptr<FirewallWatch>> Start(Firewall* firewall, AlertFn alert);

  uint64_t reinstalls() const { return reinstalls_; }  // times the rules were found missing and put back
  uint64_t checks() const { return checks_; }          // ruleset reads after deletion events

 private:
  FirewallWatch(Firewall* firewall, AlertFn alert, std::unique_ptr<NftEventSocket> events);
  void OnReadable();
  void Check();
  void Restore();
  void Report(const std::string& message);

  Firewall* firewall_;
  AlertFn alert_;
  std::unique_ptr<NftEventSocket> events_;
  QSocketNotifier notifier_;
  QTimer debounce_;
  uint64_t reinstalls_ = 0;
  uint64_t checks_ = 0;
};

}  // namespace picket
