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
  return LearnMessage(message, now);
}

size_t DnsLearner::LearnTcpSegment(const DnsTcpSegment& segment, DnsCache::Clock::time_point now) {
  if (segment.payload.empty()) ++counters_.empty_segments;
  size_t learned = 0;
  tcp_.Feed(segment, now, [&](std::span<const uint8_t> message) { learned += LearnMessage(message, now); });
  return learned;
}

size_t DnsLearner::LearnMessage(std::span<const uint8_t> message, DnsCache::Clock::time_point now) {
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
