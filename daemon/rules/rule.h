// Rule: one OpenSnitch-format rule after parsing and compiling (see rules/FORMAT.md).
//
// A Rule is built by ParseRule (rules/rule_parser.h) and is then immutable: numbers are parsed,
// addresses normalized and regular expressions compiled once, so matching only reads it.
// Ownership: plain value. A compiled regexp is shared (shared_ptr<const RE2>) between copies of the
// same Operator, because RE2 is not copyable and copying a rule must not recompile it; RE2's const
// matching is thread-safe, so sharing is safe.
// Thread-safety: const access from any number of threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/ip_address.h"

namespace re2 {
class RE2;
}

namespace picket {

enum class Action : uint8_t { kAllow, kDeny, kReject };
std::string_view ActionName(Action action);  // "allow" | "deny" | "reject"

// How long a rule lives. `once` rules apply to the flow at hand; `until restart` rules live in
// memory; `always` rules live in memory and on disk; kTimed rules expire after `timeout`.
enum class LifetimeKind : uint8_t { kOnce, kUntilRestart, kAlways, kTimed };

struct Lifetime {
  LifetimeKind kind = LifetimeKind::kAlways;
  std::chrono::nanoseconds timeout{0};  // > 0 iff kind == kTimed

  bool operator==(const Lifetime&) const = default;
};

enum class OperatorType : uint8_t {
  kSimple,  // equality
  kRegexp,  // unanchored RE2 search
  kList,    // AND of the operators in `list`
};
std::string_view OperatorTypeName(OperatorType type);  // "simple" | "regexp" | "list"

// The connection property an operator looks at (OpenSnitch operand names in comments).
enum class Operand : uint8_t {
  kTrue,            // "true": always matches
  kProcessPath,     // "process.path" (the literal "kernel" for kernel-made packets)
  kProcessCommand,  // "process.command": argv joined with single spaces
  kProcessId,       // "process.id"
  kUserId,          // "user.id": owner of the socket
  kDestIp,          // "dest.ip"
  kDestPort,        // "dest.port"
  kProtocol,        // "protocol": tcp, udp6, icmp …
  kList,            // "list": the operand of a kList operator
};
std::string_view OperandName(Operand operand);

struct Operator {
  OperatorType type = OperatorType::kSimple;
  Operand operand = Operand::kTrue;
  std::string data;            // as written; for kList the legacy JSON text when the file had one
  bool sensitive = false;      // false: case-insensitive comparison
  std::vector<Operator> list;  // kList only, at least one element

  // Compiled forms, set by the parser according to type and operand:
  std::shared_ptr<const re2::RE2> regexp;  // kRegexp (not for operand kTrue)
  std::optional<uint32_t> number;          // kSimple with process.id, user.id, dest.port
  std::optional<IpAddress> address;        // kSimple with dest.ip (normalized)
};

struct Rule {
  std::string name;  // unique key; rules are evaluated in ascending (byte) order of name
  std::string description;
  bool enabled = false;
  bool precedence = false;
  Action action = Action::kDeny;
  std::string duration;  // as written ("always", "until restart", "5m" …)
  Lifetime lifetime;     // `duration` parsed
  bool nolog = false;
  std::string created;  // RFC 3339 text as written, or empty
  std::string updated;
  Operator op;
};

}  // namespace picket
