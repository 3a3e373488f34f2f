// EventRecord: one decision as the event log stores it (one row of table `events`, see SCHEMA.md).
//
// Plain value built by the daemon from a decision, a flow, its attribution and its host names;
// text fields that are empty are stored as NULL. Storage does not depend on the rule or netfilter
// types: verdicts, protocols and addresses arrive as text.
// Thread-safety: plain value; moved into the event log's queue.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace picket {

// What decided: a rule, the default action, a user's answer to a prompt, a prompt's timeout, or
// the default action for a packet that could not be parsed.
enum class DecidedBy : uint8_t { kRule, kDefault, kPrompt, kTimeout, kUnparsed };
std::string_view DecidedByName(DecidedBy by);  // "rule" | "default" | "prompt" | "timeout" | "unparsed"

struct EventRecord {
  int64_t time_us = 0;        // wall clock, microseconds since the Unix epoch (UTC)
  std::string verdict;        // "allow" | "deny" | "reject"
  DecidedBy decided_by = DecidedBy::kDefault;
  std::string rule;           // rule name; empty unless decided_by is kRule
  std::string protocol;       // "tcp", "udp6", "icmp" …
  std::string src_ip;
  uint16_t src_port = 0;
  std::string dst_ip;
  uint16_t dst_port = 0;
  std::string host;           // destination host name when known (the name the program asked for)
  std::optional<uint32_t> uid;
  std::optional<int64_t> pid;
  std::string exec_id;        // process identity from the exec-event store, when attribution has one
  std::string exe;            // executable path; empty for kernel / unknown senders
  std::string cmdline;
  std::string parent_exe;
  std::string digest;         // e.g. "sha256:…" when known
  std::string attribution;    // "process" | "kernel" | "unknown"
  std::string method;         // how attribution found the process, e.g. "sock_diag+procfs"
};

}  // namespace picket
