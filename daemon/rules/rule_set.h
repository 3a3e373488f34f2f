// RuleSet: a compiled, immutable set of rules in evaluation order, and the decision for a
// connection (OpenSnitch order; see rules/FORMAT.md "Evaluation order").
//
// Building a set compiles an index (rules/rule_index.h) so a decision looks only at the rules that
// can match. The rules never change after construction; the only mutable state is which `once`
// rules have already decided a connection (atomic flags: a once rule decides exactly one).
// Ownership: owns its rules; Match returns a pointer into the set, valid while the set lives.
// The index is shared between copies of a set (it refers to rules by position, and copies keep the
// order). Thread-safety: const methods may be called from any thread.
#pragma once

#include <atomic>
#include <bitset>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "rules/connection.h"
#include "rules/rule.h"
#include "rules/rule_clock.h"

namespace picket {

class RuleIndex;

// One rule file (or list file) that was not loaded, or loaded with a remark, and why.
struct LoadProblem {
  enum class Severity : uint8_t {
    kError,    // the rule was not loaded (or its previous good version stays active)
    kWarning,  // loaded, but something was ignored (e.g. a skipped line in a list file)
  };
  std::string file;   // path of the file
  std::string field;  // JSON path of the offending field; empty for file-level problems
  std::string reason;
  Severity severity = Severity::kError;

  std::string ToString() const;  // "FILE: field 'F': REASON", or "FILE: REASON" without a field
};

class RuleSet {
 public:
  struct Loaded;

  RuleSet();  // empty: Match always returns nullptr
  ~RuleSet();
  RuleSet(const RuleSet& other);
  RuleSet& operator=(const RuleSet& other);
  RuleSet(RuleSet&& other) noexcept;
  RuleSet& operator=(RuleSet&& other) noexcept;

  // Loads every `*.json` file of `dir` once (not recursive; one rule per file), resolving user
  // names through the system and reading list directories. A file that cannot be read, parsed or
  // completed, or whose `name` an earlier file (in file-name order) already declared, is skipped
  // and reported; the others load. For a directory that is watched and reloaded, see
  // rules/rule_engine.h. Error (naming `dir`) when `dir` is missing, not a directory, or cannot be listed.
  static Result<Loaded> LoadDirectory(const std::string& dir);

  // Builds a set from already parsed (and bound) rules. Error naming the rule when two share a
  // name. `clock` decides when timed rules (Rule::expires_at) stop matching; it must outlive the set.
  static Result<RuleSet> FromRules(std::vector<Rule> rules, const RuleClock& clock = SystemRuleClock());

  // The deciding rule for `connection`, or nullptr when no live enabled rule matches (the caller
  // applies its default). Enabled rules are visited in ascending order of name; the first match
  // that is deny/reject or has precedence decides; otherwise the last matching allow decides.
  // Timed rules past Rule::expires_at and `once` rules that already decided are skipped; a `once`
  // rule that decides is used up.
  const Rule* Match(const Connection& connection) const;

  size_t size() const { return rules_.size(); }
  const std::vector<Rule>& rules() const { return rules_; }  // sorted by name

  // Names of the `once` rules that have decided a connection (used up).
  std::vector<std::string> UsedOnceRules() const;
  // Whether the rule at this position can still match (not expired at `now`, not used up).
  bool IsLive(size_t position, WallTime now) const;

  // Whether an enabled rule looks at `operand` (e.g. so digests are computed only when a rule
  // needs them: process.hash.md5 or lists.hash.md5 → MD5).
  bool Uses(Operand operand) const { return operands_used_.test(static_cast<size_t>(operand)); }

  // How the index guards the enabled rules (for benchmarks and tests).
  struct IndexStats {
    size_t equality = 0;
    size_t network = 0;
    size_t host_suffix = 0;
    size_t port_range = 0;
    size_t regexp = 0;
    size_t unguarded = 0;
  };
  IndexStats index_stats() const;

 private:
  RuleSet(std::vector<Rule> sorted_rules, const RuleClock& clock);
  bool Skip(uint32_t position, WallTime& now, bool& have_now) const;

  std::vector<Rule> rules_;        // sorted by name, names unique
  std::vector<uint32_t> enabled_;  // positions of the enabled rules in rules_, ascending
  std::shared_ptr<const RuleIndex> index_;
  const RuleClock* clock_ = nullptr;
  bool has_expiry_ = false;  // some rule has expires_at
  std::bitset<256> operands_used_;  // by Operand value, enabled rules only
  // One flag per rule: set when a `once` rule has decided a connection.
  std::unique_ptr<std::atomic<bool>[]> used_;
};

struct RuleSet::Loaded {
  RuleSet rules;
  std::vector<LoadProblem> problems;  // in file-name order
};

}  // namespace picket
