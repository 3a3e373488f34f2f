#include "netfilter/nft_backend.h"

#include <nftables/libnftables.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <map>
#include <memory>
#include <utility>

#include "common/log.h"
#include "common/unique_fd.h"

namespace picket {
namespace {

struct NftCtxDeleter {
  void operator()(nft_ctx* ctx) const { nft_ctx_free(ctx); }
};
using NftCtx = std::unique_ptr<nft_ctx, NftCtxDeleter>;

struct NftOutcome {
  bool ok = false;
  std::string errors;  // libnftables' error text when !ok
  std::string output;  // what the commands printed (a listing) when ok
};

// The commands are passed as a file (a memfd) rather than a buffer: for buffer input libnftables
// 1.0.6 prints the first input line under every error instead of the offending one.
Result<NftOutcome> RunNftRaw(const std::string& commands, NftRunMode mode) {
  UniqueFd file(memfd_create("picket-nft", MFD_CLOEXEC));
  if (!file.valid()) return Error::FromErrno("nft: memfd_create");
  for (size_t off = 0; off < commands.size();) {
    ssize_t n = ::write(file.get(), commands.data() + off, commands.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Error::FromErrno("nft: writing the transaction to a memfd");
    off += static_cast<size_t>(n);
  }
  NftCtx ctx(nft_ctx_new(NFT_CTX_DEFAULT));
  if (!ctx) return Error{"nft: nft_ctx_new failed"};
  if (nft_ctx_buffer_output(ctx.get()) != 0 || nft_ctx_buffer_error(ctx.get()) != 0) {
    return Error{"nft: cannot buffer libnftables output"};
  }
  nft_ctx_set_dry_run(ctx.get(), mode == NftRunMode::kCheckOnly);
  const std::string path = "/proc/self/fd/" + std::to_string(file.get());
  NftOutcome outcome;
  outcome.ok = nft_run_cmd_from_filename(ctx.get(), path.c_str()) == 0;
  if (outcome.ok) {
    const char* output = nft_ctx_get_output_buffer(ctx.get());
    outcome.output = output != nullptr ? output : "";
  } else {
    const char* errors = nft_ctx_get_error_buffer(ctx.get());
    outcome.errors = errors != nullptr ? errors : "";
  }
  return outcome;
}

std::string Trim(std::string_view s) {
  const size_t begin = s.find_first_not_of(" \t\r\n");
  if (begin == std::string_view::npos) return {};
  const size_t end = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(begin, end - begin + 1));
}

std::string Hex32(uint32_t value) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "0x%08x", value);
  return buf;
}

bool MeansUnsupported(std::string_view errors) {
  return errors.find("No such file or directory") != std::string_view::npos ||
         errors.find("Operation not supported") != std::string_view::npos;
}
}  // namespace

std::string BuildNftTable(const FirewallOptions& options) {
  const std::string queue = "queue num " + std::to_string(options.queue_num) +
                            (options.fail_mode == FailMode::kOpen ? " bypass" : "");
  const std::string mark = Hex32(options.reject_mark);
  const std::string marked = "meta mark & " + mark + " == " + mark;
  std::string t;
  t += "table inet picket {\n";
  t += "\tchain output_queue {\n";
  t += "\t\ttype filter hook output priority mangle; policy accept;\n";
  // Bare SYNs whatever their ct state: a reused tuple conntrack still remembers is not "new".
  t += "\t\ttcp flags & (fin | syn | rst | ack) == syn " + queue + "\n";
  t += "\t\tmeta l4proto != tcp ct state new " + queue + "\n";
  t += "\t}\n";
  t += "\tchain output_reject {\n";
  t += "\t\ttype filter hook output priority filter; policy accept;\n";
  t += "\t\t" + marked + " meta l4proto tcp reject with tcp reset\n";
  t += "\t\t" + marked + " meta l4proto icmp reject with icmp type admin-prohibited\n";
  t += "\t\t" + marked + " meta l4proto ipv6-icmp reject with icmpv6 type admin-prohibited\n";
  t += "\t\t" + marked + " reject with icmpx type port-unreachable\n";
  t += "\t}\n";
  if (options.dns_queue_num) {
    // DNS answers to this host's own queries: learned by picketd, always accepted (bypass).
    const std::string dns = " sport 53 ct state established ct direction reply queue num " +
                            std::to_string(*options.dns_queue_num) + " bypass\n";
    t += "\tchain input_dns {\n";
    t += "\t\ttype filter hook input priority mangle; policy accept;\n";
    t += "\t\tudp" + dns;
    t += "\t\ttcp" + dns;
    t += "\t}\n";
  }
  t += "}\n";
  return t;
}

std::string BuildNftInstallTransaction(const FirewallOptions& options) {
  return "table inet picket {}\ndelete table inet picket\n" + BuildNftTable(options);
}

std::string BuildNftRemoveTransaction() { return "table inet picket {}\ndelete table inet picket\n"; }

std::string CondenseNftErrors(std::string_view error_text) {
  std::string condensed;
  size_t pos = 0;
  while (pos < error_text.size()) {
    size_t eol = error_text.find('\n', pos);
    if (eol == std::string_view::npos) eol = error_text.size();
    const std::string_view line = error_text.substr(pos, eol - pos);
    pos = eol + 1;
    const size_t at = line.find("Error: ");
    if (at == std::string_view::npos) continue;
    if (!condensed.empty()) condensed += "; ";
    condensed += Trim(line.substr(at));
    // libnftables follows the message with the offending input line and a line of carets.
    size_t next_eol = error_text.find('\n', pos);
    if (next_eol == std::string_view::npos) next_eol = error_text.size();
    if (pos < error_text.size()) {
      const std::string context = Trim(error_text.substr(pos, next_eol - pos));
      if (!context.empty() && context.find("Error: ") == std::string::npos &&
          context.find_first_not_of("^~ ") != std::string::npos) {
        condensed += " (in `" + context + "`)";
      }
    }
  }
  if (condensed.empty()) {
    for (char c : Trim(error_text)) condensed += (c == '\n' ? ' ' : c);
  }
  return condensed.empty() ? "unknown error (libnftables gave no message)" : condensed;
}

Status RunNftTransaction(std::string_view what, const std::string& commands, NftRunMode mode) {
  auto outcome = RunNftRaw(commands, mode);
  if (!outcome.ok()) return outcome.error();
  if (outcome->ok) return OkStatus();
  return Error{"nft: " + std::string(what) + (mode == NftRunMode::kCheckOnly ? " (check only)" : "") +
               " failed: " + CondenseNftErrors(outcome->errors)};
}

Result<NftQueueProbe> ProbeNftQueue() {
  static constexpr char kProbe[] =
      "add table inet picket_probe\n"
      "add chain inet picket_probe probe\n"
      "add rule inet picket_probe probe queue num 0 bypass\n"
      "delete table inet picket_probe\n";
  auto outcome = RunNftRaw(kProbe, NftRunMode::kCheckOnly);
  if (!outcome.ok()) return outcome.error();
  if (outcome->ok) return NftQueueProbe{true, {}};
  std::string detail = CondenseNftErrors(outcome->errors);
  if (MeansUnsupported(outcome->errors)) return NftQueueProbe{false, std::move(detail)};
  return Error{"nft: probing the queue statement (check-only transaction) failed: " + detail};
}

Result<bool> ProbeNftQueueSupport() {
  auto probe = ProbeNftQueue();
  if (!probe.ok()) return probe.error();
  return probe->supported;
}

std::map<std::string, size_t> CountNftChainRules(std::string_view listing) {
  std::map<std::string, size_t> rules;
  std::string chain;
  size_t pos = 0;
  while (pos < listing.size()) {
    size_t eol = listing.find('\n', pos);
    if (eol == std::string_view::npos) eol = listing.size();
    const std::string line = Trim(listing.substr(pos, eol - pos));
    pos = eol + 1;
    if (line.starts_with("chain ") && line.ends_with("{")) {
      chain = Trim(std::string_view(line).substr(6, line.size() - 7));
      rules[chain];
    } else if (line == "}") {
      chain.clear();
    } else if (!chain.empty() && !line.empty() && !line.starts_with("type ")) {
      ++rules[chain];
    }
  }
  return rules;
}

Result<bool> NftRulesPresent(const FirewallOptions& options) {
  auto listing = RunNftRaw("list table inet picket\n", NftRunMode::kCommit);
  if (!listing.ok()) return listing.error();
  if (!listing->ok) {
    if (MeansUnsupported(listing->errors)) return false;  // no table inet picket
    return Error{"nft: list table inet picket failed: " + CondenseNftErrors(listing->errors)};
  }
  return CountNftChainRules(listing->output) == CountNftChainRules(BuildNftTable(options));
}

Result<std::unique_ptr<Firewall>> InstallNftFirewall(const FirewallOptions& options, std::string reason) {
  auto install = [options] {
    return RunNftTransaction("install table inet picket", BuildNftInstallTransaction(options), NftRunMode::kCommit);
  };
  Status s = install();
  if (!s.ok()) return s.error();
  FirewallOps ops;
  ops.remove = [] {
    return RunNftTransaction("delete table inet picket", BuildNftRemoveTransaction(), NftRunMode::kCommit);
  };
  ops.present = [options] { return NftRulesPresent(options); };
  ops.reinstall = install;
  ops.change_events = RuleChangeEvents::kNfTables;
  return MakeInstalledFirewall("nft", std::move(reason), std::move(ops));
}

Status RemoveStaleNftTable() {
  return RunNftTransaction("delete stale table inet picket", BuildNftRemoveTransaction(), NftRunMode::kCommit);
}

}  // namespace picket
