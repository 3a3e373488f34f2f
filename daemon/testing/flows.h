// Test-only builders of the values unit tests feed the decision pipeline: IP addresses, a Flow from
// the test client address to a destination, and the Attribution of a process, the kernel or an
// unknown owner. Anything more a test needs it sets on the returned value:
//
//   Flow flow = MakeFlow(Protocol::kTcp, "198.18.0.2", 443, /*uid=*/1000);
//   flow.src_port = 40001;
//   Attribution curl = ProcessAttribution(10, "/usr/bin/curl", {"curl", "https://example.org/"});
//
// Header-only, linked into tests through the INTERFACE library picket_test_flows (never into
// picketd). Ownership: returns values. Thread-safety: pure functions (Ip reports a bad address as a
// GoogleTest failure).
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "netfilter/flow.h"
#include "process/process_info.h"

namespace picket::testing_util {

inline IpAddress Ip(const std::string& text) {
  Result<IpAddress> address = IpAddress::Parse(text);
  EXPECT_TRUE(address.ok()) << text;
  return address.ok() ? *address : IpAddress();
}

// From 198.18.0.1 (2001:2::1 for an IPv6 `dst`) port 40000.
inline Flow MakeFlow(Protocol protocol, const std::string& dst, uint16_t dst_port,
                     std::optional<uint32_t> uid = std::nullopt) {
  Flow flow;
  flow.protocol = protocol;
  flow.dst = Ip(dst);
  flow.src = flow.dst.is_v4() ? Ip("198.18.0.1") : Ip("2001:2::1");
  flow.src_port = 40000;
  flow.dst_port = dst_port;
  flow.uid = uid;
  return flow;
}

// Method "test"; the process's uid and the socket's are both `uid` (the process's 0 when nullopt).
inline Attribution ProcessAttribution(pid_t pid, const std::string& exe, std::vector<std::string> argv,
                                      std::optional<uint32_t> uid = 1000) {
  Attribution who;
  who.kind = AttributionKind::kProcess;
  ProcessInfo process;
  process.pid = pid;
  process.uid = uid.value_or(0);
  process.exe_path = exe;
  process.argv = std::move(argv);
  who.process = std::move(process);
  who.uid = uid;
  who.method = "test";
  return who;
}

inline Attribution KernelAttribution() {
  Attribution who;
  who.kind = AttributionKind::kKernel;
  return who;
}

inline Attribution UnknownAttribution(std::optional<uint32_t> uid = std::nullopt) {
  Attribution who;
  who.kind = AttributionKind::kUnknown;
  who.uid = uid;
  who.detail = "test";
  return who;
}

}  // namespace picket::testing_util
