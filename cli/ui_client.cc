#include "ui_client.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <QJsonDocument>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace picket::cli {

Result<UiClient> UiClient::Connect(const std::string& path, std::chrono::milliseconds timeout) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(address.sun_path)) return Error{"socket path '" + path + "' is invalid"};
  std::memcpy(address.sun_path, path.data(), path.size());
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Error::FromErrno("socket");
  UiClient client(fd);
  client.path_ = path;
  if (connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
    return Error::FromErrno("connect " + path + " (is picketd running? is ui_socket set?)");
  }
  ui::Hello hello;
  hello.client = "picket-cli";
  if (Status s = client.Send(hello); !s.ok()) return s.error();
  auto reply = client.Read(timeout);
  if (!reply.ok()) return reply.error();
  if (auto* error = std::get_if<ui::ErrorReply>(&*reply)) return Error{path + ": " + DescribeError(*error)};
  auto* server = std::get_if<ui::Hello>(&*reply);
  if (server == nullptr) return Error{path + ": expected hello, got " + std::string(ui::TypeName(*reply))};
  client.hello_ = *server;
  return client;
}

UiClient::UiClient(UiClient&& other) noexcept
    : fd_(other.fd_), splitter_(std::move(other.splitter_)), hello_(std::move(other.hello_)), path_(std::move(other.path_)) {
  other.fd_ = -1;
}

UiClient::~UiClient() {
  if (fd_ >= 0) close(fd_);
}

Status UiClient::Send(const ui::Message& message) {
  const std::string line = ui::Encode(message);
  size_t sent = 0;
  while (sent < line.size()) {
    const ssize_t n = send(fd_, line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::FromErrno("send to " + path_);
    sent += static_cast<size_t>(n);
  }
  return OkStatus();
}

Result<std::optional<ui::Message>> UiClient::NextBuffered() {
  if (std::optional<std::string> line = splitter_.Next()) {
    auto decoded = ui::Decode(*line);
    if (auto* error = std::get_if<ui::DecodeError>(&decoded)) return Error{path_ + ": bad message: " + error->message};
    return std::optional<ui::Message>(std::get<ui::Message>(std::move(decoded)));
  }
  if (splitter_.overflowed()) return Error{path_ + ": line too long"};
  return std::optional<ui::Message>();
}

Result<std::optional<ui::Message>> UiClient::TryRead() {
  auto buffered = NextBuffered();
  if (!buffered.ok() || *buffered) return buffered;
  char buffer[65536];
  const ssize_t n = recv(fd_, buffer, sizeof(buffer), MSG_DONTWAIT);
  if (n == 0) return Error{path_ + ": picketd closed the connection"};
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return std::optional<ui::Message>();
    return Error::FromErrno("read " + path_);
  }
  splitter_.Append(std::string_view(buffer, static_cast<size_t>(n)));
  return NextBuffered();
}

Result<ui::Message> UiClient::Read(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    auto buffered = NextBuffered();
    if (!buffered.ok()) return buffered.error();
    if (*buffered) return std::move(**buffered);
    int wait_ms = -1;
    if (timeout.count() > 0) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return Error{path_ + ": no answer within " + std::to_string(timeout.count()) + " ms"};
      wait_ms = static_cast<int>(left.count());
    }
    pollfd p{fd_, POLLIN, 0};
    const int ready = poll(&p, 1, wait_ms);
    if (ready < 0 && errno != EINTR) return Error::FromErrno("poll " + path_);
    if (ready <= 0) continue;
    char buffer[65536];
    const ssize_t n = recv(fd_, buffer, sizeof(buffer), 0);
    if (n == 0) return Error{path_ + ": picketd closed the connection"};
    if (n < 0 && errno != EINTR) return Error::FromErrno("read " + path_);
    if (n > 0) splitter_.Append(std::string_view(buffer, static_cast<size_t>(n)));
  }
}

Result<ui::Message> UiClient::Call(const ui::Message& request, std::chrono::milliseconds timeout) {
  if (Status s = Send(request); !s.ok()) return s.error();
  const std::optional<uint64_t> id = ui::IdOf(request);
  while (true) {
    auto reply = Read(timeout);
    if (!reply.ok()) return reply;
    if (ui::IdOf(*reply) == id || (std::holds_alternative<ui::ErrorReply>(*reply) && !ui::IdOf(*reply))) return reply;
  }
}

std::string DescribeError(const ui::ErrorReply& error) {
  return std::string(ui::ErrorCodeName(error.code)) + ": " + error.message;
}

}  // namespace picket::cli

namespace picket::cli {

Result<QJsonObject> CallForData(UiClient& client, const ui::Message& request, std::chrono::milliseconds timeout) {
  auto reply = client.Call(request, timeout);
  if (!reply.ok()) return reply.error();
  if (const auto* error = std::get_if<ui::ErrorReply>(&*reply)) return Error{DescribeError(*error)};
  const auto* result = std::get_if<ui::ResultReply>(&*reply);
  if (result == nullptr) return Error{"unexpected " + std::string(ui::TypeName(*reply)) + " reply"};
  return result->data;
}

Result<QJsonArray> ListAllRules(UiClient& client, std::chrono::milliseconds timeout, size_t max_pages) {
  QJsonArray all;
  uint64_t offset = 0;
  for (size_t page = 0; page < max_pages; ++page) {
    ui::RulesRequest request;
    request.id = page + 1;
    request.op = ui::RulesOp::kList;
    request.offset = offset;
    auto data = CallForData(client, request, timeout);
    if (!data.ok()) return data.error();
    for (const QJsonValue& rule : data->value(QLatin1String("rules")).toArray()) all.append(rule);
    const QJsonValue next = data->value(QLatin1String("next_offset"));
    if (!next.isDouble()) return all;
    const auto next_offset = static_cast<uint64_t>(next.toDouble());
    if (next_offset <= offset) return Error{"rules list: next_offset " + std::to_string(next_offset) + " does not advance"};
    offset = next_offset;
  }
  return Error{"rules list: more than " + std::to_string(max_pages) + " pages"};
}

SocketOptions ParseSocketOptions(const std::vector<std::string>& args) {
  SocketOptions options;
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--json") {
      options.json = true;
    } else if (args[i] == "--socket" && i + 1 < args.size()) {
      options.socket = args[++i];
    } else if (args[i].rfind("--socket=", 0) == 0) {
      options.socket = args[i].substr(9);
    } else if (args[i] == "--help" || args[i] == "-h") {
      options.help = true;
    } else {
      options.rest.push_back(args[i]);
    }
  }
  return options;
}

std::optional<long long> ParseStreamCount(const std::string& command, const std::vector<std::string>& rest,
                                          const char* help) {
  long long count = -1;
  for (size_t i = 0; i < rest.size(); ++i) {
    if (rest[i] == "--count" && i + 1 < rest.size()) {
      char* end = nullptr;
      count = std::strtoll(rest[++i].c_str(), &end, 10);
      if (*end == '\0' && count >= 1) continue;
      std::fprintf(stderr, "picket %s: --count: expected a positive integer, got '%s'\n", command.c_str(),
                   rest[i].c_str());
      return std::nullopt;
    }
    std::fprintf(stderr, "picket %s: unexpected argument '%s'\n%s", command.c_str(), rest[i].c_str(), help);
    return std::nullopt;
  }
  return count;
}

std::optional<UiClient> ConnectOrReport(const std::string& command, const std::string& socket) {
  auto client = UiClient::Connect(socket, std::chrono::milliseconds(5000));
  if (!client.ok()) {
    std::fprintf(stderr, "picket %s: %s\n", command.c_str(), client.error().message.c_str());
    return std::nullopt;
  }
  return std::move(*client);
}

int RunStreamCommand(const std::string& command, const std::vector<std::string>& args, const char* help,
                     ui::Topic topic, const std::function<bool(const ui::Message&, bool json)>& print) {
  const SocketOptions options = ParseSocketOptions(args);
  if (options.help) {
    std::fputs(help, stdout);
    return 0;
  }
  const std::optional<long long> count = ParseStreamCount(command, options.rest, help);
  if (!count) return 2;
  auto client = ConnectOrReport(command, options.socket);
  if (!client) return 1;
  const bool json = options.json;
  return StreamTopic(command, *client, topic, *count, [&print, json](const ui::Message& m) { return print(m, json); });
}

int StreamTopic(const std::string& command, UiClient& client, ui::Topic topic, long long count,
                const std::function<bool(const ui::Message&)>& print) {
  if (auto subscribed = CallForData(client, ui::Subscribe{1, {topic}}, std::chrono::milliseconds(5000)); !subscribed.ok()) {
    std::fprintf(stderr, "picket %s: subscribing: %s\n", command.c_str(), subscribed.error().message.c_str());
    return 1;
  }
  for (long long printed = 0; count < 0 || printed < count;) {
    auto message = client.Read(std::chrono::milliseconds(0));
    if (!message.ok()) {
      std::fprintf(stderr, "picket %s: %s\n", command.c_str(), message.error().message.c_str());
      return 1;
    }
    if (!print(*message)) continue;
    std::fflush(stdout);
    ++printed;
  }
  return 0;
}

void PrintJsonLine(const QJsonObject& object) {
  std::fputs(QJsonDocument(object).toJson(QJsonDocument::Compact).append('\n').constData(), stdout);
}

}  // namespace picket::cli
