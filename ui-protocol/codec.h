// The picket UI protocol codec (PROTOCOL.md): line framing with a length limit, and every message
// of protocol version 1 decoded into / encoded from a typed struct. Used by picketd (daemon/ui/)
// and by clients (the picket CLI).
//
// Decoding never trusts its input: any byte string yields a Message or a DecodeError naming the
// member that was wrong. Encoding produces one line ending in '\n'.
// Ownership: plain values. Thread-safety: free functions are reentrant; a LineSplitter is used by
// one thread.
#pragma once

#include <QJsonObject>
#include <QJsonValue>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace picket::ui {

inline constexpr int kProtocolVersion = 1;          // the only version this codec speaks
inline constexpr size_t kMaxLineBytes = 1 << 20;    // longest line without its '\n'
inline constexpr uint64_t kMaxId = (uint64_t{1} << 53) - 1;  // ids are exact in a JSON double
inline constexpr int64_t kMaxStatsTop = 100000;              // largest `top` a stats request may ask for

enum class ErrorCode : uint8_t {
  kBadJson, kBadMessage, kUnknownType, kUnsupported, kForbidden, kNotFound, kInvalid, kFailed,
  kHelloRequired, kVersionMismatch, kTooLong,
};
std::string_view ErrorCodeName(ErrorCode code);
std::optional<ErrorCode> ParseErrorCode(std::string_view name);
// Whether the server closes the connection after sending this error (PROTOCOL.md).
bool ClosesConnection(ErrorCode code);

enum class Role : uint8_t { kAdmin, kReadOnly };
enum class Topic : uint8_t { kEvents, kPrompts, kAlerts };
enum class RulesOp : uint8_t { kList, kGet, kAdd, kReplace, kDelete, kEnable, kDisable };
enum class ConfigOp : uint8_t { kGet, kSet };
enum class AnswerAction : uint8_t { kAllow, kDeny, kReject };
enum class AnswerDuration : uint8_t {
  kOnce, k30s, k5m, k15m, k30m, k1h, k12h, k24h, kUntilRestart, kUntilProcessExits, kAlways,
};
enum class ScopeField : uint8_t { kExecutable, kCommand, kHost, kIp, kPort, kUser };
enum class Severity : uint8_t { kInfo, kWarning, kError };

std::string_view RoleName(Role role);
std::string_view TopicName(Topic topic);
std::string_view RulesOpName(RulesOp op);
std::string_view AnswerActionName(AnswerAction action);
std::string_view AnswerDurationName(AnswerDuration duration);
std::string_view ScopeFieldName(ScopeField field);
std::string_view SeverityName(Severity severity);

// --- messages -----------------------------------------------------------------------------------

struct Hello {                 // both directions
  int version = kProtocolVersion;
  int min_version = kProtocolVersion;  // client: lowest version it speaks (= version when absent)
  std::string client;          // client → server: software name and version (may be empty)
  std::string server;          // server → client
  std::optional<Role> role;    // server → client
};
struct Subscribe { uint64_t id = 0; std::vector<Topic> topics; };
struct StatusRequest { uint64_t id = 0; };
struct StatsRequest {
  uint64_t id = 0;
  std::optional<uint64_t> top;  // largest keys per dimension (server default when absent; 0 = all kept)
};
struct RulesRequest {
  uint64_t id = 0;
  RulesOp op = RulesOp::kList;
  std::string name;  // get, delete, enable, disable
  QJsonObject rule;  // add, replace: an OpenSnitch-format rule object
  uint64_t offset = 0;            // list: rules to skip (in name order)
  std::optional<uint64_t> limit;  // list: most rules in this page (the server may return fewer)
};
struct ConfigRequest {
  uint64_t id = 0;
  ConfigOp op = ConfigOp::kGet;
  std::string key;    // set
  QJsonValue value;   // set
};
struct Answer {
  uint64_t id = 0;
  uint64_t prompt = 0;
  AnswerAction action = AnswerAction::kDeny;
  AnswerDuration duration = AnswerDuration::kOnce;
  std::vector<ScopeField> scope;  // non-empty, no repeats
};
struct ResultReply { uint64_t id = 0; QJsonObject data; };
struct ErrorReply {
  std::optional<uint64_t> id;  // absent when the request's id could not be read
  ErrorCode code = ErrorCode::kBadMessage;
  std::string message;
  std::optional<std::pair<int, int>> supported;  // version-mismatch: [min, max] the server speaks
};
struct DecisionEvent {
  std::string time;  // RFC 3339
  AnswerAction action = AnswerAction::kAllow;
  std::string rule;  // rule name or "default"
  std::string protocol;
  std::string src;
  uint16_t src_port = 0;
  std::string dst;
  uint16_t dst_port = 0;
  std::optional<std::string> host;
  std::optional<int64_t> pid;
  std::optional<int64_t> uid;
  std::optional<std::string> path;
  std::vector<std::string> args;
  std::optional<std::string> via;  // attribution method, e.g. "bpf-flow", "sock_diag+procfs"
  bool inferred = false;           // the process is the socket's holder found in /proc, not a kernel record
};
struct PromptEvent {
  uint64_t id = 0;
  bool closed = false;
  QJsonObject details;  // the prompt object's other members (process, destination, default, deadline)
};
struct Alert {
  std::string time;
  Severity severity = Severity::kInfo;
  std::string message;
};

using Message = std::variant<Hello, Subscribe, StatusRequest, StatsRequest, RulesRequest, ConfigRequest, Answer,
                             ResultReply, ErrorReply, DecisionEvent, PromptEvent, Alert>;

// The message's "type" string.
std::string_view TypeName(const Message& message);
// The request id of a request or response; nullopt for hello and events.
std::optional<uint64_t> IdOf(const Message& message);

struct DecodeError {
  ErrorCode code = ErrorCode::kBadMessage;  // kBadJson, kBadMessage or kUnknownType
  std::string message;                       // names the member and what was wrong
  std::optional<uint64_t> id;                // the request's id when it could be read
};

// Decodes one line (without its '\n').
std::variant<Message, DecodeError> Decode(std::string_view line);
// Encodes a message as one line ending in '\n'.
std::string Encode(const Message& message);
// One JSON value as compact JSON text ("\"deny\"", "5", "null"), e.g. a `config set` value.
std::string EncodeValue(const QJsonValue& value);

// --- framing ------------------------------------------------------------------------------------

// Splits a byte stream into lines ending in '\n'. After a line longer than `max_line` the splitter
// is broken (framing is lost): Next() returns nothing more and overflowed() is true.
class LineSplitter {
 public:
  explicit LineSplitter(size_t max_line = kMaxLineBytes) : max_line_(max_line) {}

  void Append(std::string_view bytes);
  // The next complete line without its '\n' (empty lines are skipped), or nullopt.
  std::optional<std::string> Next();
  bool overflowed() const { return overflowed_; }
  size_t buffered() const { return buffer_.size() - start_; }

 private:
  size_t max_line_;
  std::string buffer_;
  size_t start_ = 0;  // first unread byte of buffer_
  bool overflowed_ = false;
};

}  // namespace picket::ui
