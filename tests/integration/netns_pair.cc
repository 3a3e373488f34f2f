#include "tests/integration/netns_pair.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <regex>
#include <sstream>
#include <vector>

#include "tests/tools/subprocess.h"

namespace picket::testing {
namespace {

constexpr std::chrono::milliseconds kIpTimeout{10000};

bool Ip(const std::vector<std::string>& args, std::string* error) {
  std::vector<std::string> argv = {FindProgram("ip")};
  argv.insert(argv.end(), args.begin(), args.end());
  RunResult r = RunProgram(argv, "", kIpTimeout);
  if (r.exit_code == 0) return true;
  std::string command;
  for (const std::string& a : argv) command += a + " ";
  *error = command + "→ exit " + std::to_string(r.exit_code) + ": " + r.output;
  return false;
}

void DeleteNamespace(const std::string& name) {
  std::string ignored;
  Ip({"netns", "delete", name}, &ignored);
}

}  // namespace

NetnsPair::NetnsPair(const std::string& prefix)
    : client_(prefix + "-c-" + std::to_string(getpid())), server_(prefix + "-s-" + std::to_string(getpid())) {}

NetnsPair::~NetnsPair() { Destroy(); }

bool NetnsPair::Create(std::string* error) {
  // A namespace of the same name can only be ours from an earlier test of this process.
  DeleteNamespace(client_);
  DeleteNamespace(server_);
  created_ = true;
  const std::string& c = client_;
  const std::string& s = server_;
  const std::vector<std::vector<std::string>> steps = {
      {"netns", "add", c},
      {"netns", "add", s},
      {"-n", c, "link", "add", "pkc0", "address", kClientMac, "type", "veth", "peer", "name", "pks0", "address",
       kServerMac, "netns", s},
      {"-n", c, "addr", "add", std::string(kClientV4) + "/24", "dev", "pkc0"},
      {"-n", c, "addr", "add", std::string(kClientV6) + "/64", "dev", "pkc0", "nodad"},
      {"-n", s, "addr", "add", std::string(kServerV4) + "/24", "dev", "pks0"},
      {"-n", s, "addr", "add", std::string(kServerV6) + "/64", "dev", "pks0", "nodad"},
      {"-n", c, "link", "set", "lo", "up"},
      {"-n", s, "link", "set", "lo", "up"},
      {"-n", c, "link", "set", "pkc0", "up"},
      {"-n", s, "link", "set", "pks0", "up"},
      // Static neighbours: no ARP / neighbour discovery before the first packet. A burst sent while
      // a neighbour is unresolved waits in a queue of unres_qlen_bytes (212 992 bytes: 256 small
      // packets) and the rest is dropped; an IPv6 solicitation sent before the peer joined its
      // solicited-node group is retried only after a second, so a 300-datagram IPv6 burst lost 44.
      {"-n", c, "neigh", "replace", kServerV4, "lladdr", kServerMac, "dev", "pkc0", "nud", "permanent"},
      {"-n", c, "neigh", "replace", kServerV6, "lladdr", kServerMac, "dev", "pkc0", "nud", "permanent"},
      {"-n", s, "neigh", "replace", kClientV4, "lladdr", kClientMac, "dev", "pks0", "nud", "permanent"},
      {"-n", s, "neigh", "replace", kClientV6, "lladdr", kClientMac, "dev", "pks0", "nud", "permanent"},
  };
  for (const auto& step : steps) {
    if (!Ip(step, error)) return false;
  }
  return true;
}

void NetnsPair::Destroy() {
  if (!created_) return;
  DeleteNamespace(client_);
  DeleteNamespace(server_);
  created_ = false;
}

void NetnsPair::DeleteStale(const std::string& prefix) {
  RunResult list = RunProgram({FindProgram("ip"), "netns", "list"}, "", kIpTimeout);
  const std::regex pattern("^(" + prefix + "-[cs]-([0-9]+))\\b");
  std::istringstream in(list.output);
  std::string line;
  while (std::getline(in, line)) {
    std::smatch m;
    if (!std::regex_search(line, m, pattern)) continue;
    const pid_t pid = static_cast<pid_t>(std::stol(m[2].str()));
    if (pid == getpid() || kill(pid, 0) == 0 || errno != ESRCH) continue;
    DeleteNamespace(m[1].str());
  }
}

}  // namespace picket::testing
