#include "netfilter/iptables_backend.h"

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <utility>

#include "common/log.h"
#include "common/subprocess.h"

namespace picket {
namespace {

constexpr IpFamily kFamilies[] = {IpFamily::kIpv4, IpFamily::kIpv6};

std::string_view SaveTool(IpFamily family) { return family == IpFamily::kIpv4 ? "iptables-save" : "ip6tables-save"; }
std::string_view RestoreTool(IpFamily family) {
  return family == IpFamily::kIpv4 ? "iptables-restore" : "ip6tables-restore";
}
std::string_view FamilyName(IpFamily family) { return family == IpFamily::kIpv4 ? "IPv4" : "IPv6"; }

std::vector<std::string_view> SplitLines(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view line = text.substr(pos, eol - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    pos = eol + 1;
  }
  return lines;
}

// True for a saved rule "-A <chain> ... -j <target>" or "... -g <target>" outside <target> itself.
bool JumpsTo(std::string_view rule, std::string_view target) {
  if (!rule.starts_with("-A ")) return false;
  const std::string_view chain = rule.substr(3, rule.find(' ', 3) - 3);
  if (chain == target) return false;
  for (std::string_view verb : {" -j ", " -g "}) {
    const std::string suffix = std::string(verb) + std::string(target);
    if (rule.ends_with(suffix)) return true;
  }
  return false;
}

std::string MarkMatch(uint32_t mark) {
  char buf[48];
  std::snprintf(buf, sizeof(buf), "-m mark --mark 0x%x/0x%x", mark, mark);
  return buf;
}

// The script line number a restore error points at: "Error occurred at line: 5" (legacy) or
// "iptables-restore: line 3 failed: ..." (nft variant). 0 when there is none.
size_t FailedLineNumber(std::string_view message) {
  for (std::string_view marker : {"line: ", "line "}) {
    const size_t at = message.find(marker);
    if (at == std::string_view::npos) continue;
    const std::string_view digits = message.substr(at + marker.size());
    size_t n = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
    if (ec == std::errc()) return n;
  }
  return 0;
}

// The tool's stderr on one line without the usage hint, plus the script line it points at.
std::string DescribeRestoreFailure(std::string_view err, std::string_view script) {
  std::string described;
  const std::vector<std::string_view> script_lines = SplitLines(script);
  for (std::string_view line : SplitLines(err)) {
    if (line.empty() || line.starts_with("Try `")) continue;
    if (!described.empty()) described += "; ";
    described += line;
    const size_t n = FailedLineNumber(line);
    if (n >= 1 && n <= script_lines.size()) described += " (`" + std::string(script_lines[n - 1]) + "`)";
  }
  return described.empty() ? "no message" : described;
}

Result<IptablesPicketState> ReadState(IpFamily family) {
  const std::vector<std::string> argv{std::string(SaveTool(family))};
  auto run = RunCommand(argv);
  if (!run.ok()) return Error{"iptables: " + run.error().message, run.error().sys_errno};
  if (run->exit_code != 0) {
    return Error{"iptables: `" + CommandLine(argv) + "` failed (exit " + std::to_string(run->exit_code) +
                 "): " + DescribeRestoreFailure(run->err, {})};
  }
  return ParseIptablesSave(run->out);
}

Status Restore(IpFamily family, std::string_view what, const std::string& script) {
  const std::vector<std::string> argv{std::string(RestoreTool(family)), "-w", "--noflush"};
  auto run = RunCommand(argv, script);
  if (!run.ok()) return Error{"iptables: " + std::string(what) + ": " + run.error().message, run.error().sys_errno};
  if (run->exit_code != 0) {
    return Error{"iptables: " + std::string(what) + ": `" + CommandLine(argv) + "` failed (exit " +
                 std::to_string(run->exit_code) + "): " + DescribeRestoreFailure(run->err, script)};
  }
  return OkStatus();
}

Status InstallFamily(IpFamily family, const FirewallOptions& options, const IptablesPicketState& present) {
  const std::string what = "installing " + std::string(FamilyName(family)) + " chains " +
                           std::string(kIptablesQueueChain) + " and " + std::string(kIptablesRejectChain);
  return Restore(family, what, BuildIptablesInstallScript(family, options, present));
}

Status InstallFamily(IpFamily family, const FirewallOptions& options) {
  auto present = ReadState(family);
  if (!present.ok()) return present.error();
  return InstallFamily(family, options, *present);
}

Status RemoveFamily(IpFamily family) {
  auto present = ReadState(family);
  if (!present.ok()) return present.error();
  if (present->empty()) return OkStatus();
  const std::string what = "removing " + std::string(FamilyName(family)) + " chains";
  return Restore(family, what, BuildIptablesRemoveScript(*present));
}
}  // namespace

IptablesPicketState ParseIptablesSave(std::string_view save_output) {
  IptablesPicketState state;
  std::string_view table;
  const std::string queue_decl = ":" + std::string(kIptablesQueueChain) + " ";
  const std::string reject_decl = ":" + std::string(kIptablesRejectChain) + " ";
  const std::string dns_decl = ":" + std::string(kIptablesDnsChain) + " ";
  const std::string queue_rule = "-A " + std::string(kIptablesQueueChain) + " ";
  const std::string reject_rule = "-A " + std::string(kIptablesRejectChain) + " ";
  const std::string dns_rule = "-A " + std::string(kIptablesDnsChain) + " ";
  for (std::string_view line : SplitLines(save_output)) {
    if (line.starts_with("*")) {
      table = line.substr(1);
    } else if (line == "COMMIT") {
      table = {};
    } else if (table == "mangle") {
      if (line.starts_with(queue_decl)) state.queue_chain = true;
      if (JumpsTo(line, kIptablesQueueChain)) state.queue_jumps.emplace_back(line);
      if (line.starts_with(dns_decl)) state.dns_chain = true;
      if (JumpsTo(line, kIptablesDnsChain)) state.dns_jumps.emplace_back(line);
      if (line.starts_with(queue_rule)) state.queue_rules.emplace_back(line);
      if (line.starts_with(dns_rule)) state.dns_rules.emplace_back(line);
    } else if (table == "filter") {
      if (line.starts_with(reject_decl)) state.reject_chain = true;
      if (JumpsTo(line, kIptablesRejectChain)) state.reject_jumps.emplace_back(line);
      if (line.starts_with(reject_rule)) state.reject_rules.emplace_back(line);
    }
  }
  return state;
}

std::vector<std::string> IptablesQueueRules(const FirewallOptions& options) {
  const std::string target = "-j NFQUEUE --queue-num " + std::to_string(options.queue_num) +
                             (options.fail_mode == FailMode::kOpen ? " --queue-bypass" : "");
  const std::string prefix = "-A " + std::string(kIptablesQueueChain) + " ";
  // A bare SYN is queued whatever its conntrack state: a new connection that reuses the tuple of
  // one conntrack still remembers (e.g. just reset) is not NEW, and must still be decided.
  return {
      prefix + "-p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN " + target,
      prefix + "! -p tcp -m conntrack --ctstate NEW " + target,
  };
}

std::vector<std::string> IptablesDnsRules(const FirewallOptions& options) {
  if (!options.dns_queue_num) return {};
  // Replies to this host's own DNS queries; always with bypass, whatever the fail mode.
  const std::string match = " --sport 53 -m conntrack --ctstate ESTABLISHED --ctdir REPLY -j NFQUEUE --queue-num " +
                            std::to_string(*options.dns_queue_num) + " --queue-bypass";
  const std::string prefix = "-A " + std::string(kIptablesDnsChain) + " ";
  return {prefix + "-p udp -m udp" + match, prefix + "-p tcp -m tcp" + match};
}

std::vector<std::string> IptablesRejectRules(IpFamily family, const FirewallOptions& options) {
  const std::string prefix = "-A " + std::string(kIptablesRejectChain) + " ";
  const std::string mark = MarkMatch(options.reject_mark);
  if (family == IpFamily::kIpv4) {
    return {
        prefix + "-p tcp " + mark + " -j REJECT --reject-with tcp-reset",
        prefix + "-p icmp " + mark + " -j REJECT --reject-with icmp-admin-prohibited",
        prefix + mark + " -j REJECT --reject-with icmp-port-unreachable",
    };
  }
  return {
      prefix + "-p tcp " + mark + " -j REJECT --reject-with tcp-reset",
      prefix + "-p ipv6-icmp " + mark + " -j REJECT --reject-with icmp6-adm-prohibited",
      prefix + mark + " -j REJECT --reject-with icmp6-port-unreachable",
  };
}

std::string BuildIptablesInstallScript(IpFamily family, const FirewallOptions& options,
                                       const IptablesPicketState& present) {
  auto section = [](std::string_view table, std::string_view chain, const std::vector<std::string>& stale_jumps,
                    const std::vector<std::string>& rules, const std::string& extra) {
    std::string s = "*" + std::string(table) + "\n";
    s += ":" + std::string(chain) + " - [0:0]\n";  // creates the chain, or flushes an existing one
    for (const std::string& jump : stale_jumps) s += "-D" + jump.substr(2) + "\n";
    for (const std::string& rule : rules) s += rule + "\n";
    s += "-I OUTPUT 1 -j " + std::string(chain) + "\n";
    s += extra;
    s += "COMMIT\n";
    return s;
  };
  // PICKET_DNS lives in the mangle section too, so it changes in the same commit.
  std::string dns;
  for (const std::string& jump : present.dns_jumps) dns += "-D" + jump.substr(2) + "\n";
  const std::string dns_chain(kIptablesDnsChain);
  if (options.dns_queue_num) {
    dns = ":" + dns_chain + " - [0:0]\n" + dns;
    for (const std::string& rule : IptablesDnsRules(options)) dns += rule + "\n";
    dns += "-I INPUT 1 -j " + dns_chain + "\n";
  } else if (present.dns_chain) {
    dns += "-F " + dns_chain + "\n-X " + dns_chain + "\n";
  }
  return section("mangle", kIptablesQueueChain, present.queue_jumps, IptablesQueueRules(options), dns) +
         section("filter", kIptablesRejectChain, present.reject_jumps, IptablesRejectRules(family, options), {});
}

std::string BuildIptablesRemoveScript(const IptablesPicketState& present) {
  struct ChainState {
    std::string_view chain;
    bool present;
    const std::vector<std::string>& jumps;
  };
  auto section = [](std::string_view table, std::initializer_list<ChainState> chains) {
    std::string body;
    for (const ChainState& c : chains) {
      for (const std::string& jump : c.jumps) body += "-D" + jump.substr(2) + "\n";
    }
    for (const ChainState& c : chains) {
      if (!c.present) continue;
      body += "-F " + std::string(c.chain) + "\n";
      body += "-X " + std::string(c.chain) + "\n";
    }
    if (body.empty()) return std::string();
    return "*" + std::string(table) + "\n" + body + "COMMIT\n";
  };
  return section("mangle", {{kIptablesQueueChain, present.queue_chain, present.queue_jumps},
                            {kIptablesDnsChain, present.dns_chain, present.dns_jumps}}) +
         section("filter", {{kIptablesRejectChain, present.reject_chain, present.reject_jumps}});
}

bool IptablesRulesIntact(IpFamily family, const FirewallOptions& options, const IptablesPicketState& present) {
  auto one_jump = [](const std::vector<std::string>& jumps, std::string_view from, std::string_view chain) {
    return jumps.size() == 1 && jumps[0] == "-A " + std::string(from) + " -j " + std::string(chain);
  };
  const bool queue = present.queue_chain && one_jump(present.queue_jumps, "OUTPUT", kIptablesQueueChain) &&
                     present.queue_rules == IptablesQueueRules(options);
  const bool reject = present.reject_chain && one_jump(present.reject_jumps, "OUTPUT", kIptablesRejectChain) &&
                      present.reject_rules == IptablesRejectRules(family, options);
  const bool dns = options.dns_queue_num
                       ? present.dns_chain && one_jump(present.dns_jumps, "INPUT", kIptablesDnsChain) &&
                             present.dns_rules == IptablesDnsRules(options)
                       : true;
  return queue && reject && dns;
}

Result<bool> IptablesRulesPresent(const FirewallOptions& options) {
  for (IpFamily family : kFamilies) {
    auto present = ReadState(family);
    if (!present.ok()) return present.error();
    if (!IptablesRulesIntact(family, options, *present)) return false;
  }
  return true;
}

Result<IptablesVariant> ParseIptablesVersion(std::string_view version_output) {
  std::string_view line = version_output.substr(0, version_output.find('\n'));
  if (line.ends_with('\r')) line.remove_suffix(1);
  if (line.starts_with("iptables v")) {
    if (line.ends_with(" (nf_tables)")) return IptablesVariant::kNft;
    if (line.ends_with(" (legacy)") || line.find(' ', 10) == std::string_view::npos) return IptablesVariant::kLegacy;
  }
  return Error{"iptables: unrecognized `iptables -V` output: \"" + std::string(line) + "\""};
}

Result<IptablesVariant> DetectIptablesVariant() {
  const std::vector<std::string> argv{"iptables", "-V"};
  auto run = RunCommand(argv);
  if (!run.ok()) return Error{"iptables: " + run.error().message, run.error().sys_errno};
  if (run->exit_code != 0) {
    return Error{"iptables: `" + CommandLine(argv) + "` failed (exit " + std::to_string(run->exit_code) + ")"};
  }
  return ParseIptablesVersion(run->out);
}

Status InstallIptablesRules(const FirewallOptions& options) {
  for (IpFamily family : kFamilies) {
    Status installed = InstallFamily(family, options);
    if (installed.ok()) continue;
    if (family == IpFamily::kIpv6) {
      Status rolled_back = RemoveFamily(IpFamily::kIpv4);
      if (!rolled_back.ok()) {
        PLOG(kError) << "firewall: rolling back IPv4 rules: " << rolled_back.error().message;
      }
    }
    return installed.error();
  }
  return OkStatus();
}

Status RepairIptablesRules(const FirewallOptions& options) {
  for (IpFamily family : kFamilies) {
    auto present = ReadState(family);
    if (!present.ok()) return present.error();
    if (IptablesRulesIntact(family, options, *present)) continue;
    Status installed = InstallFamily(family, options, *present);
    if (!installed.ok()) return installed.error();
  }
  return OkStatus();
}

Result<std::unique_ptr<Firewall>> InstallIptablesFirewall(const FirewallOptions& options, std::string reason) {
  Status installed = InstallIptablesRules(options);
  if (!installed.ok()) return installed.error();
  auto variant = DetectIptablesVariant();
  if (!variant.ok()) PLOG(kWarn) << "firewall: cannot tell the iptables variant: " << variant.error().message;
  FirewallOps ops;
  ops.remove = [] { return RemoveIptablesRules(); };
  ops.present = [options] { return IptablesRulesPresent(options); };
  ops.reinstall = [options] { return RepairIptablesRules(options); };
  if (variant.ok()) {
    const bool nft = *variant == IptablesVariant::kNft;
    ops.change_events = nft ? RuleChangeEvents::kNfTables : RuleChangeEvents::kNone;
    ops.tools_variant = nft ? "nft" : "legacy";
  }
  return MakeInstalledFirewall("iptables", std::move(reason), std::move(ops));
}

Status RemoveIptablesRules() {
  Status first;
  for (IpFamily family : kFamilies) {
    Status s = RemoveFamily(family);
    if (!s.ok() && first.ok()) first = s;
  }
  return first;
}

}  // namespace picket
