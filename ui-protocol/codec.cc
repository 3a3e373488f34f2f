#include "ui-protocol/codec.h"

#include <QByteArray>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonParseError>

#include <algorithm>
#include <array>
#include <cmath>

namespace picket::ui {
namespace {

constexpr std::array<std::string_view, 11> kErrorCodes = {
    "bad-json", "bad-message", "unknown-type", "unsupported", "forbidden", "not-found", "invalid", "failed",
    "hello-required", "version-mismatch", "too-long"};
constexpr std::array<std::string_view, 2> kRoles = {"admin", "read-only"};
constexpr std::array<std::string_view, 3> kTopics = {"events", "prompts", "alerts"};
constexpr std::array<std::string_view, 7> kRulesOps = {"list", "get", "add", "replace", "delete", "enable", "disable"};
constexpr std::array<std::string_view, 2> kConfigOps = {"get", "set"};
constexpr std::array<std::string_view, 3> kActions = {"allow", "deny", "reject"};
constexpr std::array<std::string_view, 11> kDurations = {
    "once", "30s", "5m", "15m", "30m", "1h", "12h", "24h", "until-restart", "until-process-exits", "always"};
constexpr std::array<std::string_view, 6> kScopes = {"executable", "command", "host", "ip", "port", "user"};
constexpr std::array<std::string_view, 3> kSeverities = {"info", "warning", "error"};

template <typename E, size_t N>
std::optional<E> FromName(const std::array<std::string_view, N>& names, std::string_view text) {
  for (size_t i = 0; i < N; ++i) {
    if (names[i] == text) return static_cast<E>(i);
  }
  return std::nullopt;
}

template <size_t N>
std::string Choices(const std::array<std::string_view, N>& names) {
  std::string out;
  for (std::string_view name : names) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

QString Q(std::string_view s) { return QString::fromUtf8(s.data(), static_cast<qsizetype>(s.size())); }
std::string S(const QString& s) { return s.toStdString(); }

// Reads members of one JSON object; the first problem is kept and later reads are no-ops.
class Reader {
 public:
  explicit Reader(const QJsonObject& object) : object_(object) {}

  bool ok() const { return !error_; }
  const std::string& error() const { return *error_; }
  bool Has(const char* key) const { return object_.contains(QLatin1String(key)) && !object_.value(QLatin1String(key)).isNull(); }

  uint64_t Id(const char* key) {
    auto v = Integer(key, 0, static_cast<int64_t>(kMaxId));
    return v ? static_cast<uint64_t>(*v) : 0;
  }
  std::optional<int64_t> Integer(const char* key, int64_t min, int64_t max) {
    if (!ok()) return std::nullopt;
    QJsonValue v = object_.value(QLatin1String(key));
    if (v.isUndefined() || v.isNull()) return Fail(key, "missing"), std::nullopt;
    double d = v.toDouble(std::nan(""));
    if (!v.isDouble() || std::isnan(d) || std::floor(d) != d || d < static_cast<double>(min) ||
        d > static_cast<double>(max)) {
      Fail(key, "expected an integer " + std::to_string(min) + ".." + std::to_string(max));
      return std::nullopt;
    }
    return static_cast<int64_t>(d);
  }
  std::string String(const char* key, bool non_empty = false) {
    if (!ok()) return {};
    QJsonValue v = object_.value(QLatin1String(key));
    if (!v.isString()) return Fail(key, v.isUndefined() ? "missing" : "expected a string"), std::string();
    std::string s = S(v.toString());
    if (non_empty && s.empty()) Fail(key, "must not be empty");
    return s;
  }
  QJsonObject Object(const char* key) {
    if (!ok()) return {};
    QJsonValue v = object_.value(QLatin1String(key));
    if (!v.isObject()) return Fail(key, v.isUndefined() ? "missing" : "expected an object"), QJsonObject();
    return v.toObject();
  }
  QJsonArray Array(const char* key) {
    if (!ok()) return {};
    QJsonValue v = object_.value(QLatin1String(key));
    if (!v.isArray()) return Fail(key, v.isUndefined() ? "missing" : "expected an array"), QJsonArray();
    return v.toArray();
  }
  template <typename E, size_t N>
  E Enum(const char* key, const std::array<std::string_view, N>& names) {
    std::string text = String(key);
    if (!ok()) return E{};
    auto value = FromName<E>(names, text);
    if (!value) Fail(key, "unknown value '" + text + "' (expected one of: " + Choices(names) + ")");
    return value.value_or(E{});
  }
  template <typename E, size_t N>
  std::vector<E> EnumSet(const char* key, const std::array<std::string_view, N>& names, bool non_empty) {
    QJsonArray array = Array(key);
    std::vector<E> out;
    for (const QJsonValue& item : array) {
      if (!ok()) break;
      auto value = item.isString() ? FromName<E>(names, S(item.toString())) : std::nullopt;
      if (!value) {
        Fail(key, "items must be one of: " + Choices(names));
      } else if (std::find(out.begin(), out.end(), *value) != out.end()) {
        Fail(key, "'" + std::string(names[static_cast<size_t>(*value)]) + "' repeated");
      } else {
        out.push_back(*value);
      }
    }
    if (ok() && non_empty && out.empty()) Fail(key, "must not be empty");
    return out;
  }
  void Fail(const char* key, const std::string& what) {
    if (!error_) error_ = std::string("member '") + key + "': " + what;
  }

 private:
  const QJsonObject& object_;
  std::optional<std::string> error_;
};

template <typename T>
T WithId(Reader& r) {
  T message;
  message.id = r.Id("id");
  return message;
}

Message DecodeHello(Reader& r) {
  Hello h;
  h.version = static_cast<int>(r.Integer("version", 1, 65535).value_or(0));
  h.min_version = r.Has("min_version") ? static_cast<int>(r.Integer("min_version", 1, 65535).value_or(0)) : h.version;
  if (r.Has("client")) h.client = r.String("client");
  if (r.Has("server")) h.server = r.String("server");
  if (r.Has("role")) h.role = r.Enum<Role>("role", kRoles);
  if (r.ok() && h.min_version > h.version) r.Fail("min_version", "greater than 'version'");
  return h;
}

Message DecodeRules(Reader& r) {
  auto m = WithId<RulesRequest>(r);
  m.op = r.Enum<RulesOp>("op", kRulesOps);
  switch (m.op) {
    case RulesOp::kList:
      if (r.Has("offset")) m.offset = static_cast<uint64_t>(r.Integer("offset", 0, static_cast<int64_t>(kMaxId)).value_or(0));
      if (r.Has("limit")) m.limit = static_cast<uint64_t>(r.Integer("limit", 1, static_cast<int64_t>(kMaxId)).value_or(0));
      break;
    case RulesOp::kAdd:
    case RulesOp::kReplace: m.rule = r.Object("rule"); break;
    default: m.name = r.String("name", /*non_empty=*/true); break;
  }
  return m;
}

Message DecodeConfig(Reader& r) {
  auto m = WithId<ConfigRequest>(r);
  m.op = r.Enum<ConfigOp>("op", kConfigOps);
  if (m.op == ConfigOp::kSet) {
    m.key = r.String("key", /*non_empty=*/true);
    if (r.ok() && !r.Has("value")) r.Fail("value", "missing");
    // value is read by the caller from the object (any JSON value).
  }
  return m;
}

Message DecodeAnswer(Reader& r) {
  auto m = WithId<Answer>(r);
  m.prompt = r.Id("prompt");
  m.action = r.Enum<AnswerAction>("action", kActions);
  m.duration = r.Enum<AnswerDuration>("duration", kDurations);
  m.scope = r.EnumSet<ScopeField>("scope", kScopes, /*non_empty=*/true);
  return m;
}

Message DecodeError_(Reader& r) {
  ErrorReply m;
  if (r.Has("id")) m.id = r.Id("id");
  std::string code = r.String("code");
  auto parsed = ParseErrorCode(code);
  if (r.ok() && !parsed) r.Fail("code", "unknown error code '" + code + "'");
  m.code = parsed.value_or(ErrorCode::kFailed);
  m.message = r.String("message");
  if (r.Has("supported")) {
    QJsonArray range = r.Array("supported");
    if (r.ok() && (range.size() != 2 || !range[0].isDouble() || !range[1].isDouble())) {
      r.Fail("supported", "expected [min, max]");
    }
    if (r.ok()) m.supported = std::make_pair(range[0].toInt(), range[1].toInt());
  }
  return m;
}

// The message whose fields sit in the object under `key`: `decode(Reader&, QJsonObject&)` reads that
// object; its first error becomes the outer reader's, named by `key`.
template <typename Decode>
Message DecodeNested(Reader& outer, const char* key, Decode decode) {
  QJsonObject object = outer.Object(key);
  Reader r(object);
  Message m = decode(r, object);
  if (!r.ok() && outer.ok()) outer.Fail(key, r.error());
  return m;
}

DecisionEvent ReadEvent(Reader& r, QJsonObject& e) {
  DecisionEvent m;
  m.time = r.String("time");
  m.action = r.Enum<AnswerAction>("action", kActions);
  m.rule = r.String("rule");
  m.protocol = r.String("protocol");
  if (r.Has("src")) m.src = r.String("src");
  if (r.Has("src_port")) m.src_port = static_cast<uint16_t>(r.Integer("src_port", 0, 65535).value_or(0));
  m.dst = r.String("dst");
  m.dst_port = static_cast<uint16_t>(r.Integer("dst_port", 0, 65535).value_or(0));
  if (r.Has("host")) m.host = r.String("host");
  if (r.Has("pid")) m.pid = r.Integer("pid", 0, INT32_MAX);
  if (r.Has("uid")) m.uid = r.Integer("uid", 0, UINT32_MAX);
  if (r.Has("path")) m.path = r.String("path");
  if (r.Has("args")) {
    for (const QJsonValue& a : r.Array("args")) {
      if (!a.isString()) r.Fail("args", "items must be strings");
      m.args.push_back(S(a.toString()));
    }
  }
  if (r.Has("via")) m.via = r.String("via");
  if (r.Has("inferred")) {
    const QJsonValue inferred = e.value(QLatin1String("inferred"));
    if (!inferred.isBool()) r.Fail("inferred", "expected true or false");
    m.inferred = inferred.toBool();
  }
  return m;
}

PromptEvent ReadPrompt(Reader& r, QJsonObject& p) {
  PromptEvent m;
  m.id = r.Id("id");
  if (r.Has("closed")) {
    QJsonValue closed = p.value(QLatin1String("closed"));
    if (!closed.isBool()) r.Fail("closed", "expected true or false");
    m.closed = closed.toBool();
  }
  p.remove(QLatin1String("id"));
  p.remove(QLatin1String("closed"));
  m.details = p;
  return m;
}

Alert ReadAlert(Reader& r, QJsonObject&) {
  Alert m;
  m.time = r.String("time");
  m.severity = r.Enum<Severity>("severity", kSeverities);
  m.message = r.String("message");
  return m;
}

template <typename E, size_t N>
QJsonArray NameArray(const std::vector<E>& values, const std::array<std::string_view, N>& names) {
  QJsonArray out;
  for (E v : values) out.append(Q(names[static_cast<size_t>(v)]));
  return out;
}

QJsonValue IdValue(uint64_t id) { return static_cast<double>(id); }

struct Encoder {
  QJsonObject operator()(const Hello& m) const {
    QJsonObject o{{"type", "hello"}, {"version", m.version}};
    if (m.min_version != m.version) o["min_version"] = m.min_version;
    if (!m.client.empty()) o["client"] = Q(m.client);
    if (!m.server.empty()) o["server"] = Q(m.server);
    if (m.role) o["role"] = Q(RoleName(*m.role));
    return o;
  }
  QJsonObject operator()(const Subscribe& m) const {
    return {{"type", "subscribe"}, {"id", IdValue(m.id)}, {"topics", NameArray(m.topics, kTopics)}};
  }
  QJsonObject operator()(const StatusRequest& m) const { return {{"type", "status"}, {"id", IdValue(m.id)}}; }
  QJsonObject operator()(const StatsRequest& m) const {
    QJsonObject o{{"type", "stats"}, {"id", IdValue(m.id)}};
    if (m.top) o["top"] = IdValue(*m.top);
    return o;
  }
  QJsonObject operator()(const RulesRequest& m) const {
    QJsonObject o{{"type", "rules"}, {"id", IdValue(m.id)}, {"op", Q(RulesOpName(m.op))}};
    if (m.op == RulesOp::kAdd || m.op == RulesOp::kReplace) {
      o["rule"] = m.rule;
    } else if (m.op != RulesOp::kList) {
      o["name"] = Q(m.name);
    } else {
      if (m.offset > 0) o["offset"] = IdValue(m.offset);
      if (m.limit) o["limit"] = IdValue(*m.limit);
    }
    return o;
  }
  QJsonObject operator()(const ConfigRequest& m) const {
    QJsonObject o{{"type", "config"}, {"id", IdValue(m.id)}, {"op", Q(kConfigOps[static_cast<size_t>(m.op)])}};
    if (m.op == ConfigOp::kSet) {
      o["key"] = Q(m.key);
      o["value"] = m.value;
    }
    return o;
  }
  QJsonObject operator()(const Answer& m) const {
    return {{"type", "answer"}, {"id", IdValue(m.id)}, {"prompt", IdValue(m.prompt)},
            {"action", Q(AnswerActionName(m.action))}, {"duration", Q(AnswerDurationName(m.duration))},
            {"scope", NameArray(m.scope, kScopes)}};
  }
  QJsonObject operator()(const ResultReply& m) const {
    return {{"type", "result"}, {"id", IdValue(m.id)}, {"data", m.data}};
  }
  QJsonObject operator()(const ErrorReply& m) const {
    QJsonObject o{{"type", "error"}, {"code", Q(ErrorCodeName(m.code))}, {"message", Q(m.message)}};
    o["id"] = m.id ? IdValue(*m.id) : QJsonValue(QJsonValue::Null);
    if (m.supported) o["supported"] = QJsonArray{m.supported->first, m.supported->second};
    return o;
  }
  QJsonObject operator()(const DecisionEvent& m) const {
    QJsonObject e{{"time", Q(m.time)}, {"action", Q(AnswerActionName(m.action))}, {"rule", Q(m.rule)},
                  {"protocol", Q(m.protocol)}, {"dst", Q(m.dst)}, {"dst_port", m.dst_port}};
    if (!m.src.empty()) {
      e["src"] = Q(m.src);
      e["src_port"] = m.src_port;
    }
    if (m.host) e["host"] = Q(*m.host);
    if (m.pid) e["pid"] = static_cast<double>(*m.pid);
    if (m.uid) e["uid"] = static_cast<double>(*m.uid);
    if (m.path) e["path"] = Q(*m.path);
    if (!m.args.empty()) {
      QJsonArray args;
      for (const std::string& a : m.args) args.append(Q(a));
      e["args"] = args;
    }
    if (m.via) e["via"] = Q(*m.via);
    if (m.inferred) e["inferred"] = true;
    return {{"type", "event"}, {"event", e}};
  }
  QJsonObject operator()(const PromptEvent& m) const {
    QJsonObject p = m.details;
    p["id"] = IdValue(m.id);
    if (m.closed) p["closed"] = true;
    return {{"type", "prompt"}, {"prompt", p}};
  }
  QJsonObject operator()(const Alert& m) const {
    return {{"type", "alert"},
            {"alert", QJsonObject{{"time", Q(m.time)}, {"severity", Q(SeverityName(m.severity))},
                                  {"message", Q(m.message)}}}};
  }
};

}  // namespace

std::string_view ErrorCodeName(ErrorCode code) { return kErrorCodes[static_cast<size_t>(code)]; }
std::optional<ErrorCode> ParseErrorCode(std::string_view name) { return FromName<ErrorCode>(kErrorCodes, name); }
bool ClosesConnection(ErrorCode code) {
  return code == ErrorCode::kHelloRequired || code == ErrorCode::kVersionMismatch || code == ErrorCode::kTooLong;
}
std::string_view RoleName(Role role) { return kRoles[static_cast<size_t>(role)]; }
std::string_view TopicName(Topic topic) { return kTopics[static_cast<size_t>(topic)]; }
std::string_view RulesOpName(RulesOp op) { return kRulesOps[static_cast<size_t>(op)]; }
std::string_view AnswerActionName(AnswerAction action) { return kActions[static_cast<size_t>(action)]; }
std::string_view AnswerDurationName(AnswerDuration duration) { return kDurations[static_cast<size_t>(duration)]; }
std::string_view ScopeFieldName(ScopeField field) { return kScopes[static_cast<size_t>(field)]; }
std::string_view SeverityName(Severity severity) { return kSeverities[static_cast<size_t>(severity)]; }

std::string_view TypeName(const Message& message) {
  static constexpr std::array<std::string_view, std::variant_size_v<Message>> kNames = {
      "hello", "subscribe", "status", "stats", "rules", "config", "answer", "result", "error", "event", "prompt", "alert"};
  return kNames[message.index()];
}

std::optional<uint64_t> IdOf(const Message& message) {
  return std::visit(
      [](const auto& m) -> std::optional<uint64_t> {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, ErrorReply>) {
          return m.id;
        } else if constexpr (requires { m.id; } && !std::is_same_v<T, PromptEvent>) {
          return m.id;
        } else {
          return std::nullopt;
        }
      },
      message);
}

std::variant<Message, DecodeError> Decode(std::string_view line) {
  QJsonParseError parse_error{};
  QJsonDocument doc =
      QJsonDocument::fromJson(QByteArray(line.data(), static_cast<qsizetype>(line.size())), &parse_error);
  if (parse_error.error != QJsonParseError::NoError) {
    return DecodeError{ErrorCode::kBadJson,
                       "not JSON: " + S(parse_error.errorString()) + " at offset " + std::to_string(parse_error.offset),
                       std::nullopt};
  }
  if (!doc.isObject()) return DecodeError{ErrorCode::kBadJson, "not a JSON object", std::nullopt};
  const QJsonObject object = doc.object();
  Reader r(object);
  std::optional<uint64_t> id;
  if (r.Has("id")) {
    QJsonValue v = object.value(QLatin1String("id"));
    double d = v.toDouble(-1);
    if (v.isDouble() && d >= 0 && d <= static_cast<double>(kMaxId) && std::floor(d) == d) id = static_cast<uint64_t>(d);
  }
  const std::string type = r.String("type", /*non_empty=*/true);
  if (!r.ok()) return DecodeError{ErrorCode::kBadMessage, r.error(), id};

  std::optional<Message> message;
  if (type == "hello") {
    message = DecodeHello(r);
  } else if (type == "subscribe") {
    auto m = WithId<Subscribe>(r);
    m.topics = r.EnumSet<Topic>("topics", kTopics, /*non_empty=*/false);
    message = m;
  } else if (type == "status") {
    message = WithId<StatusRequest>(r);
  } else if (type == "stats") {
    auto m = WithId<StatsRequest>(r);
    if (r.Has("top")) m.top = static_cast<uint64_t>(r.Integer("top", 0, kMaxStatsTop).value_or(0));
    message = m;
  } else if (type == "rules") {
    message = DecodeRules(r);
  } else if (type == "config") {
    Message m = DecodeConfig(r);
    std::get<ConfigRequest>(m).value = object.value(QLatin1String("value"));
    message = m;
  } else if (type == "answer") {
    message = DecodeAnswer(r);
  } else if (type == "result") {
    auto m = WithId<ResultReply>(r);
    m.data = r.Object("data");
    message = m;
  } else if (type == "error") {
    message = DecodeError_(r);
  } else if (type == "event") {
    message = DecodeNested(r, "event", ReadEvent);
  } else if (type == "prompt") {
    message = DecodeNested(r, "prompt", ReadPrompt);
  } else if (type == "alert") {
    message = DecodeNested(r, "alert", ReadAlert);
  } else {
    return DecodeError{ErrorCode::kUnknownType, "unknown message type '" + type + "'", id};
  }
  if (!r.ok()) return DecodeError{ErrorCode::kBadMessage, type + ": " + r.error(), id};
  return *message;
}

std::string Encode(const Message& message) {
  QJsonObject object = std::visit(Encoder{}, message);
  QByteArray bytes = QJsonDocument(object).toJson(QJsonDocument::Compact);
  std::string out(bytes.constData(), static_cast<size_t>(bytes.size()));
  out += '\n';
  return out;
}

std::string EncodeValue(const QJsonValue& value) {
  const QByteArray array = QJsonDocument(QJsonArray{value}).toJson(QJsonDocument::Compact);
  return array.mid(1, array.size() - 2).toStdString();
}

void LineSplitter::Append(std::string_view bytes) {
  if (overflowed_) return;
  if (start_ > 0 && start_ >= buffer_.size() / 2) {
    buffer_.erase(0, start_);
    start_ = 0;
  }
  buffer_.append(bytes);
}

std::optional<std::string> LineSplitter::Next() {
  while (!overflowed_) {
    const size_t end = buffer_.find('\n', start_);
    if (end == std::string::npos) {
      if (buffer_.size() - start_ > max_line_) overflowed_ = true;
      return std::nullopt;
    }
    if (end - start_ > max_line_) {
      overflowed_ = true;
      return std::nullopt;
    }
    std::string line = buffer_.substr(start_, end - start_);
    start_ = end + 1;
    if (start_ == buffer_.size()) {
      buffer_.clear();
      start_ = 0;
    }
    if (!line.empty()) return line;
  }
  return std::nullopt;
}

}  // namespace picket::ui
