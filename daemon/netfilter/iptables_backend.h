// The iptables backend of Firewall (see firewall.h for the rules): Picket's own chains
// PICKET_OUTPUT (table mangle, xt NFQUEUE) and PICKET_REJECT (table filter, xt REJECT), each
// jumped to by the first rule of the table's OUTPUT chain. Per family, the current state is read
// with `iptables-save` / `ip6tables-save` and every change is one `iptables-restore -w --noflush` /
// `ip6tables-restore -w --noflush` carrying both tables (atomic per family).
// The text builders and the save parser are pure so they can be tested without a kernel.
// Ownership: IptablesFirewall owns the chains and jumps. Thread-safety: event-loop thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "netfilter/firewall.h"

namespace picket {

enum class IpFamily : uint8_t { kIpv4, kIpv6 };

inline constexpr std::string_view kIptablesQueueChain = "PICKET_OUTPUT";   // in table mangle
inline constexpr std::string_view kIptablesRejectChain = "PICKET_REJECT";  // in table filter
inline constexpr std::string_view kIptablesDnsChain = "PICKET_DNS";        // in table mangle, from INPUT

// Picket's chains and every rule that jumps to them, as found in one family's iptables-save output.
struct IptablesPicketState {
  bool queue_chain = false;               // mangle has PICKET_OUTPUT
  bool reject_chain = false;              // filter has PICKET_REJECT
  std::vector<std::string> queue_jumps;   // mangle rules targeting PICKET_OUTPUT, as saved ("-A OUTPUT -j PICKET_OUTPUT")
  std::vector<std::string> reject_jumps;  // filter rules targeting PICKET_REJECT
  bool dns_chain = false;                 // mangle has PICKET_DNS
  std::vector<std::string> dns_jumps;     // mangle rules targeting PICKET_DNS
  std::vector<std::string> queue_rules;   // the rules inside PICKET_OUTPUT, as saved ("-A PICKET_OUTPUT ...")
  std::vector<std::string> reject_rules;  // the rules inside PICKET_REJECT
  std::vector<std::string> dns_rules;     // the rules inside PICKET_DNS
  bool empty() const {
    return !queue_chain && !reject_chain && !dns_chain && queue_jumps.empty() && reject_jumps.empty() &&
           dns_jumps.empty();
  }
};

// Reads iptables-save output (any tables; only mangle and filter matter). Unrecognized lines are
// ignored; this never fails.
IptablesPicketState ParseIptablesSave(std::string_view save_output);

// The rules of PICKET_OUTPUT / PICKET_REJECT as iptables-save prints them ("-A PICKET_OUTPUT ...").
std::vector<std::string> IptablesQueueRules(const FirewallOptions& options);
std::vector<std::string> IptablesRejectRules(IpFamily family, const FirewallOptions& options);
// The rules of PICKET_DNS; empty when options.dns_queue_num is unset.
std::vector<std::string> IptablesDnsRules(const FirewallOptions& options);

// The restore input that (re)creates both chains — declaring an existing chain flushes it —, deletes
// every jump to them listed in `present` (stale, from a crashed run) and inserts one jump at the top
// of each OUTPUT chain; with options.dns_queue_num also PICKET_DNS and its jump at the top of
// mangle INPUT (without it, a stale PICKET_DNS is removed). For `<family>-restore -w --noflush`.
std::string BuildIptablesInstallScript(IpFamily family, const FirewallOptions& options,
                                       const IptablesPicketState& present);

// The restore input that deletes the jumps, flushes and deletes the chains listed in `present`.
// Empty when `present` is empty (nothing to run).
std::string BuildIptablesRemoveScript(const IptablesPicketState& present);

// True when `present` (one family's saved state) holds exactly what BuildIptablesInstallScript
// installs for `options`: every chain with exactly its rules, and the jump to it from OUTPUT (INPUT
// for PICKET_DNS).
bool IptablesRulesIntact(IpFamily family, const FirewallOptions& options, const IptablesPicketState& present);

// Reads both families' rulesets now (iptables-save, ip6tables-save) and applies IptablesRulesIntact.
Result<bool> IptablesRulesPresent(const FirewallOptions& options);

// Which kernel interface the iptables tools on PATH drive. Changes made through kNft are announced as
// nf_tables netlink events; legacy x_tables changes are not.
enum class IptablesVariant : uint8_t { kLegacy, kNft };

// Reads `iptables -V` output: "iptables v1.8.9 (nf_tables)" → kNft; "iptables v1.8.9 (legacy)" and
// the variant-less "iptables v1.6.1" of the releases before nf_tables → kLegacy. Error (naming the
// text) for anything else.
Result<IptablesVariant> ParseIptablesVersion(std::string_view version_output);

// Runs `iptables -V` (PATH) and parses it.
Result<IptablesVariant> DetectIptablesVariant();

// Installs (or re-installs over what is left) both families' chains and jumps, rolling IPv4 back
// when IPv6 fails.
Status InstallIptablesRules(const FirewallOptions& options);

// Re-installs the chains and jumps of each family whose rules are not intact (IptablesRulesIntact);
// a family whose rules are intact is not touched. The iptables Firewall's Reinstall().
Status RepairIptablesRules(const FirewallOptions& options);

// Installs both families (rolling IPv4 back when IPv6 fails). `reason` becomes selection_reason().
Result<std::unique_ptr<Firewall>> InstallIptablesFirewall(const FirewallOptions& options, std::string reason);

// Removes Picket's chains and jumps from both families, as found now. Error.sys_errno is ENOENT
// when the iptables tools are not installed.
Status RemoveIptablesRules();

}  // namespace picket
