// NfQueue: one NFQUEUE queue bound over a netlink socket (libmnl + libnetfilter_queue message
// helpers). Reads queued packets without blocking, parses them into Flows, and sends verdicts in
// batches.
//
// Contract: every packet handed to the ReadAvailable handler must get exactly one verdict through
// AddVerdict (+ SendVerdicts), INCLUDING packets whose `flow` failed to parse — the kernel holds
// each queued packet until it gets a verdict (or the queue is unbound), so a missed verdict stalls
// that connection. Deciding what a parse failure means (accept or drop) is the caller's job.
//
// Ownership: owns its netlink socket. Destroying the NfQueue sends any pending verdicts, then
// unbinds the queue; packets still waiting in the kernel without a verdict are then dropped.
// Thread-safety: none; use from the event-loop thread only.
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "netfilter/fail_mode.h"
#include "netfilter/flow.h"

struct mnl_socket;
struct nlmsghdr;

namespace picket {

enum class Verdict : uint8_t { kAccept, kDrop };

struct QueueOptions {
  uint16_t queue_num = 0;
  uint32_t copy_range =
      160;                  // bytes of each packet copied to userspace (only what the parser needs)
  uint32_t max_len = 4096;  // kernel queue length (NFQA_CFG_QUEUE_MAXLEN)
  // kOpen sets NFQA_CFG_F_FAIL_OPEN: packets that do not fit the queue (or the socket buffer) are
  // accepted by the kernel instead of dropped.
  FailMode fail_mode = FailMode::kOpen;
  uint32_t socket_buffer_bytes = 8u << 20;  // SO_RCVBUF(FORCE) of the netlink socket
};

struct QueuedPacket {
  uint32_t id = 0;    // packet id for the verdict
  uint32_t mark = 0;  // NFQA_MARK (0 when absent)
  // Parsed packet with uid/gid (absent = no user socket), in/out ifindex and interface names; or
  // the reason it could not be parsed. Either way the packet needs a verdict.
  Result<Flow> flow = Error{"no payload"};
  // The transport payload of the captured bytes (after the TCP/UDP header; see ParsePacketWithPayload),
  // e.g. a DNS message. Points into the queue's receive buffer: valid only during the handler call.
  std::span<const uint8_t> payload;
  uint32_t tcp_seq = 0;   // TCP: sequence number and flags byte (see ParsedPacket)
  uint8_t tcp_flags = 0;
};

struct QueueCounters {
  uint64_t packets = 0;          // packet messages handed to the handler
  uint64_t parse_errors = 0;     // ... of which the flow failed to parse (or had no payload)
  uint64_t verdicts = 0;         // verdict messages sent
  uint64_t verdict_batches = 0;  // sendmsg calls that carried them
  uint64_t enobufs = 0;          // ENOBUFS from recv: the kernel could not deliver packets
  uint64_t netlink_errors = 0;   // error messages from the kernel (e.g. verdict for unknown id)
};

class NfQueue {
 public:
  // Opens a netlink socket, binds queue `options.queue_num` and configures it in one message:
  // copy mode packet with `copy_range`, queue length `max_len`, flags NFQA_CFG_F_UID_GID and
  // NFQA_CFG_F_GSO (+ NFQA_CFG_F_FAIL_OPEN for kOpen). Waits (at most 2 s) for the kernel's answer.
  // Error names the queue number and errno; EPERM/EBUSY mean another socket holds the queue.
  static Result<std::unique_ptr<NfQueue>> Open(const QueueOptions& options);

  NfQueue(const NfQueue&) = delete;
  NfQueue& operator=(const NfQueue&) = delete;
  ~NfQueue();

  // The netlink socket (non-blocking), for QSocketNotifier / poll. Owned by this object.
  int fd() const;

  // Reads the messages available now without blocking (at most kMaxMessagesPerRead per call; the
  // fd stays readable when more are waiting) and calls `handler` once per packet, in order.
  // Several messages per recvmmsg; a call that returns fewer than it asked for ends the read
  // (the queue was empty then), so a lone packet costs one receive syscall, not two.
  // ENOBUFS is counted and reading continues. Returns the number of packets handled, or an error
  // when recv fails otherwise.
  Result<size_t> ReadAvailable(const std::function<void(const QueuedPacket&)>& handler);

  // Adds a verdict to the pending batch; with `mark` the packet's mark is set to it (NFQA_MARK).
  void AddVerdict(uint32_t id, Verdict verdict, std::optional<uint32_t> mark);

  // Sends every pending verdict, several verdict messages per sendmsg (one call unless the batch
  // exceeds kMaxBatchBytes). The batch is cleared even on error (the kernel drops packets whose
  // verdicts never arrive when the queue is unbound).
  Status SendVerdicts();

  size_t pending_verdicts() const { return pending_count_; }
  const QueueCounters& counters() const { return counters_; }
  uint16_t queue_num() const { return options_.queue_num; }

  static constexpr size_t kMaxMessagesPerRead = 4096;
  static constexpr size_t kMaxBatchBytes = 64u << 10;
  // Receive buffers of one recvmmsg, in bytes (at least one buffer; 15 for the 160-byte copy range).
  static constexpr size_t kReceiveBatchBytes = 128u << 10;

 private:
  struct IfaceName {
    uint32_t ifindex = 0;
    std::string name;
    std::chrono::steady_clock::time_point resolved;
  };

  using Handler = std::function<void(const QueuedPacket&)>;
  struct SocketCloser {
    void operator()(mnl_socket* socket) const;
  };

  NfQueue(mnl_socket* socket, const QueueOptions& options);
  Status SetReceiveBuffer();
  Status Configure();
  Status AwaitConfigAck(uint32_t seq);
  void KeepForLater(const nlmsghdr* nlh);
  size_t HandleMessages(const char* data, size_t length, const Handler& handler);
  // One recvmmsg of up to batch_ messages; handles them. Returns the messages received (0: none
  // waiting), or an error other than EAGAIN/EINTR/ENOBUFS.
  Result<size_t> ReceiveBatch(const Handler& handler, size_t* handled);
  std::optional<QueuedPacket> DecodePacket(const nlmsghdr* nlh);
  void HandleError(const nlmsghdr* nlh);
  void SendUnbind();
  std::string InterfaceName(uint32_t ifindex);

  std::unique_ptr<mnl_socket, SocketCloser> socket_;
  QueueOptions options_;
  uint32_t seq_ = 0;
  std::vector<char> recv_buffer_;
  size_t batch_ = 1;                 // messages per recvmmsg (receive buffers of recv_buffer_'s size)
  std::vector<char> batch_buffers_;  // batch_ buffers of recv_buffer_'s size, back to back
  std::vector<iovec> batch_iov_;     // one per buffer
  std::vector<mmsghdr> batch_msgs_;  // one per buffer, for recvmmsg
  // Messages that arrived while Open waited for the configuration ACK; handled first.
  std::vector<std::vector<char>> backlog_;
  std::vector<char> pending_;  // verdict messages, back to back
  size_t pending_count_ = 0;
  QueueCounters counters_;
  std::vector<IfaceName> iface_cache_;
};

}  // namespace picket
