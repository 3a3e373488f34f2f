#include "process/sock_diag.h"

#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <span>

namespace picket {
namespace {

constexpr size_t kBufferSize = 32 * 1024;  // larger than any single netlink dump skb

bool ReceiveOrientation(Protocol protocol) {
  // udp_dump_one looks the socket up like an incoming packet: idiag_src/sport name the remote end.
  return protocol == Protocol::kUdp || protocol == Protocol::kUdpLite;
}

// Writes `address` into a 16-byte inet_diag address field for `family` (v4 keys become v4-mapped
// for AF_INET6). False when an IPv6 address is asked for as AF_INET.
bool PutAddress(const IpAddress& address, int family, __be32 out[4]) {
  uint8_t bytes[16] = {};
  if (family == AF_INET) {
    if (!address.is_v4()) return false;
    std::memcpy(bytes, address.bytes().data(), 4);
  } else if (address.is_v4()) {
    bytes[10] = 0xff;
    bytes[11] = 0xff;
    std::memcpy(bytes + 12, address.bytes().data(), 4);
  } else {
    std::memcpy(bytes, address.bytes().data(), 16);
  }
  std::memcpy(out, bytes, sizeof(bytes));
  return true;
}

IpAddress GetAddress(const __be32 in[4], int family) {
  const auto* bytes = reinterpret_cast<const uint8_t*>(in);
  if (family == AF_INET) return IpAddress::V4(std::span<const uint8_t, 4>(bytes, 4));
  return IpAddress::V6(std::span<const uint8_t, 16>(bytes, 16));
}

bool IsWildcard(const IpAddress& address) {
  const IpAddress normalized = address.Normalized();
  const auto span = normalized.span();
  return std::all_of(span.begin(), span.end(), [](uint8_t b) { return b == 0; });
}

bool SameAddress(const IpAddress& a, const IpAddress& b) { return a.Normalized() == b.Normalized(); }

uint8_t ProtocolNumber(Protocol protocol) { return static_cast<uint8_t>(protocol); }

SocketEntry ToEntry(const inet_diag_msg& msg, uint8_t query_family) {
  SocketEntry entry;
  const int family = msg.idiag_family == AF_INET ? AF_INET : AF_INET6;
  entry.local = GetAddress(msg.id.idiag_src, family);
  entry.local_port = ntohs(msg.id.idiag_sport);
  entry.remote = GetAddress(msg.id.idiag_dst, family);
  entry.remote_port = ntohs(msg.id.idiag_dport);
  entry.inode = msg.idiag_inode;
  entry.uid = msg.idiag_uid;
  entry.family = msg.idiag_family;
  entry.state = msg.idiag_state;
  entry.cookie = static_cast<uint64_t>(msg.id.idiag_cookie[0]) | static_cast<uint64_t>(msg.id.idiag_cookie[1]) << 32;
  entry.query_family = query_family;
  return entry;
}

// Score of a dumped UDP socket as the sender of `key`: -1 = cannot be; higher = more specific.
int MatchScore(const SocketEntry& entry, const SocketKey& key) {
  if (entry.local_port != key.local_port) return -1;
  int score = 0;
  if (SameAddress(entry.local, key.local)) {
    score += 1;
  } else if (!IsWildcard(entry.local)) {
    return -1;
  }
  if (entry.remote_port != 0) {
    if (entry.remote_port != key.remote_port || !SameAddress(entry.remote, key.remote)) return -1;
    score += 2;
  }
  return score;
}

}  // namespace

SocketKey SocketKey::FromOutboundFlow(const Flow& flow) {
  SocketKey key;
  key.protocol = flow.protocol;
  key.local = flow.src.Normalized();
  key.local_port = flow.src_port;
  key.remote = flow.dst.Normalized();
  key.remote_port = flow.dst_port;
  key.ifindex = flow.out_ifindex;
  return key;
}

void SockDiag::MnlCloser::operator()(mnl_socket* socket) const { mnl_socket_close(socket); }

SockDiag::SockDiag(const SockDiagOptions& options) : options_(options), buffer_(kBufferSize) {}

SockDiag::~SockDiag() = default;

Result<std::unique_ptr<SockDiag>> SockDiag::Open(const SockDiagOptions& options) {
  std::unique_ptr<SockDiag> diag(new SockDiag(options));
  if (Status s = diag->EnsureOpen(); !s.ok()) return s.error();
  return diag;
}

bool SockDiag::Supports(Protocol protocol) {
  switch (protocol) {
    case Protocol::kTcp:
    case Protocol::kUdp:
    case Protocol::kUdpLite:
    case Protocol::kSctp:
      return true;
    case Protocol::kIcmp:
    case Protocol::kIcmpV6:
      return false;
  }
  return false;
}

Status SockDiag::EnsureOpen() {
  if (socket_) return OkStatus();
  std::unique_ptr<mnl_socket, MnlCloser> socket(mnl_socket_open2(NETLINK_SOCK_DIAG, SOCK_CLOEXEC));
  if (!socket) return Error::FromErrno("sock_diag: socket(NETLINK_SOCK_DIAG)");
  if (mnl_socket_bind(socket.get(), 0, MNL_SOCKET_AUTOPID) < 0) return Error::FromErrno("sock_diag: bind");
  const auto usec = std::chrono::duration_cast<std::chrono::microseconds>(options_.timeout).count();
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(usec / 1000000);
  tv.tv_usec = static_cast<suseconds_t>(usec % 1000000);
  if (setsockopt(mnl_socket_get_fd(socket.get()), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0) {
    return Error::FromErrno("sock_diag: setsockopt(SO_RCVTIMEO)");
  }
  portid_ = mnl_socket_get_portid(socket.get());
  socket_ = std::move(socket);
  return OkStatus();
}

Result<SockDiag::Answer> SockDiag::Exchange(RequestKind kind, const inet_diag_req_v2& request) {
  if (Status s = EnsureOpen(); !s.ok()) return s.error();
  alignas(nlmsghdr) uint8_t out[MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(inet_diag_req_v2))] = {};
  nlmsghdr* nlh = mnl_nlmsg_put_header(out);
  nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
  nlh->nlmsg_flags = NLM_F_REQUEST | (kind == RequestKind::kDump ? NLM_F_DUMP : 0);
  nlh->nlmsg_seq = ++seq_;
  auto* payload = static_cast<inet_diag_req_v2*>(mnl_nlmsg_put_extra_header(nlh, sizeof(request)));
  *payload = request;
  if (mnl_socket_sendto(socket_.get(), nlh, nlh->nlmsg_len) < 0) {
    Error error = Error::FromErrno("sock_diag: send");
    socket_.reset();
    return error;
  }
  Answer answer;
  if (Status s = ReceiveAnswer(kind, answer); !s.ok()) {
    socket_.reset();  // a late or unread rest of this answer must not meet the next request
    return s.error();
  }
  return answer;
}

Status SockDiag::ReceiveAnswer(RequestKind kind, Answer& answer) {
  const auto deadline = std::chrono::steady_clock::now() + 2 * options_.timeout;
  const size_t max_receives = options_.max_dump_entries + 16;
  for (size_t i = 0; i < max_receives; ++i) {
    if (std::chrono::steady_clock::now() > deadline) return Error{"sock_diag: answer took too long"};
    const ssize_t n = mnl_socket_recvfrom(socket_.get(), buffer_.data(), buffer_.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return Error{"sock_diag: no answer (timeout)", ETIMEDOUT};
      return Error::FromErrno("sock_diag: receive");
    }
    int len = static_cast<int>(n);
    for (auto* nlh = reinterpret_cast<const nlmsghdr*>(buffer_.data()); mnl_nlmsg_ok(nlh, len);
         nlh = mnl_nlmsg_next(nlh, &len)) {
      if (nlh->nlmsg_seq != seq_ || nlh->nlmsg_pid != portid_) continue;  // stale answer
      if (nlh->nlmsg_type == NLMSG_DONE) return OkStatus();
      if (nlh->nlmsg_type == NLMSG_ERROR) {
        if (mnl_nlmsg_get_payload_len(nlh) < sizeof(nlmsgerr)) return Error{"sock_diag: short error message"};
        const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
        if (err->error == -ENOENT && kind == RequestKind::kExact) {
          answer.missing = true;
          return OkStatus();
        }
        return Error::FromErrno("sock_diag: kernel answered", -err->error);
      }
      if (nlh->nlmsg_type != SOCK_DIAG_BY_FAMILY) continue;
      if (mnl_nlmsg_get_payload_len(nlh) < sizeof(inet_diag_msg)) return Error{"sock_diag: short inet_diag_msg"};
      inet_diag_msg msg;
      std::memcpy(&msg, mnl_nlmsg_get_payload(nlh), sizeof(msg));
      answer.entries.push_back(ToEntry(msg, 0));
      if (kind == RequestKind::kExact) return OkStatus();
      if (answer.entries.size() > options_.max_dump_entries) {
        return Error{"sock_diag: dump has more than " + std::to_string(options_.max_dump_entries) + " sockets"};
      }
    }
  }
  return Error{"sock_diag: answer did not end"};
}

Result<std::optional<SocketEntry>> SockDiag::LookupExact(const SocketKey& key, int family) {
  inet_diag_req_v2 req{};
  req.sdiag_family = static_cast<uint8_t>(family);
  req.sdiag_protocol = ProtocolNumber(key.protocol);
  req.idiag_states = ~0u;
  const bool receive_side = ReceiveOrientation(key.protocol);
  const IpAddress& src = receive_side ? key.remote : key.local;
  const IpAddress& dst = receive_side ? key.local : key.remote;
  if (!PutAddress(src, family, req.id.idiag_src) || !PutAddress(dst, family, req.id.idiag_dst)) {
    return std::optional<SocketEntry>();
  }
  req.id.idiag_sport = htons(receive_side ? key.remote_port : key.local_port);
  req.id.idiag_dport = htons(receive_side ? key.local_port : key.remote_port);
  req.id.idiag_if = key.ifindex;
  req.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
  req.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
  auto answer = Exchange(RequestKind::kExact, req);
  if (!answer.ok()) return answer.error();
  if (answer->missing || answer->entries.empty()) return std::optional<SocketEntry>();
  SocketEntry entry = answer->entries.front();
  entry.query_family = static_cast<uint8_t>(family);
  return std::optional<SocketEntry>(entry);
}

Result<std::optional<SocketEntry>> SockDiag::LookupByLocalPort(const SocketKey& key, int family) {
  inet_diag_req_v2 req{};
  req.sdiag_family = static_cast<uint8_t>(family);
  req.sdiag_protocol = ProtocolNumber(key.protocol);
  req.idiag_states = ~0u;
  req.id.idiag_sport = htons(key.local_port);
  req.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
  req.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
  auto answer = Exchange(RequestKind::kDump, req);
  if (!answer.ok()) return answer.error();
  const SocketEntry* best = nullptr;
  int best_score = -1;
  bool tie = false;
  for (const SocketEntry& entry : answer->entries) {
    const int score = MatchScore(entry, key);
    if (score < 0) continue;
    if (score > best_score) {
      best = &entry;
      best_score = score;
      tie = false;
    } else if (score == best_score && entry.inode != best->inode) {
      tie = true;
    }
  }
  if (best == nullptr || tie) return std::optional<SocketEntry>();
  SocketEntry entry = *best;
  entry.query_family = static_cast<uint8_t>(family);
  entry.from_dump = true;
  return std::optional<SocketEntry>(entry);
}

Result<std::optional<SocketEntry>> SockDiag::Lookup(const SocketKey& key) {
  if (!Supports(key.protocol)) {
    return Error{"sock_diag: no lookup for protocol " + std::to_string(ProtocolNumber(key.protocol))};
  }
  static constexpr int kV4Families[] = {AF_INET, AF_INET6};  // dual-stack sockets answer both
  static constexpr int kV6Families[] = {AF_INET6};
  const bool v4 = key.local.is_v4() && key.remote.is_v4();
  const std::span<const int> families = v4 ? std::span<const int>(kV4Families) : std::span<const int>(kV6Families);
  for (int family : families) {
    auto found = LookupExact(key, family);
    if (!found.ok() || found->has_value()) return found;
  }
  if (!ReceiveOrientation(key.protocol)) return std::optional<SocketEntry>();
  for (int family : families) {
    auto found = LookupByLocalPort(key, family);
    if (!found.ok() || found->has_value()) return found;
  }
  return std::optional<SocketEntry>();
}

}  // namespace picket
