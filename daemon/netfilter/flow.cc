#include "netfilter/flow.h"

namespace picket {

std::string_view ProtocolName(Protocol protocol, IpFamily family) {
  const bool v6 = family == IpFamily::kV6;
  switch (protocol) {
    case Protocol::kTcp: return v6 ? "tcp6" : "tcp";
    case Protocol::kUdp: return v6 ? "udp6" : "udp";
    case Protocol::kUdpLite: return v6 ? "udplite6" : "udplite";
    case Protocol::kSctp: return v6 ? "sctp6" : "sctp";
    case Protocol::kIcmp: return "icmp";
    case Protocol::kIcmpV6: return "icmp6";
  }
  return "?";
}

}  // namespace picket
