// Config: picketd's settings, from built-in defaults, then a JSON config file, then command-line
// overrides (in that order of precedence, lowest first). Every key is documented in docs/CONFIG.md.
//
// ParseConfig is a pure function over the file's bytes. Unknown keys are errors (a typo must not be
// silently ignored in a firewall's configuration); errors name the file, the key and the problem.
// Thread-safety: plain value, read-only after start.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/log.h"
#include "common/result.h"
#include "netfilter/fail_mode.h"
#include "netfilter/firewall.h"
#include "process/process_source.h"

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
  bool firewall_watch = true;  // re-install the rules when another tool deletes them (nf_tables events)
  uint32_t queue_max_len = 4096;      // packets the kernel holds for picketd before fail mode applies
  uint32_t queue_copy_range = 160;    // bytes of each packet copied to picketd (headers only)
  uint32_t reject_mark = 0x00400000;  // packet-mark bit that carries "reject" to the firewall's reject chain

  // Host names from DNS answers (daemon/dns/).
  bool dns_enabled = true;                  // queue DNS responses and learn IP → name
  std::optional<uint16_t> dns_queue_num;    // unset: queue_num + 1
  uint32_t dns_cache_max_names = 100000;    // (address, name) pairs kept
  uint32_t dns_min_ttl = 300;               // seconds a learned name lives at least
  uint32_t dns_max_ttl = 86400;             // seconds a learned name lives at most

  // The event log of decisions (daemon/storage/).
  std::string history_path = "/var/lib/picket/history.db";  // empty: history off
  uint32_t history_max_age_days = 30;       // 0: no age limit
  uint64_t history_max_rows = 1000000;      // 0: no row limit
  uint32_t history_queue_len = 65536;       // decisions waiting for the writer; beyond: dropped, counted

  // The UI socket (daemon/ui/, ui-protocol/PROTOCOL.md).
  std::string ui_socket = "/run/picket/ui.sock";  // empty: no UI socket
  std::string ui_group = "picket";                // members may change rules; missing group: root-only
  uint32_t ui_client_queue_bytes = 4u << 20;      // unsent output per client; beyond: disconnected
  uint32_t ui_max_clients = 64;                   // connections at once

  // Prompts (daemon/prompt_stage.h): flows no rule decides wait for an admin client's answer.
  uint32_t prompt_timeout_seconds = 30;           // no answer by then → default action + duration
  std::string prompt_default_duration = "once";   // protocol duration name ("once", "5m", "always" …)
  uint32_t prompt_max_pending_packets = 1024;     // packets held without a verdict; beyond: default
  uint32_t prompt_max_prompts = 64;               // prompts open at once; beyond: default

  // The exec-event store and checksums (daemon/process/).
  ProcessMonitor process_monitor = ProcessMonitor::kAuto;  // auto | ebpf | proc-connector | proc
  uint32_t process_exit_grace_seconds = 120;  // an ended process stays known this long (late packets)
  uint32_t process_sweep_seconds = 60;        // period of the eviction / liveness sweep
  uint32_t process_max_entries = 32768;       // processes kept (live + ended)
  uint32_t process_max_exited = 8192;         // ended processes kept
  uint32_t process_ring_buffer_kib = 1024;    // eBPF ring buffer size (power of two)
  bool flow_attribution = true;               // kernel flow ownership (bpf-flow) in front of /proc
  bool flow_attribution_netfilter = true;     // its netfilter LOCAL_OUT hook (raw and ping sockets)
  uint32_t checksum_cache_entries = 4096;     // file versions whose digests are kept
  uint32_t checksum_max_waiting_packets = 4096;  // packets held for a digest; beyond: decided without it

  // The DNS queue number in effect (dns_queue_num, else queue_num + 1 wrapping to 0).
  uint16_t EffectiveDnsQueueNum() const {
    return dns_queue_num.value_or(static_cast<uint16_t>(queue_num + 1));
  }
};

// Parses a JSON object of config keys on top of `base`. `origin` names the source (the file path)
// in error messages: "<origin>: key 'queue_num': expected an integer 0..65535, got "x"".
Result<Config> ParseConfig(std::string_view json_bytes, std::string_view origin, Config base = {});

// Reads and parses a config file. Errors name the path (missing, unreadable, malformed).
Result<Config> LoadConfigFile(const std::string& path, Config base = {});

// The effective configuration as one compact JSON object, every key of docs/CONFIG.md.
std::string ConfigToJson(const Config& config);

// Keys `picket config set` (UI protocol `config set`) may change while picketd runs.
inline constexpr std::array<std::string_view, 4> kRuntimeConfigKeys = {"default_action", "log_level",
                                                                       "prompt_timeout_seconds",
                                                                       "prompt_default_duration"};

// `base` with one run-time key set from a JSON value's text. Other keys, and bad values, are
// refused with a message naming the key and why.
Result<Config> SetRuntimeConfigKey(const Config& base, std::string_view key, std::string_view json_value);

}  // namespace picket
