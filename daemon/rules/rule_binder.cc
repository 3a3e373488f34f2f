#include "rules/rule_binder.h"

#include <functional>

namespace picket {
namespace {

std::string ChildPath(const std::string& path, size_t index) {
  return path + ".list[" + std::to_string(index) + "]";
}

// Visits every leaf operator with its JSON path; stops at the first error.
std::optional<RuleParseError> ForEachLeaf(
    Operator& op, const std::string& path,
    const std::function<std::optional<RuleParseError>(Operator&, const std::string&)>& visit) {
  if (op.type != OperatorType::kList) return visit(op, path);
  for (size_t i = 0; i < op.list.size(); ++i) {
    if (auto error = ForEachLeaf(op.list[i], ChildPath(path, i), visit)) return error;
  }
  return std::nullopt;
}

}  // namespace

std::optional<RuleParseError> ResolveUserNames(Rule& rule, UserDirectory& users) {
  return ForEachLeaf(rule.op, "operator", [&users](Operator& op, const std::string& path) -> std::optional<RuleParseError> {
    if (op.operand != Operand::kUserName) return std::nullopt;
    if (op.type == OperatorType::kRegexp) {
      op.users = users.AllUsers();
      return std::nullopt;
    }
    if (op.type != OperatorType::kSimple) return std::nullopt;
    std::optional<uint32_t> uid = users.LookupUid(op.data);
    if (!uid.has_value()) return RuleParseError{path + ".data", "no user named '" + op.data + "'"};
    op.number = uid;
    return std::nullopt;
  });
}

std::optional<RuleParseError> BindLists(Rule& rule, ListStore& lists, std::vector<ListWarning>* warnings) {
  return ForEachLeaf(rule.op, "operator",
                     [&lists, warnings](Operator& op, const std::string& path) -> std::optional<RuleParseError> {
                       if (op.type != OperatorType::kLists) return std::nullopt;
                       const std::optional<ListKind> kind = ListKindOf(op.operand);
                       if (!kind.has_value()) return std::nullopt;
                       auto data = lists.Get(*kind, op.data);
                       if (!data.ok()) return RuleParseError{path + ".data", data.error().message};
                       op.list_data = *data;
                       if (warnings != nullptr) {
                         for (ListWarning& warning : lists.Warnings(*kind, op.data)) warnings->push_back(std::move(warning));
                       }
                       return std::nullopt;
                     });
}

bool UsesLists(const Operator& op) {
  if (op.type == OperatorType::kLists) return true;
  for (const Operator& child : op.list) {
    if (UsesLists(child)) return true;
  }
  return false;
}

void ListDirectories(const Operator& op, std::vector<std::string>& out) {
  if (op.type == OperatorType::kLists) out.push_back(op.data);
  for (const Operator& child : op.list) ListDirectories(child, out);
}

}  // namespace picket
