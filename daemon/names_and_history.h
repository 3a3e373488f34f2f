// NamesAndHistory: the composition root's DNS and event-log wiring, kept out of daemon.cc.
//
//   DNS      a second NFQUEUE (`dns_queue_num`, full copy, fail-open) receives the DNS responses the
//            firewall's input rule sends it; each is parsed into the DnsCache and accepted at once.
//            HostsFor() gives a flow's `dest.host` names: for a UDP query to port 53 the question
//            name (parsed from the main queue's copy of the datagram: see docs/DNS.md), otherwise
//            the names the cache knows for the destination address.
//   history  every decision is counted in the live statistics and (unless its rule has `nolog`)
//            appended to the SQLite event log, whose writer thread does the disk work.
// Degraded modes are explicit: when the DNS queue cannot be bound, or the history database cannot
// be opened or later fails, a warning says so once, the counters line shows it, and deciding goes
// on (by IP; without history).
// Ownership: owns the DNS queue, cache and the event log. Thread-safety: event-loop thread only.
#pragma once

#include <QSocketNotifier>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "config.h"
#include "dns/dns_cache.h"
#include "dns/dns_learner.h"
#include "netfilter/flow.h"
#include "netfilter/nfqueue.h"
#include "process/process_info.h"
#include "storage/event_log.h"
#include "storage/stats.h"
#include "verdict/decider.h"

namespace picket {

class NamesAndHistory {
 public:
  // Opens the event log and binds the DNS queue (each may fail into its "off" mode).
  // REQUIRES: a QCoreApplication exists (the DNS queue is watched by a QSocketNotifier).
  static std::unique_ptr<NamesAndHistory> Start(const Config& config);
  ~NamesAndHistory();
  NamesAndHistory(const NamesAndHistory&) = delete;
  NamesAndHistory& operator=(const NamesAndHistory&) = delete;

  // The queue number the firewall should send DNS responses to; nullopt when DNS is off.
  std::optional<uint16_t> dns_queue_num() const;

  // The destination's host names (see the header comment); nullptr when none is known. The vector
  // is reused by the next call.
  const std::vector<std::string>* HostsFor(const Flow& flow, std::span<const uint8_t> payload);
  // The names the cache knows now for an address (empty when none).
  std::vector<std::string> NamesFor(const IpAddress& address);
  // Runs after a batch of DNS responses taught the cache at least one address.
  void SetOnNamesLearned(std::function<void()> on_learned) { on_learned_ = std::move(on_learned); }

  void Record(const Decision& decision, const Flow& flow, const Attribution& attribution,
              const std::vector<std::string>* hosts);
  void RecordUnparsed(const Decision& decision);

  // Accepts the DNS responses still queued, unbinds the DNS queue and waits (at most 5 s) for the
  // queued log records to be committed. Idempotent.
  void Stop();
  void LogCounters() const;

  const LiveStats& live_stats() const { return live_stats_; }

  // What is off that should be on ("history off: …", "dns off: …"), for the UI's alerts; empty
  // when both work (or were switched off by the config).
  std::vector<std::string> Degraded() const;

  // " host=<first name>" for the decision log line ("host=-" when none), spaces escaped.
  static std::string HostField(const std::vector<std::string>* hosts);

 private:
  explicit NamesAndHistory(const Config& config);
  void OpenHistory();
  void OpenDnsQueue();
  void OnDnsQueueReadable();
  void ReadDnsQueue();
  void CloseDnsQueue();

  Config config_;
  DnsCache cache_;
  DnsLearner learner_;
  std::unique_ptr<NfQueue> dns_queue_;
  std::unique_ptr<QSocketNotifier> dns_notifier_;
  std::unique_ptr<EventLog> history_;
  LiveStats live_stats_;
  std::vector<std::string> hosts_;
  uint64_t history_not_recorded_nolog_ = 0;
  std::string dns_off_reason_;  // empty while DNS names are learned
  std::function<void()> on_learned_;
  std::string history_open_error_;  // why the configured event log could not be opened
  bool stopped_ = false;
};

}  // namespace picket
