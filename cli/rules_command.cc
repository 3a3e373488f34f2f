// `picket rules`: check, list, export and import OpenSnitch-format rule files.
//
// Works on directories directly: `list` and `export` read the configured rules directory
// (--rules-dir, default /etc/picket/rules), so rules that exist only in a running picketd's memory
// (until restart, timed, made at a prompt) are not shown — except `list --socket`, which asks the
// running picketd (paged `rules list` requests).
#include <QByteArray>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QJsonParseError>
#include <cstdio>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "command.h"
#include "rules/file_io.h"
#include "rules/lists.h"
#include "rules/rule_binder.h"
#include "rules/rule_engine.h"
#include "rules/rule_parser.h"
#include "rules/rule_set.h"
#include "rules/rule_writer.h"
#include "rules/users.h"
#include "ui_client.h"

namespace picket::cli {
namespace {

constexpr const char* kDefaultRulesDir = "/etc/picket/rules";
constexpr size_t kMaxImportFileBytes = size_t{64} << 20;

constexpr const char* kHelp =
    "usage: picket rules check DIR [--strict]\n"
    "       picket rules list [--rules-dir DIR | --socket PATH] [--json]\n"
    "       picket rules export FILE [--rules-dir DIR]\n"
    "       picket rules import FILE|DIR [--rules-dir DIR] [--replace]\n"
    "\n"
    "  check DIR    Validate every rule file in DIR (and the list directories the rules use) the way\n"
    "               picketd loads them. Prints every problem as FILE: field 'FIELD': REASON.\n"
    "               Exit 0 when all files load, 1 when any file has an error. Warnings (e.g. lines\n"
    "               skipped in a list file) are printed too and fail only with --strict.\n"
    "  list         Print the rules of the rules directory in evaluation order. This reads the\n"
    "               directory (--rules-dir, default /etc/picket/rules); it does not ask a running\n"
    "               picketd, so rules that live only in its memory are not shown. --json prints\n"
    "               the rules as a JSON array. With --socket PATH (picketd's UI socket, e.g.\n"
    "               /run/picket/ui.sock) it asks the running picketd instead, page by page, and\n"
    "               shows every rule it has, also those only in its memory.\n"
    "  export FILE  Write every rule of the rules directory to FILE as one JSON array (- for\n"
    "               standard output). The file is written atomically with mode 0600.\n"
    "  import SRC   Add rules to the rules directory: SRC is an OpenSnitch (or Picket) rules\n"
    "               directory, whose files are copied as they are, or a file holding one rule or\n"
    "               an exported array. Everything is validated first; on any error nothing is\n"
    "               written. A rule whose name already exists is refused unless --replace.\n"
    "               Files are written atomically with mode 0600; a running picketd picks them up.\n";

struct Options {
  std::vector<std::string> positional;
  std::string rules_dir = kDefaultRulesDir;
  std::string socket;  // list: ask the running picketd on this UI socket
  bool json = false;
  bool strict = false;
  bool replace = false;
  bool help = false;
};

std::optional<Options> ParseOptions(const std::vector<std::string>& args, std::string& error) {
  Options options;
  for (size_t i = 2; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--json") {
      options.json = true;
    } else if (arg == "--strict") {
      options.strict = true;
    } else if (arg == "--replace") {
      options.replace = true;
    } else if (arg == "--help" || arg == "-h") {
      options.help = true;
    } else if (arg == "--rules-dir" && i + 1 < args.size()) {
      options.rules_dir = args[++i];
    } else if (arg == "--socket" && i + 1 < args.size()) {
      options.socket = args[++i];
    } else if (arg.rfind("--rules-dir=", 0) == 0) {
      options.rules_dir = arg.substr(12);
    } else if (arg.size() > 1 && arg[0] == '-' && arg != "-") {
      error = "unknown option '" + arg + "'";
      return std::nullopt;
    } else {
      options.positional.push_back(arg);
    }
  }
  return options;
}

int Usage(const std::string& error) {
  if (!error.empty()) std::fprintf(stderr, "picket rules: %s\n", error.c_str());
  std::fputs(kHelp, stderr);
  return 2;
}

std::string Quote(const std::string& text) { return "\"" + text + "\""; }

std::string DescribeOperator(const Operator& op) {
  if (op.type == OperatorType::kList) {
    std::string text;
    for (const Operator& child : op.list) {
      if (!text.empty()) text += " AND ";
      text += child.type == OperatorType::kList ? "(" + DescribeOperator(child) + ")" : DescribeOperator(child);
    }
    return text;
  }
  if (op.operand == Operand::kTrue) return "always";
  const std::string operand = op.operand_name.empty() ? std::string(OperandName(op.operand)) : op.operand_name;
  const std::string value = Quote(op.data) + (op.sensitive ? " (case-sensitive)" : "");
  switch (op.type) {
    case OperatorType::kSimple: return operand + " == " + value;
    case OperatorType::kRegexp: return operand + " ~ " + value;
    case OperatorType::kNetwork: return operand + " in " + value;
    case OperatorType::kRange: return operand + " in range " + value;
    case OperatorType::kLists: return operand + " in lists " + value;
    case OperatorType::kList: break;
  }
  return operand;
}

void PrintProblems(FILE* out, const std::vector<LoadProblem>& problems) {
  for (const LoadProblem& problem : problems) std::fprintf(out, "%s\n", problem.ToString().c_str());
}

size_t CountErrors(const std::vector<LoadProblem>& problems) {
  size_t errors = 0;
  for (const LoadProblem& problem : problems) errors += problem.severity == LoadProblem::Severity::kError;
  return errors;
}

int Check(const Options& options) {
  if (options.positional.size() != 1) return Usage("check needs exactly one directory");
  const std::string& dir = options.positional[0];
  Result<RuleSet::Loaded> loaded = RuleSet::LoadDirectory(dir);
  if (!loaded.ok()) {
    std::fprintf(stderr, "picket rules check: %s\n", loaded.error().message.c_str());
    return 1;
  }
  PrintProblems(stdout, loaded->problems);
  const size_t errors = CountErrors(loaded->problems);
  const size_t warnings = loaded->problems.size() - errors;
  std::printf("%s: %zu rule(s) load, %zu error(s), %zu warning(s)\n", dir.c_str(), loaded->rules.size(), errors,
              warnings);
  return (errors > 0 || (options.strict && warnings > 0)) ? 1 : 0;
}

void PrintRuleTable(const std::vector<Rule>& rules) {
  std::printf("%-32s %-8s %-6s %-10s %-14s %s\n", "NAME", "ENABLED", "ACTION", "PRECEDENCE", "DURATION", "CONDITION");
  for (const Rule& rule : rules) {
    std::printf("%-32s %-8s %-6s %-10s %-14s %s\n", rule.name.c_str(), rule.enabled ? "yes" : "no",
                std::string(ActionName(rule.action)).c_str(), rule.precedence ? "yes" : "no", rule.duration.c_str(),
                DescribeOperator(rule.op).c_str());
  }
}

// `list --socket`: the running picketd's rules, read page by page.
int ListLive(const Options& options) {
  auto client = ConnectOrReport("rules list", options.socket);
  if (!client) return 1;
  auto rules = ListAllRules(*client, std::chrono::milliseconds(5000));
  if (!rules.ok()) {
    std::fprintf(stderr, "picket rules list: %s\n", rules.error().message.c_str());
    return 1;
  }
  if (options.json) {
    std::fputs(QJsonDocument(*rules).toJson(QJsonDocument::Indented).constData(), stdout);
    return 0;
  }
  std::vector<Rule> parsed;
  for (const QJsonValue& value : *rules) {
    const QByteArray bytes = QJsonDocument(value.toObject()).toJson(QJsonDocument::Compact);
    Result<Rule> rule = ParseRule(std::string_view(bytes.constData(), static_cast<size_t>(bytes.size())));
    if (!rule.ok()) {
      std::fprintf(stderr, "picket rules list: rule from picketd: %s\n", rule.error().message.c_str());
      continue;
    }
    parsed.push_back(std::move(*rule));
  }
  PrintRuleTable(parsed);
  return 0;
}

int List(const Options& options) {
  if (!options.positional.empty()) return Usage("list takes no arguments");
  if (!options.socket.empty()) return ListLive(options);
  Result<RuleSet::Loaded> loaded = RuleSet::LoadDirectory(options.rules_dir);
  if (!loaded.ok()) {
    std::fprintf(stderr, "picket rules list: %s\n", loaded.error().message.c_str());
    return 1;
  }
  PrintProblems(stderr, loaded->problems);
  if (options.json) {
    std::fputs(SerializeRules(loaded->rules.rules()).c_str(), stdout);
    return 0;
  }
  PrintRuleTable(loaded->rules.rules());
  return 0;
}

int Export(const Options& options) {
  if (options.positional.size() != 1) return Usage("export needs exactly one output file");
  Result<RuleSet::Loaded> loaded = RuleSet::LoadDirectory(options.rules_dir);
  if (!loaded.ok()) {
    std::fprintf(stderr, "picket rules export: %s\n", loaded.error().message.c_str());
    return 1;
  }
  PrintProblems(stderr, loaded->problems);
  const std::string bytes = SerializeRules(loaded->rules.rules());
  const std::string& target = options.positional[0];
  if (target == "-") {
    std::fputs(bytes.c_str(), stdout);
  } else if (Status s = WriteFileAtomically(target, bytes, 0600); !s.ok()) {
    std::fprintf(stderr, "picket rules export: %s\n", s.error().message.c_str());
    return 1;
  } else {
    std::fprintf(stderr, "%zu rule(s) written to %s\n", loaded->rules.size(), target.c_str());
  }
  return CountErrors(loaded->problems) > 0 ? 1 : 0;
}

// One rule to import: where it came from, the parsed rule, and the bytes to write.
struct ImportItem {
  std::string origin;  // "FILE" or "FILE[3]"
  Rule rule;
  std::string file_name;  // in the rules directory
  std::string bytes;
};

// Parses an import file: one rule object, or an array of them (the export format).
bool ReadImportFile(const std::string& path, std::vector<ImportItem>& items, std::vector<std::string>& errors) {
  Result<FileContent> content = ReadRegularFile(path, kMaxImportFileBytes);
  if (!content.ok()) {
    errors.push_back(path + ": " + content.error().message);
    return false;
  }
  QJsonParseError parse_error;
  const QJsonDocument doc = QJsonDocument::fromJson(QByteArray::fromStdString(content->bytes), &parse_error);
  if (parse_error.error != QJsonParseError::NoError) {
    errors.push_back(path + ": invalid JSON at byte " + std::to_string(parse_error.offset) + ": " +
                     parse_error.errorString().toStdString());
    return false;
  }
  std::vector<std::pair<std::string, std::string>> sources;  // origin, rule JSON bytes
  if (doc.isObject()) {
    sources.emplace_back(path, content->bytes);
  } else if (doc.isArray()) {
    const QJsonArray array = doc.array();
    for (qsizetype i = 0; i < array.size(); ++i) {
      const std::string origin = path + "[" + std::to_string(i) + "]";
      if (!array.at(i).isObject()) {
        errors.push_back(origin + ": expected a rule object");
        continue;
      }
      sources.emplace_back(origin, QJsonDocument(array.at(i).toObject()).toJson().toStdString());
    }
  } else {
    errors.push_back(path + ": expected a rule object or an array of rules");
    return false;
  }
  for (auto& [origin, bytes] : sources) {
    std::variant<Rule, RuleParseError> parsed = ParseRuleDetailed(bytes);
    if (auto* error = std::get_if<RuleParseError>(&parsed)) {
      errors.push_back(origin + ": " + error->ToString());
      continue;
    }
    Rule& rule = std::get<Rule>(parsed);
    ImportItem item{origin, rule, rule.name + ".json", SerializeRule(rule)};
    items.push_back(std::move(item));
  }
  return true;
}

// Reads an import directory: every *.json file, validated like picketd loads it, copied as is.
void ReadImportDir(const std::string& dir, std::vector<ImportItem>& items, std::vector<std::string>& errors) {
  Result<std::vector<std::string>> names = ListDirectory(dir, "import directory", [](std::string_view name) {
    return IsRuleFileName(name);
  });
  if (!names.ok()) {
    errors.push_back(names.error().message);
    return;
  }
  for (const std::string& name : *names) {
    const std::string path = JoinDirAndName(dir, name);
    Result<FileContent> content = ReadRegularFile(path, kMaxRuleFileBytes);
    if (!content.ok()) {
      errors.push_back(path + ": " + content.error().message);
      continue;
    }
    std::variant<Rule, RuleParseError> parsed = ParseRuleDetailed(content->bytes);
    if (auto* error = std::get_if<RuleParseError>(&parsed)) {
      errors.push_back(path + ": " + error->ToString());
      continue;
    }
    items.push_back(ImportItem{path, std::get<Rule>(parsed), name, content->bytes});
  }
}

int Import(const Options& options) {
  if (options.positional.size() != 1) return Usage("import needs exactly one file or directory");
  const std::string& source = options.positional[0];
  std::vector<ImportItem> items;
  std::vector<std::string> errors;
  Result<std::vector<std::string>> as_dir = ListDirectory(source, "import source", [](std::string_view) { return false; });
  if (as_dir.ok()) {
    ReadImportDir(source, items, errors);
  } else {
    ReadImportFile(source, items, errors);
  }
  // Complete the rules as picketd will (user names, list directories) and check names.
  SystemUserDirectory users;
  ListStore lists;
  Result<RuleSet::Loaded> existing = RuleSet::LoadDirectory(options.rules_dir);
  if (!existing.ok()) errors.push_back(existing.error().message);
  std::set<std::string> names;
  std::set<std::string> files;
  for (ImportItem& item : items) {
    if (auto error = ResolveUserNames(item.rule, users)) errors.push_back(item.origin + ": " + error->ToString());
    if (auto error = BindLists(item.rule, lists, nullptr)) errors.push_back(item.origin + ": " + error->ToString());
    if (item.rule.lifetime.kind == LifetimeKind::kUntilProcessExits) {
      errors.push_back(item.origin + ": field 'duration': 'until process exits' cannot be stored in a file");
    }
    if (!names.insert(item.rule.name).second) {
      errors.push_back(item.origin + ": field 'name': rule name '" + item.rule.name + "' is imported twice");
    }
    if (!files.insert(item.file_name).second) {
      errors.push_back(item.origin + ": file name '" + item.file_name + "' is imported twice");
    }
    if (options.replace || !existing.ok()) continue;
    bool exists = false;
    for (const Rule& rule : existing->rules.rules()) {
      if (rule.name == item.rule.name) {
        errors.push_back(item.origin + ": rule '" + rule.name + "' already exists in " + rule.file +
                         " (use --replace)");
        exists = true;
      }
    }
    Result<FileStamp> present = StatIdentity(JoinDirAndName(options.rules_dir, item.file_name));
    if (present.ok() && !exists) {
      errors.push_back(item.origin + ": " + JoinDirAndName(options.rules_dir, item.file_name) +
                       " already exists (use --replace)");
    }
  }
  if (!errors.empty()) {
    for (const std::string& error : errors) std::fprintf(stderr, "%s\n", error.c_str());
    std::fprintf(stderr, "picket rules import: %zu problem(s); nothing was imported\n", errors.size());
    return 1;
  }
  for (const ImportItem& item : items) {
    const std::string target = JoinDirAndName(options.rules_dir, item.file_name);
    if (Status s = WriteFileAtomically(target, item.bytes, 0600); !s.ok()) {
      std::fprintf(stderr, "picket rules import: %s\n", s.error().message.c_str());
      return 1;
    }
    std::printf("imported %s as %s\n", item.rule.name.c_str(), target.c_str());
  }
  return 0;
}

int RunRules(const std::vector<std::string>& args) {
  if (args.size() < 2 || args[1] == "--help" || args[1] == "-h" || args[1] == "help") {
    std::fputs(kHelp, args.size() < 2 ? stderr : stdout);
    return args.size() < 2 ? 2 : 0;
  }
  std::string error;
  std::optional<Options> options = ParseOptions(args, error);
  if (!options.has_value()) return Usage(error);
  if (options->help) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  const std::string& sub = args[1];
  if (sub == "check") return Check(*options);
  if (sub == "list") return List(*options);
  if (sub == "export") return Export(*options);
  if (sub == "import") return Import(*options);
  return Usage("unknown subcommand '" + sub + "'");
}

const Registration kRules{"rules", "check, list, export and import rule files", &RunRules};

}  // namespace
}  // namespace picket::cli
