// Prompter: the core of `picket prompt`, without terminal or socket I/O. It keeps the queue of
// open prompts (PROTOCOL.md `prompt` events: new, re-sent with more detail, closed), turns key
// presses into the choice for the prompt on screen (action, duration, scope) and into `answer`
// requests, records the daemon's replies, and renders the screen as text.
//
// Keys (also listed on screen):
//   a d r           action allow / deny / reject
//   0 .. 9, f       duration once, 30s, 5m, 15m, 30m, 1h, 12h, 24h, until-restart,
//                   until-process-exits, f = always
//   e c h i p u     toggle scope executable / command / host / ip / port / user (at least one stays)
//   Enter           send the answer       n or Tab   show the next prompt       q   quit
// A new prompt starts as: the prompt's default action, once, scope executable.
// Ownership: plain values. Thread-safety: one thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"
#include "ui-protocol/codec.h"

namespace picket::cli {

// One prompt's fields as shown (from the `prompt` event's object).
struct PromptView {
  uint64_t id = 0;
  std::string path;
  std::vector<std::string> args;
  std::optional<int64_t> pid;
  std::optional<int64_t> uid;
  std::string user;                                   // user name when the event carries one
  std::vector<std::pair<int64_t, std::string>> parents;  // pid, path; nearest first
  std::string digest;
  std::string ip;
  std::string host;
  std::optional<int64_t> port;
  std::string protocol;
  std::optional<std::chrono::system_clock::time_point> deadline;
  std::string default_action;
  std::string default_duration;
};

// Reads a prompt event's details; errors name the member that is missing or wrong.
Result<PromptView> ParsePromptView(const ui::PromptEvent& event);

// The user name of a uid ("" when unknown); injected so tests do not depend on /etc/passwd.
using UserNameFn = std::function<std::string(int64_t uid)>;

struct KeyOutcome {
  std::optional<ui::Answer> answer;  // send this request (its id is already assigned)
  bool quit = false;
};

class Prompter {
 public:
  explicit Prompter(UserNameFn user_names);

  // A `prompt` event: adds a new prompt, updates one with the same id, or removes a closed one.
  void OnPrompt(const ui::PromptEvent& event);
  KeyOutcome OnKey(char key);
  // A response (result or error) to a request; answers this prompter sent are matched by id.
  void OnReply(const ui::Message& reply);

  // The whole screen, lines ended by '\n'.
  std::string Render(std::chrono::system_clock::time_point now) const;

  size_t open_prompts() const { return entries_.size(); }

 private:
  struct Entry {
    PromptView view;
    ui::AnswerAction action = ui::AnswerAction::kDeny;
    ui::AnswerDuration duration = ui::AnswerDuration::kOnce;
    std::vector<ui::ScopeField> scope{ui::ScopeField::kExecutable};
    bool answering = false;  // an answer was sent, its reply not yet read
  };
  Entry* Find(uint64_t prompt);
  void Remove(uint64_t prompt);
  void Note(std::string text);
  void ToggleScope(Entry& entry, ui::ScopeField field);
  std::string RenderPrompt(const Entry& entry, std::chrono::system_clock::time_point now) const;

  UserNameFn user_names_;
  std::deque<Entry> entries_;  // front() is on screen
  std::deque<std::string> notes_;  // the last few things that happened
  std::map<uint64_t, uint64_t> in_flight_;  // answer request id → prompt id
  uint64_t next_request_id_ = 1000;
};

}  // namespace picket::cli
