#include "process_stage.h"

#include <algorithm>

#include "common/log.h"

namespace picket {
namespace {

void CollectNeeds(const Operator& op, ProcessNeeds& needs) {
  constexpr std::string_view kEnvPrefix = "process.env.";
  switch (op.operand) {
    case Operand::kProcessHashMd5:
    case Operand::kListsHashMd5: needs.digests |= kDigestMd5; break;
    case Operand::kProcessHashSha1: needs.digests |= kDigestSha1; break;
    case Operand::kProcessHashSha256:
    case Operand::kListsHashSha256: needs.digests |= kDigestSha256; break;
    case Operand::kProcessEnv:
      if (std::string_view(op.operand_name).starts_with(kEnvPrefix)) {
        needs.env.push_back(op.operand_name.substr(kEnvPrefix.size()));
      }
      break;
    default: break;
  }
  for (const Operator& child : op.list) CollectNeeds(child, needs);
}

}  // namespace

ProcessNeeds NeedsOf(const RuleSet& rules) {
  ProcessNeeds needs;
  for (const Rule& rule : rules.rules()) {
    if (rule.enabled) CollectNeeds(rule.op, needs);
  }
  std::sort(needs.env.begin(), needs.env.end());
  needs.env.erase(std::unique(needs.env.begin(), needs.env.end()), needs.env.end());
  return needs;
}

Result<std::unique_ptr<ProcessStage>> ProcessStage::Start(const Config& config) {
  std::unique_ptr<ProcessStage> stage(new ProcessStage());
  TrackerOptions options;
  options.monitor = config.process_monitor;
  options.store.exit_grace_ns = static_cast<uint64_t>(config.process_exit_grace_seconds) * 1000000000ull;
  options.store.max_entries = config.process_max_entries;
  options.store.max_exited = config.process_max_exited;
  options.bpf.ring_buffer_bytes = config.process_ring_buffer_kib * 1024u;
  options.bpf.wakeup_bytes = std::min<uint64_t>(256u << 10, options.bpf.ring_buffer_bytes / 4);
  auto tracker = ProcessTracker::Create(options, stage->clock_);
  if (!tracker.ok()) return Error{"process tracking: " + tracker.error().message};
  stage->tracker_ = std::move(*tracker);
  stage->flow_attribution_ = config.flow_attribution;
  stage->flow_attribution_netfilter_ = config.flow_attribution_netfilter;

  auto checksums = ChecksumService::Create(ChecksumOptions{config.checksum_cache_entries});
  if (!checksums.ok()) return Error{"checksums: " + checksums.error().message};
  stage->checksums_ = std::move(*checksums);
  stage->gate_ = std::make_unique<DigestGate>(*stage->checksums_, config.checksum_max_waiting_packets);

  ProcessStage* self = stage.get();
  if (stage->tracker_->event_fd() >= 0) {
    stage->events_notifier_ = std::make_unique<QSocketNotifier>(stage->tracker_->event_fd(), QSocketNotifier::Read);
    QObject::connect(stage->events_notifier_.get(), &QSocketNotifier::activated, [self] { self->tracker_->Drain(); });
  }
  stage->checksum_notifier_ = std::make_unique<QSocketNotifier>(stage->checksums_->notify_fd(), QSocketNotifier::Read);
  QObject::connect(stage->checksum_notifier_.get(), &QSocketNotifier::activated, [self] { self->OnChecksumsReady(); });
  stage->sweep_timer_ = std::make_unique<QTimer>();
  QObject::connect(stage->sweep_timer_.get(), &QTimer::timeout, [self] { self->tracker_->Sweep(); });
  stage->sweep_timer_->start(std::chrono::seconds(config.process_sweep_seconds));

  const ProcessTracker& t = *stage->tracker_;
  const std::string line = "process tracking: " + std::string(t.source_name()) + " (" + t.source_reason() + "); " +
                           std::to_string(t.store().live_count()) + " processes known at start";
  if (t.source_name() == "ebpf" || t.source_reason() == "configured") {
    PLOG(kInfo) << line;
  } else {
    PLOG(kWarn) << line;
  }
  return stage;
}

ProcessStage::~ProcessStage() {
  events_notifier_.reset();
  checksum_notifier_.reset();
  sweep_timer_.reset();
}

void ProcessStage::ApplyRules(const RuleSet& rules) {
  ProcessNeeds needs = NeedsOf(rules);
  if (needs.digests != needs_.digests) {
    PLOG(kInfo) << "checksums: rules use" << ((needs.digests & kDigestMd5) ? " md5" : "")
                << ((needs.digests & kDigestSha1) ? " sha1" : "") << ((needs.digests & kDigestSha256) ? " sha256" : "")
                << (needs.digests == 0 ? " no digest" : "");
  }
  gate_->SetRequired(needs.digests);
  if (needs.env != needs_.env) tracker_->SetWantedEnv(needs.env);
  needs_ = std::move(needs);
}

std::unique_ptr<Attributor> ProcessStage::WrapAttributor(std::unique_ptr<Attributor> fallback) {
  if (!flow_attribution_) {
    PLOG(kInfo) << "attribution: kernel flow ownership off (flow_attribution: false); using sock_diag + /proc fd scan";
    return fallback;
  }
  if (tracker_->source_name() != "ebpf") {
    PLOG(kWarn) << "attribution: kernel flow ownership needs the eBPF process source (active: "
                << tracker_->source_name() << "); using sock_diag + /proc fd scan";
    return fallback;
  }
  auto map = FlowOwnerMap::Open(FlowOwnerMapOptions{.netfilter_hook = flow_attribution_netfilter_});
  if (!map.ok()) {
    PLOG(kWarn) << "attribution: kernel flow ownership unavailable (" << map.error().message
                << "); using sock_diag + /proc fd scan";
    return fallback;
  }
  auto attributor = FlowOwnerAttributor::Create(std::move(*map), *tracker_, std::move(fallback), {});
  if (!attributor.ok()) {
    PLOG(kError) << "attribution: " << attributor.error().message;
    return nullptr;
  }
  flow_attributor_ = attributor->get();
  PLOG(kInfo) << "attribution: bpf-flow (cgroup2 connect/sendmsg/sockops/sock_create flow ownership on "
              << flow_attributor_->map().cgroup_path() << "; netfilter LOCAL_OUT hook for raw and ping sockets: "
              << flow_attributor_->map().netfilter_status() << "), then bpf-cookie, then sock_diag + /proc fd scan";
  return std::move(*attributor);
}

void ProcessStage::OnChecksumsReady() {
  if (gate_->OnFinished() > 0 && on_resumed_) on_resumed_();
}

void ProcessStage::LogCounters() {
  tracker_->Drain();  // events of the last processes may still sit in the ring buffer
  const StoreCounters& s = tracker_->store().counters();
  const TrackerCounters& t = tracker_->counters();
  const ChecksumCounters& c = checksums_->counters();
  const DigestGateCounters& g = gate_->counters();
  PLOG(kInfo) << "process counters: source=" << tracker_->source_name() << " live=" << tracker_->store().live_count()
              << " exited=" << tracker_->store().exited_count() << " forks=" << s.forks << " execs=" << s.execs
              << " exits=" << s.exits << " lost_events=" << s.lost_events << " hits=" << t.resolve_hits
              << " procfs_fallbacks=" << t.procfs_fallbacks << " resolve_errors=" << t.resolve_errors
              << " evicted_grace=" << s.evicted_grace << " evicted_cap=" << (s.evicted_cap_exited + s.evicted_cap_live)
              << " gone_detected=" << s.gone_detected << " resyncs=" << t.resyncs;
  PLOG(kInfo) << "checksum counters: files_hashed=" << c.jobs << " bytes=" << c.bytes << " cache_hits=" << c.cache_hits
              << " joined=" << c.joined << " failures=" << c.failures << " unhashable=" << g.unhashable
              << " held=" << g.held << " over_cap=" << g.over_cap;
  if (flow_attributor_ != nullptr) flow_attributor_->LogCounters();
}

}  // namespace picket
