#include "rules/operator_match.h"

#include <re2/re2.h>

#include <QByteArrayView>
#include <QString>
#include <QStringDecoder>
#include <charconv>

namespace picket {
namespace {

constexpr std::string_view kKernelPath = "kernel";

bool IsAscii(std::string_view text) {
  for (char c : text) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

char AsciiLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool AsciiEqualsIgnoringCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (AsciiLower(a[i]) != AsciiLower(b[i])) return false;
  }
  return true;
}

// Decodes strict UTF-8 (a leading BOM is kept as a character); nullopt when the bytes are invalid.
std::optional<QString> DecodeUtf8(std::string_view text) {
  QStringDecoder decoder(QStringConverter::Utf8,
                         QStringConverter::Flag::Stateless | QStringConverter::Flag::ConvertInitialBom);
  QString decoded = decoder.decode(QByteArrayView(text.data(), static_cast<qsizetype>(text.size())));
  if (decoder.hasError()) return std::nullopt;
  return decoded;
}

bool SimpleMatches(const Operator& op, ConnectionFields& fields) {
  switch (op.operand) {
    case Operand::kTrue: return true;
    case Operand::kProcessId:
    case Operand::kUserId:
    case Operand::kDestPort: {
      const std::optional<uint32_t> value = fields.Number(op.operand);
      return value.has_value() && op.number.has_value() && *value == *op.number;
    }
    case Operand::kDestIp: return op.address.has_value() && fields.dest_ip() == *op.address;
    case Operand::kProcessPath:
    case Operand::kProcessCommand:
    case Operand::kProtocol: {
      const std::optional<std::string_view> value = fields.Text(op.operand);
      if (!value.has_value()) return false;
      return op.sensitive ? *value == op.data : EqualsIgnoringCase(*value, op.data);
    }
    case Operand::kList: return false;
  }
  return false;
}

bool RegexpMatches(const Operator& op, ConnectionFields& fields) {
  if (op.operand == Operand::kTrue) return true;
  if (op.regexp == nullptr) return false;
  const std::optional<std::string_view> value = fields.Text(op.operand);
  return value.has_value() && RE2::PartialMatch(*value, *op.regexp);
}

}  // namespace

bool EqualsIgnoringCase(std::string_view a, std::string_view b) {
  if (IsAscii(a) && IsAscii(b)) return AsciiEqualsIgnoringCase(a, b);
  std::optional<QString> wide_a = DecodeUtf8(a);
  std::optional<QString> wide_b = DecodeUtf8(b);
  if (wide_a.has_value() && wide_b.has_value()) {
    return QString::compare(*wide_a, *wide_b, Qt::CaseInsensitive) == 0;
  }
  return AsciiEqualsIgnoringCase(a, b);
}

ConnectionFields::ConnectionFields(const Connection& connection)
    : connection_(connection), dest_ip_(connection.flow.dst.Normalized()) {}

std::optional<uint32_t> ConnectionFields::Number(Operand operand) const {
  const Attribution& who = connection_.attribution;
  switch (operand) {
    case Operand::kProcessId:
      if (who.kind != AttributionKind::kProcess || !who.process.has_value()) return std::nullopt;
      if (who.process->pid < 0) return std::nullopt;
      return static_cast<uint32_t>(who.process->pid);
    case Operand::kUserId:
      if (who.uid.has_value()) return who.uid;
      return connection_.flow.uid;
    case Operand::kDestPort: return connection_.flow.dst_port;
    default: return std::nullopt;
  }
}

std::optional<std::string_view> ConnectionFields::NumberText(Operand operand, DecimalText& cache) {
  if (!cache.ready) {
    cache.ready = true;
    if (const std::optional<uint32_t> value = Number(operand)) {
      auto [end, ec] = std::to_chars(cache.chars.data(), cache.chars.data() + cache.chars.size(), *value);
      if (ec == std::errc()) cache.size = static_cast<uint8_t>(end - cache.chars.data());
    }
  }
  if (cache.size == 0) return std::nullopt;
  return std::string_view(cache.chars.data(), cache.size);
}

std::optional<std::string_view> ConnectionFields::Text(Operand operand) {
  const Attribution& who = connection_.attribution;
  const bool is_process = who.kind == AttributionKind::kProcess && who.process.has_value();
  switch (operand) {
    case Operand::kProcessPath:
      if (is_process) return std::string_view(who.process->exe_path);
      if (who.kind == AttributionKind::kKernel) return kKernelPath;
      return std::nullopt;
    case Operand::kProcessCommand:
      if (!is_process) return std::nullopt;
      if (!command_.has_value()) command_ = who.process->Command();
      return std::string_view(*command_);
    case Operand::kProcessId: return NumberText(operand, pid_text_);
    case Operand::kUserId: return NumberText(operand, uid_text_);
    case Operand::kDestPort: return NumberText(operand, port_text_);
    case Operand::kDestIp:
      if (!dest_ip_text_.has_value()) dest_ip_text_ = dest_ip_.ToString();
      return std::string_view(*dest_ip_text_);
    case Operand::kProtocol: return connection_.flow.protocol_name();
    case Operand::kTrue:
    case Operand::kList: return std::nullopt;
  }
  return std::nullopt;
}

bool OperatorMatches(const Operator& op, ConnectionFields& fields) {
  switch (op.type) {
    case OperatorType::kSimple: return SimpleMatches(op, fields);
    case OperatorType::kRegexp: return RegexpMatches(op, fields);
    case OperatorType::kList:
      if (op.list.empty()) return false;
      for (const Operator& child : op.list) {
        if (!OperatorMatches(child, fields)) return false;
      }
      return true;
  }
  return false;
}

}  // namespace picket
