#include "dns/dns_learner.h"

#include "dns/dns_message.h"

namespace picket {

size_t DnsLearner::Learn(DnsTransport transport, std::span<const uint8_t> payload, DnsCache::Clock::time_point now) {
  std::span<const uint8_t> message = payload;
  if (transport == DnsTransport::kTcp) {
    if (payload.empty()) {
      ++counters_.empty_segments;
      return 0;
    }
    auto unwrapped = DnsOverTcpMessage(payload);
    if (!unwrapped.ok()) {
      ++counters_.rejected;
      counters_.last_rejection = unwrapped.error().message;
      return 0;
    }
    message = *unwrapped;
  }
  auto response = ParseDnsResponse(message);
  if (!response.ok()) {
    ++counters_.rejected;
    counters_.last_rejection = response.error().message;
    return 0;
  }
  ++counters_.responses;
  const DnsResolution resolution = ResolveAnswers(*response);
  for (const ResolvedAddress& a : resolution.addresses) cache_->Add(a.address, resolution.name, a.ttl, now);
  counters_.addresses += resolution.addresses.size();
  return resolution.addresses.size();
}

std::optional<std::string> DnsLearner::QuestionName(std::span<const uint8_t> udp_payload) {
  auto question = ParseDnsQuery(udp_payload);
  if (!question.ok() || question->name.empty()) return std::nullopt;
  return std::move(question->name);
}

}  // namespace picket
