#include "rules/rule_set.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <memory>
#include <variant>

#include "common/unique_fd.h"
#include "rules/operator_match.h"
#include "rules/rule_parser.h"

namespace picket {
namespace {

struct DirCloser {
  void operator()(DIR* dir) const { ::closedir(dir); }
};

std::string DirError(const std::string& dir) { return "rules directory " + dir; }

// The `*.json` entry names of `dir`, sorted.
Result<std::vector<std::string>> ListJsonFiles(const std::string& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) return Error::FromErrno(DirError(dir));
  if (!S_ISDIR(st.st_mode)) return Error{DirError(dir) + ": not a directory", ENOTDIR};
  std::unique_ptr<DIR, DirCloser> handle(::opendir(dir.c_str()));
  if (handle == nullptr) return Error::FromErrno(DirError(dir));
  std::vector<std::string> names;
  errno = 0;
  while (const dirent* entry = ::readdir(handle.get())) {
    const std::string_view name = entry->d_name;
    if (name.size() > 5 && name.ends_with(".json")) names.emplace_back(name);
    errno = 0;
  }
  if (errno != 0) return Error::FromErrno(DirError(dir) + ": readdir");
  std::sort(names.begin(), names.end());
  return names;
}

// The bytes of one rule file: a regular file of at most kMaxRuleFileBytes. O_NONBLOCK keeps a
// FIFO named *.json from blocking the open.
Result<std::string> ReadRuleFile(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
  if (!fd.valid()) return Error::FromErrno("open");
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return Error::FromErrno("fstat");
  if (!S_ISREG(st.st_mode)) return Error{"not a regular file"};
  const std::string too_large = "larger than " + std::to_string(kMaxRuleFileBytes) + " bytes";
  if (static_cast<uint64_t>(st.st_size) > kMaxRuleFileBytes) return Error{too_large};
  std::string bytes(kMaxRuleFileBytes + 1, '\0');
  size_t used = 0;
  while (used < bytes.size()) {
    const ssize_t n = ::read(fd.get(), bytes.data() + used, bytes.size() - used);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::FromErrno("read");
    if (n == 0) break;
    used += static_cast<size_t>(n);
  }
  if (used > kMaxRuleFileBytes) return Error{too_large};
  bytes.resize(used);
  return bytes;
}

std::string JoinDir(const std::string& dir, const std::string& name) {
  if (!dir.empty() && dir.back() == '/') return dir + name;
  return dir + "/" + name;
}

bool ByName(const Rule& a, const Rule& b) { return a.name < b.name; }

}  // namespace

std::string LoadProblem::ToString() const {
  if (field.empty()) return file + ": " + reason;
  return file + ": field '" + field + "': " + reason;
}

RuleSet::RuleSet(std::vector<Rule> sorted_rules) : rules_(std::move(sorted_rules)) {
  for (size_t i = 0; i < rules_.size(); ++i) {
    if (rules_[i].enabled) enabled_.push_back(static_cast<uint32_t>(i));
  }
}

Result<RuleSet::Loaded> RuleSet::LoadDirectory(const std::string& dir) {
  Result<std::vector<std::string>> names = ListJsonFiles(dir);
  if (!names.ok()) return names.error();
  Loaded loaded;
  std::vector<Rule> rules;
  std::map<std::string, std::string, std::less<>> file_of_name;
  for (const std::string& name : *names) {
    const std::string path = JoinDir(dir, name);
    Result<std::string> bytes = ReadRuleFile(path);
    if (!bytes.ok()) {
      loaded.problems.push_back(LoadProblem{path, "", bytes.error().message});
      continue;
    }
    std::variant<Rule, RuleParseError> parsed = ParseRuleDetailed(*bytes);
    if (auto* error = std::get_if<RuleParseError>(&parsed)) {
      loaded.problems.push_back(LoadProblem{path, error->field, error->reason});
      continue;
    }
    Rule& rule = std::get<Rule>(parsed);
    auto [it, inserted] = file_of_name.emplace(rule.name, path);
    if (!inserted) {
      loaded.problems.push_back(
          LoadProblem{path, "name", "rule name '" + rule.name + "' is already declared by " + it->second});
      continue;
    }
    rules.push_back(std::move(rule));
  }
  std::sort(rules.begin(), rules.end(), ByName);
  loaded.rules = RuleSet(std::move(rules));
  return loaded;
}

Result<RuleSet> RuleSet::FromRules(std::vector<Rule> rules) {
  std::sort(rules.begin(), rules.end(), ByName);
  for (size_t i = 1; i < rules.size(); ++i) {
    if (rules[i].name == rules[i - 1].name) return Error{"duplicate rule name '" + rules[i].name + "'"};
  }
  return RuleSet(std::move(rules));
}

const Rule* RuleSet::Match(const Connection& connection) const {
  ConnectionFields fields(connection);
  const Rule* last_allow = nullptr;
  for (uint32_t index : enabled_) {
    const Rule& rule = rules_[index];
    if (!OperatorMatches(rule.op, fields)) continue;
    if (rule.action != Action::kAllow || rule.precedence) return &rule;
    last_allow = &rule;
  }
  return last_allow;
}

}  // namespace picket
