// prompt_bench — prompt round trip and the cost of a connected prompts client (needs root).
//
//   sudo build/bench/picket_prompt_bench [--count N]
//
// Two network namespaces (NetnsPair "picket-pbench"), the test echo server in the server one,
// picketd in the client one (default deny, no event log). A thread of this program enters the
// client namespace and makes TCP connects to 198.18.0.2:7000; this program is also the protocol
// client on picketd's UI socket.
//   round trip   no rule: connect() starts → the prompt arrives on the socket → `answer allow once`
//                → connect() returns. Reported: to prompt delivered, answer → connected, total.
//   idle client  a rule allows this program: connect() latency with no UI client, then with one
//                admin client connected and subscribed to prompts that stays idle.
// Prints percentiles (µs). Cleans up namespaces and processes (by PID) on exit.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/netns_pair.h"
#include "tests/tools/subprocess.h"
#include "ui-protocol/codec.h"

namespace {

using picket::testing::NetnsPair;
using picket::testing::ReadFile;
using picket::testing::Subprocess;
using picket::testing::WriteFile;
using Clock = std::chrono::steady_clock;
constexpr int kPort = 7000;

double Micros(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

void Report(const char* what, std::vector<double> samples) {
  if (samples.empty()) return;
  std::sort(samples.begin(), samples.end());
  auto at = [&](double q) { return samples[std::min(samples.size() - 1, static_cast<size_t>(q * samples.size()))]; };
  std::printf("| %s | %zu | %.0f | %.0f | %.0f | %.0f |\n", what, samples.size(), at(0.5), at(0.9), at(0.99),
              samples.back());
}

// A non-blocking TCP connect from the client namespace; `wait` until it completes.
class Connector {
 public:
  explicit Connector(int netns_fd) : netns_fd_(netns_fd) {}
  int Start() {
    int fd = -1;
    // setns affects only the calling thread: do it on a short-lived thread that opens the socket.
    std::thread([&] {
      if (setns(netns_fd_, CLONE_NEWNET) == 0) fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    }).join();
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(kPort);
    inet_pton(AF_INET, NetnsPair::kServerV4, &to.sin_addr);
    connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof(to));
    return fd;
  }
  static bool Wait(int fd, int timeout_ms) {
    pollfd p{fd, POLLOUT, 0};
    if (poll(&p, 1, timeout_ms) != 1) return false;
    int error = 0;
    socklen_t length = sizeof(error);
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length);
    return error == 0;
  }

 private:
  int netns_fd_;
};

class UiClient {
 public:
  explicit UiClient(const std::string& path) {
    fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, path.data(), path.size());
    if (connect(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) fd_ = -1;
  }
  ~UiClient() {
    if (fd_ >= 0) close(fd_);
  }
  bool ok() const { return fd_ >= 0; }
  void Send(const picket::ui::Message& message) {
    const std::string line = picket::ui::Encode(message);
    if (send(fd_, line.data(), line.size(), MSG_NOSIGNAL) < 0) std::perror("send");
  }
  std::optional<picket::ui::Message> Read(int timeout_ms) {
    while (true) {
      if (auto line = splitter_.Next()) {
        auto decoded = picket::ui::Decode(*line);
        if (auto* m = std::get_if<picket::ui::Message>(&decoded)) return *m;
        continue;
      }
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, timeout_ms) != 1) return std::nullopt;
      char buffer[65536];
      ssize_t n = recv(fd_, buffer, sizeof(buffer), 0);
      if (n <= 0) return std::nullopt;
      splitter_.Append(std::string_view(buffer, static_cast<size_t>(n)));
    }
  }
  std::optional<picket::ui::PromptEvent> NextPrompt() {
    for (int i = 0; i < 100; ++i) {
      auto m = Read(5000);
      if (!m) return std::nullopt;
      if (auto* p = std::get_if<picket::ui::PromptEvent>(&*m); p != nullptr && !p->closed) return *p;
    }
    return std::nullopt;
  }
  bool SubscribePrompts() {
    Send(picket::ui::Hello{});
    Send(picket::ui::Subscribe{1, {picket::ui::Topic::kPrompts}});
    for (int i = 0; i < 2; ++i) {
      if (!Read(5000)) return false;
    }
    return true;
  }

 private:
  int fd_ = -1;
  picket::ui::LineSplitter splitter_;
};

struct Bench {
  std::string dir;
  std::unique_ptr<NetnsPair> net;
  std::unique_ptr<Subprocess> server;
  std::unique_ptr<Subprocess> picketd;
  int netns_fd = -1;

  ~Bench() {
    if (picketd) {
      picketd->Signal(SIGTERM);
      picketd->Wait(std::chrono::seconds(10));
    }
    picketd.reset();
    server.reset();
    if (netns_fd >= 0) close(netns_fd);
    net.reset();
    std::error_code ignored;
    if (!dir.empty()) std::filesystem::remove_all(dir, ignored);
  }

  bool StartPicketd(const std::string& rules) {
    if (picketd) {
      picketd->Signal(SIGTERM);
      picketd->Wait(std::chrono::seconds(10));
      picketd.reset();
    }
    std::filesystem::remove_all(dir + "/rules");
    std::filesystem::create_directories(dir + "/rules");
    if (!rules.empty()) WriteFile(dir + "/rules/allow-bench.json", rules);
    WriteFile(dir + "/config.json", R"({"default_action":"deny","prompt_timeout_seconds":60})");
    std::string error;
    const std::string log = dir + "/picketd.log";
    WriteFile(log, "");
    picketd = Subprocess::Spawn({{PICKETD_PATH, "--config", dir + "/config.json", "--rules-dir", dir + "/rules",
                                  "--no-history", "--log-level", "warn", "--ui-socket", dir + "/ui.sock"},
                                 net->client(), log, log},
                                &error);
    if (!picketd) return false;
    for (int i = 0; i < 1500; ++i) {
      if (std::filesystem::exists(dir + "/ui.sock")) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));  // firewall rules follow the socket
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }
};

std::vector<double> ConnectLatencies(Connector& connector, int count) {
  std::vector<double> samples;
  for (int i = 0; i < count; ++i) {
    const auto start = Clock::now();
    const int fd = connector.Start();
    const bool ok = Connector::Wait(fd, 3000);
    const auto end = Clock::now();
    close(fd);
    if (ok) samples.push_back(Micros(end - start));
  }
  return samples;
}

}  // namespace

int main(int argc, char** argv) {
  int count = 2000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--count") == 0) count = std::max(10, std::atoi(argv[i + 1]));
  }
  if (geteuid() != 0) {
    std::fprintf(stderr, "prompt_bench: needs root (network namespaces, netfilter)\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  Bench bench;
  char tmpl[] = "/tmp/picket-pbench-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return 1;
  bench.dir = tmpl;
  NetnsPair::DeleteStale("picket-pbench");
  bench.net = std::make_unique<NetnsPair>("picket-pbench");
  std::string error;
  if (!bench.net->Create(&error)) {
    std::fprintf(stderr, "prompt_bench: %s\n", error.c_str());
    return 1;
  }
  bench.netns_fd = open(("/run/netns/" + bench.net->client()).c_str(), O_RDONLY | O_CLOEXEC);
  bench.server = Subprocess::Spawn({{PICKET_TEST_SERVER, "--tcp", std::to_string(kPort)}, bench.net->server(), "", ""},
                                   &error);
  Connector connector(bench.netns_fd);
  char self[4096] = {};
  if (readlink("/proc/self/exe", self, sizeof(self) - 1) <= 0) return 1;

  std::printf("| measurement | n | p50 µs | p90 µs | p99 µs | max µs |\n|---|---|---|---|---|---|\n");
  // Round trip: no rule, one prompts client answering allow once.
  if (!bench.StartPicketd("")) return 1;
  {
    UiClient ui(bench.dir + "/ui.sock");
    if (!ui.ok() || !ui.SubscribePrompts()) return 1;
    std::vector<double> to_prompt, to_connected, total;
    const int rounds = std::max(10, count / 10);
    for (int i = 0; i < rounds; ++i) {
      const auto start = Clock::now();
      const int fd = connector.Start();
      std::optional<picket::ui::PromptEvent> prompt = ui.NextPrompt();
      const auto prompted = Clock::now();
      if (!prompt) break;
      ui.Send(picket::ui::Answer{static_cast<uint64_t>(i + 10), prompt->id, picket::ui::AnswerAction::kAllow,
                                 picket::ui::AnswerDuration::kOnce, {picket::ui::ScopeField::kExecutable}});
      const auto answered = Clock::now();
      const bool ok = Connector::Wait(fd, 5000);
      const auto end = Clock::now();
      close(fd);
      if (!ok) continue;
      to_prompt.push_back(Micros(prompted - start));
      to_connected.push_back(Micros(end - answered));
      total.push_back(Micros(end - start));
    }
    Report("round trip: connect() → prompt delivered", to_prompt);
    Report("round trip: answer sent → connect() returns", to_connected);
    Report("round trip: total", total);
  }
  // Idle client cost: a rule allows this program.
  const std::string rule = std::string(R"({"name":"allow-bench","enabled":true,"action":"allow","duration":"always",)") +
                           R"("operator":{"type":"simple","operand":"process.path","data":")" + self + R"("}})";
  if (!bench.StartPicketd(rule)) return 1;
  ConnectLatencies(connector, count / 10);  // warm-up
  Report("connect(), allowed by a rule, no UI client", ConnectLatencies(connector, count));
  {
    UiClient idle(bench.dir + "/ui.sock");
    if (!idle.ok() || !idle.SubscribePrompts()) return 1;
    Report("connect(), allowed by a rule, 1 idle prompts client", ConnectLatencies(connector, count));
  }
  return 0;
}
