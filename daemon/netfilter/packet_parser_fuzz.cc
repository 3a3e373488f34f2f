// Fuzz target: ParsePacket must never crash, hang or read out of bounds on any bytes, and a parsed
// Flow must be self-consistent.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "netfilter/packet_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto flow = picket::ParsePacket(std::span<const uint8_t>(data, size));
  if (flow.ok()) {
    // The address family follows the IP version nibble.
    const bool v4 = (data[0] >> 4) == 4;
    if (flow->src.is_v4() != v4 || flow->dst.is_v4() != v4) std::abort();
  } else if (flow.error().message.empty()) {
    std::abort();
  }
  return 0;
}
