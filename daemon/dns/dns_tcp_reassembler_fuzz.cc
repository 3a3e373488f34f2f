// Fuzz target: the TCP DNS reassembler over a script of segments drawn from the input. It must never
// crash or read out of bounds; every message it hands out lies within what was fed, buffers stay
// within their bound and are all released when every stream has ended.
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "dns/dns_tcp_reassembler.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  picket::DnsTcpReassemblerOptions options;
  options.max_streams = 4;
  options.max_total_bytes = 4096;
  options.max_message_bytes = 1024;
  picket::DnsTcpReassembler reassembler(options);
  auto now = picket::DnsTcpReassembler::Clock::time_point(std::chrono::seconds(1000));
  size_t fed = 0;
  size_t handed_out = 0;
  // Each segment: 1 byte (stream 0..3 in bits 0-1, flags SYN/FIN/RST in bits 2-4, clock step in
  // bits 5-7), 2 bytes sequence delta, 1 byte payload length, then the payload.
  size_t pos = 0;
  uint32_t seq[4] = {0, 0, 0, 0};
  while (pos + 4 <= size) {
    const uint8_t control = data[pos];
    const uint32_t delta = (uint32_t{data[pos + 1]} << 8) | data[pos + 2];
    const size_t length = std::min<size_t>(data[pos + 3], size - pos - 4);
    const unsigned stream = control & 3u;
    picket::DnsTcpSegment segment;
    static constexpr uint8_t kServer[4] = {198, 18, 0, 2};
    static constexpr uint8_t kClient[4] = {198, 18, 0, 1};
    segment.stream.server = picket::IpAddress::V4(kServer);
    segment.stream.client = picket::IpAddress::V4(kClient);
    segment.stream.server_port = 53;
    segment.stream.client_port = static_cast<uint16_t>(40000 + stream);
    seq[stream] += delta - 0x8000u;  // deltas in both directions: gaps, overlaps, retransmissions
    segment.seq = seq[stream];
    segment.syn = (control & 0x04) != 0;
    segment.fin = (control & 0x08) != 0;
    segment.rst = (control & 0x10) != 0;
    segment.payload = std::span<const uint8_t>(data + pos + 4, length);
    now += std::chrono::seconds(control >> 5);
    fed += length;
    reassembler.Feed(segment, now, [&](std::span<const uint8_t> message) {
      if (message.size() > options.max_message_bytes) std::abort();
      handed_out += message.size();
    });
    if (reassembler.buffered_bytes() > options.max_total_bytes) std::abort();
    if (reassembler.streams() > options.max_streams) std::abort();
    seq[stream] += static_cast<uint32_t>(length);
    pos += 4 + length;
  }
  if (handed_out > fed) std::abort();
  reassembler.Expire(now + std::chrono::hours(1));
  if (reassembler.streams() != 0 || reassembler.buffered_bytes() != 0) std::abort();
  return 0;
}
