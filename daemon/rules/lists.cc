#include "rules/lists.h"

#include <re2/re2.h>
#include <re2/set.h>

#include <algorithm>

namespace picket {
namespace {

constexpr size_t kMaxListPatternBytes = 64 * 1024;
constexpr int64_t kListSetMaxMem = int64_t{64} << 20;

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

std::string_view Trim(std::string_view text) {
  while (!text.empty() && IsSpace(text.front())) text.remove_prefix(1);
  while (!text.empty() && IsSpace(text.back())) text.remove_suffix(1);
  return text;
}

// Splits `line` on blanks; stops at a token starting with '#'.
std::vector<std::string_view> Tokens(std::string_view line) {
  std::vector<std::string_view> tokens;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && IsSpace(line[i])) ++i;
    const size_t start = i;
    while (i < line.size() && !IsSpace(line[i])) ++i;
    if (i == start) break;
    const std::string_view token = line.substr(start, i - start);
    if (token.front() == '#') break;
    tokens.push_back(token);
  }
  return tokens;
}

bool IsHex(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  });
}

std::string AsciiLower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

RE2::Options ListRegexpOptions() {
  RE2::Options options;
  options.set_log_errors(false);
  options.set_never_capture(true);
  options.set_case_sensitive(false);
  options.set_max_mem(kListSetMaxMem);
  return options;
}

class Parser {
 public:
  Parser(ListKind kind, ListFile& out) : kind_(kind), out_(out) {}

  void Line(size_t number, std::string_view line) {
    line = Trim(line);
    if (line.empty() || line.front() == '#') return;
    switch (kind_) {
      case ListKind::kDomains: return HostsLine(number, line);
      case ListKind::kDomainsRegexp: return RegexpLine(number, line);
      case ListKind::kIps:
      case ListKind::kNets: return NetworkLine(number, line);
      case ListKind::kHashMd5: return DigestLine(number, line, 32, "an MD5 digest (32 hex digits)");
      case ListKind::kHashSha256: return DigestLine(number, line, 64, "a SHA-256 digest (64 hex digits)");
    }
  }

 private:
  void Skip(size_t number, std::string reason) {
    if (out_.skipped_lines++ == 0) {
      out_.first_skipped_line = number;
      out_.first_skipped_reason = std::move(reason);
    }
  }

  void HostsLine(size_t number, std::string_view line) {
    const std::vector<std::string_view> tokens = Tokens(line);
    if (tokens.empty()) return;
    if (tokens[0] != "0.0.0.0" && tokens[0] != "127.0.0.1") {
      // Other addresses ("::1 localhost", "255.255.255.255 broadcasthost") are hosts-file lines
      // that block nothing; anything else is not hosts format.
      if (!IpAddress::Parse(tokens[0]).ok()) {
        Skip(number, "not a hosts-format line (expected '0.0.0.0 NAME' or '127.0.0.1 NAME')");
      }
      return;
    }
    if (tokens.size() < 2) return Skip(number, "address without a name");
    for (size_t i = 1; i < tokens.size(); ++i) HostName(number, tokens[i]);
  }

  void HostName(size_t number, std::string_view token) {
    std::string name = NormalizeHostName(token);
    if (name == "local" || name == "localhost" || name == "localhost.localdomain" || name == "broadcasthost" ||
        name == "0.0.0.0") {
      return;
    }
    std::string_view suffix;
    if (name.starts_with("*.")) {
      suffix = std::string_view(name).substr(2);
    } else if (name.starts_with(".")) {
      suffix = std::string_view(name).substr(1);
    }
    const std::string_view rest = suffix.empty() ? std::string_view(name) : suffix;
    if (rest.empty() || rest.find_first_of("*?[]") != std::string_view::npos) {
      return Skip(number, "'" + std::string(token) +
                              "': only a leading '*.' wildcard is supported (e.g. *.example.org)");
    }
    if (!suffix.empty()) {
      out_.suffixes.emplace_back(suffix);
    } else {
      out_.names.push_back(std::move(name));
    }
  }

  void RegexpLine(size_t number, std::string_view line) {
    if (line.size() > kMaxListPatternBytes) return Skip(number, "pattern longer than 64 KiB");
    RE2 regexp(re2::StringPiece(line.data(), line.size()), ListRegexpOptions());
    if (!regexp.ok()) return Skip(number, "invalid regexp: " + regexp.error());
    out_.patterns.emplace_back(line);
  }

  void NetworkLine(size_t number, std::string_view line) {
    const std::vector<std::string_view> tokens = Tokens(line);
    if (tokens.empty()) return;
    Result<IpNetwork> network = ParseNetwork(tokens[0], BareAddress::kAllow);
    if (!network.ok()) return Skip(number, network.error().message);
    out_.networks.push_back(*network);
  }

  void DigestLine(size_t number, std::string_view line, size_t length, std::string_view what) {
    const std::vector<std::string_view> tokens = Tokens(line);
    if (tokens.empty()) return;
    if (tokens[0].size() != length || !IsHex(tokens[0])) {
      return Skip(number, "'" + std::string(tokens[0]) + "' is not " + std::string(what));
    }
    out_.digests.push_back(AsciiLower(tokens[0]));
  }

  ListKind kind_;
  ListFile& out_;
};

bool IsListFileName(std::string_view name) {
  return !name.empty() && name.front() != '.' && name.find('.') != std::string_view::npos;
}

}  // namespace

std::string_view ListKindOperand(ListKind kind) {
  switch (kind) {
    case ListKind::kDomains: return "lists.domains";
    case ListKind::kDomainsRegexp: return "lists.domains_regexp";
    case ListKind::kIps: return "lists.ips";
    case ListKind::kNets: return "lists.nets";
    case ListKind::kHashMd5: return "lists.hash.md5";
    case ListKind::kHashSha256: return "lists.hash.sha256";
  }
  return "?";
}

std::optional<ListKind> ListKindOf(Operand operand) {
  switch (operand) {
    case Operand::kListsDomains: return ListKind::kDomains;
    case Operand::kListsDomainsRegexp: return ListKind::kDomainsRegexp;
    case Operand::kListsIps: return ListKind::kIps;
    case Operand::kListsNets: return ListKind::kNets;
    case Operand::kListsHashMd5: return ListKind::kHashMd5;
    case Operand::kListsHashSha256: return ListKind::kHashSha256;
    default: return std::nullopt;
  }
}

size_t ListFile::entries() const {
  return names.size() + suffixes.size() + patterns.size() + networks.size() + digests.size();
}

std::string NormalizeHostName(std::string_view name) {
  if (name.size() > 1 && name.back() == '.') name.remove_suffix(1);
  return AsciiLower(name);
}

ListFile ParseListFile(ListKind kind, std::string_view bytes) {
  ListFile out;
  Parser parser(kind, out);
  size_t number = 0;
  while (!bytes.empty()) {
    ++number;
    const size_t end = bytes.find('\n');
    parser.Line(number, bytes.substr(0, end));
    if (end == std::string_view::npos) break;
    bytes.remove_prefix(end + 1);
  }
  return out;
}

ListData::ListData(ListKind kind, const std::vector<const ListFile*>& files) : kind_(kind) {
  std::vector<const std::string*> patterns;
  for (const ListFile* file : files) {
    names_.insert(file->names.begin(), file->names.end());
    suffixes_.insert(file->suffixes.begin(), file->suffixes.end());
    digests_.insert(file->digests.begin(), file->digests.end());
    for (const IpNetwork& network : file->networks) networks_.Insert(network, 1);
    for (const std::string& pattern : file->patterns) patterns.push_back(&pattern);
    size_ += file->entries();
  }
  networks_.Finish();
  if (patterns.empty()) return;
  for (const std::string* pattern : patterns) patterns_.push_back(std::make_unique<RE2>(*pattern, ListRegexpOptions()));
  auto set = std::make_unique<RE2::Set>(ListRegexpOptions(), RE2::UNANCHORED);
  bool added = true;
  for (const std::string* pattern : patterns) added = added && set->Add(*pattern, nullptr) >= 0;
  if (added && set->Compile()) pattern_set_ = std::move(set);
}

ListData::~ListData() = default;

bool ListData::ContainsDomain(std::string_view host) const {
  if (host.empty()) return false;
  std::string normalized;
  const bool clean = host.back() != '.' && std::none_of(host.begin(), host.end(), [](char c) {
                       return c >= 'A' && c <= 'Z';
                     });
  if (!clean) {
    normalized = NormalizeHostName(host);
    host = normalized;
  }
  if (names_.find(host) != names_.end()) return true;
  if (suffixes_.empty()) return false;
  for (size_t dot = host.find('.'); dot != std::string_view::npos; dot = host.find('.', dot + 1)) {
    if (suffixes_.find(host.substr(dot + 1)) != suffixes_.end()) return true;
  }
  return false;
}

bool ListData::MatchesDomain(std::string_view host) const {
  if (host.empty()) return false;
  const std::string normalized = NormalizeHostName(host);
  const re2::StringPiece text(normalized.data(), normalized.size());
  if (pattern_set_ != nullptr) {
    RE2::Set::ErrorInfo error{};
    if (pattern_set_->Match(text, nullptr, &error)) return true;
    if (error.kind == RE2::Set::kNoError) return false;
    // The set's DFA ran out of memory for this text: try the patterns one by one.
  }
  for (const auto& pattern : patterns_) {
    if (RE2::PartialMatch(text, *pattern)) return true;
  }
  return false;
}

bool ListData::ContainsAddress(const IpAddress& ip) const {
  bool found = false;
  networks_.Find(ip, [&found](const std::vector<uint8_t>&) {
    found = true;
    return false;
  });
  return found;
}

bool ListData::ContainsDigest(std::string_view hex) const {
  if (hex.empty()) return false;
  return digests_.find(AsciiLower(hex)) != digests_.end();
}

ListStore::ListStore() = default;
ListStore::~ListStore() = default;

Result<std::shared_ptr<const ListData>> ListStore::Get(ListKind kind, const std::string& dir) {
  DirEntry& entry = dirs_[{kind, dir}];
  if (entry.dirty || entry.merged == nullptr) {
    if (Status s = Reload(kind, dir, entry); !s.ok()) {
      dirs_.erase({kind, dir});
      return s.error();
    }
  }
  return entry.merged;
}

Status ListStore::Reload(ListKind kind, const std::string& dir, DirEntry& entry) {
  Result<std::vector<std::string>> names = ListDirectory(dir, "list directory", &IsListFileName);
  if (!names.ok()) return names.error();
  std::map<std::string, FileEntry> files;
  std::vector<ListWarning> warnings;
  bool changed = entry.merged == nullptr || names->size() != entry.files.size();
  for (const std::string& name : *names) {
    const std::string path = JoinDirAndName(dir, name);
    auto old = entry.files.find(name);
    Result<FileStamp> identity = StatIdentity(path);
    if (identity.ok() && old != entry.files.end() && old->second.identity == *identity) {
      files.emplace(name, old->second);
      continue;
    }
    changed = true;
    Result<FileContent> content = ReadRegularFile(path, kMaxListFileBytes);
    if (!content.ok()) {
      warnings.push_back(ListWarning{path, content.error().message + " (file ignored)"});
      continue;
    }
    auto parsed = std::make_shared<ListFile>(ParseListFile(kind, content->bytes));
    files.emplace(name, FileEntry{content->identity, std::move(parsed)});
  }
  for (const auto& [name, file] : files) {
    if (file.parsed->skipped_lines > 0) {
      warnings.push_back(ListWarning{
          JoinDirAndName(dir, name), std::to_string(file.parsed->skipped_lines) + " line(s) skipped; line " +
                                         std::to_string(file.parsed->first_skipped_line) + ": " +
                                         file.parsed->first_skipped_reason});
    }
  }
  entry.files = std::move(files);
  entry.warnings = std::move(warnings);
  entry.dirty = false;
  if (changed) {
    std::vector<const ListFile*> parts;
    for (const auto& [name, file] : entry.files) parts.push_back(file.parsed.get());
    entry.merged = std::make_shared<const ListData>(kind, parts);
  }
  return OkStatus();
}

std::vector<ListWarning> ListStore::Warnings(ListKind kind, const std::string& dir) const {
  auto it = dirs_.find({kind, dir});
  return it == dirs_.end() ? std::vector<ListWarning>{} : it->second.warnings;
}

void ListStore::MarkDirty(const std::string& dir) {
  for (auto& [key, entry] : dirs_) {
    if (key.second == dir) entry.dirty = true;
  }
}

void ListStore::MarkAllDirty() {
  for (auto& [key, entry] : dirs_) entry.dirty = true;
}

std::vector<std::string> ListStore::Directories() const {
  std::vector<std::string> dirs;
  for (const auto& [key, entry] : dirs_) dirs.push_back(key.second);
  std::sort(dirs.begin(), dirs.end());
  dirs.erase(std::unique(dirs.begin(), dirs.end()), dirs.end());
  return dirs;
}

void ListStore::Retain(const std::vector<std::string>& used) {
  std::erase_if(dirs_, [&used](const auto& item) {
    return std::find(used.begin(), used.end(), item.first.second) == used.end();
  });
}

}  // namespace picket
