// ProtocolClient: a scripted client of picketd's UI socket for the end-to-end tests — blocking, every
// wait bounded — that greets, subscribes to `prompts`, reads prompt events and answers them, through
// the protocol codec (ui-protocol/codec.h).
// Ownership: owns its socket. Thread-safety: none; use from the test's thread.
#pragma once

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "ui-protocol/codec.h"

namespace picket::testing {

constexpr std::chrono::milliseconds kPromptTimeout{5000};  // a prompt reaches the client within this

class ProtocolClient {
 public:
  explicit ProtocolClient(const std::string& path) {
    fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, path.data(), std::min(path.size(), sizeof(address.sun_path) - 1));
    if (connect(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
      ADD_FAILURE() << "connect " << path << ": " << std::strerror(errno);
      close(fd_);
      fd_ = -1;
    }
  }
  ~ProtocolClient() {
    if (fd_ >= 0) close(fd_);
  }
  ProtocolClient(const ProtocolClient&) = delete;
  ProtocolClient& operator=(const ProtocolClient&) = delete;
  void Send(const ui::Message& message) {
    const std::string line = ui::Encode(message);
    ASSERT_EQ(send(fd_, line.data(), line.size(), MSG_NOSIGNAL), static_cast<ssize_t>(line.size()));
  }
  // The next message within `timeout`, or nullopt.
  std::optional<ui::Message> Read(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      if (std::optional<std::string> line = splitter_.Next()) {
        auto decoded = ui::Decode(*line);
        if (auto* message = std::get_if<ui::Message>(&decoded)) return *message;
        ADD_FAILURE() << "undecodable line from picketd: " << *line;
        return std::nullopt;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0 || fd_ < 0) return std::nullopt;
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buffer[65536];
      const ssize_t n = recv(fd_, buffer, sizeof(buffer), 0);
      if (n <= 0) return std::nullopt;
      splitter_.Append(std::string_view(buffer, static_cast<size_t>(n)));
    }
  }
  // Reads until a message `want` accepts (others are skipped); nullopt after `timeout`.
  template <typename T>
  std::optional<T> ReadUntil(const std::function<bool(const T&)>& want, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      std::optional<ui::Message> message = Read(left);
      if (!message) return std::nullopt;
      if (const T* typed = std::get_if<T>(&*message); typed != nullptr && want(*typed)) return *typed;
    }
    return std::nullopt;
  }
  std::optional<ui::PromptEvent> NextPrompt(std::chrono::milliseconds timeout = kPromptTimeout) {
    return ReadUntil<ui::PromptEvent>([](const ui::PromptEvent& p) { return !p.closed; }, timeout);
  }
  // Sends `request` and returns its response (events in between are skipped).
  ui::Message Call(const ui::Message& request) {
    Send(request);
    const uint64_t id = ui::IdOf(request).value_or(0);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(5000);
    while (std::chrono::steady_clock::now() < deadline) {
      std::optional<ui::Message> message = Read(std::chrono::milliseconds(5000));
      if (!message) break;
      if (ui::IdOf(*message) == id && (std::holds_alternative<ui::ResultReply>(*message) ||
                                       std::holds_alternative<ui::ErrorReply>(*message))) {
        return *message;
      }
    }
    ADD_FAILURE() << "no response to request " << id;
    return ui::ErrorReply{};
  }
  void Greet() {
    ui::Hello hello;
    hello.client = "picket e2e test";
    Send(hello);
    std::optional<ui::Message> reply = Read(std::chrono::milliseconds(5000));
    ASSERT_TRUE(reply && std::holds_alternative<ui::Hello>(*reply));
  }
  void SubscribePrompts() {
    Greet();
    ui::Message reply = Call(ui::Subscribe{1, {ui::Topic::kPrompts}});
    ASSERT_TRUE(std::holds_alternative<ui::ResultReply>(reply)) << ui::Encode(reply);
  }
  ui::Message Answer(uint64_t prompt, ui::AnswerAction action, ui::AnswerDuration duration,
                     std::vector<ui::ScopeField> scope) {
    return Call(ui::Answer{next_id_++, prompt, action, duration, std::move(scope)});
  }

 private:
  int fd_ = -1;
  ui::LineSplitter splitter_;
  uint64_t next_id_ = 100;
};

}  // namespace picket::testing
