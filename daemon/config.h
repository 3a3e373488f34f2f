// Config: picketd's settings, from built-in defaults, then a JSON config file, then command-line
// overrides (in that order of precedence, lowest first). Every key is documented in docs/CONFIG.md.
//
// ParseConfig is a pure function over the file's bytes. Unknown keys are errors (a typo must not be
// silently ignored in a firewall's configuration); errors name the file, the key and the problem.
// Thread-safety: plain value, read-only after start.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/log.h"
#include "common/result.h"
#include "netfilter/fail_mode.h"
#include "netfilter/firewall.h"

namespace picket {

enum class DefaultAction : uint8_t { kAllow, kDeny, kReject };

Result<DefaultAction> ParseDefaultAction(std::string_view text);
Result<FailMode> ParseFailMode(std::string_view text);                     // "open" | "closed"
Result<FirewallBackendChoice> ParseFirewallBackend(std::string_view text);  // "auto" | "nft" | "iptables"

struct Config {
  std::string rules_dir = "/etc/picket/rules";
  DefaultAction default_action = DefaultAction::kAllow;
  uint16_t queue_num = 0;
  FailMode fail_mode = FailMode::kOpen;
  log::Level log_level = log::Level::kInfo;
  FirewallBackendChoice firewall_backend = FirewallBackendChoice::kAuto;
  uint32_t queue_max_len = 4096;      // packets the kernel holds for picketd before fail mode applies
  uint32_t queue_copy_range = 160;    // bytes of each packet copied to picketd (headers only)
  uint32_t reject_mark = 0x00400000;  // packet-mark bit that carries "reject" to the firewall's reject chain
};

// Parses a JSON object of config keys on top of `base`. `origin` names the source (the file path)
// in error messages: "<origin>: key 'queue_num': expected an integer 0..65535, got "x"".
Result<Config> ParseConfig(std::string_view json_bytes, std::string_view origin, Config base = {});

// Reads and parses a config file. Errors name the path (missing, unreadable, malformed).
Result<Config> LoadConfigFile(const std::string& path, Config base = {});

}  // namespace picket
