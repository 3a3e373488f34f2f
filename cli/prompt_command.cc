// `picket prompt`: the interactive terminal prompter. Subscribes to picketd's `prompts` (admin
// only), shows the prompt in front of the queue and sends the answer the keys chose (cli/prompter.h
// has the keys). The terminal is in non-canonical, no-echo mode while it runs and is restored on
// every exit: normal return, error, and SIGINT/SIGTERM/SIGHUP/SIGQUIT.
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "command.h"
#include "prompter.h"
#include "ui_client.h"

namespace picket::cli {
namespace {

constexpr const char* kHelp =
    "usage: picket prompt [--socket PATH]\n"
    "\n"
    "Shows each connection picketd asks about (program, arguments, process, user, parents, digest;\n"
    "destination, host, port, protocol; seconds left and the default that applies on timeout) and\n"
    "sends the answer you choose:\n"
    "  a d r          allow / deny / reject\n"
    "  0-9 f          once, 30s, 5m, 15m, 30m, 1h, 12h, 24h, until-restart, until-process-exits, f = always\n"
    "  e c h i p u    toggle the rule's scope: executable, command, host, ip, port, user\n"
    "  Enter          send      n / Tab   next prompt      q   quit\n"
    "Needs a terminal and the admin role (root or a member of picketd's ui_group).\n";

constexpr std::chrono::milliseconds kTimeout{5000};
constexpr int kRedrawMs = 1000;  // the countdown is redrawn at least this often

// The terminal settings to restore; written once before raw mode, read by the signal handler.
struct termios g_saved_termios;
volatile sig_atomic_t g_raw = 0;

void RestoreTerminal() {
  if (g_raw) {
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &g_saved_termios);
    g_raw = 0;
  }
}

void OnFatalSignal(int signo) {
  RestoreTerminal();  // tcsetattr is async-signal-safe
  signal(signo, SIG_DFL);
  raise(signo);
}

// Non-canonical input without echo; signals (Ctrl-C) and output processing stay on.
Status EnterRawMode() {
  if (tcgetattr(STDIN_FILENO, &g_saved_termios) != 0) return Error::FromErrno("tcgetattr stdin");
  struct sigaction action {};
  action.sa_handler = &OnFatalSignal;
  sigemptyset(&action.sa_mask);
  for (int signo : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) sigaction(signo, &action, nullptr);
  std::atexit(&RestoreTerminal);
  struct termios raw = g_saved_termios;
  raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);
  raw.c_cc[VMIN] = 1;
  raw.c_cc[VTIME] = 0;
  g_raw = 1;
  if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw) != 0) {
    g_raw = 0;
    return Error::FromErrno("tcsetattr stdin");
  }
  return OkStatus();
}

std::string UserName(int64_t uid) {
  struct passwd entry {};
  struct passwd* found = nullptr;
  std::vector<char> buffer(16384);
  if (getpwuid_r(static_cast<uid_t>(uid), &entry, buffer.data(), buffer.size(), &found) != 0 || found == nullptr) {
    return "";
  }
  return found->pw_name;
}

void Draw(const Prompter& prompter) {
  std::string screen = "\x1b[H\x1b[2J" + prompter.Render(std::chrono::system_clock::now());
  std::fwrite(screen.data(), 1, screen.size(), stdout);
  std::fflush(stdout);
}

Status Subscribe(UiClient& client) {
  auto reply = client.Call(ui::Subscribe{1, {ui::Topic::kPrompts}}, kTimeout);
  if (!reply.ok()) return reply.error();
  if (const auto* error = std::get_if<ui::ErrorReply>(&*reply)) {
    if (error->code == ui::ErrorCode::kForbidden) {
      return Error{"answering prompts needs the admin role: run it as root or as a member of picketd's ui_group "
                   "(config key ui_group, default 'picket') (" + DescribeError(*error) + ")"};
    }
    return Error{"subscribing to prompts: " + DescribeError(*error)};
  }
  return OkStatus();
}

// Reads what the server sent; false (with `error`) when the connection ended.
bool ReadServer(UiClient& client, Prompter& prompter, std::string& error) {
  while (true) {
    auto message = client.TryRead();
    if (!message.ok()) {
      error = message.error().message;
      return false;
    }
    if (!*message) return true;
    if (const auto* prompt = std::get_if<ui::PromptEvent>(&**message)) {
      prompter.OnPrompt(*prompt);
    } else {
      prompter.OnReply(**message);
    }
  }
}

// The interactive loop; returns the exit code.
int Loop(UiClient& client, Prompter& prompter) {
  std::string error;
  if (!ReadServer(client, prompter, error)) {  // prompts that came with the subscription's reply
    RestoreTerminal();
    std::fprintf(stderr, "picket prompt: %s\n", error.c_str());
    return 1;
  }
  Draw(prompter);
  while (true) {
    pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {client.fd(), POLLIN, 0}};
    const int ready = poll(fds, 2, kRedrawMs);
    if (ready < 0 && errno != EINTR) {
      RestoreTerminal();
      std::fprintf(stderr, "picket prompt: poll: %s\n", std::strerror(errno));
      return 1;
    }
    if (fds[1].revents != 0) {
      if (!ReadServer(client, prompter, error)) {
        RestoreTerminal();
        std::fprintf(stderr, "\npicket prompt: %s\n", error.c_str());
        return 1;
      }
    }
    if (fds[0].revents != 0) {
      char keys[64];
      const ssize_t n = read(STDIN_FILENO, keys, sizeof(keys));
      if (n <= 0) {  // the terminal went away
        RestoreTerminal();
        return 0;
      }
      for (ssize_t i = 0; i < n; ++i) {
        KeyOutcome outcome = prompter.OnKey(keys[i]);
        if (outcome.quit) {
          RestoreTerminal();
          std::printf("\n");
          return 0;
        }
        if (outcome.answer) {
          if (Status s = client.Send(*outcome.answer); !s.ok()) {
            RestoreTerminal();
            std::fprintf(stderr, "\npicket prompt: %s\n", s.error().message.c_str());
            return 1;
          }
        }
      }
    }
    Draw(prompter);
  }
}

int RunPrompt(const std::vector<std::string>& args) {
  const SocketOptions options = ParseSocketOptions(args);
  if (options.help) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  if (!options.rest.empty() || options.json) {
    std::fprintf(stderr, "picket prompt: unexpected argument '%s'\n%s",
                 options.json ? "--json" : options.rest[0].c_str(), kHelp);
    return 2;
  }
  if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
    std::fprintf(stderr,
                 "picket prompt: standard input and output must be a terminal (it is interactive; "
                 "`picket events` streams decisions to a pipe)\n");
    return 2;
  }
  auto client = ConnectOrReport("prompt", options.socket);
  if (!client) return 1;
  if (Status s = Subscribe(*client); !s.ok()) {
    std::fprintf(stderr, "picket prompt: %s\n", s.error().message.c_str());
    return 1;
  }
  if (Status s = EnterRawMode(); !s.ok()) {
    std::fprintf(stderr, "picket prompt: %s\n", s.error().message.c_str());
    return 1;
  }
  Prompter prompter(&UserName);
  const int code = Loop(*client, prompter);
  RestoreTerminal();
  return code;
}

const Registration kPrompt{"prompt", "answer picketd's prompts interactively in the terminal", &RunPrompt};

}  // namespace
}  // namespace picket::cli
