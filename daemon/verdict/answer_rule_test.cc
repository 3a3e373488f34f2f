#include "verdict/answer_rule.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "testing/flows.h"

namespace picket {
namespace {

using testing_util::MakeFlow;
using testing_util::ProcessAttribution;
using ui::AnswerAction;
using ui::AnswerDuration;
using ui::ScopeField;

const WallTime kNow = WallTime() + std::chrono::hours(24 * 20000);

PromptFacts Facts(bool with_host = true) {
  Attribution a = ProcessAttribution(4242, "/usr/bin/curl", {"curl", "https://example.org/"});
  a.process->start_time_ticks = 777;
  const std::vector<std::string> hosts = {"example.org"};
  return PromptFactsOf(9, MakeFlow(Protocol::kTcp, "198.18.0.2", 443), a, with_host ? &hosts : nullptr);
}

const std::vector<AnswerAction> kActions = {AnswerAction::kAllow, AnswerAction::kDeny, AnswerAction::kReject};
const std::vector<ScopeField> kFields = {ScopeField::kExecutable, ScopeField::kCommand, ScopeField::kHost,
                                         ScopeField::kIp, ScopeField::kPort, ScopeField::kUser};

struct DurationCase {
  AnswerDuration duration;
  std::string text;
  LifetimeKind kind;
  std::chrono::nanoseconds timeout;
};

const std::vector<DurationCase> kDurations = {
    {AnswerDuration::k30s, "30s", LifetimeKind::kTimed, std::chrono::seconds(30)},
    {AnswerDuration::k5m, "5m", LifetimeKind::kTimed, std::chrono::minutes(5)},
    {AnswerDuration::k15m, "15m", LifetimeKind::kTimed, std::chrono::minutes(15)},
    {AnswerDuration::k30m, "30m", LifetimeKind::kTimed, std::chrono::minutes(30)},
    {AnswerDuration::k1h, "1h", LifetimeKind::kTimed, std::chrono::hours(1)},
    {AnswerDuration::k12h, "12h", LifetimeKind::kTimed, std::chrono::hours(12)},
    {AnswerDuration::k24h, "24h", LifetimeKind::kTimed, std::chrono::hours(24)},
    {AnswerDuration::kUntilRestart, "until restart", LifetimeKind::kUntilRestart, {}},
    {AnswerDuration::kUntilProcessExits, "until process exits", LifetimeKind::kUntilProcessExits, {}},
    {AnswerDuration::kAlways, "always", LifetimeKind::kAlways, {}},
};

// operand → data the scope field must produce for Facts().
std::pair<std::string, std::string> Expected(ScopeField field, bool with_host) {
  switch (field) {
    case ScopeField::kExecutable: return {"process.path", "/usr/bin/curl"};
    case ScopeField::kCommand: return {"process.command", "curl https://example.org/"};
    case ScopeField::kHost: return with_host ? std::pair<std::string, std::string>{"dest.host", "example.org"}
                                             : std::pair<std::string, std::string>{"dest.ip", "198.18.0.2"};
    case ScopeField::kIp: return {"dest.ip", "198.18.0.2"};
    case ScopeField::kPort: return {"dest.port", "443"};
    case ScopeField::kUser: return {"user.id", "1000"};
  }
  return {};
}

std::vector<ScopeField> Subset(unsigned mask) {
  std::vector<ScopeField> out;
  for (size_t i = 0; i < kFields.size(); ++i) {
    if (mask & (1u << i)) out.push_back(kFields[i]);
  }
  return out;
}

bool NoneTaken(const std::string&) { return false; }

TEST(AnswerRuleTest, EveryActionDurationAndScopeMakesTheRightRule) {
  int checked = 0;
  for (bool with_host : {true, false}) {
    const PromptFacts facts = Facts(with_host);
    for (AnswerAction action : kActions) {
      for (const DurationCase& d : kDurations) {
        for (unsigned mask = 1; mask < (1u << kFields.size()); ++mask) {
          const AnswerChoice choice{action, d.duration, Subset(mask)};
          auto made = MakeAnswerRule(facts, choice, kNow, NoneTaken);
          ASSERT_TRUE(made.ok()) << made.error().message;
          ASSERT_TRUE(made->has_value());
          const Rule& rule = **made;
          SCOPED_TRACE(rule.name);
          EXPECT_EQ(rule.action, ActionOf(action));
          EXPECT_TRUE(rule.enabled);
          EXPECT_EQ(rule.duration, d.text);
          EXPECT_EQ(rule.lifetime.kind, d.kind);
          EXPECT_EQ(rule.lifetime.timeout, d.timeout);
          EXPECT_EQ(rule.created, "2024-10-04T00:00:00Z");
          ASSERT_EQ(rule.op.type, OperatorType::kList);
          std::multiset<std::pair<std::string, std::string>> got, want;
          for (const Operator& op : rule.op.list) {
            EXPECT_EQ(op.type, OperatorType::kSimple);
            got.emplace(std::string(OperandName(op.operand)), op.data);
          }
          for (ScopeField field : choice.scope) want.insert(Expected(field, with_host));
          want.emplace("protocol", "tcp");
          EXPECT_EQ(got, want);
          ++checked;
        }
      }
    }
  }
  EXPECT_EQ(checked, 2 * 3 * 10 * 63);
}

TEST(AnswerRuleTest, OnceMakesNoRule) {
  for (AnswerAction action : kActions) {
    for (unsigned mask = 1; mask < (1u << kFields.size()); ++mask) {
      auto made = MakeAnswerRule(Facts(), AnswerChoice{action, AnswerDuration::kOnce, Subset(mask)}, kNow, NoneTaken);
      ASSERT_TRUE(made.ok()) << made.error().message;
      EXPECT_FALSE(made->has_value());
    }
  }
}

TEST(AnswerRuleTest, NamesAreReadableAndUnique) {
  auto made = MakeAnswerRule(Facts(), AnswerChoice{AnswerAction::kDeny, AnswerDuration::kAlways, {ScopeField::kHost}},
                             kNow, NoneTaken);
  ASSERT_TRUE(made.ok());
  EXPECT_EQ((*made)->name, "prompt-deny-curl-example.org-tcp-443");
  std::set<std::string> taken = {"prompt-deny-curl-example.org-tcp-443", "prompt-deny-curl-example.org-tcp-443-2"};
  made = MakeAnswerRule(Facts(), AnswerChoice{AnswerAction::kDeny, AnswerDuration::kAlways, {ScopeField::kHost}}, kNow,
                        [&](const std::string& name) { return taken.contains(name); });
  ASSERT_TRUE(made.ok());
  EXPECT_EQ((*made)->name, "prompt-deny-curl-example.org-tcp-443-3");
  made = MakeAnswerRule(Facts(false), AnswerChoice{AnswerAction::kAllow, AnswerDuration::k5m, {ScopeField::kIp}}, kNow,
                        NoneTaken);
  ASSERT_TRUE(made.ok());
  EXPECT_EQ((*made)->name, "prompt-allow-curl-198.18.0.2-tcp-443");
}

TEST(AnswerRuleTest, UnknownProcessRefusesProcessScopesAndOwnership) {
  const PromptFacts facts =
      PromptFactsOf(3, MakeFlow(Protocol::kUdp, "2001:2::2", 53), testing_util::UnknownAttribution(), nullptr);
  for (ScopeField field : {ScopeField::kExecutable, ScopeField::kCommand, ScopeField::kUser}) {
    auto made = MakeAnswerRule(facts, AnswerChoice{AnswerAction::kAllow, AnswerDuration::kAlways, {field}}, kNow,
                               NoneTaken);
    ASSERT_FALSE(made.ok());
    EXPECT_NE(made.error().message.find(std::string(ui::ScopeFieldName(field))), std::string::npos)
        << made.error().message;
  }
  auto owned = MakeAnswerRule(facts, AnswerChoice{AnswerAction::kAllow, AnswerDuration::kUntilProcessExits,
                                                  {ScopeField::kPort}}, kNow, NoneTaken);
  EXPECT_FALSE(owned.ok());
  auto by_ip = MakeAnswerRule(facts, AnswerChoice{AnswerAction::kReject, AnswerDuration::k1h, {ScopeField::kIp}}, kNow,
                              NoneTaken);
  ASSERT_TRUE(by_ip.ok()) << by_ip.error().message;
  ASSERT_TRUE(by_ip->has_value());
  EXPECT_EQ((*by_ip)->name, "prompt-reject-any-2001-2-2-udp6-53");
  EXPECT_FALSE(MakeAnswerRule(facts, AnswerChoice{AnswerAction::kReject, AnswerDuration::k1h, {}}, kNow, NoneTaken).ok());
}

TEST(AnswerRuleTest, FactsCarryTheProcessKey) {
  const PromptFacts facts = Facts();
  ASSERT_TRUE(facts.process.has_value());
  EXPECT_EQ(facts.process->pid, 4242);
  EXPECT_EQ(facts.process->start_time_ticks, 777u);
  EXPECT_EQ(facts.protocol, "tcp");
  EXPECT_EQ(facts.prompt_id, 9u);
}

}  // namespace
}  // namespace picket
