// DnsTcpReassembler: DNS responses over TCP (RFC 7766) put back together from the server's segments.
//
// A TCP stream from a DNS server carries messages each preceded by a 2-byte length; one message may
// span several segments and one segment may hold several messages. Feed() takes one segment of the
// server → client direction (its sequence number, flags and payload) and hands every message that
// is complete to the sink, without its length prefix. Pure: bytes in, messages out, no system calls.
//
// Per stream (server address+port, client address+port): the next expected sequence number and
// the bytes of the message not yet complete. A stream starts at the server's SYN (SYN-ACK); a
// stream first met in the middle (picketd started during it) is read from that segment on, as if a
// message started there (a wrong start fails to parse and is counted by the learner).
//   * a segment wholly before the expected sequence (a retransmission) is ignored; one that
//     overlaps it contributes only its new bytes;
//   * a segment after the expected sequence (a lost or reordered segment: a gap) drops the
//     stream's state, counted; its later segments are ignored until FIN/RST or expiry;
//   * FIN or RST ends the stream (an incomplete message then is counted);
//   * bounds: a message longer than `max_message_bytes`, a stream that would push the buffered
//     total over `max_total_bytes` → that stream is dropped, counted; more than `max_streams`
//     streams → the one idle longest is dropped, counted; streams idle for `idle_timeout` expire.
// Ownership: owns its buffers. Thread-safety: none; one thread (the event loop).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "common/ip_address.h"

namespace picket {

struct DnsTcpStreamKey {
  IpAddress server;
  IpAddress client;
  uint16_t server_port = 0;
  uint16_t client_port = 0;
  bool operator==(const DnsTcpStreamKey&) const = default;
};

struct DnsTcpSegment {
  DnsTcpStreamKey stream;
  uint32_t seq = 0;    // sequence number of the first payload byte (of the SYN for a SYN)
  bool syn = false;
  bool fin = false;
  bool rst = false;
  std::span<const uint8_t> payload;
};

struct DnsTcpReassemblerOptions {
  size_t max_streams = 512;
  size_t max_message_bytes = 65535;          // the largest a 2-byte length can announce
  size_t max_total_bytes = 4 * 1024 * 1024;  // buffered across all streams
  std::chrono::seconds idle_timeout{30};
};

struct DnsTcpReassemblerCounters {
  uint64_t segments = 0;
  uint64_t messages = 0;            // complete messages handed to the sink
  uint64_t reassembled = 0;         // ... of which spanned more than one segment
  uint64_t retransmissions = 0;     // segments (or parts) already seen, ignored
  uint64_t dropped_gap = 0;         // streams dropped: a segment after the expected sequence
  uint64_t dropped_too_large = 0;   // streams dropped: a message over max_message_bytes
  uint64_t dropped_total = 0;       // streams dropped: buffers over max_total_bytes
  uint64_t dropped_streams = 0;     // streams dropped: more than max_streams
  uint64_t expired = 0;             // streams idle for idle_timeout
  uint64_t closed_incomplete = 0;   // FIN/RST with part of a message buffered
  uint64_t ignored_after_drop = 0;  // segments of a dropped stream
};

class DnsTcpReassembler {
 public:
  using Clock = std::chrono::steady_clock;
  using MessageSink = std::function<void(std::span<const uint8_t> message)>;

  explicit DnsTcpReassembler(DnsTcpReassemblerOptions options = {});

  // Handles one server → client segment; `sink` receives each message completed by it, in order.
  void Feed(const DnsTcpSegment& segment, Clock::time_point now, const MessageSink& sink);
  // Drops streams idle for longer than the timeout (Feed does this at most once a second).
  void Expire(Clock::time_point now);

  size_t streams() const { return streams_.size(); }
  size_t buffered_bytes() const { return buffered_; }
  const DnsTcpReassemblerCounters& counters() const { return counters_; }

 private:
  struct KeyHash {
    size_t operator()(const DnsTcpStreamKey& key) const;
  };
  struct Stream {
    uint32_t next_seq = 0;
    bool dropped = false;            // state given up: later segments are ignored
    std::vector<uint8_t> pending;    // start of the message not yet complete (with its prefix)
    Clock::time_point last_seen{};
  };

  Stream* StreamFor(const DnsTcpSegment& segment, Clock::time_point now);
  // The new bytes of `segment` for `stream`, or nullopt after dropping the stream on a gap.
  std::optional<std::span<const uint8_t>> NewBytes(Stream& stream, const DnsTcpSegment& segment);
  // Splits `bytes` into messages; keeps an incomplete tail. False when the stream was dropped.
  bool Consume(Stream& stream, std::span<const uint8_t> bytes, const MessageSink& sink);
  void Drop(Stream& stream, uint64_t& reason);
  void Erase(std::unordered_map<DnsTcpStreamKey, Stream, KeyHash>::iterator it);
  void EvictIdlest();

  DnsTcpReassemblerOptions options_;
  std::unordered_map<DnsTcpStreamKey, Stream, KeyHash> streams_;
  size_t buffered_ = 0;
  Clock::time_point last_expire_{};
  DnsTcpReassemblerCounters counters_;
};

}  // namespace picket
