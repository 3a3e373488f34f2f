// UiClient: the picket CLI's blocking client of picketd's UI socket (ui-protocol/PROTOCOL.md):
// connects, says hello, sends requests and reads messages with a deadline.
// Ownership: owns the socket. Thread-safety: one thread.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "common/result.h"
#include "ui-protocol/codec.h"

namespace picket::cli {

inline constexpr const char* kDefaultUiSocket = "/run/picket/ui.sock";

class UiClient {
 public:
  // Connects and completes the handshake. Errors name the socket and what failed.
  static Result<UiClient> Connect(const std::string& path, std::chrono::milliseconds timeout);
  UiClient(UiClient&& other) noexcept;
  UiClient& operator=(UiClient&&) = delete;
  ~UiClient();

  const ui::Hello& server_hello() const { return hello_; }
  Status Send(const ui::Message& message);
  // The next message; nullopt-free: an error when the deadline passes, the server closes, or it
  // sends something undecodable. No deadline: `timeout` of zero.
  Result<ui::Message> Read(std::chrono::milliseconds timeout);
  // Sends a request and reads until its response (events in between are skipped).
  Result<ui::Message> Call(const ui::Message& request, std::chrono::milliseconds timeout);
  // Without blocking: a complete message already received, or nullopt when none is (yet). An error
  // when the server closed or sent something undecodable. For callers that poll fd() themselves.
  Result<std::optional<ui::Message>> TryRead();
  int fd() const { return fd_; }

 private:
  explicit UiClient(int fd) : fd_(fd) {}
  // The next buffered message, if a whole line is buffered.
  Result<std::optional<ui::Message>> NextBuffered();
  int fd_ = -1;
  ui::LineSplitter splitter_;
  ui::Hello hello_;
  std::string path_;
};

// The error text of a failed response ("forbidden: changing rules needs the admin role").
std::string DescribeError(const ui::ErrorReply& error);

}  // namespace picket::cli
