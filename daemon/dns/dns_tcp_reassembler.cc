#include "dns/dns_tcp_reassembler.h"

#include <algorithm>

namespace picket {
namespace {

constexpr size_t kPrefixBytes = 2;
constexpr auto kExpireEvery = std::chrono::seconds(1);

size_t MessageLength(std::span<const uint8_t> prefix) { return (size_t{prefix[0]} << 8) | prefix[1]; }

}  // namespace

size_t DnsTcpReassembler::KeyHash::operator()(const DnsTcpStreamKey& key) const {
  // FNV-1a over both addresses and ports.
  uint64_t h = 1469598103934665603ull;
  auto mix = [&h](uint8_t byte) {
    h ^= byte;
    h *= 1099511628211ull;
  };
  for (uint8_t b : key.server.bytes()) mix(b);
  for (uint8_t b : key.client.bytes()) mix(b);
  for (uint16_t port : {key.server_port, key.client_port}) {
    mix(static_cast<uint8_t>(port >> 8));
    mix(static_cast<uint8_t>(port));
  }
  return static_cast<size_t>(h);
}

DnsTcpReassembler::DnsTcpReassembler(DnsTcpReassemblerOptions options) : options_(options) {
  options_.max_streams = std::max<size_t>(options_.max_streams, 1);
}

void DnsTcpReassembler::Feed(const DnsTcpSegment& segment, Clock::time_point now, const MessageSink& sink) {
  ++counters_.segments;
  if (now - last_expire_ >= kExpireEvery) Expire(now);
  const bool closes = segment.fin || segment.rst;
  auto it = streams_.find(segment.stream);
  if (it == streams_.end() && closes && segment.payload.empty()) return;  // nothing known, nothing to end
  Stream* stream = StreamFor(segment, now);
  stream->last_seen = now;
  if (std::optional<std::span<const uint8_t>> bytes = NewBytes(*stream, segment); bytes && !bytes->empty()) {
    Consume(*stream, *bytes, sink);
  }
  if (closes) {
    if (!stream->dropped && !stream->pending.empty()) ++counters_.closed_incomplete;
    Erase(streams_.find(segment.stream));
  }
}

DnsTcpReassembler::Stream* DnsTcpReassembler::StreamFor(const DnsTcpSegment& segment, Clock::time_point now) {
  auto it = streams_.find(segment.stream);
  if (it != streams_.end() && !segment.syn) return &it->second;
  // A SYN starts the stream afresh (a new connection may reuse the tuple of an old one).
  if (it != streams_.end()) Erase(it);
  if (streams_.size() >= options_.max_streams) EvictIdlest();
  Stream& stream = streams_[segment.stream];
  stream.next_seq = segment.syn ? segment.seq + 1 : segment.seq;
  stream.last_seen = now;
  return &stream;
}

std::optional<std::span<const uint8_t>> DnsTcpReassembler::NewBytes(Stream& stream, const DnsTcpSegment& segment) {
  if (stream.dropped) {
    ++counters_.ignored_after_drop;
    return std::nullopt;
  }
  std::span<const uint8_t> payload = segment.payload;
  if (payload.empty()) return payload;
  const int32_t ahead = static_cast<int32_t>(segment.seq - stream.next_seq);
  if (ahead > 0) {
    Drop(stream, counters_.dropped_gap);
    return std::nullopt;
  }
  if (ahead < 0) {
    const size_t seen = static_cast<size_t>(-static_cast<int64_t>(ahead));
    ++counters_.retransmissions;
    if (seen >= payload.size()) return std::span<const uint8_t>();
    payload = payload.subspan(seen);
  }
  stream.next_seq += static_cast<uint32_t>(payload.size());
  return payload;
}

bool DnsTcpReassembler::Consume(Stream& stream, std::span<const uint8_t> bytes, const MessageSink& sink) {
  if (!stream.pending.empty()) {
    // Complete the length prefix, then the message, from the front of `bytes`.
    const size_t prefix_take = std::min(kPrefixBytes - std::min(stream.pending.size(), kPrefixBytes), bytes.size());
    size_t wanted = prefix_take;
    if (stream.pending.size() + prefix_take >= kPrefixBytes) {
      uint8_t prefix[kPrefixBytes];
      for (size_t i = 0; i < kPrefixBytes; ++i) prefix[i] = i < stream.pending.size() ? stream.pending[i] : bytes[i - stream.pending.size()];
      const size_t length = MessageLength(prefix);
      if (length > options_.max_message_bytes) {
        Drop(stream, counters_.dropped_too_large);
        return false;
      }
      wanted = std::min(kPrefixBytes + length - stream.pending.size(), bytes.size());
    }
    if (buffered_ + wanted > options_.max_total_bytes) {
      Drop(stream, counters_.dropped_total);
      return false;
    }
    stream.pending.insert(stream.pending.end(), bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(wanted));
    buffered_ += wanted;
    bytes = bytes.subspan(wanted);
    if (stream.pending.size() < kPrefixBytes ||
        stream.pending.size() < kPrefixBytes + MessageLength(stream.pending)) {
      return true;  // still incomplete: `bytes` is empty now
    }
    ++counters_.messages;
    ++counters_.reassembled;
    sink(std::span<const uint8_t>(stream.pending).subspan(kPrefixBytes));
    buffered_ -= stream.pending.size();
    stream.pending.clear();
  }
  // Whole messages straight from the segment, without copying.
  while (bytes.size() >= kPrefixBytes) {
    const size_t length = MessageLength(bytes);
    if (length > options_.max_message_bytes) {
      Drop(stream, counters_.dropped_too_large);
      return false;
    }
    if (bytes.size() < kPrefixBytes + length) break;
    ++counters_.messages;
    sink(bytes.subspan(kPrefixBytes, length));
    bytes = bytes.subspan(kPrefixBytes + length);
  }
  if (bytes.empty()) return true;
  if (buffered_ + bytes.size() > options_.max_total_bytes) {
    Drop(stream, counters_.dropped_total);
    return false;
  }
  stream.pending.assign(bytes.begin(), bytes.end());
  buffered_ += bytes.size();
  return true;
}

void DnsTcpReassembler::Drop(Stream& stream, uint64_t& reason) {
  ++reason;
  buffered_ -= stream.pending.size();
  stream.pending.clear();
  stream.pending.shrink_to_fit();
  stream.dropped = true;
}

void DnsTcpReassembler::Erase(std::unordered_map<DnsTcpStreamKey, Stream, KeyHash>::iterator it) {
  if (it == streams_.end()) return;
  buffered_ -= it->second.pending.size();
  streams_.erase(it);
}

void DnsTcpReassembler::EvictIdlest() {
  auto idlest = std::min_element(streams_.begin(), streams_.end(),
                                 [](const auto& a, const auto& b) { return a.second.last_seen < b.second.last_seen; });
  if (idlest == streams_.end()) return;
  ++counters_.dropped_streams;
  Erase(idlest);
}

void DnsTcpReassembler::Expire(Clock::time_point now) {
  last_expire_ = now;
  for (auto it = streams_.begin(); it != streams_.end();) {
    if (now - it->second.last_seen > options_.idle_timeout) {
      ++counters_.expired;
      buffered_ -= it->second.pending.size();
      it = streams_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace picket
