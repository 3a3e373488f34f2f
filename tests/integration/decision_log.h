// DecisionLog: reads picketd's stderr log and finds its per-connection decision lines:
//   <time> info decision verdict=<v> rule=<r> proto=<p> dst=<d> src=<s> pid=<n|-> uid=<n|-> exe=<path>
//     cmd="<argv joined>" via=<method>
// Unknown keys are kept; a quoted value may contain \" and \\ escapes.
// Thread-safety: plain functions over strings.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace picket::testing {

struct DecisionLine {
  std::map<std::string, std::string> fields;  // verdict, rule, proto, dst, src, pid, uid, exe, cmd, via…
  std::string raw;

  std::string Get(const std::string& key) const {
    auto it = fields.find(key);
    return it == fields.end() ? std::string() : it->second;
  }
};

// Parses one log line; nullopt when it is not a decision line.
std::optional<DecisionLine> ParseDecisionLine(const std::string& line);

// Every decision line of a log text, in order.
std::vector<DecisionLine> ParseDecisions(const std::string& log_text);

// What a test expects of a decision; empty fields are not checked.
struct DecisionMatch {
  std::string verdict;
  std::string rule;
  std::string proto;
  std::string dst;
  std::string exe;
};

bool Matches(const DecisionLine& line, const DecisionMatch& want);

// Re-reads the log file until a decision line matches `want` or `timeout` passes (the daemon
// flushes its log after each batch of packets). Returns the line found.
std::optional<DecisionLine> WaitForDecision(const std::string& log_path, const DecisionMatch& want,
                                            std::chrono::milliseconds timeout);

// Human-readable description for assertion messages.
std::string Describe(const DecisionMatch& want);

}  // namespace picket::testing
