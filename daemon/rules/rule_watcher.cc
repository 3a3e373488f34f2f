#include "rules/rule_watcher.h"

#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <limits>
#include <optional>
#include <set>

#include "process/proc_parsers.h"
#include "rules/file_io.h"

namespace picket {
namespace {

constexpr uint32_t kDirMask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE | IN_MODIFY |
                              IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;

}  // namespace

bool ProcessStillRuns(const ProcessKey& process) {
  Result<FileContent> stat = ReadRegularFile("/proc/" + std::to_string(process.pid) + "/stat", 4096);
  if (!stat.ok()) return false;
  Result<StatFields> fields = ParseProcStat(stat->bytes);
  return fields.ok() && fields->start_time_ticks == process.start_time_ticks && fields->state != 'Z' &&
         fields->state != 'X';
}

Result<std::unique_ptr<RuleWatcher>> RuleWatcher::Start(RuleEngine& engine, RuleWatcherOptions options,
                                                        Callback on_change) {
  UniqueFd fd(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!fd.valid()) return Error::FromErrno("inotify_init1");
  if (!options.process_alive) options.process_alive = &ProcessStillRuns;
  std::unique_ptr<RuleWatcher> watcher(
      new RuleWatcher(engine, std::move(options), std::move(on_change), std::move(fd)));
  if (Status s = watcher->WatchRulesDir(); !s.ok()) return s.error();
  watcher->SyncListWatches();
  return watcher;
}

RuleWatcher::RuleWatcher(RuleEngine& engine, RuleWatcherOptions options, Callback on_change, UniqueFd fd)
    : engine_(engine), options_(std::move(options)), on_change_(std::move(on_change)), fd_(std::move(fd)) {
  notifier_ = std::make_unique<QSocketNotifier>(fd_.get(), QSocketNotifier::Read);
  QObject::connect(notifier_.get(), &QSocketNotifier::activated, [this] { OnReadable(); });
  debounce_.setSingleShot(true);
  QObject::connect(&debounce_, &QTimer::timeout, [this] { ReloadNow(); });
  sweep_.setSingleShot(true);
  QObject::connect(&sweep_, &QTimer::timeout, [this] { OnSweep(); });
  RescheduleSweep();
}

void RuleWatcher::RescheduleSweep() {
  using std::chrono::milliseconds;
  std::optional<milliseconds> delay;
  if (std::optional<WallTime> next = engine_.NextExpiry()) {
    const auto until = std::chrono::ceil<milliseconds>(*next - engine_.clock().Now());
    delay = std::clamp(until, milliseconds(0), milliseconds(std::numeric_limits<int>::max()));
  }
  const std::vector<Rule>& rules = engine_.current()->rules();
  const bool has_once = std::any_of(rules.begin(), rules.end(),
                                    [](const Rule& r) { return r.lifetime.kind == LifetimeKind::kOnce; });
  if (has_once || !engine_.Owners().empty()) {
    delay = delay.has_value() ? std::min(*delay, options_.sweep_interval) : options_.sweep_interval;
  }
  if (delay.has_value()) {
    sweep_.start(static_cast<int>(delay->count()));
  } else {
    sweep_.stop();  // only `always` / `until restart` rules: nothing can end, no wake-ups
  }
}

RuleWatcher::~RuleWatcher() {
  notifier_.reset();
  debounce_.stop();
  sweep_.stop();
}

Status RuleWatcher::WatchRulesDir() {
  rules_wd_ = ::inotify_add_watch(fd_.get(), engine_.rules_dir().c_str(), kDirMask);
  if (rules_wd_ < 0) return Error::FromErrno("inotify_add_watch " + engine_.rules_dir());
  return OkStatus();
}

void RuleWatcher::SyncListWatches() {
  const std::vector<std::string>& wanted = engine_.list_directories();
  for (auto it = list_wds_.begin(); it != list_wds_.end();) {
    if (std::find(wanted.begin(), wanted.end(), it->second) == wanted.end()) {
      ::inotify_rm_watch(fd_.get(), it->first);
      it = list_wds_.erase(it);
    } else {
      ++it;
    }
  }
  for (const std::string& dir : wanted) {
    const bool watched = std::any_of(list_wds_.begin(), list_wds_.end(),
                                     [&dir](const auto& item) { return item.second == dir; });
    if (watched) continue;
    const int wd = ::inotify_add_watch(fd_.get(), dir.c_str(), kDirMask);
    if (wd >= 0) list_wds_[wd] = dir;  // a missing list directory is already reported by the engine
  }
}

void RuleWatcher::OnReadable() {
  alignas(inotify_event) std::array<char, 16384> buffer;
  bool any = false;
  for (int round = 0; round < 64; ++round) {
    const ssize_t n = ::read(fd_.get(), buffer.data(), buffer.size());
    if (n <= 0) break;
    for (ssize_t offset = 0; offset < n;) {
      const auto* event = reinterpret_cast<const inotify_event*>(buffer.data() + offset);
      offset += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
      const std::string name = event->len > 0 ? std::string(event->name) : std::string();
      if ((event->mask & IN_Q_OVERFLOW) != 0) {
        // Events were lost: re-check every file by identity and every list directory.
        for (const auto& [wd, dir] : list_wds_) engine_.MarkListDirty(dir);
        any = true;
      } else if (event->wd == rules_wd_) {
        if ((event->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) != 0) rules_wd_ = -1;
        if (!name.empty() && IsRuleFileName(name)) engine_.MarkFileDirty(name);
        any = any || name.empty() || IsRuleFileName(name);
      } else if (auto it = list_wds_.find(event->wd); it != list_wds_.end()) {
        engine_.MarkListDirty(it->second);
        if ((event->mask & IN_IGNORED) != 0) list_wds_.erase(it);
        any = true;
      }
    }
  }
  if (any) Schedule();
}

void RuleWatcher::Schedule() {
  const auto now = std::chrono::steady_clock::now();
  if (!pending_) {
    pending_ = true;
    first_pending_ = now;
  }
  const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(now - first_pending_);
  const auto remaining = std::max(std::chrono::milliseconds(0), options_.max_delay - waited);
  debounce_.start(static_cast<int>(std::min(options_.debounce, remaining).count()));
}

void RuleWatcher::ReloadNow() {
  debounce_.stop();
  pending_ = false;
  if (rules_wd_ < 0) {
    // The directory was replaced or removed and re-created: watch it again if it exists.
    (void)WatchRulesDir();
  }
  const uint64_t before = engine_.generation();
  RuleChangeReport report;
  report.kind = RuleChange::kReloaded;
  report.status = engine_.Reload();
  report.rules_replaced = engine_.generation() != before;
  SyncListWatches();
  if (on_change_) on_change_(report);
  RescheduleSweep();
}

void RuleWatcher::OnSweep() {
  RuleChangeReport report;
  report.kind = RuleChange::kRulesEnded;
  const uint64_t before = engine_.generation();
  report.ended = engine_.Sweep();
  for (const ProcessKey& owner : engine_.Owners()) {
    if (options_.process_alive(owner)) continue;
    std::vector<std::string> ended = engine_.ProcessExited(owner);
    report.ended.insert(report.ended.end(), ended.begin(), ended.end());
  }
  report.rules_replaced = engine_.generation() != before;
  if (report.rules_replaced && on_change_) on_change_(report);
  RescheduleSweep();
}

}  // namespace picket
