// The rule an answer to a prompt makes (ui-protocol/PROTOCOL.md `answer`): action, duration and
// scope of the answer plus the prompt's facts (who connected where) → one OpenSnitch-format Rule.
//
//   duration  once → no rule (only the prompt's flows get the verdict); 30s … 24h → a timed rule;
//             until-restart, always (the caller saves it through RuleEngine::AddRule), and
//             until-process-exits (owned by the prompting process: pid + start time).
//   scope     each field becomes one `simple` operator: executable → process.path, command →
//             process.command, host → dest.host (dest.ip when no name is known), ip → dest.ip,
//             port → dest.port, user → user.id; the protocol is always added, so the operator is a
//             `list` of them (an AND).
// The rule is built as rule-file JSON and compiled by ParseRule, so it is exactly what the same
// text in a file would load as. Its name is readable (action, program, destination, port) and
// made unique with a numeric suffix when `name_taken` says so.
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/ip_address.h"
#include "common/result.h"
#include "netfilter/flow.h"
#include "process/process_info.h"
#include "rules/rule.h"
#include "ui-protocol/codec.h"

namespace picket {

// What a prompt is about: the first flow that opened it.
struct PromptFacts {
  uint64_t prompt_id = 0;
  std::string path;              // executable; empty when no process is known
  std::string command;           // argv joined with spaces
  std::optional<uint32_t> uid;   // the process's (or the socket's) user
  std::optional<ProcessKey> process;
  IpAddress dest_ip;
  std::string host;              // first name known for dest_ip; empty when none
  uint16_t dest_port = 0;
  std::string protocol;          // "tcp", "udp6" …
};

PromptFacts PromptFactsOf(uint64_t prompt_id, const Flow& flow, const Attribution& attribution,
                          const std::vector<std::string>* hosts);

// An answer's choices, without the request's framing.
struct AnswerChoice {
  ui::AnswerAction action = ui::AnswerAction::kDeny;
  ui::AnswerDuration duration = ui::AnswerDuration::kOnce;
  std::vector<ui::ScopeField> scope;  // non-empty
};

Action ActionOf(ui::AnswerAction action);
ui::AnswerAction AnswerActionOf(Action action);

// The `duration` text of a rule made for `duration` ("30s", "until restart", "until process exits" …).
std::string_view RuleDurationText(ui::AnswerDuration duration);

// The rule for `choice`, or nullopt for `once`. Error (naming the field) when a scope field has no
// value for this prompt (executable or command without a process, user without a uid) or
// until-process-exits has no process. `now` fills created/updated; `name_taken` tells which names
// exist already.
Result<std::optional<Rule>> MakeAnswerRule(const PromptFacts& facts, const AnswerChoice& choice, WallTime now,
                                           const std::function<bool(const std::string&)>& name_taken);

}  // namespace picket
