// picket: the command-line client. `picket COMMAND [ARGS]`; `picket help` lists the commands.
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "command.h"

namespace picket::cli {

namespace {
std::vector<Command>& MutableCommands() {
  static std::vector<Command> commands;
  return commands;
}
}  // namespace

Registration::Registration(std::string_view name, std::string_view summary, CommandFn run) {
  MutableCommands().push_back(Command{name, summary, run});
}

const std::vector<Command>& Commands() { return MutableCommands(); }

}  // namespace picket::cli

namespace {

int Usage(FILE* out, int code) {
  std::fprintf(out, "usage: picket COMMAND [ARGS]\n\ncommands:\n");
  auto commands = picket::cli::Commands();
  std::sort(commands.begin(), commands.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  for (const auto& c : commands) {
    std::fprintf(out, "  %-10.*s %.*s\n", static_cast<int>(c.name.size()), c.name.data(),
                 static_cast<int>(c.summary.size()), c.summary.data());
  }
  std::fprintf(out, "\n`picket COMMAND --help` describes a command.\n");
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return Usage(stderr, 2);
  const std::string name = argv[1];
  if (name == "help" || name == "--help" || name == "-h") return Usage(stdout, 0);
  for (const auto& c : picket::cli::Commands()) {
    if (c.name == name) return c.run(std::vector<std::string>(argv + 1, argv + argc));
  }
  std::fprintf(stderr, "picket: unknown command '%s'\n", name.c_str());
  return Usage(stderr, 2);
}
