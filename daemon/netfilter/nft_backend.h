// The nft backend of Firewall (see firewall.h for the rules): Picket's own table `inet picket`,
// loaded and deleted through libnftables, each change one kernel transaction.
// The text builders are pure so the ruleset can be tested on kernels that cannot load it.
// Ownership: NftFirewall owns the table. Thread-safety: event-loop thread only (each call makes
// and frees its own libnftables context).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"
#include "netfilter/firewall.h"

namespace picket {

// The `table inet picket { ... }` block: chains output_queue and output_reject.
std::string BuildNftTable(const FirewallOptions& options);

// The install transaction: creates an empty table (a no-op when one exists), deletes it, and
// defines the new one — so a stale table from a crashed run is replaced atomically.
std::string BuildNftInstallTransaction(const FirewallOptions& options);

// Deletes table inet picket; succeeds when there is none (add-then-delete in one transaction).
std::string BuildNftRemoveTransaction();

enum class NftRunMode : uint8_t {
  kCommit,     // apply the transaction
  kCheckOnly,  // dry run: the kernel validates the transaction and commits nothing
};

// Runs `commands` (nft syntax) through libnftables as one transaction (handed over as a memfd
// file, which makes libnftables quote the offending input line correctly in errors). `what` names it in errors:
// "nft: <what> failed: Error: Could not process rule: No such file or directory (in `... queue ...`)".
Status RunNftTransaction(std::string_view what, const std::string& commands, NftRunMode mode);

// libnftables' multi-line error text (location, message, offending line, carets) condensed to
// one line: "Error: <message> (in `<offending statement>`)", several joined by "; ".
std::string CondenseNftErrors(std::string_view error_text);

struct NftQueueProbe {
  bool supported = false;
  std::string detail;  // the kernel's message when not supported
};

// The check behind ProbeNftQueueSupport(), keeping the kernel's message for the selection reason.
Result<NftQueueProbe> ProbeNftQueue();

// Rules per chain of an nft listing of one table (`list table`, or BuildNftTable's text): the
// non-empty lines inside each `chain <name> {` block other than its `type ...` line.
std::map<std::string, size_t> CountNftChainRules(std::string_view listing);

// Whether table inet picket holds the chains of BuildNftTable(options) with as many rules each
// (false when the table is gone). Error when nft cannot list it for another reason.
Result<bool> NftRulesPresent(const FirewallOptions& options);

// Installs the nft ruleset (replacing a stale table). `reason` is stored as selection_reason().
Result<std::unique_ptr<Firewall>> InstallNftFirewall(const FirewallOptions& options, std::string reason);

// Deletes a table inet picket left by a crashed run; succeeds when there is none.
Status RemoveStaleNftTable();

}  // namespace picket
