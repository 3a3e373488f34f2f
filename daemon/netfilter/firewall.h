// Firewall: installs and removes the netfilter rules that send new outbound connections to
// picketd's NFQUEUE and that reject the packets picketd marks for rejection.
//
// Rules (identical meaning in both backends, IPv4 and IPv6):
//   1. queue  — OUTPUT hook at mangle priority: TCP packets with SYN set and ACK/RST/FIN clear
//      whatever their conntrack state (a new connection reusing a tuple that conntrack still
//      remembers, e.g. just reset, is not NEW yet must be decided), and packets of every other
//      protocol in conntrack state NEW, go to NFQUEUE
//      `queue_num`; with `bypass` (accepted when nobody listens) iff fail_mode is kOpen.
//   2. reject — OUTPUT hook at filter priority: packets whose mark has all bits of `reject_mark`
//      (picketd's "reject" verdict = accept + that bit) are rejected: TCP with a TCP reset,
//      ICMP/ICMPv6 with "administratively prohibited" (so `ping` reports a filter, not a closed
//      port), everything else with ICMP/ICMPv6 port unreachable.
//   3. dns    — only when `dns_queue_num` is set: INPUT hook at mangle priority: UDP and TCP packets
//      from source port 53 that are replies of a connection this host opened (conntrack state
//      established, direction reply), IPv4 and IPv6, go to NFQUEUE `dns_queue_num`, ALWAYS with
//      `bypass` (DNS keeps working whatever the fail mode when picketd is not reading); picketd
//      learns the answers and accepts every one of them.
//   Nothing outside Picket's own table/chains is touched, except one jump per built-in chain
//   (iptables backend).
// Backends:
//   nft      — table `inet picket` with base chains `output_queue` (priority mangle),
//              `output_reject` (priority filter) and `input_dns` (hook input, priority mangle), loaded through libnftables in one transaction that
//              also replaces a stale table atomically. Needs the kernel's nft `queue` expression.
//   iptables — chains PICKET_OUTPUT (table mangle) and PICKET_REJECT (table filter) with the xt
//              NFQUEUE / REJECT targets, jumped to from the first rule of OUTPUT, and PICKET_DNS
//              (table mangle) jumped to from the first rule of INPUT; one
//              `iptables-restore -w --noflush` and one `ip6tables-restore -w --noflush` carry both tables.
//   kAuto picks nft when the kernel accepts its `queue` statement, else iptables.
// Tampering: RulesPresent() reads the ruleset to tell whether every installed rule is still there,
// Reinstall() puts them back; change_events() says whether changes to them are announced as
// nf_tables netlink events (nft, iptables-nft) — FirewallWatch (daemon/firewall_watch.h) uses both.
// Ownership: a Firewall owns the rules it installed; its destructor removes them when Remove() has
// not succeeded yet (logging, never throwing). Thread-safety: event-loop thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "netfilter/fail_mode.h"

namespace picket {

enum class FirewallBackendChoice : uint8_t { kAuto, kNft, kIptables };

// How another tool's changes to the installed rules can be noticed.
enum class RuleChangeEvents : uint8_t {
  kNfTables,  // the rules live in nf_tables: the kernel announces changes (NFNLGRP_NFTABLES)
  kNone,      // legacy iptables (x_tables): the kernel announces nothing
};

struct FirewallOptions {
  uint16_t queue_num = 0;
  FailMode fail_mode = FailMode::kOpen;  // kOpen → queue "bypass"
  uint32_t reject_mark = 0x00400000;     // one bit; packets verdicted with this bit set are REJECTED
  FirewallBackendChoice backend = FirewallBackendChoice::kAuto;
  std::optional<uint16_t> dns_queue_num;  // set: rule 3 (DNS responses to this queue, always bypass)
};

class Firewall {
 public:
  // Each implementation's destructor calls its Remove() when it has not succeeded yet.
  virtual ~Firewall();

  // Validates the options, picks the backend (probing nft for kAuto), removes stale Picket rules
  // a crashed run left in either backend, installs the rules and logs
  // "firewall: backend=<nft|iptables> (<reason>)".
  // Errors name the backend, the command or transaction and the kernel's / tool's message; on
  // error nothing of this call stays installed.
  static Result<std::unique_ptr<Firewall>> Install(const FirewallOptions& options);

  // Removes everything Picket installed (from the current ruleset, so rules someone else already
  // deleted are no error). Idempotent: after a success, further calls do nothing.
  virtual Status Remove() = 0;

  // True when every rule Install() put in is in the ruleset now, unchanged (read from the kernel;
  // a few milliseconds). Error when the ruleset cannot be read.
  virtual Result<bool> RulesPresent() = 0;
  // Installs the rules again with the same options, replacing whatever is left of them (the same
  // atomic transaction as Install; the iptables backend redoes only the families whose rules are
  // not intact). Error as Install's; what was there before stays.
  virtual Status Reinstall() = 0;
  virtual RuleChangeEvents change_events() const = 0;

  virtual std::string_view backend_name() const = 0;  // "nft" or "iptables"
  // The iptables backend's tools as `iptables -V` names them: "legacy" (x_tables) or "nft"
  // (iptables-nft); empty for the nft backend and when the tools could not be told.
  virtual std::string_view tools_variant() const = 0;
  // What the start and ready lines call the backend: "nft", "iptables-legacy", "iptables-nft", or
  // "iptables" when the variant is unknown.
  std::string display_name() const;
  // Why this backend was chosen, e.g. "auto: the kernel lacks nft's queue statement (...)".
  virtual const std::string& selection_reason() const = 0;

 protected:
  Firewall() = default;
  Firewall(const Firewall&) = delete;
  Firewall& operator=(const Firewall&) = delete;
};

// True when the kernel accepts nft's `queue` statement. The probe is a dry-run (check-only)
// transaction that adds a throwaway table `inet picket_probe` with a queue rule and deletes it
// again; the kernel validates it and commits nothing. Error when nft cannot be used at all for
// another reason (e.g. missing permission).
Result<bool> ProbeNftQueueSupport();

// What a backend does for an installed Firewall (see the Firewall members of the same meaning).
struct FirewallOps {
  std::function<Status()> remove;
  std::function<Result<bool>()> present;
  std::function<Status()> reinstall;
  RuleChangeEvents change_events = RuleChangeEvents::kNone;
  std::string_view tools_variant = {};  // a string literal or empty (see Firewall::tools_variant)
};

// The Firewall both backends return once their rules are installed: `ops.remove` takes them out again.
// Remove() runs it until it succeeds once; the destructor runs it when no call succeeded yet and
// logs a failure. `backend_name` must be a string literal (it is kept as a view). Used by nft_backend.cc and iptables_backend.cc.
std::unique_ptr<Firewall> MakeInstalledFirewall(std::string_view backend_name, std::string reason, FirewallOps ops);

}  // namespace picket
