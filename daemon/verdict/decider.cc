#include "verdict/decider.h"

#include <cstdio>

namespace picket {
namespace {

std::string Endpoint(const IpAddress& address, uint16_t port) {
  const IpAddress a = address.Normalized();
  std::string out = a.is_v4() ? a.ToString() : "[" + a.ToString() + "]";
  out += ':';
  out += std::to_string(port);
  return out;
}

std::string OptionalNumber(const std::optional<uint32_t>& n) { return n ? std::to_string(*n) : "-"; }

}  // namespace

Decision Decider::Decide(const RuleSet& rules, const Connection& connection) const {
  const Rule* rule = rules.Match(connection);
  if (rule == nullptr) return Decision{default_action_, nullptr, true};
  return Decision{rule->action, rule, !rule->nolog};
}

namespace {

std::string Escape(std::string_view text, bool escape_space) {
  std::string out;
  out.reserve(text.size());
  for (unsigned char ch : text) {
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += static_cast<char>(ch);
    } else if (ch < 0x20 || ch == 0x7f || (escape_space && ch == ' ')) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", ch);
      out += buf;
    } else {
      out += static_cast<char>(ch);
    }
  }
  return out;
}

}  // namespace

std::string EscapeForLog(std::string_view text) { return Escape(text, /*escape_space=*/false); }
std::string EscapeToken(std::string_view text) { return Escape(text, /*escape_space=*/true); }

std::string DecisionLine(const Decision& decision, const Flow& flow, const Attribution& attribution) {
  std::string line = "decision verdict=";
  line += ActionName(decision.action);
  line += " rule=";
  line += EscapeToken(decision.rule_name());
  line += " proto=";
  line += flow.protocol_name();
  line += " dst=" + Endpoint(flow.dst, flow.dst_port);
  line += " src=" + Endpoint(flow.src, flow.src_port);
  const ProcessInfo* p = attribution.process ? &*attribution.process : nullptr;
  line += " pid=" + (p != nullptr ? std::to_string(p->pid) : std::string("-"));
  line += " uid=" + (p != nullptr ? std::to_string(p->uid) : OptionalNumber(attribution.uid ? attribution.uid : flow.uid));
  line += " exe=";
  switch (attribution.kind) {
    case AttributionKind::kProcess: line += EscapeToken(p->exe_path) + (p->exe_deleted ? "(deleted)" : ""); break;
    case AttributionKind::kKernel: line += "kernel"; break;
    case AttributionKind::kUnknown: line += "unknown"; break;
  }
  line += " cmd=\"" + (p != nullptr ? EscapeForLog(p->Command()) : std::string()) + "\"";
  line += " via=";
  line += attribution.method;
  if (attribution.kind == AttributionKind::kProcess && attribution.evidence == AttributionEvidence::kInferred) {
    line += " inferred=yes";
  }
  if (attribution.kind == AttributionKind::kUnknown && !attribution.detail.empty()) {
    line += " why=\"" + EscapeForLog(attribution.detail) + "\"";
  }
  return line;
}

}  // namespace picket
