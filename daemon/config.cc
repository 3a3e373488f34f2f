#include "config.h"

#include <QByteArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QJsonParseError>
#include <QJsonValue>

#include <algorithm>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

namespace picket {
namespace {

std::string Describe(const QJsonValue& v) {
  if (v.isString()) return "\"" + v.toString().toStdString() + "\"";
  if (v.isDouble()) return std::to_string(v.toDouble());
  if (v.isBool()) return v.toBool() ? "true" : "false";
  if (v.isNull()) return "null";
  return v.isArray() ? "an array" : "an object";
}

Error KeyError(std::string_view origin, const QString& key, std::string_view problem) {
  return Error{std::string(origin) + ": key '" + key.toStdString() + "': " + std::string(problem)};
}

Result<std::string> AsString(std::string_view origin, const QString& key, const QJsonValue& v) {
  if (!v.isString()) return KeyError(origin, key, "expected a string, got " + Describe(v));
  return v.toString().toStdString();
}

Result<uint64_t> AsUnsigned(std::string_view origin, const QString& key, const QJsonValue& v, uint64_t max) {
  const double d = v.toDouble(-1);
  if (!v.isDouble() || d < 0 || d > static_cast<double>(max) || d != static_cast<double>(static_cast<uint64_t>(d))) {
    return KeyError(origin, key, "expected an integer 0.." + std::to_string(max) + ", got " + Describe(v));
  }
  return static_cast<uint64_t>(d);
}

// Parses a string key with `parse` and stores it with `store`.
template <typename T>
Status ParseEnumKey(std::string_view origin, const QString& key, const QJsonValue& v,
                    Result<T> (*parse)(std::string_view), T* out) {
  auto text = AsString(origin, key, v);
  if (!text.ok()) return text.error();
  auto parsed = parse(*text);
  if (!parsed.ok()) return KeyError(origin, key, parsed.error().message);
  *out = *parsed;
  return OkStatus();
}

Status ParseUnsignedKey(std::string_view origin, const QString& key, const QJsonValue& v, uint64_t min,
                        uint64_t max, const std::function<void(uint64_t)>& store) {
  auto n = AsUnsigned(origin, key, v, max);
  if (!n.ok()) return n.error();
  if (*n < min) return KeyError(origin, key, "must be at least " + std::to_string(min));
  store(*n);
  return OkStatus();
}

// Keys of the DNS stage and the event log.
Status ApplyDnsOrHistoryKey(std::string_view origin, const QString& key, const QJsonValue& v, Config* c) {
  if (key == "dns_enabled") {
    if (!v.isBool()) return KeyError(origin, key, "expected true or false, got " + Describe(v));
    c->dns_enabled = v.toBool();
    return OkStatus();
  }
  if (key == "dns_queue_num") {
    return ParseUnsignedKey(origin, key, v, 0, 65535, [c](uint64_t n) { c->dns_queue_num = static_cast<uint16_t>(n); });
  }
  if (key == "dns_cache_max_names") {
    return ParseUnsignedKey(origin, key, v, 1, 10000000, [c](uint64_t n) { c->dns_cache_max_names = static_cast<uint32_t>(n); });
  }
  if (key == "dns_min_ttl") {
    return ParseUnsignedKey(origin, key, v, 0, 604800, [c](uint64_t n) { c->dns_min_ttl = static_cast<uint32_t>(n); });
  }
  if (key == "dns_max_ttl") {
    return ParseUnsignedKey(origin, key, v, 1, 604800, [c](uint64_t n) { c->dns_max_ttl = static_cast<uint32_t>(n); });
  }
  if (key == "history_path") {
    auto s = AsString(origin, key, v);
    if (!s.ok()) return s.error();
    c->history_path = *s;
    return OkStatus();
  }
  if (key == "history_max_age_days") {
    return ParseUnsignedKey(origin, key, v, 0, 36500, [c](uint64_t n) { c->history_max_age_days = static_cast<uint32_t>(n); });
  }
  if (key == "history_max_rows") {
    return ParseUnsignedKey(origin, key, v, 0, 1ull << 40, [c](uint64_t n) { c->history_max_rows = n; });
  }
  if (key == "history_queue_len") {
    return ParseUnsignedKey(origin, key, v, 1, 1u << 24, [c](uint64_t n) { c->history_queue_len = static_cast<uint32_t>(n); });
  }
  return KeyError(origin, key, "unknown key (see docs/CONFIG.md)");
}

// Keys of the exec-event store and the checksum worker.
Status ApplyProcessKey(std::string_view origin, const QString& key, const QJsonValue& v, Config* c) {
  if (key == "process_monitor") return ParseEnumKey(origin, key, v, &ParseProcessMonitor, &c->process_monitor);
  if (key == "flow_attribution") {
    if (!v.isBool()) return KeyError(origin, key, "expected true or false, got " + Describe(v));
    c->flow_attribution = v.toBool();
    return OkStatus();
  }
  if (key == "flow_attribution_netfilter") {
    if (!v.isBool()) return KeyError(origin, key, "expected true or false, got " + Describe(v));
    c->flow_attribution_netfilter = v.toBool();
    return OkStatus();
  }
  if (key == "process_exit_grace_seconds") {
    return ParseUnsignedKey(origin, key, v, 1, 86400, [c](uint64_t n) { c->process_exit_grace_seconds = static_cast<uint32_t>(n); });
  }
  if (key == "process_sweep_seconds") {
    return ParseUnsignedKey(origin, key, v, 1, 86400, [c](uint64_t n) { c->process_sweep_seconds = static_cast<uint32_t>(n); });
  }
  if (key == "process_max_entries") {
    return ParseUnsignedKey(origin, key, v, 64, 1u << 22, [c](uint64_t n) { c->process_max_entries = static_cast<uint32_t>(n); });
  }
  if (key == "process_max_exited") {
    return ParseUnsignedKey(origin, key, v, 0, 1u << 22, [c](uint64_t n) { c->process_max_exited = static_cast<uint32_t>(n); });
  }
  if (key == "process_ring_buffer_kib") {
    auto n = AsUnsigned(origin, key, v, 1u << 20);
    if (!n.ok()) return n.error();
    if (*n < 64 || (*n & (*n - 1)) != 0) {
      return KeyError(origin, key, "must be a power of two from 64 to 1048576, got " + std::to_string(*n));
    }
    c->process_ring_buffer_kib = static_cast<uint32_t>(*n);
    return OkStatus();
  }
  if (key == "checksum_cache_entries") {
    return ParseUnsignedKey(origin, key, v, 1, 1u << 20, [c](uint64_t n) { c->checksum_cache_entries = static_cast<uint32_t>(n); });
  }
  if (key == "checksum_max_waiting_packets") {
    return ParseUnsignedKey(origin, key, v, 1, 1u << 20, [c](uint64_t n) { c->checksum_max_waiting_packets = static_cast<uint32_t>(n); });
  }
  return KeyError(origin, key, "unknown key (see docs/CONFIG.md)");
}

Status ApplyUiKey(std::string_view origin, const QString& key, const QJsonValue& v, Config* c) {
  if (key == "ui_socket" || key == "ui_group") {
    auto s = AsString(origin, key, v);
    if (!s.ok()) return s.error();
    if (key == "ui_socket" && !s->empty() && (s->front() != '/' || s->size() > 107)) {
      return KeyError(origin, key, "expected an absolute path of at most 107 bytes, or \"\"");
    }
    (key == "ui_socket" ? c->ui_socket : c->ui_group) = *s;
    return OkStatus();
  }
  if (key == "ui_client_queue_bytes") {
    return ParseUnsignedKey(origin, key, v, 4096, 1u << 30, [c](uint64_t n) { c->ui_client_queue_bytes = static_cast<uint32_t>(n); });
  }
  if (key == "ui_max_clients") {
    return ParseUnsignedKey(origin, key, v, 1, 4096, [c](uint64_t n) { c->ui_max_clients = static_cast<uint32_t>(n); });
  }
  return KeyError(origin, key, "unknown key (see docs/CONFIG.md)");
}

Status ApplyPromptKey(std::string_view origin, const QString& key, const QJsonValue& v, Config* c) {
  if (key == "prompt_timeout_seconds") {
    return ParseUnsignedKey(origin, key, v, 1, 86400, [c](uint64_t n) { c->prompt_timeout_seconds = static_cast<uint32_t>(n); });
  }
  if (key == "prompt_default_duration") {
    static constexpr std::string_view kDurations[] = {"once", "30s", "5m", "15m", "30m", "1h", "12h", "24h",
                                                      "until-restart", "until-process-exits", "always"};
    auto s = AsString(origin, key, v);
    if (!s.ok()) return s.error();
    if (std::find(std::begin(kDurations), std::end(kDurations), *s) == std::end(kDurations)) {
      return KeyError(origin, key, "expected once, 30s, 5m, 15m, 30m, 1h, 12h, 24h, until-restart, "
                                   "until-process-exits or always, got " + Describe(v));
    }
    c->prompt_default_duration = *s;
    return OkStatus();
  }
  if (key == "prompt_max_pending_packets") {
    return ParseUnsignedKey(origin, key, v, 1, 1u << 20, [c](uint64_t n) { c->prompt_max_pending_packets = static_cast<uint32_t>(n); });
  }
  if (key == "prompt_max_prompts") {
    return ParseUnsignedKey(origin, key, v, 1, 65536, [c](uint64_t n) { c->prompt_max_prompts = static_cast<uint32_t>(n); });
  }
  return KeyError(origin, key, "unknown key (see docs/CONFIG.md)");
}

Status ApplyKey(std::string_view origin, const QString& key, const QJsonValue& v, Config* c) {
  if (key == "rules_dir") {
    auto s = AsString(origin, key, v);
    if (!s.ok()) return s.error();
    if (s->empty()) return KeyError(origin, key, "must not be empty");
    c->rules_dir = *s;
    return OkStatus();
  }
  if (key == "default_action") return ParseEnumKey(origin, key, v, &ParseDefaultAction, &c->default_action);
  if (key == "fail_mode") return ParseEnumKey(origin, key, v, &ParseFailMode, &c->fail_mode);
  if (key == "log_level") return ParseEnumKey(origin, key, v, &log::ParseLevel, &c->log_level);
  if (key == "firewall_backend") return ParseEnumKey(origin, key, v, &ParseFirewallBackend, &c->firewall_backend);
  if (key == "firewall_watch") {
    if (!v.isBool()) return KeyError(origin, key, "expected true or false, got " + Describe(v));
    c->firewall_watch = v.toBool();
    return OkStatus();
  }
  if (key == "queue_num") {
    return ParseUnsignedKey(origin, key, v, 0, 65535, [c](uint64_t n) { c->queue_num = static_cast<uint16_t>(n); });
  }
  if (key == "queue_max_len") {
    return ParseUnsignedKey(origin, key, v, 1, 1u << 20, [c](uint64_t n) { c->queue_max_len = static_cast<uint32_t>(n); });
  }
  if (key == "queue_copy_range") {
    return ParseUnsignedKey(origin, key, v, 64, 65535, [c](uint64_t n) { c->queue_copy_range = static_cast<uint32_t>(n); });
  }
  if (key == "reject_mark") {
    auto n = AsUnsigned(origin, key, v, 0xffffffffu);
    if (!n.ok()) return n.error();
    if (*n == 0 || (*n & (*n - 1)) != 0) return KeyError(origin, key, "must be a single bit (a power of two), got " + std::to_string(*n));
    c->reject_mark = static_cast<uint32_t>(*n);
    return OkStatus();
  }
  if (key.startsWith("process_") || key.startsWith("checksum_") || key.startsWith("flow_attribution")) return ApplyProcessKey(origin, key, v, c);
  if (key.startsWith("dns_") || key.startsWith("history_")) {
    return ApplyDnsOrHistoryKey(origin, key, v, c);
  }
  if (key.startsWith("ui_")) return ApplyUiKey(origin, key, v, c);
  if (key.startsWith("prompt_")) return ApplyPromptKey(origin, key, v, c);
  return KeyError(origin, key, "unknown key (see docs/CONFIG.md)");
}

}  // namespace

Result<DefaultAction> ParseDefaultAction(std::string_view text) {
  if (text == "allow") return DefaultAction::kAllow;
  if (text == "deny") return DefaultAction::kDeny;
  if (text == "reject") return DefaultAction::kReject;
  return Error{"unknown action '" + std::string(text) + "' (expected allow, deny or reject)"};
}

Result<FailMode> ParseFailMode(std::string_view text) {
  if (text == "open") return FailMode::kOpen;
  if (text == "closed") return FailMode::kClosed;
  return Error{"unknown fail mode '" + std::string(text) + "' (expected open or closed)"};
}

Result<FirewallBackendChoice> ParseFirewallBackend(std::string_view text) {
  if (text == "auto") return FirewallBackendChoice::kAuto;
  if (text == "nft") return FirewallBackendChoice::kNft;
  if (text == "iptables") return FirewallBackendChoice::kIptables;
  return Error{"unknown firewall backend '" + std::string(text) + "' (expected auto, nft or iptables)"};
}

Result<Config> ParseConfig(std::string_view json_bytes, std::string_view origin, Config base) {
  QJsonParseError parse_error{};
  const QJsonDocument doc = QJsonDocument::fromJson(
      QByteArray(json_bytes.data(), static_cast<qsizetype>(json_bytes.size())), &parse_error);
  if (parse_error.error != QJsonParseError::NoError) {
    return Error{std::string(origin) + ": malformed JSON at offset " + std::to_string(parse_error.offset) + ": " +
                 parse_error.errorString().toStdString()};
  }
  if (!doc.isObject()) return Error{std::string(origin) + ": expected a JSON object at the top level"};
  const QJsonObject obj = doc.object();
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    Status s = ApplyKey(origin, it.key(), it.value(), &base);
    if (!s.ok()) return s.error();
  }
  return base;
}

namespace {

std::string_view DefaultActionName(DefaultAction action) {
  switch (action) {
    case DefaultAction::kAllow: return "allow";
    case DefaultAction::kDeny: return "deny";
    case DefaultAction::kReject: return "reject";
  }
  return "deny";
}

std::string_view FirewallBackendName(FirewallBackendChoice choice) {
  switch (choice) {
    case FirewallBackendChoice::kAuto: return "auto";
    case FirewallBackendChoice::kNft: return "nft";
    case FirewallBackendChoice::kIptables: return "iptables";
  }
  return "auto";
}

QString Text(std::string_view s) { return QString::fromUtf8(s.data(), static_cast<qsizetype>(s.size())); }

}  // namespace

std::string ConfigToJson(const Config& c) {
  QJsonObject o{
      {"rules_dir", Text(c.rules_dir)},
      {"default_action", Text(DefaultActionName(c.default_action))},
      {"queue_num", c.queue_num},
      {"fail_mode", c.fail_mode == FailMode::kOpen ? "open" : "closed"},
      {"log_level", Text(log::LevelName(c.log_level))},
      {"firewall_backend", Text(FirewallBackendName(c.firewall_backend))},
      {"firewall_watch", c.firewall_watch},
      {"queue_max_len", static_cast<double>(c.queue_max_len)},
      {"queue_copy_range", static_cast<double>(c.queue_copy_range)},
      {"reject_mark", static_cast<double>(c.reject_mark)},
      {"dns_enabled", c.dns_enabled},
      {"dns_queue_num", c.dns_queue_num ? QJsonValue(*c.dns_queue_num) : QJsonValue()},
      {"dns_cache_max_names", static_cast<double>(c.dns_cache_max_names)},
      {"dns_min_ttl", static_cast<double>(c.dns_min_ttl)},
      {"dns_max_ttl", static_cast<double>(c.dns_max_ttl)},
      {"history_path", Text(c.history_path)},
      {"history_max_age_days", static_cast<double>(c.history_max_age_days)},
      {"history_max_rows", static_cast<double>(c.history_max_rows)},
      {"history_queue_len", static_cast<double>(c.history_queue_len)},
      {"ui_socket", Text(c.ui_socket)},
      {"ui_group", Text(c.ui_group)},
      {"ui_client_queue_bytes", static_cast<double>(c.ui_client_queue_bytes)},
      {"ui_max_clients", static_cast<double>(c.ui_max_clients)},
      {"prompt_timeout_seconds", static_cast<double>(c.prompt_timeout_seconds)},
      {"prompt_default_duration", Text(c.prompt_default_duration)},
      {"prompt_max_pending_packets", static_cast<double>(c.prompt_max_pending_packets)},
      {"prompt_max_prompts", static_cast<double>(c.prompt_max_prompts)},
      {"process_monitor", Text(ProcessMonitorName(c.process_monitor))},
      {"process_exit_grace_seconds", static_cast<double>(c.process_exit_grace_seconds)},
      {"process_sweep_seconds", static_cast<double>(c.process_sweep_seconds)},
      {"process_max_entries", static_cast<double>(c.process_max_entries)},
      {"process_max_exited", static_cast<double>(c.process_max_exited)},
      {"process_ring_buffer_kib", static_cast<double>(c.process_ring_buffer_kib)},
      {"checksum_cache_entries", static_cast<double>(c.checksum_cache_entries)},
      {"checksum_max_waiting_packets", static_cast<double>(c.checksum_max_waiting_packets)},
  };
  return QJsonDocument(o).toJson(QJsonDocument::Compact).toStdString();
}

Result<Config> SetRuntimeConfigKey(const Config& base, std::string_view key, std::string_view json_value) {
  if (std::find(kRuntimeConfigKeys.begin(), kRuntimeConfigKeys.end(), key) == kRuntimeConfigKeys.end()) {
    std::string keys;
    for (std::string_view k : kRuntimeConfigKeys) keys += (keys.empty() ? "" : ", ") + std::string(k);
    return Error{"key '" + std::string(key) + "' cannot be changed while picketd runs (run-time keys: " + keys +
                 "; others: edit the config file and restart picketd)"};
  }
  return ParseConfig("{\"" + std::string(key) + "\":" + std::string(json_value) + "}", "config set", base);
}

Result<Config> LoadConfigFile(const std::string& path, Config base) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error::FromErrno("config file " + path);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (in.bad()) return Error::FromErrno("reading config file " + path);
  return ParseConfig(bytes.str(), path, std::move(base));
}

}  // namespace picket
