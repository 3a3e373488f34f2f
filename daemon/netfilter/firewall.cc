#include "netfilter/firewall.h"

#include <cerrno>
#include <cstdio>
#include <utility>

#include "common/log.h"
#include "netfilter/iptables_backend.h"
#include "netfilter/nft_backend.h"

namespace picket {
namespace {

enum class Backend : uint8_t { kNft, kIptables };

struct BackendSelection {
  Backend backend;
  std::string reason;
};

constexpr char kNoQueueSupport[] = "the kernel lacks nft's queue statement (nft_queue, CONFIG_NFT_QUEUE)";

Status ValidateOptions(const FirewallOptions& options) {
  const uint32_t mark = options.reject_mark;
  if (mark == 0 || (mark & (mark - 1)) != 0) {
    char buf[64];
    std::snprintf(buf, sizeof(buf), "0x%08x", mark);
    return Error{std::string("reject_mark must be a single bit, got ") + buf};
  }
  return OkStatus();
}

Result<BackendSelection> SelectBackend(FirewallBackendChoice choice) {
  if (choice == FirewallBackendChoice::kIptables) return BackendSelection{Backend::kIptables, "configured"};
  auto probe = ProbeNftQueue();
  if (choice == FirewallBackendChoice::kNft) {
    if (!probe.ok()) return probe.error();
    if (!probe->supported) {
      return Error{std::string("nft: cannot use the nft backend: ") + kNoQueueSupport + ": " + probe->detail +
                   " (use the iptables backend)"};
    }
    return BackendSelection{Backend::kNft, "configured"};
  }
  if (!probe.ok()) return BackendSelection{Backend::kIptables, "auto: nft unusable: " + probe.error().message};
  if (!probe->supported) {
    return BackendSelection{Backend::kIptables, std::string("auto: ") + kNoQueueSupport + ": " + probe->detail};
  }
  return BackendSelection{Backend::kNft, "auto: the kernel supports nft's queue statement"};
}

// Rules of the backend not chosen, left by a crashed run, would queue packets a second time.
// The chosen backend replaces its own stale rules while installing.
Status RemoveStaleRulesOfOtherBackend(Backend chosen) {
  if (chosen == Backend::kNft) {
    Status s = RemoveIptablesRules();
    if (!s.ok() && s.error().sys_errno == ENOENT) {
      PLOG(kDebug) << "firewall: no iptables tools, so no stale iptables rules: " << s.error().message;
      return OkStatus();
    }
    return s;
  }
  Status s = RemoveStaleNftTable();
  if (!s.ok()) {
    // Without a working nf_tables there can be no stale table inet picket either.
    PLOG(kWarn) << "firewall: could not check for a stale table inet picket: " << s.error().message;
  }
  return OkStatus();
}

}  // namespace

Firewall::~Firewall() = default;

std::string Firewall::display_name() const {
  std::string name(backend_name());
  if (!tools_variant().empty()) name += "-" + std::string(tools_variant());
  return name;
}

namespace {

class InstalledFirewall final : public Firewall {
 public:
  InstalledFirewall(std::string_view backend_name, std::string reason, FirewallOps ops)
      : backend_name_(backend_name), reason_(std::move(reason)), ops_(std::move(ops)) {}
  ~InstalledFirewall() override {
    Status s = Remove();
    if (!s.ok()) PLOG(kError) << "firewall: removing rules on destruction: " << s.error().message;
  }

  Status Remove() override {
    if (removed_) return OkStatus();
    Status s = ops_.remove();
    if (s.ok()) removed_ = true;
    return s;
  }
  Result<bool> RulesPresent() override { return ops_.present(); }
  Status Reinstall() override {
    Status s = ops_.reinstall();
    if (s.ok()) removed_ = false;
    return s;
  }
  RuleChangeEvents change_events() const override { return ops_.change_events; }
  std::string_view tools_variant() const override { return ops_.tools_variant; }
  std::string_view backend_name() const override { return backend_name_; }
  const std::string& selection_reason() const override { return reason_; }

 private:
  std::string_view backend_name_;
  std::string reason_;
  FirewallOps ops_;
  bool removed_ = false;
};

}  // namespace

std::unique_ptr<Firewall> MakeInstalledFirewall(std::string_view backend_name, std::string reason, FirewallOps ops) {
  return std::make_unique<InstalledFirewall>(backend_name, std::move(reason), std::move(ops));
}

Result<std::unique_ptr<Firewall>> Firewall::Install(const FirewallOptions& options) {
  Status valid = ValidateOptions(options);
  if (!valid.ok()) return valid.error();
  auto selection = SelectBackend(options.backend);
  if (!selection.ok()) return selection.error();
  Status stale = RemoveStaleRulesOfOtherBackend(selection->backend);
  if (!stale.ok()) return Error{"removing stale Picket rules: " + stale.error().message, stale.error().sys_errno};
  auto firewall = selection->backend == Backend::kNft ? InstallNftFirewall(options, std::move(selection->reason))
                                                      : InstallIptablesFirewall(options, std::move(selection->reason));
  if (!firewall.ok()) return firewall.error();
  PLOG(kInfo) << "firewall: backend=" << (*firewall)->display_name() << " (" << (*firewall)->selection_reason()
              << ")";
  return firewall;
}

}  // namespace picket
