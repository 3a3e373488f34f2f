// Rule: one OpenSnitch-format rule after parsing and compiling (see rules/FORMAT.md).
//
// A Rule is built by ParseRule (rules/rule_parser.h) and completed by the loader (user names
// resolved, list directories bound: rules/rule_binder.h); it is then immutable: numbers are parsed,
// addresses normalized and regular expressions compiled once, so matching only reads it.
// Ownership: plain value. A compiled regexp is shared (shared_ptr<const RE2>) between copies of the
// same Operator, because RE2 is not copyable and copying a rule must not recompile it; RE2's const
// matching is thread-safe, so sharing is safe. List contents and user tables are shared the same
// way (immutable once built).
// Thread-safety: const access from any number of threads.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/ip_address.h"
#include "rules/network.h"

namespace re2 {
class RE2;
}

namespace picket {

class ListData;   // rules/lists.h
class UserTable;  // rules/users.h

enum class Action : uint8_t { kAllow, kDeny, kReject };
std::string_view ActionName(Action action);  // "allow" | "deny" | "reject"

// How long a rule lives. `once` rules apply to the flow at hand; `until restart` rules live in
// memory; `always` rules live in memory and on disk; kTimed rules expire after `timeout`.
// kUntilProcessExits (Picket extension, "until process exits") lives until the process it was
// made for ends; it exists only in memory, for rules made at a prompt.
enum class LifetimeKind : uint8_t { kOnce, kUntilRestart, kAlways, kTimed, kUntilProcessExits };

struct Lifetime {
  LifetimeKind kind = LifetimeKind::kAlways;
  std::chrono::nanoseconds timeout{0};  // > 0 iff kind == kTimed

  bool operator==(const Lifetime&) const = default;
};

enum class OperatorType : uint8_t {
  kSimple,   // equality
  kRegexp,   // unanchored RE2 search
  kList,     // AND of the operators in `list`
  kNetwork,  // the address operand lies in a CIDR network or a named one (LAN, MULTICAST)
  kLists,    // look-up in the list files of the directory named by `data`
  kRange,    // numeric operand within "min-max"
};
std::string_view OperatorTypeName(OperatorType type);  // "simple", "regexp", "list", "network", …

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
  kUserName,        // "user.name": owner of the socket by name (simple: resolved to a uid at load)
  kSourceIp,        // "source.ip"
  kSourcePort,      // "source.port"
  kSourceNetwork,   // "source.network" (type network)
  kDestNetwork,     // "dest.network" (type network)
  kDestHost,        // "dest.host": the names known for the destination (Connection::dest_hosts)
  kIfaceIn,         // "iface.in": input interface name
  kIfaceOut,        // "iface.out": output interface name
  kProcessContainer,  // "process.container" (Picket): container id of the process, "" outside one
  kListsDomains,        // "lists.domains" (type lists): dest.host in hosts-format files
  kListsDomainsRegexp,  // "lists.domains_regexp": dest.host against one regexp per line
  kListsIps,            // "lists.ips": dest.ip in one-address-per-line files
  kListsNets,           // "lists.nets": dest.ip in one-network-per-line files
  kListsHashMd5,        // "lists.hash.md5": the process's MD5 in "<md5> <anything>" files
  kListsHashSha256,     // "lists.hash.sha256" (Picket): the process's SHA-256, same format
  kProcessParentPath,   // "process.parent.path": matches when ANY ancestor's path matches
  kProcessEnv,          // "process.env.NAME": value of NAME (operand_name holds the full operand)
  kProcessHashMd5,      // "process.hash.md5": digest of the executable, lowercase hex
  kProcessHashSha1,     // "process.hash.sha1"
  kProcessHashSha256,   // "process.hash.sha256" (Picket)
  kProcessCgroup,       // "process.cgroup" (Picket): cgroup v2 path of the process
};
std::string_view OperandName(Operand operand);

// "min-max", both inclusive.
struct NumberRange {
  uint64_t min = 0;
  uint64_t max = 0;
  bool operator==(const NumberRange&) const = default;
};

// A dest.host `simple` value: an exact name, or "*.example.org" (Picket extension) which matches
// every name below example.org but not example.org itself. Names are compared after
// NormalizeHostName (ASCII lower case, no trailing dot) unless `sensitive`.
struct HostPattern {
  std::string name;    // the exact name, or the suffix after "*." for a wildcard
  bool wildcard = false;
};

// A process for rules that end with it: its PID and start time (/proc/PID/stat field 22).
struct ProcessKey {
  pid_t pid = 0;
  uint64_t start_time_ticks = 0;
  bool operator==(const ProcessKey&) const = default;
};

using WallTime = std::chrono::system_clock::time_point;

struct Operator {
  OperatorType type = OperatorType::kSimple;
  Operand operand = Operand::kTrue;
  std::string operand_name;    // as written ("process.env.HOME"); empty for kList and runtime-made operators
  std::string data;            // as written; for kList the legacy JSON text when the file had one
  bool sensitive = false;      // false: case-insensitive comparison
  std::vector<Operator> list;  // kList only, at least one element

  // Compiled forms, set by the parser according to type and operand:
  std::shared_ptr<const re2::RE2> regexp;  // kRegexp (not for operand kTrue)
  std::optional<uint32_t> number;          // kSimple with process.id, user.id, dest.port, source.port;
                                           // user.name: the uid, set by the loader
  std::optional<IpAddress> address;        // kSimple with dest.ip / source.ip (normalized)
  std::vector<IpNetwork> networks;         // kNetwork: the CIDR, or the networks of an alias
  std::optional<NumberRange> range;        // kRange
  std::optional<HostPattern> host;         // kSimple with dest.host
  // kLists: the directory's entries, bound by the loader (RuleBinder); nullptr never matches.
  std::shared_ptr<const ListData> list_data;
  // kRegexp with user.name: uid → name of the users known when the rule was loaded.
  std::shared_ptr<const UserTable> users;
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

  // Set by the rule engine, not read from the file:
  std::string file;                   // where it was loaded from; empty for rules made at runtime
  std::optional<WallTime> expires_at;  // kTimed: from then on the rule no longer matches
  std::optional<ProcessKey> owner;     // kUntilProcessExits: the process whose end retires it
};

}  // namespace picket
