#include "process_stage.h"

#include <gtest/gtest.h>

namespace picket {
namespace {

Rule RuleOn(std::string name, Operand operand, std::string operand_name = {}) {
  Rule rule;
  rule.name = std::move(name);
  rule.enabled = true;
  rule.op.operand = operand;
  rule.op.operand_name = std::move(operand_name);
  return rule;
}

TEST(ProcessNeedsTest, OnlyDigestsAndEnvThatEnabledRulesUse) {
  auto none = RuleSet::FromRules({RuleOn("a", Operand::kDestPort)});
  ASSERT_TRUE(none.ok()) << none.error().message;
  EXPECT_EQ(NeedsOf(*none).digests, 0u);
  EXPECT_TRUE(NeedsOf(*none).env.empty());

  Rule disabled = RuleOn("d", Operand::kProcessHashSha1);
  disabled.enabled = false;
  auto some = RuleSet::FromRules({RuleOn("a", Operand::kProcessHashMd5), disabled,
                                  RuleOn("e", Operand::kProcessEnv, "process.env.HOME")});
  ASSERT_TRUE(some.ok()) << some.error().message;
  EXPECT_EQ(NeedsOf(*some).digests, kDigestMd5);
  EXPECT_EQ(NeedsOf(*some).env, std::vector<std::string>{"HOME"});
}

TEST(ProcessNeedsTest, HashListsNeedTheirDigests) {
  auto rules = RuleSet::FromRules({RuleOn("a", Operand::kListsHashMd5), RuleOn("b", Operand::kListsHashSha256)});
  ASSERT_TRUE(rules.ok()) << rules.error().message;
  EXPECT_EQ(NeedsOf(*rules).digests, kDigestMd5 | kDigestSha256);
}

}  // namespace
}  // namespace picket
