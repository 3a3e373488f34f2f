#include "rules/rule_set.h"

#include <algorithm>

#include "rules/operator_match.h"
#include "rules/rule_engine.h"
#include "rules/rule_index.h"

namespace picket {
namespace {

bool ByName(const Rule& a, const Rule& b) { return a.name < b.name; }

void MarkOperands(const Operator& op, std::bitset<256>& used) {
  used.set(static_cast<size_t>(op.operand));
  for (const Operator& child : op.list) MarkOperands(child, used);
}

class SystemClockImpl final : public RuleClock {
 public:
  WallTime Now() const override { return std::chrono::system_clock::now(); }
};

}  // namespace

const RuleClock& SystemRuleClock() {
  static const SystemClockImpl clock;
  return clock;
}

std::string LoadProblem::ToString() const {
  std::string text = file + ": ";
  if (!field.empty()) text += "field '" + field + "': ";
  text += reason;
  if (severity == Severity::kWarning) text += " (warning)";
  return text;
}

RuleSet::RuleSet() : RuleSet(std::vector<Rule>{}, SystemRuleClock()) {}

RuleSet::RuleSet(std::vector<Rule> sorted_rules, const RuleClock& clock)
    : rules_(std::move(sorted_rules)), clock_(&clock) {
  for (size_t i = 0; i < rules_.size(); ++i) {
    if (rules_[i].enabled) {
      enabled_.push_back(static_cast<uint32_t>(i));
      MarkOperands(rules_[i].op, operands_used_);
    }
    has_expiry_ = has_expiry_ || rules_[i].expires_at.has_value();
  }
  index_ = std::make_shared<const RuleIndex>(rules_, enabled_);
  used_ = std::make_unique<std::atomic<bool>[]>(rules_.size());
}

RuleSet::~RuleSet() = default;

RuleSet::RuleSet(const RuleSet& other)
    : rules_(other.rules_),
      enabled_(other.enabled_),
      index_(other.index_),
      clock_(other.clock_),
      has_expiry_(other.has_expiry_),
      operands_used_(other.operands_used_),
      used_(std::make_unique<std::atomic<bool>[]>(other.rules_.size())) {
  for (size_t i = 0; i < rules_.size(); ++i) used_[i].store(other.used_[i].load());
}

RuleSet& RuleSet::operator=(const RuleSet& other) {
  if (this != &other) *this = RuleSet(other);
  return *this;
}

RuleSet::RuleSet(RuleSet&& other) noexcept = default;
RuleSet& RuleSet::operator=(RuleSet&& other) noexcept = default;

Result<RuleSet::Loaded> RuleSet::LoadDirectory(const std::string& dir) {
  SystemUserDirectory users;
  RuleEngine engine(RuleEngineOptions{dir, &users, &SystemRuleClock()});
  Status status = engine.Reload();
  if (!status.ok()) return status.error();
  Loaded loaded;
  loaded.rules = *engine.current();
  loaded.problems = engine.problems();
  return loaded;
}

Result<RuleSet> RuleSet::FromRules(std::vector<Rule> rules, const RuleClock& clock) {
  std::sort(rules.begin(), rules.end(), ByName);
  for (size_t i = 1; i < rules.size(); ++i) {
    if (rules[i].name == rules[i - 1].name) return Error{"duplicate rule name '" + rules[i].name + "'"};
  }
  return RuleSet(std::move(rules), clock);
}

bool RuleSet::Skip(uint32_t position, WallTime& now, bool& have_now) const {
  const Rule& rule = rules_[position];
  if (rule.lifetime.kind == LifetimeKind::kOnce && used_[position].load(std::memory_order_relaxed)) return true;
  if (!rule.expires_at.has_value()) return false;
  if (!have_now) {
    now = clock_->Now();
    have_now = true;
  }
  return now >= *rule.expires_at;
}

bool RuleSet::IsLive(size_t position, WallTime now) const {
  if (position >= rules_.size()) return false;
  bool have_now = true;
  return !Skip(static_cast<uint32_t>(position), now, have_now);
}

const Rule* RuleSet::Match(const Connection& connection) const {
  if (enabled_.empty()) return nullptr;
  ConnectionFields fields(connection);
  thread_local std::vector<uint32_t> guarded;
  index_->GuardedCandidates(fields, guarded);
  const std::vector<uint32_t>& unguarded = index_->unguarded();
  WallTime now{};
  bool have_now = false;
  const uint32_t kNone = UINT32_MAX;
  uint32_t last_allow = kNone;
  uint32_t decided = kNone;
  // Visit the union of both ascending lists in ascending order.
  size_t g = 0;
  size_t u = 0;
  while (g < guarded.size() || u < unguarded.size()) {
    uint32_t position;
    if (u == unguarded.size() || (g < guarded.size() && guarded[g] < unguarded[u])) {
      position = guarded[g++];
    } else {
      position = unguarded[u++];
    }
    if (Skip(position, now, have_now)) continue;
    const Rule& rule = rules_[position];
    if (!OperatorMatches(rule.op, fields)) continue;
    if (rule.action != Action::kAllow || rule.precedence) {
      decided = position;
      break;
    }
    last_allow = position;
  }
  if (decided == kNone) decided = last_allow;
  if (decided == kNone) return nullptr;
  if (rules_[decided].lifetime.kind == LifetimeKind::kOnce) used_[decided].store(true, std::memory_order_relaxed);
  return &rules_[decided];
}

std::vector<std::string> RuleSet::UsedOnceRules() const {
  std::vector<std::string> names;
  for (size_t i = 0; i < rules_.size(); ++i) {
    if (used_[i].load(std::memory_order_relaxed)) names.push_back(rules_[i].name);
  }
  return names;
}

RuleSet::IndexStats RuleSet::index_stats() const {
  if (index_ == nullptr) return IndexStats{};
  const RuleIndex::Stats& s = index_->stats();
  return IndexStats{s.equality, s.network, s.host_suffix, s.port_range, s.regexp, s.unguarded};
}

}  // namespace picket
