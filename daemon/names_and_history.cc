#include "names_and_history.h"

#include <QObject>

#include <chrono>

#include "common/log.h"
#include "netfilter/packet_parser.h"
#include "storage/decision_record.h"

namespace picket {
namespace {

constexpr uint16_t kDnsPort = 53;

// A queued TCP packet from a DNS server as a segment of its stream (server → this host).
DnsTcpSegment TcpSegmentOf(const Flow& flow, const QueuedPacket& packet) {
  DnsTcpSegment segment;
  segment.stream = DnsTcpStreamKey{flow.src, flow.dst, flow.src_port, flow.dst_port};
  segment.seq = packet.tcp_seq;
  segment.syn = (packet.tcp_flags & tcp_flags::kSyn) != 0;
  segment.fin = (packet.tcp_flags & tcp_flags::kFin) != 0;
  segment.rst = (packet.tcp_flags & tcp_flags::kRst) != 0;
  segment.payload = packet.payload;
  return segment;
}
constexpr uint32_t kDnsQueueCopyRange = 0xffff;  // whole responses

DnsCacheOptions CacheOptions(const Config& config) {
  DnsCacheOptions o;
  o.max_names = config.dns_cache_max_names;
  o.min_ttl = std::chrono::seconds(config.dns_min_ttl);
  o.max_ttl = std::chrono::seconds(config.dns_max_ttl);
  return o;
}

DecisionFacts Facts(const Decision& decision, DecidedBy by, std::string_view host) {
  return DecisionFacts{ActionName(decision.action), by,
                       decision.rule != nullptr ? std::string_view(decision.rule->name) : std::string_view(), host,
                       WallClockMicros()};
}

}  // namespace

NamesAndHistory::NamesAndHistory(const Config& config)
    : config_(config), cache_(CacheOptions(config)), learner_(&cache_) {}

NamesAndHistory::~NamesAndHistory() { Stop(); }

std::unique_ptr<NamesAndHistory> NamesAndHistory::Start(const Config& config) {
  std::unique_ptr<NamesAndHistory> names(new NamesAndHistory(config));
  names->OpenHistory();
  names->OpenDnsQueue();
  return names;
}

void NamesAndHistory::OpenHistory() {
  if (config_.history_path.empty()) {
    PLOG(kInfo) << "history: off (no history_path configured)";
    return;
  }
  EventLogOptions options;
  options.path = config_.history_path;
  options.queue_capacity = config_.history_queue_len;
  options.max_age = std::chrono::hours(24) * config_.history_max_age_days;
  options.max_rows = config_.history_max_rows;
  auto log = EventLog::Open(options);
  if (!log.ok()) {
    PLOG(kWarn) << "history: off: " << log.error().message << " (decisions go on without an event log)";
    history_open_error_ = log.error().message;
    return;
  }
  history_ = std::move(*log);
  PLOG(kInfo) << "history: " << config_.history_path << " (" << history_->status().rows << " rows; keeping "
              << config_.history_max_age_days << " days, " << config_.history_max_rows << " rows at most)";
}

void NamesAndHistory::OpenDnsQueue() {
  if (!config_.dns_enabled) {
    dns_off_reason_ = "dns_enabled is false";
    PLOG(kInfo) << "dns: off (dns_enabled is false): rules on dest.host match only DNS queries";
    return;
  }
  const uint16_t queue_num = config_.EffectiveDnsQueueNum();
  if (queue_num == config_.queue_num) {
    dns_off_reason_ = "dns_queue_num equals queue_num";
    PLOG(kWarn) << "dns: off: dns_queue_num " << queue_num << " is the connection queue's number";
    return;
  }
  QueueOptions options;
  options.queue_num = queue_num;
  options.copy_range = kDnsQueueCopyRange;
  options.max_len = config_.queue_max_len;
  options.fail_mode = FailMode::kOpen;  // a response that does not fit is accepted, never dropped
  auto queue = NfQueue::Open(options);
  if (!queue.ok()) {
    dns_off_reason_ = queue.error().message;
    PLOG(kWarn) << "dns: off: " << queue.error().message << " (connections decide by IP only)";
    return;
  }
  dns_queue_ = std::move(*queue);
  dns_notifier_ = std::make_unique<QSocketNotifier>(dns_queue_->fd(), QSocketNotifier::Read);
  QObject::connect(dns_notifier_.get(), &QSocketNotifier::activated, [this] { OnDnsQueueReadable(); });
  PLOG(kInfo) << "dns: learning names from DNS responses on queue " << queue_num << " (cache "
              << config_.dns_cache_max_names << " names, TTL " << config_.dns_min_ttl << "-" << config_.dns_max_ttl
              << " s)";
}

std::optional<uint16_t> NamesAndHistory::dns_queue_num() const {
  if (!dns_queue_) return std::nullopt;
  return dns_queue_->queue_num();
}

void NamesAndHistory::ReadDnsQueue() {
  const auto now = DnsCache::Clock::now();
  size_t learned_total = 0;
  auto handled = dns_queue_->ReadAvailable([&](const QueuedPacket& packet) {
    if (packet.flow.ok() && packet.flow->src_port == kDnsPort) {
      const size_t learned = packet.flow->protocol == Protocol::kTcp
                                 ? learner_.LearnTcpSegment(TcpSegmentOf(*packet.flow, packet), now)
                                 : learner_.Learn(DnsTransport::kUdp, packet.payload, now);
      learned_total += learned;
      if (learned == 0 && log::Enabled(log::Level::kDebug) && !learner_.counters().last_rejection.empty()) {
        PLOG(kDebug) << "dns: nothing learned from a response: " << learner_.counters().last_rejection;
      }
    }
    dns_queue_->AddVerdict(packet.id, Verdict::kAccept, std::nullopt);
  });
  Status sent = dns_queue_->SendVerdicts();
  if (!handled.ok() || !sent.ok()) {
    PLOG(kError) << "dns: off: queue " << dns_queue_->queue_num() << ": "
                 << (!handled.ok() ? handled.error().message : sent.error().message)
                 << " (the firewall's bypass lets DNS responses through; connections decide by IP only)";
    dns_off_reason_ = !handled.ok() ? handled.error().message : sent.error().message;
    CloseDnsQueue();
  }
  if (learned_total > 0 && on_learned_) on_learned_();
}

void NamesAndHistory::OnDnsQueueReadable() {
  ReadDnsQueue();
  log::Flush();
}

void NamesAndHistory::CloseDnsQueue() {
  dns_notifier_.reset();
  dns_queue_.reset();
}

const std::vector<std::string>* NamesAndHistory::HostsFor(const Flow& flow, std::span<const uint8_t> payload) {
  hosts_.clear();
  if (flow.protocol == Protocol::kUdp && flow.dst_port == kDnsPort) {
    // A DNS query is itself a flow: its destination host is the name it asks for.
    if (auto name = DnsLearner::QuestionName(payload)) hosts_.push_back(std::move(*name));
  } else {
    cache_.Lookup(flow.dst, DnsCache::Clock::now(), &hosts_);
  }
  return hosts_.empty() ? nullptr : &hosts_;
}

std::vector<std::string> NamesAndHistory::NamesFor(const IpAddress& address) {
  std::vector<std::string> names;
  cache_.Lookup(address, DnsCache::Clock::now(), &names);
  return names;
}

void NamesAndHistory::Record(const Decision& decision, const Flow& flow, const Attribution& attribution,
                             const std::vector<std::string>* hosts) {
  const std::string_view host = hosts != nullptr ? std::string_view(hosts->front()) : std::string_view();
  DecidedBy by = DecidedBy::kRule;
  if (decision.rule == nullptr) {
    by = decision.source == DecisionSource::kPrompt    ? DecidedBy::kPrompt
         : decision.source == DecisionSource::kTimeout ? DecidedBy::kTimeout
                                                       : DecidedBy::kDefault;
  }
  EventRecord record = MakeDecisionRecord(Facts(decision, by, host), flow, attribution);
  live_stats_.Count(record);
  if (!history_) return;
  if (!decision.log) {
    ++history_not_recorded_nolog_;
    return;
  }
  history_->Append(std::move(record));
}

void NamesAndHistory::RecordUnparsed(const Decision& decision) {
  EventRecord record = MakeUnparsedRecord(Facts(decision, DecidedBy::kUnparsed, {}));
  live_stats_.Count(record);
  if (history_) history_->Append(std::move(record));
}

void NamesAndHistory::Stop() {
  if (stopped_) return;
  stopped_ = true;
  if (dns_queue_) {
    dns_notifier_.reset();
    ReadDnsQueue();  // accept what is still queued before the queue goes away
    CloseDnsQueue();
  }
  // Decisions of the last batch are in the queue: give the writer a bounded moment to commit them.
  if (history_) history_->WaitUntilWritten(std::chrono::seconds(5));
}

void NamesAndHistory::LogCounters() const {
  const DnsLearnerCounters& l = learner_.counters();
  const DnsCacheCounters& c = cache_.counters();
  const DnsTcpReassemblerCounters& t = learner_.tcp().counters();
  PLOG(kInfo) << "counters: dns " << (dns_off_reason_.empty() ? "on" : "OFF (" + dns_off_reason_ + ")") << " responses=" << l.responses
              << " rejected=" << l.rejected << " learned=" << l.addresses
              << " tcp_reassembled=" << t.reassembled << " tcp_dropped=" << t.dropped_gap + t.dropped_too_large + t.dropped_total + t.dropped_streams
              << " cache_size=" << cache_.size()
              << " cache_evicted=" << c.evicted << " cache_expired=" << c.expired
              << " lookups=" << c.lookups << " hits=" << c.hits;
  if (!history_) {
    PLOG(kInfo) << "counters: history off";
    return;
  }
  const EventLogStatus s = history_->status();
  PLOG(kInfo) << "counters: history " << (s.on ? "on" : "OFF (" + s.off_reason + ")") << " appended=" << s.appended
              << " written=" << s.written << " dropped=" << s.dropped << " discarded=" << s.discarded
              << " nolog=" << history_not_recorded_nolog_ << " rows=" << s.rows
              << " retention_deleted=" << s.retention_deleted;
}

std::vector<std::string> NamesAndHistory::Degraded() const {
  std::vector<std::string> out;
  if (!history_open_error_.empty()) out.push_back("history off: " + history_open_error_);
  if (history_) {
    const EventLogStatus s = history_->status();
    if (!s.on) out.push_back("history off: " + s.off_reason);
  }
  if (config_.dns_enabled && !dns_off_reason_.empty()) out.push_back("dns off: " + dns_off_reason_);
  return out;
}

std::string NamesAndHistory::HostField(const std::vector<std::string>* hosts) {
  return " host=" + (hosts != nullptr ? EscapeToken(hosts->front()) : std::string("-"));
}

}  // namespace picket
