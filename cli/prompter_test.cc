// The prompter's core without a terminal: keys → choice → answer, replies, closed and re-sent prompts.
#include "prompter.h"

#include <gtest/gtest.h>

#include <QJsonArray>
#include <QJsonObject>

namespace picket::cli {
namespace {

ui::PromptEvent Prompt(uint64_t id, const std::string& default_action) {
  QJsonObject details{
      {"deadline", "2030-01-01T00:01:00.000Z"},
      {"process", QJsonObject{{"path", "/usr/bin/x"}, {"pid", 7}, {"uid", 1000}}},
      {"destination", QJsonObject{{"ip", "2001:2::1"}, {"port", 53}, {"protocol", "udp6"}}},
      {"default", QJsonObject{{"action", QString::fromStdString(default_action)}, {"duration", "once"}}}};
  return ui::PromptEvent{id, false, details};
}

std::chrono::system_clock::time_point At(int64_t unix_seconds) {
  return std::chrono::system_clock::time_point(std::chrono::seconds(unix_seconds));
}

TEST(PrompterTest, CountdownUserNameAndDefaultChoice) {
  Prompter prompter([](int64_t uid) { return uid == 1000 ? std::string("alice") : std::string(); });
  prompter.OnPrompt(Prompt(3, "reject"));
  const std::string screen = prompter.Render(At(1893456000));  // 2030-01-01T00:00:00Z
  EXPECT_NE(screen.find("prompt 3: 60 s left"), std::string::npos) << screen;
  EXPECT_NE(screen.find("user alice (uid 1000)"), std::string::npos) << screen;
  EXPECT_NE(screen.find("2001:2::1 port 53 udp6"), std::string::npos) << screen;
  EXPECT_NE(screen.find("answer: reject once scope executable"), std::string::npos) << screen;
  EXPECT_NE(prompter.Render(At(1893457000)).find(": 0 s left"), std::string::npos);  // past the deadline
}

TEST(PrompterTest, TheLastScopeFieldStaysAndKeysWaitWhileAnswering) {
  Prompter prompter(nullptr);
  prompter.OnPrompt(Prompt(3, "deny"));
  EXPECT_FALSE(prompter.OnKey('e').answer);  // the only field: refused with a note
  EXPECT_NE(prompter.Render(At(0)).find("the scope needs at least one field"), std::string::npos);
  KeyOutcome sent = prompter.OnKey('\r');
  ASSERT_TRUE(sent.answer);
  EXPECT_EQ(sent.answer->scope, std::vector<ui::ScopeField>{ui::ScopeField::kExecutable});
  EXPECT_FALSE(prompter.OnKey('\r').answer);  // no second answer while the first is in flight
  ui::ErrorReply failed{sent.answer->id, ui::ErrorCode::kFailed, "disk full", std::nullopt};
  prompter.OnReply(failed);
  EXPECT_EQ(prompter.open_prompts(), 1u);  // a failure leaves the prompt to try again
  EXPECT_TRUE(prompter.OnKey('\r').answer);
  EXPECT_TRUE(prompter.OnKey('q').quit);
}

TEST(PrompterTest, NextRotatesAndMalformedPromptsAreNoted) {
  Prompter prompter(nullptr);
  prompter.OnPrompt(Prompt(1, "deny"));
  prompter.OnPrompt(Prompt(2, "deny"));
  prompter.OnPrompt(ui::PromptEvent{3, false, QJsonObject{{"deadline", "x"}}});
  EXPECT_EQ(prompter.open_prompts(), 2u);
  EXPECT_NE(prompter.Render(At(0)).find("member 'process' missing"), std::string::npos);
  prompter.OnKey('n');
  KeyOutcome sent = prompter.OnKey('\r');
  ASSERT_TRUE(sent.answer);
  EXPECT_EQ(sent.answer->prompt, 2u);
  prompter.OnPrompt(ui::PromptEvent{9, true, {}});  // unknown closed prompt: nothing happens
  EXPECT_EQ(prompter.open_prompts(), 2u);
}

}  // namespace
}  // namespace picket::cli
