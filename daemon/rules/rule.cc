#include "rules/rule.h"

namespace picket {

std::string_view ActionName(Action action) {
  switch (action) {
    case Action::kAllow: return "allow";
    case Action::kDeny: return "deny";
    case Action::kReject: return "reject";
  }
  return "?";
}

std::string_view OperatorTypeName(OperatorType type) {
  switch (type) {
    case OperatorType::kSimple: return "simple";
    case OperatorType::kRegexp: return "regexp";
    case OperatorType::kList: return "list";
    case OperatorType::kNetwork: return "network";
    case OperatorType::kLists: return "lists";
    case OperatorType::kRange: return "range";
  }
  return "?";
}

std::string_view OperandName(Operand operand) {
  switch (operand) {
    case Operand::kTrue: return "true";
    case Operand::kProcessPath: return "process.path";
    case Operand::kProcessCommand: return "process.command";
    case Operand::kProcessId: return "process.id";
    case Operand::kUserId: return "user.id";
    case Operand::kDestIp: return "dest.ip";
    case Operand::kDestPort: return "dest.port";
    case Operand::kProtocol: return "protocol";
    case Operand::kList: return "list";
    case Operand::kUserName: return "user.name";
    case Operand::kSourceIp: return "source.ip";
    case Operand::kSourcePort: return "source.port";
    case Operand::kSourceNetwork: return "source.network";
    case Operand::kDestNetwork: return "dest.network";
    case Operand::kDestHost: return "dest.host";
    case Operand::kIfaceIn: return "iface.in";
    case Operand::kIfaceOut: return "iface.out";
    case Operand::kProcessContainer: return "process.container";
    case Operand::kProcessCgroup: return "process.cgroup";
    case Operand::kListsDomains: return "lists.domains";
    case Operand::kListsDomainsRegexp: return "lists.domains_regexp";
    case Operand::kListsIps: return "lists.ips";
    case Operand::kListsNets: return "lists.nets";
    case Operand::kListsHashMd5: return "lists.hash.md5";
    case Operand::kListsHashSha256: return "lists.hash.sha256";
    case Operand::kProcessParentPath: return "process.parent.path";
    case Operand::kProcessEnv: return "process.env";
    case Operand::kProcessHashMd5: return "process.hash.md5";
    case Operand::kProcessHashSha1: return "process.hash.sha1";
    case Operand::kProcessHashSha256: return "process.hash.sha256";
  }
  return "?";
}

}  // namespace picket
