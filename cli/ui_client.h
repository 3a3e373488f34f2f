// UiClient: the picket CLI's blocking client of picketd's UI socket (ui-protocol/PROTOCOL.md):
// connects, says hello, sends requests and reads messages with a deadline.
// Ownership: owns the socket. Thread-safety: one thread.
#pragma once

#include <chrono>
#include <functional>
#include <QJsonArray>
#include <QJsonObject>

#include <optional>
#include <string>
#include <vector>

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

// Sends a request and returns its result's data; an error reply becomes an Error with
// DescribeError's text.
Result<QJsonObject> CallForData(UiClient& client, const ui::Message& request, std::chrono::milliseconds timeout);

// Every rule picketd has, read page by page (`rules list` with offset, until no next_offset), so
// no single response is larger than the server's page budget. At most `max_pages` requests.
Result<QJsonArray> ListAllRules(UiClient& client, std::chrono::milliseconds timeout, size_t max_pages = 100000);

// The common options of the commands that ask picketd: --socket PATH, --json, --help.
struct SocketOptions {
  std::string socket = kDefaultUiSocket;
  bool json = false;
  bool help = false;
  std::vector<std::string> rest;  // other arguments, in order
};
SocketOptions ParseSocketOptions(const std::vector<std::string>& args);

// The --count N option of the streaming commands (the only option they take besides SocketOptions):
// -1 when absent. On a bad value or another argument prints "picket COMMAND: why" (with `help`) and
// returns nullopt.
std::optional<long long> ParseStreamCount(const std::string& command, const std::vector<std::string>& rest,
                                          const char* help);

// Connects to `socket`; on failure prints "picket COMMAND: why" and returns nullopt.
std::optional<UiClient> ConnectOrReport(const std::string& command, const std::string& socket);

// Subscribes to `topic`, then calls `print` for every message that arrives until it returned true
// `count` times (count < 0: until the connection ends). Errors are printed as "picket COMMAND: …".
// Returns the exit code (0, or 1 after an error).
int StreamTopic(const std::string& command, UiClient& client, ui::Topic topic, long long count,
                const std::function<bool(const ui::Message&)>& print);

// A streaming command's whole run: SocketOptions + --count (with `help`), connect, then
// StreamTopic; `print` gets each message and whether --json was given. Returns the exit code.
int RunStreamCommand(const std::string& command, const std::vector<std::string>& args, const char* help,
                     ui::Topic topic, const std::function<bool(const ui::Message&, bool json)>& print);

// Prints a JSON object as one compact line.
void PrintJsonLine(const QJsonObject& object);

}  // namespace picket::cli
