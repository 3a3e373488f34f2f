#include "ui/ui_server.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <QJsonArray>
#include <QJsonDocument>
#include <QSocketNotifier>
#include <QTimer>

#include <algorithm>
#include <cstring>

#include "common/log.h"
#include "rules/rule_parser.h"
#include "rules/rule_writer.h"
#include "ui/decision_event.h"

namespace picket {

using ui::ErrorCode;

struct UiServer::Client {
  uint64_t number = 0;
  int fd = -1;
  UiPeer peer;
  ui::Role role = ui::Role::kReadOnly;
  bool greeted = false;
  bool subscribed_events = false;
  bool subscribed_prompts = false;
  bool subscribed_alerts = false;
  ui::LineSplitter splitter;
  std::string out;        // unsent output; bytes before out_offset are already sent
  size_t out_offset = 0;
  std::unique_ptr<QSocketNotifier> read_notifier;
  std::unique_ptr<QSocketNotifier> write_notifier;

  explicit Client(size_t max_line) : splitter(max_line) {}
  size_t pending() const { return out.size() - out_offset; }
};

namespace {

constexpr int kMaxAcceptsPerWakeup = 64;
constexpr int kMaxReadsPerWakeup = 16;

std::optional<gid_t> LookUpGroup(const std::string& name) {
  if (name.empty()) return std::nullopt;
  struct group entry {};
  struct group* found = nullptr;
  std::vector<char> buffer(16384);
  if (getgrnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found) != 0 || found == nullptr) {
    return std::nullopt;
  }
  return found->gr_gid;
}

bool UserInGroup(uid_t uid, gid_t group) {
  struct passwd entry {};
  struct passwd* found = nullptr;
  std::vector<char> buffer(16384);
  if (getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &found) != 0 || found == nullptr) return false;
  if (found->pw_gid == group) return true;
  std::vector<gid_t> groups(256);
  int count = static_cast<int>(groups.size());
  if (getgrouplist(found->pw_name, found->pw_gid, groups.data(), &count) < 0) return false;
  return std::find(groups.begin(), groups.begin() + count, group) != groups.begin() + count;
}

const Rule* FindRule(const RuleSet& rules, const std::string& name) {
  for (const Rule& rule : rules.rules()) {
    if (rule.name == name) return &rule;
  }
  return nullptr;
}

bool Changes(ui::RulesOp op) { return op != ui::RulesOp::kList && op != ui::RulesOp::kGet; }

}  // namespace

ui::Role RoleForPeer(const UiPeer& peer, std::optional<gid_t> group) {
  if (peer.uid == 0 || peer.uid == geteuid()) return ui::Role::kAdmin;
  if (group && (peer.gid == *group || UserInGroup(peer.uid, *group))) return ui::Role::kAdmin;
  return ui::Role::kReadOnly;
}

UiServer::UiServer(UiServerOptions options, RuleEngine* rules, UiServerHooks hooks)
    : options_(std::move(options)), rules_(rules), hooks_(std::move(hooks)), context_(std::make_unique<QObject>()) {}

Result<std::unique_ptr<UiServer>> UiServer::Start(UiServerOptions options, RuleEngine* rules, UiServerHooks hooks) {
  std::unique_ptr<UiServer> server(new UiServer(std::move(options), rules, std::move(hooks)));
  if (Status s = server->Listen(); !s.ok()) return s.error();
  return server;
}

Status UiServer::Listen() {
  const std::string& path = options_.socket_path;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(address.sun_path)) {
    return Error{"ui socket path '" + path + "': empty or longer than " + std::to_string(sizeof(address.sun_path) - 1)};
  }
  std::memcpy(address.sun_path, path.data(), path.size());

  const size_t slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    const std::string dir = path.substr(0, slash);
    if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return Error::FromErrno("mkdir " + dir);
  }
  struct stat existing {};
  if (lstat(path.c_str(), &existing) == 0) {
    if (!S_ISSOCK(existing.st_mode)) return Error{"ui socket path '" + path + "' exists and is not a socket"};
    if (unlink(path.c_str()) != 0) return Error::FromErrno("unlink stale ui socket " + path);
  }

  group_ = LookUpGroup(options_.group);
  listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) return Error::FromErrno("socket(AF_UNIX)");
  // The socket file is created owner-only and widened below, so no other user can connect before
  // its group is set.
  const mode_t old_umask = umask(0177);
  const int bound = bind(listen_fd_, reinterpret_cast<const sockaddr*>(&address), sizeof(address));
  const int bind_errno = errno;
  umask(old_umask);
  if (bound != 0) {
    errno = bind_errno;
    return Error::FromErrno("bind " + path);
  }
  if (group_) {
    if (chown(path.c_str(), static_cast<uid_t>(-1), *group_) != 0) return Error::FromErrno("chown " + path);
    if (chmod(path.c_str(), 0660) != 0) return Error::FromErrno("chmod " + path);
    PLOG(kInfo) << "ui: listening on " << path << " (mode 0660, group " << options_.group << ")";
  } else {
    PLOG(kWarn) << "ui: group '" << options_.group << "' does not exist: " << path
                << " is root-only (mode 0600); create the group to let its members answer prompts and change rules";
  }
  struct stat created {};
  if (stat(path.c_str(), &created) == 0) socket_ino_ = created.st_ino;
  if (listen(listen_fd_, 64) != 0) return Error::FromErrno("listen " + path);

  accept_notifier_ = std::make_unique<QSocketNotifier>(listen_fd_, QSocketNotifier::Read);
  QObject::connect(accept_notifier_.get(), &QSocketNotifier::activated, context_.get(), [this] { OnAcceptable(); });
  return OkStatus();
}

UiServer::~UiServer() {
  accept_notifier_.reset();
  while (!clients_.empty()) Close(*clients_.begin()->second, nullptr);
  closed_.clear();
  if (listen_fd_ >= 0) {
    close(listen_fd_);
    struct stat now {};
    // Only our own socket file is removed (not one a newer daemon created at the same path).
    if (stat(options_.socket_path.c_str(), &now) == 0 && now.st_ino == socket_ino_) unlink(options_.socket_path.c_str());
  }
}

void UiServer::OnAcceptable() {
  for (int i = 0; i < kMaxAcceptsPerWakeup; ++i) {
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED) {
        PLOG(kWarn) << "ui: accept: " << std::strerror(errno);
      }
      return;
    }
    ucred cred{};
    socklen_t length = sizeof(cred);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &length) != 0) {
      PLOG(kWarn) << "ui: SO_PEERCRED: " << std::strerror(errno) << "; connection refused";
      close(fd);
      continue;
    }
    if (clients_.size() >= options_.max_clients) {
      PLOG(kWarn) << "ui: " << clients_.size() << " clients connected (ui_max_clients); refused pid " << cred.pid
                  << " uid " << cred.uid;
      close(fd);
      continue;
    }
    auto client = std::make_unique<Client>(options_.max_line_bytes);
    client->number = next_client_++;
    client->fd = fd;
    client->peer = UiPeer{cred.pid, cred.uid, cred.gid};
    client->role = RoleForPeer(client->peer, group_);
    Client* raw = client.get();
    client->read_notifier = std::make_unique<QSocketNotifier>(fd, QSocketNotifier::Read);
    QObject::connect(client->read_notifier.get(), &QSocketNotifier::activated, context_.get(),
                     [this, raw] { OnReadable(*raw); });
    client->write_notifier = std::make_unique<QSocketNotifier>(fd, QSocketNotifier::Write);
    client->write_notifier->setEnabled(false);
    QObject::connect(client->write_notifier.get(), &QSocketNotifier::activated, context_.get(),
                     [this, raw] { OnWritable(*raw); });
    PLOG(kDebug) << "ui: client " << raw->number << " connected: pid " << cred.pid << " uid " << cred.uid << " ("
                 << ui::RoleName(raw->role) << ")";
    clients_.emplace(raw->number, std::move(client));
  }
}

void UiServer::OnReadable(Client& client) {
  char buffer[65536];
  for (int i = 0; i < kMaxReadsPerWakeup && client.fd >= 0; ++i) {
    const ssize_t n = recv(client.fd, buffer, sizeof(buffer), 0);
    if (n == 0) return Close(client, nullptr);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
      return Close(client, "read error");
    }
    client.splitter.Append(std::string_view(buffer, static_cast<size_t>(n)));
    while (client.fd >= 0) {
      std::optional<std::string> line = client.splitter.Next();
      if (!line) break;
      HandleLine(client, *line);
    }
    if (client.fd >= 0 && client.splitter.overflowed()) {
      SendError(client, std::nullopt, ErrorCode::kTooLong,
                "line longer than " + std::to_string(options_.max_line_bytes) + " bytes");
      return Close(client, "line too long");
    }
  }
}

void UiServer::HandleLine(Client& client, const std::string& line) {
  auto decoded = ui::Decode(line);
  if (!client.greeted) {
    const auto* message = std::get_if<ui::Message>(&decoded);
    const auto* hello = message != nullptr ? std::get_if<ui::Hello>(message) : nullptr;
    if (hello == nullptr) {
      SendError(client, std::nullopt, ErrorCode::kHelloRequired, "the first message must be hello");
      return Close(client, "no hello");
    }
    return HandleHello(client, *hello);
  }
  if (auto* error = std::get_if<ui::DecodeError>(&decoded)) {
    return SendError(client, error->id, error->code, error->message);
  }
  HandleRequest(client, std::get<ui::Message>(decoded));
}

void UiServer::HandleHello(Client& client, const ui::Hello& hello) {
  const int chosen = std::min(hello.version, ui::kProtocolVersion);
  if (chosen < hello.min_version) {
    ui::ErrorReply error;
    error.code = ErrorCode::kVersionMismatch;
    error.message = "client speaks versions " + std::to_string(hello.min_version) + ".." +
                    std::to_string(hello.version) + ", this server " + std::to_string(ui::kProtocolVersion);
    error.supported = std::make_pair(ui::kProtocolVersion, ui::kProtocolVersion);
    Send(client, ui::Encode(error));
    return Close(client, "version mismatch");
  }
  client.greeted = true;
  ui::Hello reply;
  reply.version = chosen;
  reply.min_version = chosen;
  reply.server = options_.server_name;
  reply.role = client.role;
  Send(client, ui::Encode(reply));
}

void UiServer::HandleRequest(Client& client, const ui::Message& message) {
  const std::optional<uint64_t> id = ui::IdOf(message);
  if (const auto* subscribe = std::get_if<ui::Subscribe>(&message)) return HandleSubscribe(client, *subscribe);
  if (const auto* rules = std::get_if<ui::RulesRequest>(&message)) return HandleRules(client, *rules);
  if (const auto* stats = std::get_if<ui::StatsRequest>(&message)) return HandleStats(client, *stats);
  if (const auto* config = std::get_if<ui::ConfigRequest>(&message)) return HandleConfig(client, *config);
  if (std::holds_alternative<ui::StatusRequest>(message)) {
    QJsonObject data = hooks_.status ? hooks_.status() : QJsonObject{};
    data["protocol_version"] = ui::kProtocolVersion;
    data["clients"] = static_cast<double>(clients_.size());
    data["rules"] = static_cast<double>(rules_->current()->size());
    return SendResult(client, *id, data);
  }
  if (const auto* answer = std::get_if<ui::Answer>(&message)) return HandleAnswer(client, *answer);
  SendError(client, id, ErrorCode::kBadMessage, std::string(ui::TypeName(message)) + " is not a request");
}

void UiServer::HandleSubscribe(Client& client, const ui::Subscribe& request) {
  bool events = false;
  bool prompts = false;
  bool alerts = false;
  for (ui::Topic topic : request.topics) {
    if (topic == ui::Topic::kPrompts && client.role != ui::Role::kAdmin) {
      return SendError(client, request.id, ErrorCode::kForbidden, "prompts need the admin role");
    }
    if (topic == ui::Topic::kPrompts && !hooks_.answer) {
      return SendError(client, request.id, ErrorCode::kUnsupported, "this picketd does not ask prompts");
    }
    events = events || topic == ui::Topic::kEvents;
    prompts = prompts || topic == ui::Topic::kPrompts;
    alerts = alerts || topic == ui::Topic::kAlerts;
  }
  const bool left_prompts = client.subscribed_prompts && !prompts;
  const bool replay_alerts = alerts && !client.subscribed_alerts;
  client.subscribed_events = events;
  client.subscribed_prompts = prompts;
  client.subscribed_alerts = alerts;
  QJsonArray topics;
  if (events) topics.append(QStringLiteral("events"));
  if (prompts) topics.append(QStringLiteral("prompts"));
  if (alerts) topics.append(QStringLiteral("alerts"));
  SendResult(client, request.id, QJsonObject{{"topics", topics}});
  if (replay_alerts) {
    for (const ui::Alert& alert : alerts_) Send(client, ui::Encode(alert));
  }
  if (left_prompts) PromptSubscriberLeft();
}
void UiServer::HandleAnswer(Client& client, const ui::Answer& request) {
  if (client.role != ui::Role::kAdmin) {
    return SendError(client, request.id, ErrorCode::kForbidden, "answering prompts needs the admin role");
  }
  if (!hooks_.answer) return SendError(client, request.id, ErrorCode::kUnsupported, "this picketd does not ask prompts");
  const uint64_t number = client.number;
  std::variant<QJsonObject, UiRefusal> outcome = hooks_.answer(request, client.peer);
  // The hook publishes (closed prompts, events), which may have dropped this very client.
  auto it = clients_.find(number);
  if (it == clients_.end()) return;
  if (auto* refusal = std::get_if<UiRefusal>(&outcome)) {
    return SendError(*it->second, request.id, refusal->code, std::move(refusal->message));
  }
  PLOG(kInfo) << "ui: prompt " << request.prompt << " answered " << ui::AnswerActionName(request.action) << " "
              << ui::AnswerDurationName(request.duration) << " by pid " << client.peer.pid << " uid "
              << client.peer.uid;
  SendResult(*it->second, request.id, std::get<QJsonObject>(std::move(outcome)));
}

void UiServer::HandleRules(Client& client, const ui::RulesRequest& request) {
  using ui::RulesOp;
  if (Changes(request.op) && client.role != ui::Role::kAdmin) {
    return SendError(client, request.id, ErrorCode::kForbidden, "changing rules needs the admin role");
  }
  std::shared_ptr<const RuleSet> current = rules_->current();
  if (request.op == RulesOp::kList) return HandleRulesList(client, request, *current);
  std::optional<Rule> rule;
  if (request.op == RulesOp::kAdd || request.op == RulesOp::kReplace) {
    const QByteArray bytes = QJsonDocument(request.rule).toJson(QJsonDocument::Compact);
    Result<Rule> parsed = ParseRule(std::string_view(bytes.constData(), static_cast<size_t>(bytes.size())));
    if (!parsed.ok()) return SendError(client, request.id, ErrorCode::kInvalid, "rule: " + parsed.error().message);
    rule = std::move(*parsed);
  }
  const std::string& name = rule ? rule->name : request.name;
  const Rule* existing = FindRule(*current, name);
  if (request.op == RulesOp::kAdd && existing != nullptr) {
    return SendError(client, request.id, ErrorCode::kInvalid, "a rule named '" + name + "' exists (use replace)");
  }
  if (request.op != RulesOp::kAdd && existing == nullptr) {
    return SendError(client, request.id, ErrorCode::kNotFound, "no rule named '" + name + "'");
  }
  if (request.op == RulesOp::kGet) return SendResult(client, request.id, QJsonObject{{"rule", RuleToJson(*existing)}});
  Status done;
  if (request.op == RulesOp::kDelete) {
    done = rules_->RemoveRule(name);
  } else {
    if (request.op == RulesOp::kEnable || request.op == RulesOp::kDisable) {
      rule = *existing;
      rule->enabled = request.op == RulesOp::kEnable;
    }
    done = rules_->AddRule(std::move(*rule));
  }
  if (!done.ok()) return SendError(client, request.id, ErrorCode::kFailed, done.error().message);
  PLOG(kInfo) << "ui: rule " << name << " " << ui::RulesOpName(request.op) << " by pid " << client.peer.pid << " uid "
              << client.peer.uid;
  if (hooks_.rules_changed) hooks_.rules_changed();
  SendResult(client, request.id, QJsonObject{});
}

// One page of the rule list: from `offset`, at most `limit` rules and at most half the client's queue
// (or line) limit in bytes, so listing any rule set never overflows the client. `next_offset` is
// present when rules remain.
void UiServer::HandleRulesList(Client& client, const ui::RulesRequest& request, const RuleSet& rules) {
  const size_t total = rules.rules().size();
  const size_t budget = ReplyBudget();
  const uint64_t limit = request.limit.value_or(total);
  QJsonArray page;
  size_t bytes = 0;
  size_t next = std::min<uint64_t>(request.offset, total);
  for (; next < total && page.size() < static_cast<qsizetype>(limit); ++next) {
    QJsonObject rule = RuleToJson(rules.rules()[next]);
    const size_t size = static_cast<size_t>(QJsonDocument(rule).toJson(QJsonDocument::Compact).size()) + 1;
    if (!page.isEmpty() && bytes + size > budget) break;
    bytes += size;
    page.append(rule);
  }
  QJsonObject data{{"rules", page}, {"total", static_cast<double>(total)}, {"offset", static_cast<double>(request.offset)}};
  if (next < total) data["next_offset"] = static_cast<double>(next);
  SendResult(client, request.id, data);
}

void UiServer::HandleStats(Client& client, const ui::StatsRequest& request) {
  if (!hooks_.stats) return SendError(client, request.id, ErrorCode::kUnsupported, "stats are not available");
  // A reply that would not fit the budget is asked again with half the keys per dimension.
  constexpr size_t kKeysWhenAll = 4096;  // LiveStats' default bound per dimension
  size_t top = request.top.value_or(options_.default_stats_top);
  QJsonObject data = hooks_.stats(top);
  while (top != 1 && static_cast<size_t>(QJsonDocument(data).toJson(QJsonDocument::Compact).size()) > ReplyBudget()) {
    top = std::max<size_t>(1, (top == 0 ? kKeysWhenAll : top) / 2);
    data = hooks_.stats(top);
    data["top"] = static_cast<double>(top);
    data["truncated"] = true;
  }
  SendResult(client, request.id, data);
}

size_t UiServer::ReplyBudget() const { return std::min(options_.max_client_queue_bytes, options_.max_line_bytes) / 2; }

void UiServer::HandleConfig(Client& client, const ui::ConfigRequest& request) {
  if (request.op == ui::ConfigOp::kGet) {
    if (!hooks_.config) return SendError(client, request.id, ErrorCode::kUnsupported, "config is not available");
    return SendResult(client, request.id, QJsonObject{{"config", hooks_.config()}});
  }
  if (client.role != ui::Role::kAdmin) {
    return SendError(client, request.id, ErrorCode::kForbidden, "changing the config needs the admin role");
  }
  if (!hooks_.set_config) return SendError(client, request.id, ErrorCode::kUnsupported, "config set is not available");
  if (Status s = hooks_.set_config(request.key, request.value); !s.ok()) {
    return SendError(client, request.id, ErrorCode::kInvalid, s.error().message);
  }
  const std::string shown = ui::EncodeValue(request.value);
  PLOG(kInfo) << "ui: config " << request.key << " = " << shown << " by pid " << client.peer.pid << " uid "
              << client.peer.uid;
  SendResult(client, request.id, QJsonObject{});
  PublishAlert(ui::Severity::kInfo, "config: " + request.key + " set to " + shown + " by uid " +
                                        std::to_string(client.peer.uid));
}

void UiServer::PublishAlert(ui::Severity severity, std::string message) {
  ui::Alert alert{NowRfc3339(), severity, std::move(message)};
  const std::string line = ui::Encode(alert);
  alerts_.push_back(std::move(alert));
  while (alerts_.size() > options_.alert_backlog) alerts_.pop_front();
  Broadcast(line, &Client::subscribed_alerts);
}

bool UiServer::HasSubscribers(bool Client::*topic) const {
  return std::any_of(clients_.begin(), clients_.end(), [topic](const auto& entry) { return (*entry.second).*topic; });
}

bool UiServer::HasEventSubscribers() const { return HasSubscribers(&Client::subscribed_events); }

void UiServer::PublishEvent(const ui::DecisionEvent& event) {
  if (!HasEventSubscribers()) return;
  Broadcast(ui::Encode(event), &Client::subscribed_events);
}

bool UiServer::HasPromptSubscribers() const { return HasSubscribers(&Client::subscribed_prompts); }

void UiServer::PublishPrompt(const ui::PromptEvent& prompt) {
  if (!HasPromptSubscribers()) return;
  Broadcast(ui::Encode(prompt), &Client::subscribed_prompts);
}

void UiServer::Broadcast(const std::string& line, bool Client::*topic) {
  std::vector<Client*> targets;
  for (auto& [number, client] : clients_) {
    if ((*client).*topic) targets.push_back(client.get());
  }
  for (Client* client : targets) Send(*client, line);  // Send may close (and unlist) the client
}

void UiServer::PromptSubscriberLeft() {
  if (HasPromptSubscribers() || !hooks_.prompts_unwatched) return;
  // Deferred: the caller may be in the middle of publishing (a client dropped by Send).
  QTimer::singleShot(0, context_.get(), [this] {
    if (!HasPromptSubscribers() && hooks_.prompts_unwatched) hooks_.prompts_unwatched();
  });
}

void UiServer::SendResult(Client& client, uint64_t id, QJsonObject data) {
  Send(client, ui::Encode(ui::ResultReply{id, std::move(data)}));
}

void UiServer::SendError(Client& client, std::optional<uint64_t> id, ErrorCode code, std::string message) {
  ui::ErrorReply error;
  error.id = id;
  error.code = code;
  error.message = std::move(message);
  Send(client, ui::Encode(error));
}

void UiServer::Send(Client& client, const std::string& line) {
  if (client.fd < 0) return;
  if (client.pending() + line.size() > options_.max_client_queue_bytes) {
    ++dropped_clients_;
    const std::string what = "ui: client pid " + std::to_string(client.peer.pid) + " uid " +
                             std::to_string(client.peer.uid) + " disconnected: it stopped reading (output queue full)";
    // Told on the next turn: this Send may be inside a publish loop.
    QTimer::singleShot(0, context_.get(), [this, what] { PublishAlert(ui::Severity::kWarning, what); });
    return Close(client, "not reading (output queue full)");
  }
  if (client.out_offset > 0 && client.out_offset >= client.out.size() / 2) {
    client.out.erase(0, client.out_offset);
    client.out_offset = 0;
  }
  client.out += line;
  Flush(client);
}

void UiServer::OnWritable(Client& client) { Flush(client); }

void UiServer::Flush(Client& client) {
  while (client.fd >= 0 && client.pending() > 0) {
    const ssize_t n = send(client.fd, client.out.data() + client.out_offset, client.pending(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      return Close(client, nullptr);  // the peer went away
    }
    client.out_offset += static_cast<size_t>(n);
  }
  if (client.fd < 0) return;
  if (client.pending() == 0) {
    client.out.clear();
    client.out_offset = 0;
  }
  client.write_notifier->setEnabled(client.pending() > 0);
}

void UiServer::Close(Client& client, const char* why) {
  if (client.fd < 0) return;
  if (why != nullptr) {
    PLOG(kWarn) << "ui: client " << client.number << " (pid " << client.peer.pid << " uid " << client.peer.uid
                << ") disconnected: " << why;
  }
  client.read_notifier->setEnabled(false);
  client.write_notifier->setEnabled(false);
  close(client.fd);
  client.fd = -1;
  auto it = clients_.find(client.number);
  if (it == clients_.end()) return;
  const bool watched_prompts = client.subscribed_prompts;
  client.subscribed_prompts = false;
  // The notifier that called us may still be on the stack: free the client on the next turn.
  closed_.push_back(std::move(it->second));
  clients_.erase(it);
  QTimer::singleShot(0, context_.get(), [this] { closed_.clear(); });
  if (watched_prompts) PromptSubscriberLeft();
}

}  // namespace picket
