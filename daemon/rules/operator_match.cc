#include "rules/operator_match.h"

#include <re2/re2.h>

#include <QByteArrayView>
#include <QString>
#include <QStringDecoder>
#include <algorithm>
#include <charconv>

#include "rules/lists.h"
#include "rules/users.h"

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

std::string AsciiLowerString(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = AsciiLower(c);
  return out;
}

// Decodes strict UTF-8 (a leading BOM is kept as a character); nullopt when the bytes are invalid.
std::optional<QString> DecodeUtf8(std::string_view text) {
  QStringDecoder decoder(QStringConverter::Utf8,
                         QStringConverter::Flag::Stateless | QStringConverter::Flag::ConvertInitialBom);
  QString decoded = decoder.decode(QByteArrayView(text.data(), static_cast<qsizetype>(text.size())));
  if (decoder.hasError()) return std::nullopt;
  return decoded;
}

std::string_view WithoutTrailingDot(std::string_view name) {
  if (name.size() > 1 && name.back() == '.') name.remove_suffix(1);
  return name;
}

bool TextEquals(const Operator& op, std::string_view value) {
  return op.sensitive ? value == op.data : EqualsIgnoringCase(value, op.data);
}

bool HostSimpleMatches(const Operator& op, ConnectionFields& fields) {
  if (!op.host.has_value()) return false;
  if (op.sensitive) {
    for (std::string_view host : fields.Hosts()) {
      if (HostPatternMatches(*op.host, host)) return true;
    }
    return false;
  }
  for (std::string_view host : fields.NormalizedHosts()) {
    if (HostPatternMatches(*op.host, host)) return true;
  }
  return false;
}

// NAME of a "process.env.NAME" operator.
std::string_view EnvName(const Operator& op) {
  constexpr std::string_view kPrefix = "process.env.";
  const std::string_view written = op.operand_name;
  return written.starts_with(kPrefix) ? written.substr(kPrefix.size()) : std::string_view();
}

// process.parent.path: true when any ancestor's path satisfies `matches`.
template <typename Pred>
bool AnyAncestor(ConnectionFields& fields, Pred matches) {
  const std::vector<AncestorInfo>* ancestors = fields.Ancestors();
  if (ancestors == nullptr) return false;
  return std::any_of(ancestors->begin(), ancestors->end(),
                     [&](const AncestorInfo& a) { return matches(std::string_view(a.exe_path)); });
}

bool SimpleMatches(const Operator& op, ConnectionFields& fields) {
  switch (op.operand) {
    case Operand::kTrue: return true;
    case Operand::kProcessParentPath:
      return AnyAncestor(fields, [&](std::string_view path) { return TextEquals(op, path); });
    case Operand::kProcessEnv: {
      const std::optional<std::string_view> value = fields.Env(EnvName(op));
      return value.has_value() && TextEquals(op, *value);
    }
    case Operand::kProcessHashMd5:
    case Operand::kProcessHashSha1:
    case Operand::kProcessHashSha256: {
      // Digests are hex: compared without regard to case, even for `sensitive` rules.
      const std::optional<std::string_view> digest = fields.Text(op.operand);
      return digest.has_value() && !digest->empty() && EqualsIgnoringCase(*digest, op.data);
    }
    case Operand::kProcessId:
    case Operand::kUserId:
    case Operand::kUserName:
    case Operand::kDestPort:
    case Operand::kSourcePort: {
      const std::optional<uint32_t> value = fields.Number(op.operand);
      return value.has_value() && op.number.has_value() && *value == *op.number;
    }
    case Operand::kDestIp: return op.address.has_value() && fields.dest_ip() == *op.address;
    case Operand::kSourceIp: return op.address.has_value() && fields.source_ip() == *op.address;
    case Operand::kDestHost: return HostSimpleMatches(op, fields);
    case Operand::kList:
    case Operand::kDestNetwork:
    case Operand::kSourceNetwork:
    case Operand::kListsDomains:
    case Operand::kListsDomainsRegexp:
    case Operand::kListsIps:
    case Operand::kListsNets:
    case Operand::kListsHashMd5:
    case Operand::kListsHashSha256: return false;
    default: {
      const std::optional<std::string_view> value = fields.Text(op.operand);
      return value.has_value() && TextEquals(op, *value);
    }
  }
}

bool RegexpMatches(const Operator& op, ConnectionFields& fields) {
  if (op.operand == Operand::kTrue) return true;
  if (op.regexp == nullptr) return false;
  switch (op.operand) {
    case Operand::kProcessParentPath:
      return AnyAncestor(fields, [&](std::string_view path) { return RE2::PartialMatch(path, *op.regexp); });
    case Operand::kProcessEnv: {
      const std::optional<std::string_view> value = fields.Env(EnvName(op));
      return value.has_value() && RE2::PartialMatch(*value, *op.regexp);
    }
    case Operand::kDestHost:
      for (std::string_view host : fields.Hosts()) {
        if (RE2::PartialMatch(host, *op.regexp)) return true;
      }
      return false;
    case Operand::kUserName: {
      const std::optional<uint32_t> uid = fields.Number(Operand::kUserId);
      const std::string* name = (uid.has_value() && op.users != nullptr) ? op.users->NameOf(*uid) : nullptr;
      return name != nullptr && RE2::PartialMatch(*name, *op.regexp);
    }
    default: {
      const std::optional<std::string_view> value = fields.Text(op.operand);
      return value.has_value() && RE2::PartialMatch(*value, *op.regexp);
    }
  }
}

bool NetworkMatches(const Operator& op, ConnectionFields& fields) {
  const IpAddress& ip = op.operand == Operand::kSourceNetwork ? fields.source_ip() : fields.dest_ip();
  return std::any_of(op.networks.begin(), op.networks.end(),
                     [&ip](const IpNetwork& network) { return network.Contains(ip); });
}

bool RangeMatches(const Operator& op, ConnectionFields& fields) {
  const std::optional<uint32_t> value = fields.Number(op.operand);
  return value.has_value() && op.range.has_value() && *value >= op.range->min && *value <= op.range->max;
}

bool ListsMatches(const Operator& op, ConnectionFields& fields) {
  if (op.list_data == nullptr) return false;
  const ListData& list = *op.list_data;
  switch (op.operand) {
    case Operand::kListsDomains:
      for (std::string_view host : fields.NormalizedHosts()) {
        if (list.ContainsDomain(host)) return true;
      }
      return false;
    case Operand::kListsDomainsRegexp:
      for (std::string_view host : fields.NormalizedHosts()) {
        if (list.MatchesDomain(host)) return true;
      }
      return false;
    case Operand::kListsIps:
    case Operand::kListsNets: return list.ContainsAddress(fields.dest_ip());
    case Operand::kListsHashMd5:
    case Operand::kListsHashSha256: {
      // A digest that was not computed never matches (never "matches by default").
      const std::optional<std::string_view> digest = fields.Text(
          op.operand == Operand::kListsHashMd5 ? Operand::kProcessHashMd5 : Operand::kProcessHashSha256);
      return digest.has_value() && list.ContainsDigest(*digest);
    }
    default: return false;
  }
}

}  // namespace

std::string FoldCase(std::string_view text) {
  if (IsAscii(text)) return AsciiLowerString(text);
  std::optional<QString> decoded = DecodeUtf8(text);
  if (!decoded.has_value()) return AsciiLowerString(text);
  return decoded->toCaseFolded().toStdString();
}

bool EqualsIgnoringCase(std::string_view a, std::string_view b) {
  if (IsAscii(a) && IsAscii(b)) return AsciiEqualsIgnoringCase(a, b);
  return FoldCase(a) == FoldCase(b);
}

bool HostPatternMatches(const HostPattern& pattern, std::string_view host) {
  if (!pattern.wildcard) return host == pattern.name;
  return host.size() > pattern.name.size() + 1 && host.ends_with(pattern.name) &&
         host[host.size() - pattern.name.size() - 1] == '.';
}

ConnectionFields::ConnectionFields(const Connection& connection)
    : connection_(connection),
      dest_ip_(connection.flow.dst.Normalized()),
      source_ip_(connection.flow.src.Normalized()) {}

std::optional<uint32_t> ConnectionFields::Number(Operand operand) const {
  const Attribution& who = connection_.attribution;
  switch (operand) {
    case Operand::kProcessId:
      if (who.kind != AttributionKind::kProcess || !who.process.has_value()) return std::nullopt;
      if (who.process->pid < 0) return std::nullopt;
      return static_cast<uint32_t>(who.process->pid);
    case Operand::kUserId:
    case Operand::kUserName:
      if (who.uid.has_value()) return who.uid;
      return connection_.flow.uid;
    case Operand::kDestPort: return connection_.flow.dst_port;
    case Operand::kSourcePort: return connection_.flow.src_port;
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
    case Operand::kProcessContainer:
      if (!is_process) return std::nullopt;
      return std::string_view(who.process->container_id);
    case Operand::kProcessCgroup:
      if (!is_process || who.process->cgroup_path.empty()) return std::nullopt;
      return std::string_view(who.process->cgroup_path);
    case Operand::kProcessHashMd5:
    case Operand::kProcessHashSha1:
    case Operand::kProcessHashSha256: {
      if (!is_process || who.process->digests.state != DigestState::kReady) return std::nullopt;
      const ExeDigests& d = who.process->digests;
      const std::string& digest =
          operand == Operand::kProcessHashMd5 ? d.md5 : operand == Operand::kProcessHashSha1 ? d.sha1 : d.sha256;
      if (digest.empty()) return std::nullopt;
      return std::string_view(digest);
    }
    case Operand::kProcessId: return NumberText(operand, pid_text_);
    case Operand::kUserId: return NumberText(operand, uid_text_);
    case Operand::kDestPort: return NumberText(operand, port_text_);
    case Operand::kSourcePort: return NumberText(operand, source_port_text_);
    case Operand::kDestIp:
      if (!dest_ip_text_.has_value()) dest_ip_text_ = dest_ip_.ToString();
      return std::string_view(*dest_ip_text_);
    case Operand::kSourceIp:
      if (!source_ip_text_.has_value()) source_ip_text_ = source_ip_.ToString();
      return std::string_view(*source_ip_text_);
    case Operand::kProtocol: return connection_.flow.protocol_name();
    case Operand::kIfaceIn:
      if (connection_.flow.in_iface.empty()) return std::nullopt;
      return std::string_view(connection_.flow.in_iface);
    case Operand::kIfaceOut:
      if (connection_.flow.out_iface.empty()) return std::nullopt;
      return std::string_view(connection_.flow.out_iface);
    default: return std::nullopt;
  }
}

const std::vector<AncestorInfo>* ConnectionFields::Ancestors() const {
  const Attribution& who = connection_.attribution;
  if (who.kind != AttributionKind::kProcess || !who.process.has_value()) return nullptr;
  return &who.process->ancestors;
}

std::optional<std::string_view> ConnectionFields::Env(std::string_view name) const {
  const Attribution& who = connection_.attribution;
  if (name.empty() || who.kind != AttributionKind::kProcess || !who.process.has_value()) return std::nullopt;
  for (const auto& [key, value] : who.process->env) {
    if (key == name) return std::string_view(value);
  }
  return std::nullopt;
}

std::optional<std::string_view> ConnectionFields::FoldedText(Operand operand) {
  for (const auto& [cached, text] : folded_) {
    if (cached == operand) return text != nullptr ? std::optional<std::string_view>(*text) : std::nullopt;
  }
  const std::optional<std::string_view> value = Text(operand);
  // Text that is already in folded form (lower-case ASCII, the common case for paths) is its own fold.
  if (value.has_value() && std::all_of(value->begin(), value->end(), [](char c) {
        return static_cast<unsigned char>(c) < 0x80 && !(c >= 'A' && c <= 'Z');
      })) {
    return value;
  }
  folded_.emplace_back(operand, value.has_value() ? std::make_unique<std::string>(FoldCase(*value)) : nullptr);
  const std::string* text = folded_.back().second.get();
  return text != nullptr ? std::optional<std::string_view>(*text) : std::nullopt;
}

const std::vector<std::string_view>& ConnectionFields::Hosts() {
  if (!hosts_.has_value()) {
    hosts_.emplace();
    if (connection_.dest_hosts != nullptr) {
      for (const std::string& host : *connection_.dest_hosts) hosts_->push_back(WithoutTrailingDot(host));
    }
    if (hosts_->empty()) hosts_->push_back(std::string_view());
  }
  return *hosts_;
}

const std::vector<std::string_view>& ConnectionFields::NormalizedHosts() {
  if (!normalized_hosts_.has_value()) {
    normalized_hosts_.emplace();
    const std::vector<std::string_view>& hosts = Hosts();
    normalized_storage_.reserve(hosts.size());
    for (std::string_view host : hosts) {
      if (std::none_of(host.begin(), host.end(), [](char c) { return c >= 'A' && c <= 'Z'; })) {
        normalized_hosts_->push_back(host);  // already lower case, trailing dot removed by Hosts()
      } else {
        normalized_storage_.push_back(NormalizeHostName(host));
        normalized_hosts_->push_back(normalized_storage_.back());
      }
    }
  }
  return *normalized_hosts_;
}

bool OperatorMatches(const Operator& op, ConnectionFields& fields) {
  switch (op.type) {
    case OperatorType::kSimple: return SimpleMatches(op, fields);
    case OperatorType::kRegexp: return RegexpMatches(op, fields);
    case OperatorType::kNetwork: return op.operand == Operand::kTrue || NetworkMatches(op, fields);
    case OperatorType::kRange: return op.operand == Operand::kTrue || RangeMatches(op, fields);
    case OperatorType::kLists: return op.operand == Operand::kTrue || ListsMatches(op, fields);
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
