#include "storage/decision_record.h"

#include <chrono>

namespace picket {

int64_t WallClockMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

namespace {

std::string_view AttributionName(AttributionKind kind) {
  switch (kind) {
    case AttributionKind::kProcess: return "process";
    case AttributionKind::kKernel: return "kernel";
    case AttributionKind::kUnknown: return "unknown";
  }
  return "unknown";
}

void FillFacts(const DecisionFacts& facts, EventRecord* r) {
  r->time_us = facts.time_us;
  r->verdict = facts.verdict;
  r->decided_by = facts.decided_by;
  r->rule = facts.rule;
  r->host = facts.host;
}

}  // namespace

EventRecord MakeDecisionRecord(const DecisionFacts& facts, const Flow& flow, const Attribution& attribution) {
  EventRecord r;
  FillFacts(facts, &r);
  r.protocol = flow.protocol_name();
  r.src_ip = flow.src.ToString();
  r.src_port = flow.src_port;
  r.dst_ip = flow.dst.ToString();
  r.dst_port = flow.dst_port;
  r.uid = attribution.uid;
  r.attribution = AttributionName(attribution.kind);
  r.method = attribution.method != nullptr ? attribution.method : "";
  if (attribution.process) {
    const ProcessInfo& p = *attribution.process;
    r.pid = p.pid;
    if (!r.uid) r.uid = p.uid;
    r.exe = p.exe_deleted ? p.exe_path + " (deleted)" : p.exe_path;
    r.cmdline = p.Command();
    r.exec_id = p.ExecIdText();
    if (!p.ancestors.empty()) r.parent_exe = p.ancestors.front().exe_path;
    if (p.digests.state == DigestState::kReady && !p.digests.sha256.empty()) r.digest = "sha256:" + p.digests.sha256;
  }
  return r;
}

EventRecord MakeUnparsedRecord(const DecisionFacts& facts) {
  EventRecord r;
  FillFacts(facts, &r);
  r.protocol = "unknown";
  r.attribution = "unknown";
  return r;
}

}  // namespace picket
