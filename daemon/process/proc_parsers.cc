#include "process/proc_parsers.h"

#include <charconv>
#include <limits>
#include <tuple>

namespace picket {
namespace {

// Parses a whole token as an unsigned decimal of type T.
template <typename T>
std::optional<T> ParseUnsigned(std::string_view token) {
  T value{};
  if (token.empty()) return std::nullopt;
  const auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), value);
  if (ec != std::errc() || end != token.data() + token.size()) return std::nullopt;
  return value;
}

// Next space-separated token of `rest`; advances `rest`. Empty when none is left.
std::string_view NextToken(std::string_view& rest) {
  const size_t start = rest.find_first_not_of(' ');
  if (start == std::string_view::npos) {
    rest = {};
    return {};
  }
  rest.remove_prefix(start);
  const size_t end = rest.find(' ');
  std::string_view token = rest.substr(0, end);
  rest.remove_prefix(end == std::string_view::npos ? rest.size() : end);
  return token;
}

std::string Quote(std::string_view token) {
  constexpr size_t kMaxShown = 32;
  std::string out = "'";
  out += token.substr(0, kMaxShown);
  if (token.size() > kMaxShown) out += "...";
  out += "'";
  return out;
}

Result<pid_t> ParsePid(std::string_view token, std::string_view field) {
  auto value = ParseUnsigned<uint32_t>(token);
  if (!value || *value > static_cast<uint32_t>(std::numeric_limits<pid_t>::max())) {
    return Error{"stat: bad " + std::string(field) + " " + Quote(token)};
  }
  return static_cast<pid_t>(*value);
}

}  // namespace

Result<StatFields> ParseProcStat(std::string_view text) {
  const size_t open = text.find('(');
  const size_t close = text.rfind(')');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open) {
    return Error{"stat: no '(comm)' field"};
  }
  StatFields fields;
  std::string_view head = text.substr(0, open);
  while (!head.empty() && head.back() == ' ') head.remove_suffix(1);
  auto pid = ParsePid(head, "pid");
  if (!pid.ok()) return pid.error();
  fields.pid = *pid;
  fields.comm = std::string(text.substr(open + 1, close - open - 1));

  // Fields 3.. follow the last ')'. Field 22 (start time) is the 20th of them.
  std::string_view rest = text.substr(close + 1);
  while (!rest.empty() && (rest.back() == '\n' || rest.back() == '\0')) rest.remove_suffix(1);
  std::string_view state = NextToken(rest);
  if (state.size() != 1) return Error{"stat: bad state field " + Quote(state)};
  fields.state = state[0];
  auto ppid = ParsePid(NextToken(rest), "ppid");
  if (!ppid.ok()) return ppid.error();
  fields.ppid = *ppid;
  constexpr int kFieldsBetween = 22 - 4 - 1;  // fields 5..21
  for (int i = 0; i < kFieldsBetween; ++i) {
    if (NextToken(rest).empty()) return Error{"stat: missing field " + std::to_string(5 + i)};
  }
  std::string_view start = NextToken(rest);
  auto start_ticks = ParseUnsigned<uint64_t>(start);
  if (!start_ticks) return Error{"stat: bad start time (field 22) " + Quote(start)};
  fields.start_time_ticks = *start_ticks;
  return fields;
}

Result<uint32_t> ParseStatusUid(std::string_view text) {
  constexpr std::string_view kKey = "Uid:";
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    if (line.substr(0, kKey.size()) == kKey) {
      line.remove_prefix(kKey.size());
      const size_t start = line.find_first_not_of(" \t");
      if (start == std::string_view::npos) return Error{"status: empty Uid line"};
      line.remove_prefix(start);
      std::string_view token = line.substr(0, line.find_first_of(" \t"));
      auto uid = ParseUnsigned<uint32_t>(token);
      if (!uid) return Error{"status: bad Uid " + Quote(token)};
      return *uid;
    }
    pos = end + 1;
  }
  return Error{"status: no Uid line"};
}

namespace {

// The value part of the first line of `text` starting with `key`; nullopt when there is none.
std::optional<std::string_view> StatusLine(std::string_view text, std::string_view key) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    if (line.substr(0, key.size()) == key) return line.substr(key.size());
    pos = end + 1;
  }
  return std::nullopt;
}

// The whitespace-separated numbers of a status value, at most `max`.
std::vector<std::string_view> Fields(std::string_view value, size_t max) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  while (out.size() < max) {
    pos = value.find_first_not_of(" \t", pos);
    if (pos == std::string_view::npos) break;
    size_t end = value.find_first_of(" \t", pos);
    if (end == std::string_view::npos) end = value.size();
    out.push_back(value.substr(pos, end - pos));
    pos = end;
  }
  return out;
}

}  // namespace

Result<StatusIds> ParseStatusIds(std::string_view text) {
  StatusIds ids;
  const std::optional<std::string_view> uid_line = StatusLine(text, "Uid:");
  if (!uid_line) return Error{"status: no Uid line"};
  const std::vector<std::string_view> uids = Fields(*uid_line, 2);
  if (uids.size() < 2) return Error{"status: Uid line has fewer than 2 fields"};
  auto uid = ParseUnsigned<uint32_t>(uids[0]);
  auto euid = ParseUnsigned<uint32_t>(uids[1]);
  if (!uid || !euid) return Error{"status: bad Uid " + Quote(*uid_line)};
  const std::optional<std::string_view> gid_line = StatusLine(text, "Gid:");
  if (!gid_line) return Error{"status: no Gid line"};
  const std::vector<std::string_view> gids = Fields(*gid_line, 1);
  auto gid = gids.empty() ? std::nullopt : ParseUnsigned<uint32_t>(gids[0]);
  if (!gid) return Error{"status: bad Gid " + Quote(*gid_line)};
  ids.uid = *uid;
  ids.euid = *euid;
  ids.gid = *gid;
  if (const std::optional<std::string_view> nspid = StatusLine(text, "NSpid:")) {
    constexpr size_t kMaxLevels = 64;
    const std::vector<std::string_view> levels = Fields(*nspid, kMaxLevels);
    if (!levels.empty()) {
      auto last = ParseUnsigned<uint32_t>(levels.back());
      if (last && *last <= static_cast<uint32_t>(std::numeric_limits<pid_t>::max())) ids.ns_pid = static_cast<pid_t>(*last);
    }
  }
  return ids;
}

std::optional<std::string> ParseCgroupPath(std::string_view text) {
  std::optional<std::string> systemd;
  std::optional<std::string> unified;
  FindLine(text, [&](std::string_view line) {
    if (line.substr(0, 3) == "0::") {
      unified = std::string(line.substr(3));
      return true;
    }
    const size_t first = line.find(':');
    if (first == std::string_view::npos) return false;
    const size_t second = line.find(':', first + 1);
    if (second == std::string_view::npos) return false;
    if (line.substr(first + 1, second - first - 1) == "name=systemd") systemd = std::string(line.substr(second + 1));
    return false;
  });
  return unified ? unified : systemd;
}

std::vector<std::string> ParseCmdline(std::string_view bytes, size_t max_args) {
  std::vector<std::string> argv;
  size_t pos = 0;
  while (pos < bytes.size() && argv.size() < max_args) {
    size_t end = bytes.find('\0', pos);
    if (end == std::string_view::npos) end = bytes.size();
    argv.emplace_back(bytes.substr(pos, end - pos));
    pos = end + 1;
  }
  return argv;
}

std::optional<uint64_t> ParseSocketLink(std::string_view link) {
  constexpr std::string_view kPrefix = "socket:[";
  if (link.size() < kPrefix.size() + 2 || link.substr(0, kPrefix.size()) != kPrefix || link.back() != ']') {
    return std::nullopt;
  }
  return ParseUnsigned<uint64_t>(link.substr(kPrefix.size(), link.size() - kPrefix.size() - 1));
}

ExeLink SplitDeletedSuffix(std::string_view link) {
  constexpr std::string_view kSuffix = " (deleted)";
  if (link.size() > kSuffix.size() && link.substr(link.size() - kSuffix.size()) == kSuffix) {
    return ExeLink{std::string(link.substr(0, link.size() - kSuffix.size())), true};
  }
  return ExeLink{std::string(link), false};
}

namespace {

// Next space-separated field of `line` from `pos`; empty when there is none.
std::string_view NextField(std::string_view line, size_t& pos) {
  while (pos < line.size() && line[pos] == ' ') ++pos;
  const size_t start = pos;
  while (pos < line.size() && line[pos] != ' ') ++pos;
  return line.substr(start, pos - start);
}

// Decodes the kernel's "\ooo" escapes of a mountinfo path; nullopt when an escape is malformed.
std::optional<std::string> UnescapeMountPath(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 3 >= text.size()) return std::nullopt;  // "\ooo" needs three digits
    unsigned value = 0;
    for (size_t k = 1; k <= 3; ++k) {
      const char c = text[i + k];
      if (c < '0' || c > '7') return std::nullopt;
      value = value * 8 + static_cast<unsigned>(c - '0');
    }
    if (value > 0xff) return std::nullopt;
    out.push_back(static_cast<char>(value));
    i += 3;
  }
  return out;
}

}  // namespace

Result<MountEntry> ParseMountinfoLine(std::string_view line) {
  size_t pos = 0;
  const std::string_view names[] = {"mount id", "parent id", "major:minor", "root", "mount point", "mount options"};
  std::string_view fields[6];
  for (size_t i = 0; i < 6; ++i) {
    fields[i] = NextField(line, pos);
    if (fields[i].empty()) return Error{"mountinfo: missing field '" + std::string(names[i]) + "'"};
  }
  for (std::string_view optional = NextField(line, pos); optional != "-"; optional = NextField(line, pos)) {
    if (optional.empty()) return Error{"mountinfo: no '-' separator before the filesystem type"};
  }
  const std::string_view fstype = NextField(line, pos);
  if (fstype.empty()) return Error{"mountinfo: missing field 'filesystem type'"};
  MountEntry entry;
  for (const auto& [text, name, out] : {std::tuple{fields[3], "root", &entry.root},
                                        std::tuple{fields[4], "mount point", &entry.mount_point}}) {
    auto path = UnescapeMountPath(text);
    if (!path) return Error{"mountinfo: " + std::string(name) + " '" + std::string(text) + "' has a malformed \\ooo escape"};
    *out = std::move(*path);
  }
  if (entry.mount_point[0] != '/') return Error{"mountinfo: mount point '" + std::string(fields[4]) + "' is not an absolute path"};
  entry.fstype = std::string(fstype);
  return entry;
}

Result<std::optional<std::string>> FindCgroup2MountPoint(std::string_view mountinfo) {
  size_t pos = 0;
  for (size_t number = 1; pos < mountinfo.size(); ++number) {
    size_t end = mountinfo.find('\n', pos);
    if (end == std::string_view::npos) end = mountinfo.size();
    const std::string_view line = mountinfo.substr(pos, end - pos);
    pos = end + 1;
    if (line.empty()) continue;
    auto entry = ParseMountinfoLine(line);
    if (!entry.ok()) return Error{entry.error().message + " (line " + std::to_string(number) + ")"};
    if (entry->fstype == "cgroup2" && entry->root == "/") return std::optional<std::string>(entry->mount_point);
  }
  return std::optional<std::string>();
}

}  // namespace picket
