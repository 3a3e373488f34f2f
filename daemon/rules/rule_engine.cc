#include "rules/rule_engine.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <variant>

#include "rules/lifetime.h"
#include "rules/rule_binder.h"
#include "rules/rule_parser.h"
#include "rules/rule_writer.h"

namespace picket {
namespace {

bool RuleFileFilter(std::string_view name) { return IsRuleFileName(name); }

std::string BaseName(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

constexpr std::string_view kKeptPrevious = " (the previous version stays active)";

}  // namespace

bool IsRuleFileName(std::string_view name) { return name.size() > 5 && name.ends_with(".json"); }

struct RuleEngine::FileState {
  FileStamp stamp;
  bool stamp_known = false;             // false: re-read at the next Reload whatever the stamp says
  std::optional<Rule> good;             // the last version that loaded
  std::optional<LoadProblem> problem;   // why the current content did not load
  WallTime loaded_at{};                 // when `good` was read (start of a timed rule without `created`)
  bool ended = false;                   // timed rule expired / once rule used: out until the file changes
};

RuleEngine::RuleEngine(RuleEngineOptions options) : options_(std::move(options)) {
  current_ = std::make_shared<const RuleSet>();
}

RuleEngine::~RuleEngine() = default;

void RuleEngine::MarkFileDirty(const std::string& name) { dirty_files_.insert(name); }

void RuleEngine::MarkListDirty(const std::string& dir) {
  lists_.MarkDirty(dir);
  lists_dirty_ = true;
}

// Reads file `name` into `next`, starting from `previous` (the state before; may be null).
// Returns false when nothing changed (the file is being written right now: retried later).
bool RuleEngine::RefreshFile(const std::string& name, FileState* previous, FileState& next) {
  const std::string path = JoinDirAndName(options_.rules_dir, name);
  if (previous != nullptr) {
    next.good = previous->good;
    next.loaded_at = previous->loaded_at;
    next.ended = previous->ended;
  }
  auto fail = [&](std::string field, std::string reason) {
    if (next.good.has_value()) reason += kKeptPrevious;
    next.problem = LoadProblem{path, std::move(field), std::move(reason)};
    return true;
  };
  Result<FileContent> content = ReadRegularFile(path, kMaxRuleFileBytes);
  if (!content.ok()) {
    next.stamp_known = false;
    return fail("", content.error().message);
  }
  // A file whose identity moved while it was read is being written: keep the old state, retry.
  Result<FileStamp> after = StatIdentity(path);
  if (!after.ok() || !(*after == content->identity)) {
    if (previous != nullptr) next = *previous;
    next.stamp_known = false;
    dirty_files_.insert(name);
    return false;
  }
  next.stamp = content->identity;
  next.stamp_known = true;
  std::variant<Rule, RuleParseError> parsed = ParseRuleDetailed(content->bytes);
  if (auto* error = std::get_if<RuleParseError>(&parsed)) return fail(error->field, error->reason);
  Rule& rule = std::get<Rule>(parsed);
  if (rule.lifetime.kind == LifetimeKind::kUntilProcessExits) {
    return fail("duration", "'until process exits' is only for rules made at a prompt, not for rule files");
  }
  if (std::optional<RuleParseError> error = ResolveUserNames(rule, *options_.users)) {
    return fail(error->field, error->reason);
  }
  next.good = std::move(rule);
  next.problem.reset();
  next.loaded_at = options_.clock->Now();
  next.ended = false;
  return true;
}

Status RuleEngine::Reload() {
  Result<std::vector<std::string>> names = ListDirectory(options_.rules_dir, "rules directory", &RuleFileFilter);
  if (!names.ok()) return names.error();
  options_.users->Refresh();
  bool changed = !loaded_ || lists_dirty_;
  std::set<std::string> dirty = std::move(dirty_files_);
  dirty_files_.clear();
  std::map<std::string, FileState> next_files;
  for (const std::string& name : *names) {
    auto previous = files_.find(name);
    FileState* before = previous == files_.end() ? nullptr : &previous->second;
    if (before != nullptr && before->stamp_known && dirty.count(name) == 0) {
      Result<FileStamp> stamp = StatIdentity(JoinDirAndName(options_.rules_dir, name));
      if (stamp.ok() && *stamp == before->stamp) {
        next_files.emplace(name, std::move(*before));
        continue;
      }
    }
    FileState next;
    changed = RefreshFile(name, before, next) || changed;
    next_files.emplace(name, std::move(next));
  }
  changed = changed || std::any_of(files_.begin(), files_.end(),
                                   [&next_files](const auto& item) { return next_files.count(item.first) == 0; });
  files_ = std::move(next_files);
  loaded_ = true;
  lists_dirty_ = false;
  if (changed) Build();
  return OkStatus();
}

void RuleEngine::Build() {
  const WallTime now = options_.clock->Now();
  std::vector<LoadProblem> problems;
  std::vector<Rule> rules;
  std::map<std::string, std::string> file_of_name;
  for (const auto& [name, state] : files_) {
    if (state.problem.has_value()) problems.push_back(*state.problem);
    if (!state.good.has_value() || state.ended) continue;
    const std::string path = JoinDirAndName(options_.rules_dir, name);
    Rule rule = *state.good;
    rule.file = path;
    if (runtime_.count(rule.name) != 0) {
      problems.push_back(LoadProblem{path, "name", "rule name '" + rule.name +
                                                       "' is also a rule made at runtime, which is used instead",
                                     LoadProblem::Severity::kWarning});
      continue;
    }
    auto [it, inserted] = file_of_name.emplace(rule.name, path);
    if (!inserted) {
      problems.push_back(LoadProblem{path, "name", "rule name '" + rule.name + "' is already declared by " + it->second});
      continue;
    }
    if (rule.lifetime.kind == LifetimeKind::kTimed) {
      const std::optional<WallTime> created = ParseRfc3339(rule.created);
      const WallTime start = created.value_or(state.loaded_at);
      rule.expires_at = start + std::chrono::duration_cast<WallTime::duration>(rule.lifetime.timeout);
    }
    if (rule.expires_at.has_value() && *rule.expires_at <= now) continue;
    rules.push_back(std::move(rule));
  }
  for (const auto& [name, rule] : runtime_) {
    if (rule.expires_at.has_value() && *rule.expires_at <= now) continue;
    rules.push_back(rule);
  }
  std::vector<ListWarning> warnings;
  std::vector<std::string> dirs;
  std::erase_if(rules, [&](Rule& rule) {
    if (!UsesLists(rule.op)) return false;
    ListDirectories(rule.op, dirs);
    if (std::optional<RuleParseError> error = BindLists(rule, lists_, &warnings)) {
      problems.push_back(LoadProblem{rule.file.empty() ? "(rule '" + rule.name + "')" : rule.file, error->field,
                                     error->reason});
      return true;
    }
    return false;
  });
  std::sort(dirs.begin(), dirs.end());
  dirs.erase(std::unique(dirs.begin(), dirs.end()), dirs.end());
  lists_.Retain(dirs);
  list_dirs_ = dirs;
  for (const ListWarning& warning : warnings) {
    LoadProblem problem{warning.file, "", warning.message, LoadProblem::Severity::kWarning};
    const bool seen = std::any_of(problems.begin(), problems.end(), [&problem](const LoadProblem& p) {
      return p.file == problem.file && p.reason == problem.reason;
    });
    if (!seen) problems.push_back(std::move(problem));
  }
  std::stable_sort(problems.begin(), problems.end(),
                   [](const LoadProblem& a, const LoadProblem& b) { return a.file < b.file; });
  Result<RuleSet> set = RuleSet::FromRules(std::move(rules), *options_.clock);
  // Names are unique by construction (files deduplicated, runtime rules keyed by name).
  current_ = set.ok() ? std::make_shared<const RuleSet>(std::move(*set)) : std::make_shared<const RuleSet>();
  problems_ = std::move(problems);
  ++generation_;
}

Status RuleEngine::AddRule(Rule rule, std::optional<ProcessKey> owner) {
  if (rule.name.empty() || rule.name.find('/') != std::string::npos) {
    return Error{"rule name '" + rule.name + "' is empty or contains '/'"};
  }
  for (const auto& [name, state] : files_) {
    if (state.good.has_value() && state.good->name == rule.name && name != rule.name + ".json") {
      return Error{"rule name '" + rule.name + "' is declared by rule file " +
                   JoinDirAndName(options_.rules_dir, name)};
    }
  }
  rule.file.clear();
  rule.expires_at.reset();
  rule.owner.reset();
  switch (rule.lifetime.kind) {
    case LifetimeKind::kAlways: {
      if (Status s = SaveRuleFile(options_.rules_dir, rule); !s.ok()) return s;
      runtime_.erase(rule.name);
      MarkFileDirty(rule.name + ".json");
      return Reload();
    }
    case LifetimeKind::kUntilProcessExits:
      if (!owner.has_value()) return Error{"rule '" + rule.name + "': 'until process exits' needs the process"};
      rule.owner = owner;
      break;
    case LifetimeKind::kTimed:
      rule.expires_at =
          options_.clock->Now() + std::chrono::duration_cast<WallTime::duration>(rule.lifetime.timeout);
      break;
    case LifetimeKind::kOnce:
    case LifetimeKind::kUntilRestart: break;
  }
  if (std::optional<RuleParseError> error = ResolveUserNames(rule, *options_.users)) {
    return Error{"rule '" + rule.name + "': " + error->ToString()};
  }
  if (UsesLists(rule.op)) {
    Rule probe = rule;
    if (std::optional<RuleParseError> error = BindLists(probe, lists_, nullptr)) {
      return Error{"rule '" + rule.name + "': " + error->ToString()};
    }
  }
  runtime_[rule.name] = std::move(rule);
  Build();
  return OkStatus();
}

Status RuleEngine::RemoveRule(const std::string& name) {
  if (runtime_.erase(name) != 0) {
    Build();
    return OkStatus();
  }
  for (const auto& [file, state] : files_) {
    if (!state.good.has_value() || state.good->name != name) continue;
    const std::string path = JoinDirAndName(options_.rules_dir, file);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return Error::FromErrno("unlink " + path);
    MarkFileDirty(file);
    return Reload();
  }
  return Error{"no rule named '" + name + "'"};
}

void RuleEngine::EndFileRule(const std::string& name) {
  auto it = files_.find(name);
  if (it == files_.end()) return;
  it->second.ended = true;
  if (!options_.remove_ended_files || !it->second.stamp_known) return;
  const std::string path = JoinDirAndName(options_.rules_dir, name);
  Result<FileStamp> stamp = StatIdentity(path);
  if (stamp.ok() && *stamp == it->second.stamp) ::unlink(path.c_str());
}

std::vector<std::string> RuleEngine::Sweep() {
  const WallTime now = options_.clock->Now();
  std::vector<std::string> ended;
  for (const std::string& name : current_->UsedOnceRules()) ended.push_back(name);
  for (const Rule& rule : current_->rules()) {
    if (rule.expires_at.has_value() && *rule.expires_at <= now) ended.push_back(rule.name);
  }
  for (const auto& [name, rule] : runtime_) {
    if (rule.expires_at.has_value() && *rule.expires_at <= now) ended.push_back(name);
  }
  std::sort(ended.begin(), ended.end());
  ended.erase(std::unique(ended.begin(), ended.end()), ended.end());
  if (ended.empty()) return ended;
  for (const std::string& name : ended) {
    if (runtime_.erase(name) != 0) continue;
    for (const Rule& rule : current_->rules()) {
      if (rule.name == name && !rule.file.empty()) EndFileRule(BaseName(rule.file));
    }
  }
  Build();
  return ended;
}

std::vector<std::string> RuleEngine::ProcessExited(const ProcessKey& process) {
  std::vector<std::string> ended;
  std::erase_if(runtime_, [&](const auto& item) {
    if (!item.second.owner.has_value() || !(*item.second.owner == process)) return false;
    ended.push_back(item.first);
    return true;
  });
  if (!ended.empty()) Build();
  return ended;
}

std::vector<ProcessKey> RuleEngine::Owners() const {
  std::vector<ProcessKey> owners;
  for (const auto& [name, rule] : runtime_) {
    if (rule.owner.has_value() &&
        std::find(owners.begin(), owners.end(), *rule.owner) == owners.end()) {
      owners.push_back(*rule.owner);
    }
  }
  return owners;
}

std::optional<WallTime> RuleEngine::NextExpiry() const {
  std::optional<WallTime> next;
  for (const Rule& rule : current_->rules()) {
    if (rule.expires_at.has_value() && (!next.has_value() || *rule.expires_at < *next)) next = rule.expires_at;
  }
  return next;
}

}  // namespace picket
