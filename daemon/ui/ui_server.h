// UiServer: picketd's side of the UI protocol (ui-protocol/PROTOCOL.md). Listens on a UNIX stream
// socket it creates (mode 0660, group `ui_group`; 0600 root-only when the group does not exist),
// authorizes each peer by SO_PEERCRED, and serves many clients on the Qt event loop: handshake,
// status, stats, config get/set, rules (list — paged — /get/add/replace/delete/enable/disable
// through the RuleEngine), the live `events` and `alerts` subscriptions, and prompts: the `prompts`
// subscription (admin only), `answer` (handed to the answer hook), prompt and closed-prompt events.
// Stats and config come from the daemon through UiServerHooks; the last `alert_backlog` alerts are
// kept and replayed to a client when it subscribes to `alerts`, so conditions found before it
// connected are seen too.
//
// Roles: uid 0, the daemon's own uid, gid == ui_group or a member of ui_group → admin; any other
// peer that can open the socket → read-only (may read status/stats/config/rules and subscribe to
// events and alerts).
// A client never stalls the daemon: sockets are non-blocking, each client's unsent output is
// bounded (max_client_queue_bytes) and a client whose queue would overflow is disconnected.
// Ownership: owns the listening socket (unlinked on destruction) and every client connection;
// borrows the RuleEngine. Thread-safety: event-loop thread only.
#pragma once

#include <sys/types.h>

#include <QJsonObject>
#include <QObject>
#include <QSocketNotifier>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "common/result.h"
#include "rules/rule_engine.h"
#include "ui-protocol/codec.h"

namespace picket {

struct UiServerOptions {
  std::string socket_path = "/run/picket/ui.sock";
  std::string group = "picket";                  // empty or missing group: root-only socket
  size_t max_client_queue_bytes = 4u << 20;      // unsent bytes per client before it is dropped
  size_t max_clients = 64;                       // further connections are closed at once
  size_t max_line_bytes = ui::kMaxLineBytes;
  std::string server_name = "picketd";           // sent in the server's hello
  size_t alert_backlog = 32;                     // alerts replayed to a new `alerts` subscriber
  size_t default_stats_top = 10;                 // keys per dimension when a stats request has no `top`
};

struct UiPeer {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};

// Why a request was refused: the error reply's code and message.
struct UiRefusal {
  ui::ErrorCode code = ui::ErrorCode::kFailed;
  std::string message;
};

struct UiServerHooks {
  std::function<QJsonObject()> status;   // the daemon's status fields (versions, counters …)
  std::function<void()> rules_changed;   // called after a client changed the rules
  // An admin's answer to a prompt: the result data ({"rule":name} or {}), or the refusal
  // (not-found when the prompt is no longer pending). Unset: `answer` is unsupported.
  std::function<std::variant<QJsonObject, UiRefusal>(const ui::Answer&, const UiPeer&)> answer;
  // The last `prompts` subscriber left (disconnected or unsubscribed). Runs on the next
  // event-loop turn, and only if no client subscribed to prompts meanwhile.
  std::function<void()> prompts_unwatched;
  // `stats`: pipeline counters and live statistics with `top` keys per dimension (0 = all kept).
  std::function<QJsonObject(size_t top)> stats;
  // `config get`: the effective configuration, key → JSON value.
  std::function<QJsonObject()> config;
  // `config set` (admin): changes one key at run time; an error (naming the key and why) is answered `invalid`.
  std::function<Status(const std::string& key, const QJsonValue& value)> set_config;
};

// The role of a peer with these credentials; `group` is the ui_group's gid when it exists.
ui::Role RoleForPeer(const UiPeer& peer, std::optional<gid_t> group);

class UiServer {
 public:
  // Creates the socket (and its parent directory when missing) and starts accepting.
  static Result<std::unique_ptr<UiServer>> Start(UiServerOptions options, RuleEngine* rules, UiServerHooks hooks);
  ~UiServer();
  UiServer(const UiServer&) = delete;
  UiServer& operator=(const UiServer&) = delete;

  // Whether any client subscribed to `events` (so the caller builds events only when wanted).
  bool HasEventSubscribers() const;
  void PublishEvent(const ui::DecisionEvent& event);
  // Tells `alerts` subscribers (now, and later ones from the backlog) something a user must know.
  void PublishAlert(ui::Severity severity, std::string message);

  // Whether any admin client subscribed to `prompts` (else prompts are not asked).
  bool HasPromptSubscribers() const;
  // Sends a prompt (or, with `closed`, its end) to every `prompts` subscriber.
  void PublishPrompt(const ui::PromptEvent& prompt);

  size_t client_count() const { return clients_.size(); }
  uint64_t dropped_clients() const { return dropped_clients_; }
  // The socket's group when it exists (nullopt: root-only).
  std::optional<gid_t> group() const { return group_; }

 private:
  struct Client;
  UiServer(UiServerOptions options, RuleEngine* rules, UiServerHooks hooks);
  Status Listen();
  void OnAcceptable();
  void OnReadable(Client& client);
  void OnWritable(Client& client);
  void HandleLine(Client& client, const std::string& line);
  void HandleHello(Client& client, const ui::Hello& hello);
  void HandleRequest(Client& client, const ui::Message& message);
  void HandleSubscribe(Client& client, const ui::Subscribe& request);
  void HandleRules(Client& client, const ui::RulesRequest& request);
  void HandleAnswer(Client& client, const ui::Answer& request);
  void Broadcast(const std::string& line, bool Client::*topic);
  bool HasSubscribers(bool Client::*topic) const;
  void PromptSubscriberLeft();
  void HandleRulesList(Client& client, const ui::RulesRequest& request, const RuleSet& rules);
  void HandleStats(Client& client, const ui::StatsRequest& request);
  void HandleConfig(Client& client, const ui::ConfigRequest& request);
  // Bytes one large reply (a rules page, stats) may take: half of the client queue or line limit.
  size_t ReplyBudget() const;
  void SendResult(Client& client, uint64_t id, QJsonObject data);
  void SendError(Client& client, std::optional<uint64_t> id, ui::ErrorCode code, std::string message);
  void Send(Client& client, const std::string& line);
  void Flush(Client& client);
  void Close(Client& client, const char* why);

  UiServerOptions options_;
  RuleEngine* rules_;
  UiServerHooks hooks_;
  std::optional<gid_t> group_;
  int listen_fd_ = -1;
  ino_t socket_ino_ = 0;
  std::unique_ptr<QObject> context_;  // parent of the notifiers; receiver of deferred cleanups
  std::unique_ptr<QSocketNotifier> accept_notifier_;
  std::map<uint64_t, std::unique_ptr<Client>> clients_;  // by connection number
  std::vector<std::unique_ptr<Client>> closed_;          // freed on the next event-loop turn
  uint64_t next_client_ = 1;
  uint64_t dropped_clients_ = 0;
  std::deque<ui::Alert> alerts_;  // the last options_.alert_backlog alerts
};

}  // namespace picket
