// RuleWatcher: hot reload for a RuleEngine on the Qt event loop.
//
// inotify watches the rules directory and every list directory the current rules use (one watch
// per directory; a QSocketNotifier reads the events). A changed `*.json` name or list directory is
// marked in the engine; a debounce timer then calls RuleEngine::Reload() once the changes settle
// (`debounce` after the last event, and at the latest `max_delay` after the first), so an edit takes
// effect well within a second and a burst of writes costs one reload. After each reload the list
// watches follow the rules' current list directories. A sweep ends timed and used-up once rules
// (RuleEngine::Sweep) and `until process exits` rules whose process has ended (checked through
// /proc/PID/stat start time, or an injected probe). The sweep is a single-shot timer armed only
// when something can end (RescheduleSweep), re-armed after every reload and sweep.
// Ownership: borrows the engine (must outlive the watcher); owns the inotify fd, notifier, timers.
// Thread-safety: event-loop thread only. REQUIRES: a QCoreApplication exists.
#pragma once

#include <QSocketNotifier>
#include <QTimer>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "common/result.h"
#include "common/unique_fd.h"
#include "rules/rule_engine.h"

namespace picket {

struct RuleWatcherOptions {
  std::chrono::milliseconds debounce{150};
  std::chrono::milliseconds max_delay{600};
  std::chrono::milliseconds sweep_interval{1000};
  // Whether the process is still running; default: /proc/PID/stat exists and its start time matches.
  std::function<bool(const ProcessKey&)> process_alive;
};

// Why the callback runs.
enum class RuleChange : uint8_t {
  kReloaded,      // files or lists changed on disk (Reload ran; it may have failed: see the status)
  kRulesEnded,    // Sweep / ProcessExited ended rules (names in `ended`)
};

struct RuleChangeReport {
  RuleChange kind = RuleChange::kReloaded;
  Status status;                   // Reload's result
  bool rules_replaced = false;     // current() is a new set
  std::vector<std::string> ended;  // kRulesEnded: the rules that ended
};

class RuleWatcher {
 public:
  using Callback = std::function<void(const RuleChangeReport&)>;

  // Starts watching. Error when inotify cannot be set up or the rules directory cannot be watched.
  static Result<std::unique_ptr<RuleWatcher>> Start(RuleEngine& engine, RuleWatcherOptions options,
                                                    Callback on_change);
  ~RuleWatcher();
  RuleWatcher(const RuleWatcher&) = delete;
  RuleWatcher& operator=(const RuleWatcher&) = delete;

  // Reloads now (e.g. on SIGHUP), bypassing the debounce.
  void ReloadNow();

  // Arms the single-shot sweep for the next moment a rule can end: the earliest timed expiry, or
  // `sweep_interval` while `once` / `until process exits` rules exist. With neither, it is off, so
  // an idle daemon is never woken by it.
  void RescheduleSweep();
  // Called by the watcher after every reload and sweep; callers that add rules to the engine
  // (RuleEngine::AddRule) call it too.
  bool sweep_armed() const { return sweep_.isActive(); }

 private:
  RuleWatcher(RuleEngine& engine, RuleWatcherOptions options, Callback on_change, UniqueFd fd);
  Status WatchRulesDir();
  void SyncListWatches();
  void OnReadable();
  void Schedule();
  void OnSweep();

  RuleEngine& engine_;
  RuleWatcherOptions options_;
  Callback on_change_;
  UniqueFd fd_;
  int rules_wd_ = -1;
  std::map<int, std::string> list_wds_;  // watch descriptor → list directory
  std::unique_ptr<QSocketNotifier> notifier_;
  QTimer debounce_;
  QTimer sweep_;
  std::chrono::steady_clock::time_point first_pending_{};
  bool pending_ = false;
};

// The default RuleWatcherOptions::process_alive: /proc/PID/stat's start time equals the key's.
bool ProcessStillRuns(const ProcessKey& process);

}  // namespace picket
