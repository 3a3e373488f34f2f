// SockDiag: finds the local socket that sent a flow through netlink sock_diag (NETLINK_SOCK_DIAG,
// inet_diag_req_v2), giving its inode and owner uid.
//
// One exact lookup per query (SOCK_DIAG_BY_FAMILY without NLM_F_DUMP): the kernel looks the socket up
// the way it would for a packet, so TCP sockets in SYN_SENT/ESTABLISHED and both connected and
// unconnected UDP sockets are found by the flow's 5-tuple. The kernel reads the tuple in two
// orientations: TCP and SCTP take the socket's own side (idiag_src = local), UDP and UDPLite the
// receive side (idiag_src = remote; udp_diag.c: "src and dst are swapped for historical reasons").
// IPv4 flows are tried as AF_INET, then as AF_INET6 with v4-mapped addresses (dual-stack sockets).
// UDP misses fall back to a dump filtered by the local port (bounded), choosing the unique best match.
// Sockets are those of the caller's network namespace.
//
// Ownership: owns its netlink socket (libmnl; opened once, reused; reopened after a timeout or a
// broken exchange). Thread-safety: none; one thread only.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "common/ip_address.h"
#include "common/result.h"
#include "netfilter/flow.h"

struct mnl_socket;
struct inet_diag_req_v2;

namespace picket {

// A socket's identity as seen from the socket's own side.
struct SocketKey {
  Protocol protocol = Protocol::kTcp;
  IpAddress local;
  uint16_t local_port = 0;
  IpAddress remote;
  uint16_t remote_port = 0;
  uint32_t ifindex = 0;  // the packet's output interface; 0 = any

  // An outbound flow's key: local = flow.src, remote = flow.dst, v4-mapped addresses normalised to
  // IPv4, ifindex = flow.out_ifindex.
  static SocketKey FromOutboundFlow(const Flow& flow);
};

struct SocketEntry {
  IpAddress local;      // as reported: the socket's bound address (wildcard when unbound)
  uint16_t local_port = 0;
  IpAddress remote;     // wildcard and port 0 for an unconnected UDP socket
  uint16_t remote_port = 0;
  uint64_t inode = 0;   // 0 for sockets without a file (time-wait, request sockets)
  uint32_t uid = 0;     // socket owner (sk_uid)
  uint8_t family = 0;   // AF_INET or AF_INET6: the socket's family
  uint8_t state = 0;    // TCP_* state number (TCP_SYN_SENT = 2); UDP: 7 unconnected, 1 connected
  uint64_t cookie = 0;  // socket cookie
  // How it was found (for tests and debugging).
  uint8_t query_family = 0;  // the sdiag_family of the answering request
  bool from_dump = false;    // found by the port-filtered dump fallback
};

struct SockDiagOptions {
  std::chrono::milliseconds timeout{250};  // per receive
  size_t max_dump_entries = 4096;          // a dump answering more is abandoned
};

class SockDiag {
 public:
  static Result<std::unique_ptr<SockDiag>> Open(const SockDiagOptions& options = {});
  SockDiag(const SockDiag&) = delete;
  SockDiag& operator=(const SockDiag&) = delete;
  ~SockDiag();

  // TCP, UDP, UDPLite and SCTP (SCTP only when the kernel has sctp_diag; untested here).
  static bool Supports(Protocol protocol);

  // Full lookup: exact (both families for IPv4), then the UDP dump fallback.
  // ok(nullopt): no such socket. Error: netlink failure (named), or unsupported protocol.
  Result<std::optional<SocketEntry>> Lookup(const SocketKey& key);

  // One exact request with sdiag_family `family` (AF_INET or AF_INET6; an IPv4 key asked as
  // AF_INET6 is sent as v4-mapped addresses).
  Result<std::optional<SocketEntry>> LookupExact(const SocketKey& key, int family);

  // UDP/UDPLite: dump of sockets with the key's local port; returns the best match (connected to
  // the key's remote, else unconnected; specific local address before wildcard). A tie between
  // different sockets is not guessed: ok(nullopt).
  Result<std::optional<SocketEntry>> LookupByLocalPort(const SocketKey& key, int family);

 private:
  enum class RequestKind : uint8_t { kExact, kDump };
  struct MnlCloser {
    void operator()(mnl_socket* socket) const;
  };
  // Entries of one answer; `missing` when the kernel answered ENOENT to an exact request.
  struct Answer {
    std::vector<SocketEntry> entries;
    bool missing = false;
  };

  explicit SockDiag(const SockDiagOptions& options);
  Status EnsureOpen();
  // Sends one inet_diag_req_v2 and collects the answer. On a broken exchange (timeout, truncated or
  // oversized answer) the socket is closed so that the next request starts clean.
  Result<Answer> Exchange(RequestKind kind, const inet_diag_req_v2& request);
  Status ReceiveAnswer(RequestKind kind, Answer& answer);

  SockDiagOptions options_;
  std::unique_ptr<mnl_socket, MnlCloser> socket_;
  uint32_t portid_ = 0;
  uint32_t seq_ = 0;
  std::vector<uint8_t> buffer_;
};

}  // namespace picket
