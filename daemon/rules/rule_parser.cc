#include "rules/rule_parser.h"

#include <re2/re2.h>

#include <QByteArray>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QJsonParseError>
#include <QJsonValue>
#include <QString>
#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>

#include "rules/lifetime.h"
#include "rules/lists.h"
#include "rules/network.h"
#include "rules/operator_match.h"

namespace picket {
namespace {

enum class Presence : uint8_t { kRequired, kOptional };

constexpr std::array<std::string_view, 10> kProtocolNames = {"tcp",  "udp",  "udplite",  "sctp",  "icmp",
                                                             "tcp6", "udp6", "udplite6", "sctp6", "icmp6"};

struct OperandName {
  std::string_view name;
  Operand operand;
};
constexpr OperandName kSupportedOperands[] = {
    {"true", Operand::kTrue},
    {"process.path", Operand::kProcessPath},
    {"process.command", Operand::kProcessCommand},
    {"process.id", Operand::kProcessId},
    {"user.id", Operand::kUserId},
    {"dest.ip", Operand::kDestIp},
    {"dest.port", Operand::kDestPort},
    {"protocol", Operand::kProtocol},
    {"user.name", Operand::kUserName},
    {"source.ip", Operand::kSourceIp},
    {"source.port", Operand::kSourcePort},
    {"source.network", Operand::kSourceNetwork},
    {"dest.network", Operand::kDestNetwork},
    {"dest.host", Operand::kDestHost},
    {"iface.in", Operand::kIfaceIn},
    {"iface.out", Operand::kIfaceOut},
    {"process.container", Operand::kProcessContainer},
    {"process.cgroup", Operand::kProcessCgroup},
    {"lists.domains", Operand::kListsDomains},
    {"lists.domains_regexp", Operand::kListsDomainsRegexp},
    {"lists.ips", Operand::kListsIps},
    {"lists.nets", Operand::kListsNets},
    {"lists.hash.md5", Operand::kListsHashMd5},
    {"lists.hash.sha256", Operand::kListsHashSha256},
    {"process.parent.path", Operand::kProcessParentPath},
    {"process.hash.md5", Operand::kProcessHashMd5},
    {"process.hash.sha1", Operand::kProcessHashSha1},
    {"process.hash.sha256", Operand::kProcessHashSha256},
};

constexpr std::string_view kEnvOperandPrefix = "process.env.";

std::string Quoted(std::string_view text) { return "'" + std::string(text) + "'"; }

std::string JoinPath(std::string_view prefix, std::string_view key) {
  if (prefix.empty()) return std::string(key);
  return std::string(prefix) + "." + std::string(key);
}

std::string_view JsonTypeName(const QJsonValue& value) {
  switch (value.type()) {
    case QJsonValue::Null: return "null";
    case QJsonValue::Bool: return "a boolean";
    case QJsonValue::Double: return "a number";
    case QJsonValue::String: return "a string";
    case QJsonValue::Array: return "an array";
    case QJsonValue::Object: return "an object";
    case QJsonValue::Undefined: return "nothing";
  }
  return "an unknown JSON value";
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Canonical unsigned decimal ("0", "443"; no sign, no leading zero) not above `max`.
std::optional<uint32_t> ParseCanonicalDecimal(std::string_view text, uint32_t max) {
  if (text.empty() || text.size() > 10) return std::nullopt;
  if (text.size() > 1 && text[0] == '0') return std::nullopt;
  for (char c : text) {
    if (!IsDigit(c)) return std::nullopt;
  }
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value > max) return std::nullopt;
  return static_cast<uint32_t>(value);
}

// Digits at text[pos, pos+count) as a number, or -1.
int Digits(std::string_view text, size_t pos, size_t count) {
  if (pos + count > text.size()) return -1;
  int value = 0;
  for (size_t i = pos; i < pos + count; ++i) {
    if (!IsDigit(text[i])) return -1;
    value = value * 10 + (text[i] - '0');
  }
  return value;
}

// RFC 3339 date-time: 2024-05-01T12:30:00Z, 2024-05-01T12:30:00.123456789+02:00.
bool IsRfc3339(std::string_view t) {
  const int year = Digits(t, 0, 4);
  const int month = Digits(t, 5, 2);
  const int day = Digits(t, 8, 2);
  const int hour = Digits(t, 11, 2);
  const int minute = Digits(t, 14, 2);
  const int second = Digits(t, 17, 2);
  if (year < 0 || month < 1 || month > 12 || day < 1 || day > 31 || hour < 0 || hour > 23 || minute < 0 ||
      minute > 59 || second < 0 || second > 60) {
    return false;
  }
  if (t[4] != '-' || t[7] != '-' || (t[10] != 'T' && t[10] != 't') || t[13] != ':' || t[16] != ':') {
    return false;
  }
  size_t pos = 19;
  if (pos < t.size() && t[pos] == '.') {
    const size_t first = ++pos;
    while (pos < t.size() && IsDigit(t[pos])) ++pos;
    if (pos == first) return false;
  }
  const std::string_view zone = t.substr(pos);
  if (zone == "Z" || zone == "z") return true;
  if (zone.size() != 6 || (zone[0] != '+' && zone[0] != '-') || zone[3] != ':') return false;
  const int zone_hour = Digits(zone, 1, 2);
  const int zone_minute = Digits(zone, 4, 2);
  return zone_hour >= 0 && zone_hour <= 23 && zone_minute >= 0 && zone_minute <= 59;
}

// Reads one rule; each Read* returns false after recording the first error in `error`.
class RuleReader {
 public:
  bool ReadRule(const QJsonObject& json, Rule& rule);
  const RuleParseError& error() const { return error_; }

 private:
  bool Fail(std::string field, std::string reason) {
    error_ = RuleParseError{std::move(field), std::move(reason)};
    return false;
  }
  // Returns false on error; `found` (when given) says whether the field was present.
  bool ReadString(const QJsonObject& json, std::string_view prefix, const char* key, Presence presence,
                  std::string& out, bool* found = nullptr);
  bool ReadBool(const QJsonObject& json, std::string_view prefix, const char* key, Presence presence,
                bool& out);
  bool ReadName(const QJsonObject& json, Rule& rule);
  bool ReadAction(const QJsonObject& json, Rule& rule);
  bool ReadDuration(const QJsonObject& json, Rule& rule);
  bool ReadTimestamp(const QJsonObject& json, const char* key, std::string& out);
  bool ReadOperator(const QJsonObject& json, const std::string& path, int depth, Operator& op);
  bool ReadType(const QJsonObject& json, const std::string& path, OperatorType& type);
  bool ReadOperand(const QJsonObject& json, const std::string& path, Operand& operand, std::string& written);
  bool ReadListChildren(const QJsonObject& json, const std::string& path, int depth, Operator& op);
  bool ReadChildArray(const QJsonArray& array, const std::string& path, int depth, Operator& op);
  bool CheckTypeAndOperand(const std::string& path, const Operator& op);
  bool Compile(const std::string& path, Operator& op);
  bool CompileSimple(const std::string& path, Operator& op);
  bool CompileRegexp(const std::string& path, Operator& op);
  bool CompileNetwork(const std::string& path, Operator& op);
  bool CompileRange(const std::string& path, Operator& op);
  bool CompileLists(const std::string& path, Operator& op);

  RuleParseError error_;
};

bool RuleReader::ReadString(const QJsonObject& json, std::string_view prefix, const char* key,
                            Presence presence, std::string& out, bool* found) {
  const QJsonValue value = json.value(QLatin1String(key));
  const bool absent = value.isUndefined() || (presence == Presence::kOptional && value.isNull());
  if (found != nullptr) *found = !absent;
  if (absent) {
    if (presence == Presence::kRequired) return Fail(JoinPath(prefix, key), "missing");
    return true;
  }
  if (!value.isString()) {
    return Fail(JoinPath(prefix, key), "expected a string, found " + std::string(JsonTypeName(value)));
  }
  out = value.toString().toStdString();
  return true;
}

bool RuleReader::ReadBool(const QJsonObject& json, std::string_view prefix, const char* key,
                          Presence presence, bool& out) {
  const QJsonValue value = json.value(QLatin1String(key));
  if (value.isUndefined() || (presence == Presence::kOptional && value.isNull())) {
    if (presence == Presence::kRequired) return Fail(JoinPath(prefix, key), "missing");
    return true;
  }
  if (!value.isBool()) {
    return Fail(JoinPath(prefix, key), "expected true or false, found " + std::string(JsonTypeName(value)));
  }
  out = value.toBool();
  return true;
}

bool RuleReader::ReadName(const QJsonObject& json, Rule& rule) {
  if (!ReadString(json, "", "name", Presence::kRequired, rule.name)) return false;
  if (rule.name.empty()) return Fail("name", "empty");
  if (rule.name.find('/') != std::string::npos || rule.name.find('\0') != std::string::npos) {
    return Fail("name", Quoted(rule.name) + " contains '/' or a NUL byte and cannot name a file");
  }
  return true;
}

bool RuleReader::ReadAction(const QJsonObject& json, Rule& rule) {
  std::string text;
  if (!ReadString(json, "", "action", Presence::kRequired, text)) return false;
  if (text == "allow") {
    rule.action = Action::kAllow;
  } else if (text == "deny") {
    rule.action = Action::kDeny;
  } else if (text == "reject") {
    rule.action = Action::kReject;
  } else {
    return Fail("action", "unknown action " + Quoted(text) + " (expected allow, deny or reject)");
  }
  return true;
}

bool RuleReader::ReadDuration(const QJsonObject& json, Rule& rule) {
  bool found = false;
  if (!ReadString(json, "", "duration", Presence::kOptional, rule.duration, &found)) return false;
  if (!found) rule.duration = "always";
  Result<Lifetime> lifetime = ParseLifetime(rule.duration);
  if (!lifetime.ok()) return Fail("duration", lifetime.error().message);
  rule.lifetime = *lifetime;
  return true;
}

bool RuleReader::ReadTimestamp(const QJsonObject& json, const char* key, std::string& out) {
  if (!ReadString(json, "", key, Presence::kOptional, out)) return false;
  if (!out.empty() && !IsRfc3339(out)) {
    return Fail(key, Quoted(out) + " is not an RFC 3339 time (e.g. 2024-05-01T12:30:00Z)");
  }
  return true;
}

bool RuleReader::ReadRule(const QJsonObject& json, Rule& rule) {
  if (!ReadName(json, rule)) return false;
  if (!ReadString(json, "", "description", Presence::kOptional, rule.description)) return false;
  if (!ReadBool(json, "", "enabled", Presence::kRequired, rule.enabled)) return false;
  if (!ReadBool(json, "", "precedence", Presence::kOptional, rule.precedence)) return false;
  if (!ReadAction(json, rule) || !ReadDuration(json, rule)) return false;
  if (!ReadBool(json, "", "nolog", Presence::kOptional, rule.nolog)) return false;
  if (!ReadTimestamp(json, "created", rule.created) || !ReadTimestamp(json, "updated", rule.updated)) {
    return false;
  }
  const QJsonValue op = json.value(QLatin1String("operator"));
  if (op.isUndefined()) return Fail("operator", "missing");
  if (!op.isObject()) return Fail("operator", "expected an object, found " + std::string(JsonTypeName(op)));
  return ReadOperator(op.toObject(), "operator", 1, rule.op);
}

bool RuleReader::ReadType(const QJsonObject& json, const std::string& path, OperatorType& type) {
  std::string text;
  if (!ReadString(json, path, "type", Presence::kRequired, text)) return false;
  if (text == "simple") {
    type = OperatorType::kSimple;
  } else if (text == "regexp") {
    type = OperatorType::kRegexp;
  } else if (text == "list") {
    type = OperatorType::kList;
  } else if (text == "network") {
    type = OperatorType::kNetwork;
  } else if (text == "lists") {
    type = OperatorType::kLists;
  } else if (text == "range") {
    type = OperatorType::kRange;
  } else {
    return Fail(JoinPath(path, "type"), "unknown operator type " + Quoted(text) +
                                            " (expected simple, regexp, list, network, lists or range)");
  }
  return true;
}

bool RuleReader::ReadOperand(const QJsonObject& json, const std::string& path, Operand& operand,
                             std::string& written) {
  std::string text;
  if (!ReadString(json, path, "operand", Presence::kRequired, text)) return false;
  written = text;
  for (const OperandName& known : kSupportedOperands) {
    if (text == known.name) {
      operand = known.operand;
      return true;
    }
  }
  const std::string field = JoinPath(path, "operand");
  if (text == "list") return Fail(field, "operand 'list' needs operator type 'list'");
  if (std::string_view(text).starts_with(kEnvOperandPrefix)) {
    const std::string_view name = std::string_view(text).substr(kEnvOperandPrefix.size());
    if (name.empty() || name.find_first_of(std::string_view("=\0", 2)) != std::string_view::npos) {
      return Fail(field, "operand " + Quoted(text) + " does not name an environment variable");
    }
    operand = Operand::kProcessEnv;
    return true;
  }
  return Fail(field, "unknown operand " + Quoted(text));
}

bool RuleReader::ReadChildArray(const QJsonArray& array, const std::string& path, int depth, Operator& op) {
  op.list.reserve(static_cast<size_t>(array.size()));
  for (qsizetype i = 0; i < array.size(); ++i) {
    const std::string child_path = path + "[" + std::to_string(i) + "]";
    const QJsonValue child = array.at(i);
    if (!child.isObject()) {
      return Fail(child_path, "expected an operator object, found " + std::string(JsonTypeName(child)));
    }
    op.list.emplace_back();
    if (!ReadOperator(child.toObject(), child_path, depth + 1, op.list.back())) return false;
  }
  return true;
}

bool RuleReader::ReadListChildren(const QJsonObject& json, const std::string& path, int depth, Operator& op) {
  if (depth > kMaxOperatorDepth) {
    return Fail(path, "list operators nested deeper than " + std::to_string(kMaxOperatorDepth));
  }
  const std::string list_path = JoinPath(path, "list");
  const QJsonValue list = json.value(QLatin1String("list"));
  if (!list.isUndefined() && !list.isNull() && !list.isArray()) {
    return Fail(list_path, "expected an array, found " + std::string(JsonTypeName(list)));
  }
  bool has_data = false;
  if (!ReadString(json, path, "data", Presence::kOptional, op.data, &has_data)) return false;
  if (list.isArray() && !list.toArray().isEmpty()) {
    return ReadChildArray(list.toArray(), list_path, depth, op);
  }
  if (!has_data || op.data.empty()) {
    return Fail(list_path, "empty: a list operator needs at least one operator");
  }
  // Older files carry the list as JSON text in `data`.
  const std::string data_path = JoinPath(path, "data");
  QJsonParseError parse_error;
  const QJsonDocument doc = QJsonDocument::fromJson(QByteArray::fromStdString(op.data), &parse_error);
  if (parse_error.error != QJsonParseError::NoError) {
    return Fail(data_path, "invalid JSON list at byte " + std::to_string(parse_error.offset) + ": " +
                               parse_error.errorString().toStdString());
  }
  if (!doc.isArray()) return Fail(data_path, "expected a JSON array of operators");
  if (doc.array().isEmpty()) return Fail(data_path, "empty: a list operator needs at least one operator");
  return ReadChildArray(doc.array(), data_path, depth, op);
}

bool RuleReader::CompileSimple(const std::string& path, Operator& op) {
  const std::string field = JoinPath(path, "data");
  switch (op.operand) {
    case Operand::kProcessId:
    case Operand::kUserId:
      op.number = ParseCanonicalDecimal(op.data, UINT32_MAX);
      if (!op.number) return Fail(field, Quoted(op.data) + " is not a decimal number (e.g. 1000)");
      return true;
    case Operand::kDestPort:
    case Operand::kSourcePort:
      op.number = ParseCanonicalDecimal(op.data, 65535);
      if (!op.number) return Fail(field, Quoted(op.data) + " is not a decimal port number (0-65535)");
      return true;
    case Operand::kDestHost: {
      HostPattern host;
      std::string_view name = op.data;
      if (name.starts_with("*.")) {
        name.remove_prefix(2);
        if (name.empty() || name.find('*') != std::string_view::npos) {
          return Fail(field, Quoted(op.data) + " is not a host name or '*.' followed by a domain");
        }
        host.wildcard = true;
      }
      if (op.sensitive) {
        if (name.size() > 1 && name.back() == '.') name.remove_suffix(1);
        host.name = std::string(name);
      } else {
        host.name = NormalizeHostName(name);
      }
      op.host = std::move(host);
      return true;
    }
    case Operand::kProcessHashMd5:
    case Operand::kProcessHashSha1:
    case Operand::kProcessHashSha256: {
      const size_t length = op.operand == Operand::kProcessHashMd5 ? 32 : op.operand == Operand::kProcessHashSha1 ? 40 : 64;
      const bool hex = std::all_of(op.data.begin(), op.data.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; });
      if (op.data.size() != length || !hex) {
        return Fail(field, Quoted(op.data) + " is not a " + std::to_string(length) + "-digit hex digest");
      }
      return true;
    }
    case Operand::kUserName:
      if (op.data.empty()) return Fail(field, "empty user name");
      return true;  // resolved to a uid by the loader (rules/rule_binder.h)
    case Operand::kSourceIp:
    case Operand::kDestIp: {
      Result<IpAddress> address = IpAddress::Parse(op.data);
      if (!address.ok()) return Fail(field, address.error().message);
      op.address = address->Normalized();
      return true;
    }
    case Operand::kProtocol:
      for (std::string_view name : kProtocolNames) {
        if (op.sensitive ? op.data == name : EqualsIgnoringCase(op.data, name)) return true;
      }
      return Fail(field, "unknown protocol " + Quoted(op.data) +
                             " (expected tcp, udp, udplite, sctp or icmp, with a 6 suffix for IPv6)");
    default: return true;
  }
}

bool RuleReader::CompileNetwork(const std::string& path, Operator& op) {
  if (const std::vector<IpNetwork>* alias = NetworkAlias(op.data)) {
    op.networks = *alias;
    return true;
  }
  Result<IpNetwork> network = ParseNetwork(op.data, BareAddress::kAllow);
  if (!network.ok()) {
    return Fail(JoinPath(path, "data"), network.error().message + ", an address, or one of " +
                                            std::string(NetworkAliasNames()));
  }
  op.networks.push_back(*network);
  return true;
}

bool RuleReader::CompileRange(const std::string& path, Operator& op) {
  const std::string field = JoinPath(path, "data");
  std::string compact;
  for (char c : op.data) {
    if (c != ' ') compact += c;
  }
  const size_t dash = compact.find('-');
  auto parse = [](std::string_view digits) -> std::optional<uint64_t> {
    if (digits.empty() || digits.size() > 19) return std::nullopt;
    uint64_t value = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
    return value;
  };
  const std::optional<uint64_t> min =
      dash == std::string::npos ? std::nullopt : parse(std::string_view(compact).substr(0, dash));
  const std::optional<uint64_t> max =
      dash == std::string::npos ? std::nullopt : parse(std::string_view(compact).substr(dash + 1));
  if (!min || !max) return Fail(field, Quoted(op.data) + " is not a range MIN-MAX of decimal numbers (e.g. 1024-65535)");
  if (*min > *max) return Fail(field, "range " + Quoted(op.data) + ": MIN is greater than MAX");
  const uint64_t limit = (op.operand == Operand::kDestPort || op.operand == Operand::kSourcePort) ? 65535 : UINT32_MAX;
  if (*min > limit) return Fail(field, "range " + Quoted(op.data) + " is above " + std::to_string(limit) + ": it can never match");
  op.range = NumberRange{*min, *max};
  return true;
}

bool RuleReader::CompileLists(const std::string& path, Operator& op) {
  if (op.data.empty() || op.data.front() != '/') {
    return Fail(JoinPath(path, "data"), Quoted(op.data) + " is not an absolute directory path (the list directory)");
  }
  return true;  // the directory is read by the loader (rules/rule_binder.h)
}

bool RuleReader::CheckTypeAndOperand(const std::string& path, const Operator& op) {
  const std::string field = JoinPath(path, "operand");
  const std::string operand = Quoted(op.operand_name);
  const bool network_operand = op.operand == Operand::kDestNetwork || op.operand == Operand::kSourceNetwork;
  const bool lists_operand = ListKindOf(op.operand).has_value();
  const bool numeric_operand = op.operand == Operand::kDestPort || op.operand == Operand::kSourcePort ||
                               op.operand == Operand::kProcessId || op.operand == Operand::kUserId;
  switch (op.type) {
    case OperatorType::kSimple:
    case OperatorType::kRegexp:
      if (network_operand) return Fail(field, "operand " + operand + " needs operator type 'network'");
      if (lists_operand) return Fail(field, "operand " + operand + " needs operator type 'lists'");
      return true;
    case OperatorType::kNetwork:
      if (network_operand) return true;
      return Fail(field, "operator type 'network' needs operand 'dest.network' or 'source.network', not " + operand);
    case OperatorType::kLists:
      if (lists_operand) return true;
      return Fail(field, "operator type 'lists' needs a lists.* operand (lists.domains, lists.domains_regexp, "
                         "lists.ips, lists.nets, lists.hash.md5, lists.hash.sha256), not " + operand);
    case OperatorType::kRange:
      if (numeric_operand) return true;
      return Fail(field, "operator type 'range' needs operand dest.port, source.port, process.id or user.id, not " +
                             operand);
    case OperatorType::kList: return true;
  }
  return true;
}

bool RuleReader::Compile(const std::string& path, Operator& op) {
  switch (op.type) {
    case OperatorType::kSimple: return CompileSimple(path, op);
    case OperatorType::kRegexp: return CompileRegexp(path, op);
    case OperatorType::kNetwork: return CompileNetwork(path, op);
    case OperatorType::kRange: return CompileRange(path, op);
    case OperatorType::kLists: return CompileLists(path, op);
    case OperatorType::kList: return true;
  }
  return true;
}

bool RuleReader::CompileRegexp(const std::string& path, Operator& op) {
  const std::string field = JoinPath(path, "data");
  if (op.data.size() > kMaxRegexpBytes) {
    return Fail(field, "regexp longer than " + std::to_string(kMaxRegexpBytes) + " bytes");
  }
  RE2::Options options;
  options.set_log_errors(false);
  options.set_never_capture(true);
  options.set_case_sensitive(op.sensitive);
  auto regexp = std::make_shared<const RE2>(op.data, options);
  if (!regexp->ok()) return Fail(field, "invalid regexp: " + regexp->error());
  op.regexp = std::move(regexp);
  return true;
}

bool RuleReader::ReadOperator(const QJsonObject& json, const std::string& path, int depth, Operator& op) {
  if (!ReadType(json, path, op.type)) return false;
  if (!ReadBool(json, path, "sensitive", Presence::kOptional, op.sensitive)) return false;
  if (op.type == OperatorType::kList) {
    op.operand = Operand::kList;
    return ReadListChildren(json, path, depth, op);
  }
  if (!ReadOperand(json, path, op.operand, op.operand_name)) return false;
  const Presence data_presence = op.operand == Operand::kTrue ? Presence::kOptional : Presence::kRequired;
  if (!ReadString(json, path, "data", data_presence, op.data)) return false;
  if (op.operand == Operand::kTrue) return true;
  if (!CheckTypeAndOperand(path, op)) return false;
  return Compile(path, op);
}

}  // namespace

std::string RuleParseError::ToString() const {
  if (field.empty()) return reason;
  return "field '" + field + "': " + reason;
}

std::variant<Rule, RuleParseError> ParseRuleDetailed(std::string_view json_bytes) {
  if (json_bytes.size() > kMaxRuleFileBytes) {
    return RuleParseError{"", "larger than " + std::to_string(kMaxRuleFileBytes) + " bytes"};
  }
  QJsonParseError parse_error;
  const QJsonDocument doc = QJsonDocument::fromJson(
      QByteArray::fromRawData(json_bytes.data(), static_cast<qsizetype>(json_bytes.size())), &parse_error);
  if (parse_error.error != QJsonParseError::NoError) {
    return RuleParseError{"", "invalid JSON at byte " + std::to_string(parse_error.offset) + ": " +
                                  parse_error.errorString().toStdString()};
  }
  if (!doc.isObject()) return RuleParseError{"", "expected a JSON object (one rule per file)"};
  RuleReader reader;
  Rule rule;
  if (!reader.ReadRule(doc.object(), rule)) return reader.error();
  return rule;
}

Result<Rule> ParseRule(std::string_view json_bytes) {
  std::variant<Rule, RuleParseError> parsed = ParseRuleDetailed(json_bytes);
  if (auto* error = std::get_if<RuleParseError>(&parsed)) return Error{error->ToString()};
  return std::move(std::get<Rule>(parsed));
}

}  // namespace picket
