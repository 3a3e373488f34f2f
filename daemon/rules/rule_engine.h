// RuleEngine: the live rule set of a rules directory — loading, incremental reload, rules made at
// runtime, and rule lifetimes (rules/FORMAT.md "Durations", "Reloading").
//
// The engine keeps, per rule file, its identity on disk and the last version that loaded. Reload()
// re-reads only files whose identity changed or that were reported changed (MarkFileDirty), and
// list directories reported changed (MarkListDirty); then it builds a new RuleSet. A file that no
// longer parses keeps its previous good version active and is reported. Readers take current(), a
// shared_ptr to an immutable RuleSet, so a rebuild never disturbs a decision in progress.
// Lifetimes: timed rules stop matching at their expiry (checked by RuleSet::Match with the injected
// clock) and are dropped by Sweep(); `once` rules are used up by the decision they make;
// `until process exits` rules end with ProcessExited().
// Ownership: owns its state; borrows the UserDirectory and clock (they must outlive it).
// Thread-safety: not thread-safe; one owner thread (the daemon's event loop). current() snapshots
// may be used on any thread.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/result.h"
#include "process/process_info.h"
#include "rules/file_io.h"
#include "rules/lists.h"
#include "rules/rule.h"
#include "rules/rule_clock.h"
#include "rules/rule_set.h"
#include "rules/users.h"

namespace picket {

struct RuleEngineOptions {
  std::string rules_dir;
  UserDirectory* users = nullptr;     // required
  const RuleClock* clock = nullptr;   // required
  // When a timed (or once) rule loaded from a file ends, delete the file if it is unchanged since
  // it was loaded (so the rule does not come back at the next start). picketd sets this.
  bool remove_ended_files = false;
};

class RuleEngine {
 public:
  explicit RuleEngine(RuleEngineOptions options);
  ~RuleEngine();
  RuleEngine(const RuleEngine&) = delete;
  RuleEngine& operator=(const RuleEngine&) = delete;

  // Brings the rule set up to date with the directory (see above). Error when the rules directory
  // cannot be listed; then current() and problems() are left as they were.
  Status Reload();

  // `name` (a file name in the rules directory) changed: the next Reload re-reads it even when its
  // identity on disk looks unchanged (a rewrite within the file system's timestamp granularity).
  void MarkFileDirty(const std::string& name);
  // A list directory changed: the next Reload re-reads its changed files.
  void MarkListDirty(const std::string& dir);

  std::shared_ptr<const RuleSet> current() const { return current_; }
  // Problems of the current state: files skipped or kept at their previous version, list warnings.
  const std::vector<LoadProblem>& problems() const { return problems_; }
  // The list directories the current rules use (absolute paths, sorted).
  const std::vector<std::string>& list_directories() const { return list_dirs_; }
  const std::string& rules_dir() const { return options_.rules_dir; }
  const RuleClock& clock() const { return *options_.clock; }
  // Increments whenever current() is replaced.
  uint64_t generation() const { return generation_; }

  // Adds (or replaces) a rule made at runtime. `always` rules are saved as DIR/<name>.json
  // (atomically, 0600) and loaded from there; the others live in memory: once, until restart,
  // timed (expiring `timeout` after now), until process exits (requires `owner`).
  // Error when the rule cannot be completed (unknown user, unreadable list) or saved, or its name
  // belongs to a rule file that is not the rule's own file.
  Status AddRule(Rule rule, std::optional<ProcessKey> owner = std::nullopt);
  // Removes a rule by name: a runtime rule from memory, a file rule by deleting its file.
  Status RemoveRule(const std::string& name);

  // Ends rules whose time is over: timed rules past expiry and once rules that have decided.
  // Returns their names. Rebuilds current() when anything ended.
  std::vector<std::string> Sweep();
  // Ends the `until process exits` rules owned by `process`; returns their names.
  std::vector<std::string> ProcessExited(const ProcessKey& process);
  // The processes owning `until process exits` rules.
  std::vector<ProcessKey> Owners() const;
  // The earliest expiry among live timed rules.
  std::optional<WallTime> NextExpiry() const;

 private:
  struct FileState;
  void Build();
  bool RefreshFile(const std::string& name, FileState* previous, FileState& next);
  void EndFileRule(const std::string& name);

  RuleEngineOptions options_;
  ListStore lists_;
  std::map<std::string, FileState> files_;  // by file name, sorted
  std::set<std::string> dirty_files_;
  bool lists_dirty_ = false;
  bool loaded_ = false;
  std::map<std::string, Rule> runtime_;  // by rule name
  std::shared_ptr<const RuleSet> current_;
  std::vector<LoadProblem> problems_;
  std::vector<std::string> list_dirs_;
  uint64_t generation_ = 0;
};

// Whether `name` is a rule file name the engine reads: "*.json" with something before the suffix.
bool IsRuleFileName(std::string_view name);

// The key an `until process exits` rule made for `process` is owned by (RuleEngine::AddRule).
inline ProcessKey ProcessKeyOf(const ProcessInfo& process) { return ProcessKey{process.pid, process.start_time_ticks}; }

}  // namespace picket
