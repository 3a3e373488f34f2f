// Fuzz target: the DNS parsers must never crash, hang or read out of bounds on any bytes; every
// rejection carries a reason, and what is accepted is self-consistent (names within RFC bounds,
// resolved addresses drawn from the parsed records).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "dns/dns_message.h"

namespace {

void CheckName(const std::string& name) {
  if (name.size() > picket::kMaxDnsNameWireBytes) std::abort();
  for (char c : name) {
    if (c >= 'A' && c <= 'Z') std::abort();  // names are lowercased
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> bytes(data, size);
  auto query = picket::ParseDnsQuery(bytes);
  if (query.ok()) {
    CheckName(query->name);
  } else if (query.error().message.empty()) {
    std::abort();
  }
  auto response = picket::ParseDnsResponse(bytes);
  if (response.ok()) {
    CheckName(response->question.name);
    for (const auto& r : response->records) CheckName(r.name);
    const picket::DnsResolution resolution = picket::ResolveAnswers(*response);
    for (const auto& a : resolution.addresses) {
      const bool found = std::any_of(response->records.begin(), response->records.end(),
                                     [&](const picket::DnsRecord& r) { return r.address == a.address; });
      if (!found) std::abort();
    }
  } else if (response.error().message.empty()) {
    std::abort();
  }
  auto tcp = picket::DnsOverTcpMessage(bytes);
  if (tcp.ok() && tcp->size() + 2 > size) std::abort();
  return 0;
}
