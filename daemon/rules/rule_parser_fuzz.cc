// Fuzz target: arbitrary bytes as a rule file. A rule that parses is also matched against a few
// fixed connections (with and without host names), so compiled operators and the rule index are
// exercised too. The same bytes are also read as a list file of every kind and looked up in.
// Must never crash or hang.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "rules/lists.h"
#include "rules/rule_parser.h"
#include "rules/rule_set.h"

namespace {

picket::IpAddress Address(std::string_view text) {
  picket::Result<picket::IpAddress> address = picket::IpAddress::Parse(text);
  return address.ok() ? *address : picket::IpAddress();
}

struct Sample {
  picket::Flow flow;
  picket::Attribution attribution;
};

std::vector<Sample> Samples() {
  std::vector<Sample> samples(3);
  samples[0].flow.protocol = picket::Protocol::kTcp;
  samples[0].flow.dst = Address("198.18.0.2");
  samples[0].flow.dst_port = 443;
  samples[0].flow.uid = 1000;
  samples[0].attribution.kind = picket::AttributionKind::kProcess;
  samples[0].attribution.process = picket::ProcessInfo{};
  samples[0].attribution.process->pid = 4242;
  samples[0].attribution.process->exe_path = "/usr/bin/curl";
  samples[0].attribution.process->argv = {"curl", "-s", "https://example.test/"};
  samples[0].attribution.uid = 1000;
  samples[1].flow.protocol = picket::Protocol::kIcmpV6;
  samples[1].flow.dst = Address("2001:2::1");
  samples[1].attribution.kind = picket::AttributionKind::kKernel;
  samples[2].flow.protocol = picket::Protocol::kUdp;
  samples[2].flow.dst = Address("::ffff:127.0.0.53");
  samples[2].flow.dst_port = 53;
  samples[2].attribution.kind = picket::AttributionKind::kUnknown;
  return samples;
}

void FuzzListFile(std::string_view bytes) {
  for (picket::ListKind kind : {picket::ListKind::kDomains, picket::ListKind::kDomainsRegexp, picket::ListKind::kIps,
                                picket::ListKind::kNets, picket::ListKind::kHashMd5, picket::ListKind::kHashSha256}) {
    const picket::ListFile file = picket::ParseListFile(kind, bytes);
    const picket::ListData list(kind, {&file});
    (void)list.ContainsDomain("ads.example.test");
    (void)list.MatchesDomain("www.example.test");
    (void)list.ContainsAddress(Address("198.18.0.2"));
    (void)list.ContainsDigest("900150983cd24fb0d6963f7d28e17f72");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::vector<Sample> samples = Samples();
  static const std::vector<std::string> hosts = {"www.example.test", "EXAMPLE.org."};
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  if (size <= 64 * 1024) FuzzListFile(bytes);
  picket::Result<picket::Rule> rule = picket::ParseRule(bytes);
  if (!rule.ok()) return 0;
  std::vector<picket::Rule> rules;
  rules.push_back(std::move(rule).value());
  picket::Result<picket::RuleSet> set = picket::RuleSet::FromRules(std::move(rules));
  if (!set.ok()) return 0;
  for (const Sample& sample : samples) {
    (void)set->Match(picket::Connection{sample.flow, sample.attribution});
    (void)set->Match(picket::Connection{sample.flow, sample.attribution, &hosts});
  }
  return 0;
}
