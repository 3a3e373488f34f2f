#include "netfilter/nfqueue.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <linux/netfilter.h>
#include <linux/netlink.h>
#include <net/if.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

#include "common/log.h"
#include "netfilter/packet_parser.h"

namespace picket {
namespace {

constexpr auto kConfigAckTimeout = std::chrono::seconds(2);
constexpr auto kInterfaceNameTtl = std::chrono::seconds(5);
constexpr size_t kInterfaceCacheSize = 32;
// nlmsghdr + nfgenmsg + NFQA_VERDICT_HDR + NFQA_MARK = 40 bytes; room to spare.
constexpr size_t kVerdictMessageBytes = 64;
// Packet message overhead beyond the copied payload (headers and metadata attributes).
constexpr size_t kPacketMessageOverhead = 8192;
constexpr uint16_t kPacketMessageType = (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET;

std::string QueueName(uint16_t queue_num) { return "NFQUEUE " + std::to_string(queue_num); }

// Logs a recurring condition on its 1st, 10th, 100th, ... occurrence.
bool ShouldLog(uint64_t count) {
  while (count >= 10 && count % 10 == 0) count /= 10;
  return count == 1;
}

uint32_t AttrBe32(const nlattr* attr) { return ntohl(mnl_attr_get_u32(attr)); }

std::string BindErrorHint(int err) {
  if (err == EPERM || err == EBUSY) return " (another program holds this queue)";
  return {};
}

}  // namespace

void NfQueue::SocketCloser::operator()(mnl_socket* socket) const { mnl_socket_close(socket); }

NfQueue::NfQueue(mnl_socket* socket, const QueueOptions& options)
    : socket_(socket),
      options_(options),
      recv_buffer_(std::min<size_t>(options.copy_range, 0xffff) + kPacketMessageOverhead),
      batch_(std::max<size_t>(1, kReceiveBatchBytes / recv_buffer_.size())),
      batch_buffers_(batch_ * recv_buffer_.size()),
      batch_iov_(batch_),
      batch_msgs_(batch_) {
  for (size_t i = 0; i < batch_; ++i) {
    batch_iov_[i] = iovec{batch_buffers_.data() + i * recv_buffer_.size(), recv_buffer_.size()};
    batch_msgs_[i].msg_hdr.msg_iov = &batch_iov_[i];
    batch_msgs_[i].msg_hdr.msg_iovlen = 1;
  }
}

Result<std::unique_ptr<NfQueue>> NfQueue::Open(const QueueOptions& options) {
  const std::string name = QueueName(options.queue_num);
  mnl_socket* socket = mnl_socket_open2(NETLINK_NETFILTER, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (socket == nullptr) return Error::FromErrno("open netlink socket for " + name);
  std::unique_ptr<NfQueue> queue(new NfQueue(socket, options));
  if (mnl_socket_bind(socket, 0, MNL_SOCKET_AUTOPID) < 0) {
    return Error::FromErrno("bind netlink socket for " + name);
  }
  if (auto status = queue->SetReceiveBuffer(); !status.ok()) return status.error();
  if (auto status = queue->Configure(); !status.ok()) return status.error();
  return queue;
}

NfQueue::~NfQueue() {
  if (pending_count_ > 0) {
    if (auto status = SendVerdicts(); !status.ok()) {
      PLOG(kWarn) << status.error().message;
    }
  }
  SendUnbind();
}

int NfQueue::fd() const { return mnl_socket_get_fd(socket_.get()); }

Status NfQueue::SetReceiveBuffer() {
  const int bytes = static_cast<int>(std::min<uint32_t>(options_.socket_buffer_bytes, INT_MAX));
  // SO_RCVBUFFORCE exceeds net.core.rmem_max (needs CAP_NET_ADMIN); SO_RCVBUF is capped by it.
  if (setsockopt(fd(), SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof(bytes)) == 0) return OkStatus();
  if (setsockopt(fd(), SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes)) == 0) return OkStatus();
  return Error::FromErrno("set receive buffer of " + QueueName(options_.queue_num) + " to " +
                          std::to_string(bytes) + " bytes");
}

// Binds and configures the queue in a single message so the kernel applies all of it at once.
Status NfQueue::Configure() {
  alignas(nlmsghdr) char buffer[512] = {};
  nlmsghdr* nlh = nfq_nlmsg_put(buffer, NFQNL_MSG_CONFIG, options_.queue_num);
  nlh->nlmsg_flags |= NLM_F_ACK;
  nlh->nlmsg_seq = ++seq_;
  nfq_nlmsg_cfg_put_cmd(nlh, AF_UNSPEC, NFQNL_CFG_CMD_BIND);
  nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, static_cast<int>(options_.copy_range));
  nfq_nlmsg_cfg_put_qmaxlen(nlh, options_.max_len);
  // GSO: Picket never rewrites packets, so super-packets need no segmenting or checksum first.
  uint32_t flags = NFQA_CFG_F_UID_GID | NFQA_CFG_F_GSO;
  if (options_.fail_mode == FailMode::kOpen) flags |= NFQA_CFG_F_FAIL_OPEN;
  const uint32_t mask = NFQA_CFG_F_UID_GID | NFQA_CFG_F_GSO | NFQA_CFG_F_FAIL_OPEN;
  mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(flags));
  mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(mask));
  if (mnl_socket_sendto(socket_.get(), nlh, nlh->nlmsg_len) < 0) {
    return Error::FromErrno("send bind request for " + QueueName(options_.queue_num));
  }
  return AwaitConfigAck(nlh->nlmsg_seq);
}

// Reads until the answer to `seq` arrives. Packets may be queued before it (the queue exists as
// soon as the kernel handled BIND); those messages are kept for the first ReadAvailable.
Status NfQueue::AwaitConfigAck(uint32_t seq) {
  const std::string name = QueueName(options_.queue_num);
  const auto deadline = std::chrono::steady_clock::now() + kConfigAckTimeout;
  while (true) {
    const ssize_t n = recv(fd(), recv_buffer_.data(), recv_buffer_.size(), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == ENOBUFS) {
        ++counters_.enobufs;
        continue;
      }
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        return Error::FromErrno("receive bind answer for " + name);
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      pollfd pfd{fd(), POLLIN, 0};
      if (left.count() <= 0 || poll(&pfd, 1, static_cast<int>(left.count())) == 0) {
        return Error{"bind " + name + ": no answer from the kernel within 2 s"};
      }
      continue;
    }
    std::optional<int> answer;
    int remaining = static_cast<int>(n);
    for (auto* nlh = reinterpret_cast<const nlmsghdr*>(recv_buffer_.data());
         mnl_nlmsg_ok(nlh, remaining); nlh = mnl_nlmsg_next(nlh, &remaining)) {
      if (nlh->nlmsg_type == NLMSG_ERROR && nlh->nlmsg_seq == seq) {
        answer = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh))->error;
      } else {
        KeepForLater(nlh);
      }
    }
    if (!answer) continue;
    if (*answer == 0) return OkStatus();
    const int err = -*answer;
    return Error{Error::FromErrno("bind " + name, err).message + BindErrorHint(err), err};
  }
}

void NfQueue::KeepForLater(const nlmsghdr* nlh) {
  const char* begin = reinterpret_cast<const char*>(nlh);
  backlog_.emplace_back(begin, begin + nlh->nlmsg_len);
}

Result<size_t> NfQueue::ReadAvailable(const Handler& handler) {
  size_t handled = 0;
  std::vector<std::vector<char>> backlog;
  backlog.swap(backlog_);
  for (const auto& message : backlog)
    handled += HandleMessages(message.data(), message.size(), handler);
  size_t received = 0;
  while (received < kMaxMessagesPerRead) {
    auto batch = ReceiveBatch(handler, &handled);
    if (!batch.ok()) return batch.error();
    received += *batch;
    // Fewer than asked for: the queue was empty when recvmmsg returned. A packet queued since then
    // keeps the fd readable, and an error met after the first message is reported by the next call.
    if (*batch < batch_) break;
  }
  return handled;
}

Result<size_t> NfQueue::ReceiveBatch(const Handler& handler, size_t* handled) {
  const size_t size = recv_buffer_.size();
  constexpr int kRetries = 8;  // EINTR / ENOBUFS, then the next wake-up goes on
  int n = -1;
  for (int attempt = 0; n < 0; ++attempt) {
    if (attempt == kRetries) return size_t{0};
    n = recvmmsg(fd(), batch_msgs_.data(), static_cast<unsigned>(batch_), MSG_DONTWAIT | MSG_TRUNC, nullptr);
    if (n >= 0) break;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return size_t{0};
    if (errno == EINTR) continue;
    if (errno == ENOBUFS) {
      if (ShouldLog(++counters_.enobufs)) {
        PLOG(kWarn) << QueueName(options_.queue_num) << ": kernel could not deliver packets (ENOBUFS), count "
                    << counters_.enobufs;
      }
      continue;
    }
    return Error::FromErrno("receive from " + QueueName(options_.queue_num));
  }
  for (int i = 0; i < n; ++i) {
    const size_t length = batch_msgs_[i].msg_len;  // the whole message's length (MSG_TRUNC)
    if (length > size) {
      ++counters_.netlink_errors;
      PLOG(kWarn) << QueueName(options_.queue_num) << ": message of " << length
                  << " bytes exceeds the receive buffer of " << size;
      continue;
    }
    *handled += HandleMessages(batch_buffers_.data() + static_cast<size_t>(i) * size, length, handler);
  }
  return static_cast<size_t>(n);
}

size_t NfQueue::HandleMessages(const char* data, size_t length, const Handler& handler) {
  size_t handled = 0;
  int remaining = static_cast<int>(length);
  for (auto* nlh = reinterpret_cast<const nlmsghdr*>(data); mnl_nlmsg_ok(nlh, remaining);
       nlh = mnl_nlmsg_next(nlh, &remaining)) {
    if (nlh->nlmsg_type == NLMSG_ERROR) {
      HandleError(nlh);
    } else if (nlh->nlmsg_type == kPacketMessageType) {
      auto packet = DecodePacket(nlh);
      if (!packet) continue;
      ++counters_.packets;
      if (!packet->flow.ok()) ++counters_.parse_errors;
      handler(*packet);
      ++handled;
    }
  }
  return handled;
}

// Returns nullopt when the message has no usable packet id: such a packet cannot get a verdict
// from us (the kernel drops it when the queue is unbound).
std::optional<QueuedPacket> NfQueue::DecodePacket(const nlmsghdr* nlh) {
  nlattr* attrs[NFQA_MAX + 1] = {};
  if (nfq_nlmsg_parse(nlh, attrs) < 0 || attrs[NFQA_PACKET_HDR] == nullptr) {
    ++counters_.netlink_errors;
    PLOG(kWarn) << QueueName(options_.queue_num) << ": packet message without a valid header";
    return std::nullopt;
  }
  const auto* header =
      static_cast<const nfqnl_msg_packet_hdr*>(mnl_attr_get_payload(attrs[NFQA_PACKET_HDR]));
  QueuedPacket packet;
  packet.id = ntohl(header->packet_id);
  if (attrs[NFQA_MARK] != nullptr) packet.mark = AttrBe32(attrs[NFQA_MARK]);
  if (attrs[NFQA_PAYLOAD] == nullptr) {
    packet.flow = Error{"queued packet has no payload"};
    return packet;
  }
  auto parsed = ParsePacketWithPayload(std::span<const uint8_t>(
      static_cast<const uint8_t*>(mnl_attr_get_payload(attrs[NFQA_PAYLOAD])),
      mnl_attr_get_payload_len(attrs[NFQA_PAYLOAD])));
  if (!parsed.ok()) {
    packet.flow = parsed.error();
    return packet;
  }
  packet.flow = std::move(parsed->flow);
  packet.payload = parsed->payload;
  packet.tcp_seq = parsed->tcp_seq;
  packet.tcp_flags = parsed->tcp_flags;
  Flow& flow = *packet.flow;
  if (attrs[NFQA_UID] != nullptr) flow.uid = AttrBe32(attrs[NFQA_UID]);
  if (attrs[NFQA_GID] != nullptr) flow.gid = AttrBe32(attrs[NFQA_GID]);
  if (attrs[NFQA_IFINDEX_INDEV] != nullptr) flow.in_ifindex = AttrBe32(attrs[NFQA_IFINDEX_INDEV]);
  if (attrs[NFQA_IFINDEX_OUTDEV] != nullptr) {
    flow.out_ifindex = AttrBe32(attrs[NFQA_IFINDEX_OUTDEV]);
  }
  flow.in_iface = InterfaceName(flow.in_ifindex);
  flow.out_iface = InterfaceName(flow.out_ifindex);
  return packet;
}

void NfQueue::HandleError(const nlmsghdr* nlh) {
  if (mnl_nlmsg_get_payload_len(nlh) < sizeof(nlmsgerr)) return;
  const int error = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh))->error;
  if (error == 0) return;  // an ACK
  if (ShouldLog(++counters_.netlink_errors)) {
    PLOG(kWarn) << QueueName(options_.queue_num)
                << ": kernel rejected a message: " << std::strerror(-error) << ", count "
                << counters_.netlink_errors;
  }
}

void NfQueue::AddVerdict(uint32_t id, Verdict verdict, std::optional<uint32_t> mark) {
  const size_t offset = pending_.size();
  pending_.resize(offset + kVerdictMessageBytes);
  nlmsghdr* nlh = nfq_nlmsg_put(pending_.data() + offset, NFQNL_MSG_VERDICT, options_.queue_num);
  nfq_nlmsg_verdict_put(nlh, static_cast<int>(id),
                        verdict == Verdict::kAccept ? NF_ACCEPT : NF_DROP);
  if (mark) nfq_nlmsg_verdict_put_mark(nlh, *mark);
  pending_.resize(offset + nlh->nlmsg_len);
  ++pending_count_;
}

Status NfQueue::SendVerdicts() {
  Status result;
  size_t start = 0;
  while (start < pending_.size()) {
    size_t end = start;
    size_t messages = 0;
    while (end < pending_.size()) {
      const auto* nlh = reinterpret_cast<const nlmsghdr*>(pending_.data() + end);
      if (messages > 0 && end - start + nlh->nlmsg_len > kMaxBatchBytes) break;
      end += nlh->nlmsg_len;
      ++messages;
    }
    if (mnl_socket_sendto(socket_.get(), pending_.data() + start, end - start) < 0) {
      result = Error::FromErrno("send " + std::to_string(pending_count_) + " verdicts to " +
                                QueueName(options_.queue_num));
      break;
    }
    ++counters_.verdict_batches;
    counters_.verdicts += messages;
    start = end;
  }
  pending_.clear();
  pending_count_ = 0;
  return result;
}

void NfQueue::SendUnbind() {
  alignas(nlmsghdr) char buffer[128] = {};
  nlmsghdr* nlh = nfq_nlmsg_put(buffer, NFQNL_MSG_CONFIG, options_.queue_num);
  nfq_nlmsg_cfg_put_cmd(nlh, AF_UNSPEC, NFQNL_CFG_CMD_UNBIND);
  // Best effort: closing the socket unbinds the queue as well.
  if (mnl_socket_sendto(socket_.get(), nlh, nlh->nlmsg_len) < 0) {
    PLOG(kDebug) << "unbind " << QueueName(options_.queue_num) << ": " << std::strerror(errno);
  }
}

std::string NfQueue::InterfaceName(uint32_t ifindex) {
  if (ifindex == 0) return {};
  const auto now = std::chrono::steady_clock::now();
  auto it = std::find_if(iface_cache_.begin(), iface_cache_.end(),
                         [ifindex](const IfaceName& entry) { return entry.ifindex == ifindex; });
  if (it != iface_cache_.end() && now - it->resolved < kInterfaceNameTtl) return it->name;
  char name[IF_NAMESIZE] = {};
  IfaceName entry{ifindex, if_indextoname(ifindex, name) != nullptr ? name : "", now};
  if (it != iface_cache_.end()) {
    *it = entry;
  } else if (iface_cache_.size() < kInterfaceCacheSize) {
    iface_cache_.push_back(entry);
  } else {
    *std::min_element(
        iface_cache_.begin(), iface_cache_.end(),
        [](const IfaceName& a, const IfaceName& b) { return a.resolved < b.resolved; }) = entry;
  }
  return entry.name;
}

}  // namespace picket
