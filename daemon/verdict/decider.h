// Decider: the per-packet decision — the rule set's deciding rule, or the configured default action.
// DecisionLine formats the one-line log record of a decision.
//
// Stateless apart from the default action; the RuleSet is borrowed for the call (not owned).
// Thread-safety: const methods; used on the event-loop thread.
#pragma once

#include <string>
#include <string_view>

#include "netfilter/flow.h"
#include "process/process_info.h"
#include "rules/rule.h"
#include "rules/rule_set.h"

namespace picket {

// Who decided when no rule did: the default action, an answer to a prompt (`once`), or a prompt's timeout.
enum class DecisionSource : uint8_t { kDefault, kPrompt, kTimeout };

struct Decision {
  Action action = Action::kAllow;
  const Rule* rule = nullptr;  // nullptr: no rule matched, the default action applied
  bool log = true;             // false when the deciding rule has `nolog`
  DecisionSource source = DecisionSource::kDefault;  // read only when rule is nullptr

  // The rule's name, else "default", "prompt" or "timeout".
  std::string_view rule_name() const {
    if (rule != nullptr) return rule->name;
    return source == DecisionSource::kPrompt ? "prompt" : source == DecisionSource::kTimeout ? "timeout" : "default";
  }
};

class Decider {
 public:
  explicit Decider(Action default_action) : default_action_(default_action) {}

  Decision Decide(const RuleSet& rules, const Connection& connection) const;
  // For packets that could not be parsed: the default action, no rule.
  Decision DecideUnparsed() const { return Decision{default_action_, nullptr, true}; }
  Action default_action() const { return default_action_; }

 private:
  Action default_action_;
};

// "decision verdict=deny rule=block-b proto=tcp dst=198.18.0.2:7000 src=198.18.0.1:40312 pid=812 uid=0
//  exe=/tmp/b/client cmd="/tmp/b/client tcp 198.18.0.2 7000" via=sock_diag+procfs"
// IPv6 endpoints are bracketed ([2001:2::2]:7000); kernel packets show pid=- exe=kernel; unattributed
// flows show exe=unknown; a deleted executable shows exe=/path(deleted).
// Spaces in exe and rule are escaped (\x20) so each key=value stays one token. Quotes and control characters in cmd are escaped so a line stays one line.
std::string DecisionLine(const Decision& decision, const Flow& flow, const Attribution& attribution);

// Escapes '"', '\\' and control bytes (as \xNN) so untrusted text (argv) cannot forge log lines.
std::string EscapeForLog(std::string_view text);
// As EscapeForLog, and spaces become \x20, for key=value tokens (exe paths, rule names).
std::string EscapeToken(std::string_view text);

}  // namespace picket
