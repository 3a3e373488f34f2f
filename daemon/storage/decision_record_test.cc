#include "storage/decision_record.h"

#include <gtest/gtest.h>

#include "testing/flows.h"

namespace picket {
namespace {

Flow TcpFlow() { return testing_util::MakeFlow(Protocol::kTcp, "2001:2::2", 443, /*uid=*/1000); }

TEST(DecisionRecord, ProcessDecisionCarriesEveryField) {
  Attribution a = testing_util::ProcessAttribution(4242, "/usr/bin/curl", {"curl", "-s", "https://api.example.org"});
  a.method = "sock_diag+procfs";
  ProcessInfo& p = *a.process;
  p.ancestors.push_back(AncestorInfo{100, "/usr/bin/bash"});
  p.digests.state = DigestState::kReady;
  p.digests.sha256 = "ab12";
  p.start_time_ns = 123456789;
  p.exec_ns = 123999999;
  const EventRecord r = MakeDecisionRecord(
      {.verdict = "deny", .decided_by = DecidedBy::kRule, .rule = "no-curl", .host = "api.example.org", .time_us = 7},
      TcpFlow(), a);
  EXPECT_EQ(r.time_us, 7);
  EXPECT_EQ(r.verdict, "deny");
  EXPECT_EQ(r.decided_by, DecidedBy::kRule);
  EXPECT_EQ(r.rule, "no-curl");
  EXPECT_EQ(r.protocol, "tcp6");
  EXPECT_EQ(r.src_ip, "2001:2::1");
  EXPECT_EQ(r.src_port, 40000);
  EXPECT_EQ(r.dst_ip, "2001:2::2");
  EXPECT_EQ(r.dst_port, 443);
  EXPECT_EQ(r.host, "api.example.org");
  EXPECT_EQ(r.uid, 1000u);
  EXPECT_EQ(r.pid, 4242);
  EXPECT_EQ(r.exe, "/usr/bin/curl");
  EXPECT_EQ(r.cmdline, "curl -s https://api.example.org");
  EXPECT_EQ(r.parent_exe, "/usr/bin/bash");
  EXPECT_EQ(r.digest, "sha256:ab12");
  EXPECT_EQ(r.exec_id, "4242:123456789:123999999");
  EXPECT_EQ(r.attribution, "process");
  EXPECT_EQ(r.method, "sock_diag+procfs");
}

TEST(DecisionRecord, ProcessReadOnlyFromProcHasNoExecId) {
  Attribution a = testing_util::ProcessAttribution(7, "/usr/bin/curl", {});
  a.method = "sock_diag+procfs";
  const EventRecord r = MakeDecisionRecord({.verdict = "allow", .decided_by = DecidedBy::kDefault, .rule = "", .host = "", .time_us = 1},
                                           TcpFlow(), a);
  EXPECT_EQ(r.exec_id, "");
}

TEST(DecisionRecord, KernelAndUnknownHaveNoProcessFields) {
  Attribution kernel;
  kernel.kind = AttributionKind::kKernel;
  const EventRecord k = MakeDecisionRecord({.verdict = "allow", .decided_by = DecidedBy::kDefault, .rule = "",
                                            .host = "", .time_us = 1},
                                           TcpFlow(), kernel);
  EXPECT_EQ(k.attribution, "kernel");
  EXPECT_FALSE(k.pid.has_value());
  EXPECT_FALSE(k.uid.has_value());
  EXPECT_EQ(k.exe, "");
  const EventRecord u = MakeUnparsedRecord({.verdict = "allow", .decided_by = DecidedBy::kUnparsed, .rule = "",
                                            .host = "", .time_us = 2});
  EXPECT_EQ(u.protocol, "unknown");
  EXPECT_EQ(u.decided_by, DecidedBy::kUnparsed);
}

}  // namespace
}  // namespace picket
