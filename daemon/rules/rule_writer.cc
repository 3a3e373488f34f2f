#include "rules/rule_writer.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QString>

#include "rules/file_io.h"

namespace picket {
namespace {

QString Q(std::string_view text) {
  return QString::fromUtf8(text.data(), static_cast<qsizetype>(text.size()));
}

QJsonObject OperatorToJson(const Operator& op) {
  QJsonObject json;
  json.insert("type", Q(OperatorTypeName(op.type)));
  json.insert("operand", Q(op.operand_name.empty() ? OperandName(op.operand) : std::string_view(op.operand_name)));
  json.insert("sensitive", op.sensitive);
  if (op.type == OperatorType::kList) {
    QJsonArray list;
    for (const Operator& child : op.list) list.append(OperatorToJson(child));
    json.insert("list", list);
    json.insert("data", QString());
  } else {
    json.insert("data", Q(op.data));
  }
  return json;
}

std::string ToBytes(const QJsonDocument& doc) {
  std::string bytes = doc.toJson(QJsonDocument::Indented).toStdString();
  if (bytes.empty() || bytes.back() != '\n') bytes += '\n';
  return bytes;
}

}  // namespace

QJsonObject RuleToJson(const Rule& rule) {
  QJsonObject json;
  json.insert("name", Q(rule.name));
  json.insert("description", Q(rule.description));
  json.insert("enabled", rule.enabled);
  json.insert("precedence", rule.precedence);
  json.insert("action", Q(ActionName(rule.action)));
  json.insert("duration", Q(rule.duration.empty() ? std::string_view("always") : std::string_view(rule.duration)));
  json.insert("nolog", rule.nolog);
  json.insert("created", Q(rule.created));
  json.insert("updated", Q(rule.updated));
  json.insert("operator", OperatorToJson(rule.op));
  return json;
}

std::string SerializeRule(const Rule& rule) { return ToBytes(QJsonDocument(RuleToJson(rule))); }

std::string SerializeRules(const std::vector<Rule>& rules) {
  QJsonArray array;
  for (const Rule& rule : rules) array.append(RuleToJson(rule));
  return ToBytes(QJsonDocument(array));
}

Status SaveRuleFile(const std::string& dir, const Rule& rule) {
  return WriteFileAtomically(JoinDirAndName(dir, rule.name + ".json"), SerializeRule(rule), 0600);
}

}  // namespace picket
