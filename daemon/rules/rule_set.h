// RuleSet: the rules loaded from one directory, in evaluation order, and the decision for a
// connection (OpenSnitch order; see rules/FORMAT.md "Evaluation order").
//
// Immutable after construction; Match only reads it. Owns its rules; Match returns a pointer into
// the set, valid while the set lives.
// Thread-safety: const methods may be called from any thread; in picketd only the event loop does.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "rules/connection.h"
#include "rules/rule.h"

namespace picket {

// One rule file that was not loaded, and why.
struct LoadProblem {
  std::string file;   // path of the file
  std::string field;  // JSON path of the offending field; empty for file-level problems
  std::string reason;

  std::string ToString() const;  // "FILE: field 'F': REASON", or "FILE: REASON" without a field
};

class RuleSet {
 public:
  struct Loaded;

  RuleSet() = default;  // empty: Match always returns nullptr

  // Loads every `*.json` file of `dir` (not recursive; one rule per file). A file that cannot be
  // read or parsed, or whose `name` an earlier file (in file-name order) already declared, is
  // skipped and reported as a problem; the others load. A file's `name` need not equal its
  // file-name stem (OpenSnitch keys rules by name).
  // Error (naming `dir`) when `dir` is missing, not a directory, or cannot be listed.
  static Result<Loaded> LoadDirectory(const std::string& dir);

  // Builds a set from already parsed rules. Error naming the rule when two share a name.
  static Result<RuleSet> FromRules(std::vector<Rule> rules);

  // The deciding rule for `connection`, or nullptr when no enabled rule matches (the caller applies
  // its default). Enabled rules are visited in ascending order of name; the first match that is
  // deny/reject or has precedence decides; otherwise the last matching allow decides.
  const Rule* Match(const Connection& connection) const;

  size_t size() const { return rules_.size(); }
  const std::vector<Rule>& rules() const { return rules_; }  // sorted by name

 private:
  explicit RuleSet(std::vector<Rule> sorted_rules);

  std::vector<Rule> rules_;        // sorted by name, names unique
  std::vector<uint32_t> enabled_;  // indexes of the enabled rules in rules_, ascending
};

struct RuleSet::Loaded {
  RuleSet rules;
  std::vector<LoadProblem> problems;  // in file-name order
};

}  // namespace picket
