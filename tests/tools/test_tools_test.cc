// Checks picket_test_client and picket_test_server over loopback in the caller's namespace (no
// firewall involved, no root needed): echo, refusal, timeout, usage errors and the server's counts.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <sstream>
#include <thread>

#include "tests/tools/server_stats.h"
#include "tests/tools/subprocess.h"

namespace picket::testing {
namespace {

using std::chrono::milliseconds;

// A port on 127.0.0.1 that was free a moment ago, with the socket that holds it (for UDP tests that
// need a silent peer) or released (for the server to take).
struct Port {
  int fd = -1;
  int number = 0;
};

Port TakePort(int socktype) {
  Port p;
  p.fd = socket(AF_INET, socktype, 0);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(p.fd, reinterpret_cast<sockaddr*>(&sin), sizeof(sin));
  socklen_t len = sizeof(sin);
  getsockname(p.fd, reinterpret_cast<sockaddr*>(&sin), &len);
  p.number = ntohs(sin.sin_port);
  return p;
}

int FreePort(int socktype) {
  Port p = TakePort(socktype);
  close(p.fd);
  return p.number;
}

class ToolsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/picket-tools-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    tcp_port_ = FreePort(SOCK_STREAM);
    udp_port_ = FreePort(SOCK_DGRAM);
    stats_path_ = dir_ + "/stats";
  }

  void TearDown() override {
    if (server_) {
      server_->Signal(SIGTERM);
      EXPECT_EQ(server_->Wait(milliseconds(5000)), 0);
      server_.reset();
    }
    std::filesystem::remove_all(dir_);
  }

  // Starts the server and waits (bounded) until it has written its first stats file.
  void StartServer(const std::vector<std::string>& extra) {
    std::vector<std::string> argv = {PICKET_TEST_SERVER, "--tcp", std::to_string(tcp_port_), "--udp",
                                     std::to_string(udp_port_), "--stats", stats_path_};
    argv.insert(argv.end(), extra.begin(), extra.end());
    std::string error;
    server_ = Subprocess::Spawn({argv, "", dir_ + "/server.out", dir_ + "/server.err"}, &error);
    ASSERT_NE(server_, nullptr) << error;
    for (int i = 0; i < 500 && !std::filesystem::exists(stats_path_); i++) {
      ASSERT_TRUE(server_->running()) << ReadFile(dir_ + "/server.err");
      std::this_thread::sleep_for(milliseconds(10));
    }
    ASSERT_TRUE(std::filesystem::exists(stats_path_)) << ReadFile(dir_ + "/server.err");
  }

  RunResult Client(const std::string& proto, const std::string& host, int port,
                   const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv = {PICKET_TEST_CLIENT, proto, host, std::to_string(port)};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return RunProgram(argv, "", milliseconds(20000));
  }

  std::map<std::string, long> Stats() { return ParseServerStats(ReadFile(stats_path_)); }

  std::string dir_;
  std::string stats_path_;
  int tcp_port_ = 0;
  int udp_port_ = 0;
  std::unique_ptr<Subprocess> server_;
};

TEST_F(ToolsTest, TcpAndUdpEchoAreCountedPerSender) {
  StartServer({"--bind", "127.0.0.1"});
  RunResult tcp = Client("tcp", "127.0.0.1", tcp_port_, {"--count", "3"});
  EXPECT_EQ(tcp.exit_code, 0) << tcp.output;
  EXPECT_NE(tcp.output.find("result=ok proto=tcp dst=127.0.0.1:" + std::to_string(tcp_port_) + " ok=3/3"),
            std::string::npos)
      << tcp.output;
  RunResult udp = Client("udp", "127.0.0.1", udp_port_);
  EXPECT_EQ(udp.exit_code, 0) << udp.output;

  auto stats = Stats();
  const std::string client = std::filesystem::canonical(PICKET_TEST_CLIENT).string();
  EXPECT_EQ(stats["tcp_accepted"], 3);
  EXPECT_EQ(stats["tcp_lines"], 3);
  EXPECT_EQ(stats["tcp_accepted:" + std::to_string(tcp_port_)], 3);
  EXPECT_EQ(stats["udp_datagrams:" + std::to_string(udp_port_)], 1);
  EXPECT_EQ(stats["tcp_from:" + client], 3);
  EXPECT_EQ(stats["udp_from:" + client], 1);
}

TEST_F(ToolsTest, ExitAfterSendReportsItsSourcePortWithoutWaiting) {
  StartServer({"--bind", "127.0.0.1"});
  const int sport = FreePort(SOCK_DGRAM);
  RunResult udp = Client("udp", "127.0.0.1", udp_port_, {"--exit-after-send", "--sendto", "--sport", std::to_string(sport)});
  EXPECT_EQ(udp.exit_code, 0) << udp.output;
  EXPECT_NE(udp.output.find("result=sent proto=udp"), std::string::npos) << udp.output;
  EXPECT_NE(udp.output.find(" sport=" + std::to_string(sport)), std::string::npos) << udp.output;
  RunResult tcp = Client("tcp", "127.0.0.1", tcp_port_, {"--exit-after-send"});
  EXPECT_EQ(tcp.exit_code, 0) << tcp.output;
  EXPECT_NE(tcp.output.find("result=sent proto=tcp"), std::string::npos) << tcp.output;
  EXPECT_EQ(tcp.output.find(" sport=0"), std::string::npos) << tcp.output;
  // The datagram arrives although the client did not wait for the echo.
  std::map<std::string, long> stats;
  for (int i = 0; i < 100 && stats["udp_datagrams"] < 1; ++i) {
    std::this_thread::sleep_for(milliseconds(10));
    stats = Stats();
  }
  EXPECT_EQ(stats["udp_datagrams"], 1);
}

TEST_F(ToolsTest, DualStackServerAnswersIpv4AndIpv6) {
  StartServer({});
  RunResult v4 = Client("tcp", "127.0.0.1", tcp_port_);
  EXPECT_EQ(v4.exit_code, 0) << v4.output;
  RunResult v6 = Client("tcp6", "::1", tcp_port_);
  if (v6.output.find("EADDRNOTAVAIL") != std::string::npos) GTEST_SKIP() << "no IPv6 loopback here";
  EXPECT_EQ(v6.exit_code, 0) << v6.output;
  EXPECT_NE(v6.output.find("dst=[::1]:"), std::string::npos) << v6.output;
  RunResult udp6 = Client("udp6", "::1", udp_port_);
  EXPECT_EQ(udp6.exit_code, 0) << udp6.output;
  EXPECT_EQ(Stats()["tcp_accepted"], 2);
}

TEST_F(ToolsTest, ClosedPortsAreRefusedFast) {
  RunResult tcp = Client("tcp", "127.0.0.1", tcp_port_, {"--timeout-ms", "5000"});
  EXPECT_EQ(tcp.exit_code, 2) << tcp.output;
  EXPECT_NE(tcp.output.find("result=refused"), std::string::npos) << tcp.output;
  EXPECT_LT(tcp.elapsed_ms, 1000);
  RunResult udp = Client("udp", "127.0.0.1", udp_port_, {"--timeout-ms", "5000"});
  EXPECT_EQ(udp.exit_code, 2) << udp.output;
  EXPECT_LT(udp.elapsed_ms, 1000);
}

TEST_F(ToolsTest, SilentPeerTimesOut) {
  Port silent = TakePort(SOCK_DGRAM);  // bound, never answers
  RunResult udp = Client("udp", "127.0.0.1", silent.number, {"--timeout-ms", "300"});
  close(silent.fd);
  EXPECT_EQ(udp.exit_code, 1) << udp.output;
  EXPECT_NE(udp.output.find("result=timeout"), std::string::npos) << udp.output;
  EXPECT_GE(udp.elapsed_ms, 300);
  EXPECT_LT(udp.elapsed_ms, 3000);
}

TEST_F(ToolsTest, BadArgumentsAreUsageErrors) {
  EXPECT_EQ(RunProgram({PICKET_TEST_CLIENT, "sctp", "127.0.0.1", "1"}, "", milliseconds(5000)).exit_code, 3);
  EXPECT_EQ(RunProgram({PICKET_TEST_CLIENT, "tcp", "not-an-ip", "1"}, "", milliseconds(5000)).exit_code, 3);
  EXPECT_EQ(RunProgram({PICKET_TEST_CLIENT, "tcp6", "127.0.0.1", "1"}, "", milliseconds(5000)).exit_code, 3);
  EXPECT_EQ(RunProgram({PICKET_TEST_CLIENT, "tcp", "127.0.0.1", "70000"}, "", milliseconds(5000)).exit_code, 3);
  EXPECT_EQ(RunProgram({PICKET_TEST_CLIENT, "tcp", "127.0.0.1", "1", "--count"}, "", milliseconds(5000)).exit_code, 3);
  EXPECT_EQ(RunProgram({PICKET_TEST_CLIENT, "tcp", "127.0.0.1", "1", "--sport", "0"}, "", milliseconds(5000)).exit_code, 3);
  EXPECT_EQ(RunProgram({PICKET_TEST_SERVER}, "", milliseconds(5000)).exit_code, 3);
  EXPECT_EQ(RunProgram({PICKET_TEST_SERVER, "--tcp", "0"}, "", milliseconds(5000)).exit_code, 3);
}

TEST_F(ToolsTest, AbortPortResetsAfterEchoAndSourcePortCanBeReused) {
  const int abort_port = FreePort(SOCK_STREAM);
  StartServer({"--bind", "127.0.0.1", "--tcp-abort", std::to_string(abort_port)});
  const int sport = FreePort(SOCK_STREAM);
  const std::vector<std::string> extra = {"--sport", std::to_string(sport), "--wait-peer-close"};
  RunResult first = Client("tcp", "127.0.0.1", abort_port, extra);
  EXPECT_EQ(first.exit_code, 0) << first.output;
  // The reset leaves no TIME_WAIT, so the same 4-tuple is free again at once.
  RunResult second = Client("tcp", "127.0.0.1", abort_port, extra);
  EXPECT_EQ(second.exit_code, 0) << second.output;
  EXPECT_EQ(Stats()["tcp_accepted:" + std::to_string(abort_port)], 2);
  // Plain ports keep their connections open until the client closes: waiting for the server times out.
  RunResult plain = Client("tcp", "127.0.0.1", tcp_port_, {"--wait-peer-close", "--timeout-ms", "300"});
  EXPECT_EQ(plain.exit_code, 1) << plain.output;
}

TEST_F(ToolsTest, ServerPrintsCountsOnSigusr1) {
  StartServer({"--bind", "127.0.0.1"});
  ASSERT_EQ(Client("tcp", "127.0.0.1", tcp_port_).exit_code, 0);
  server_->Signal(SIGUSR1);
  std::string out;
  for (int i = 0; i < 500 && out.find("tcp_accepted 1") == std::string::npos; i++) {
    std::this_thread::sleep_for(milliseconds(10));
    out = ReadFile(dir_ + "/server.out");
  }
  EXPECT_NE(out.find("listening"), std::string::npos) << out;
  EXPECT_NE(out.find("tcp_accepted 1"), std::string::npos) << out;
}

}  // namespace
}  // namespace picket::testing
