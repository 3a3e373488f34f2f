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
  }
  return "?";
}

}  // namespace picket
