// Subcommands of the `picket` CLI register themselves here:
//
//   static const picket::cli::Registration kRules{"rules", "check, list, export and import rule files", &RunRules};
//
// main.cc dispatches `picket NAME ARGS...` to the registered function with ARGS (argv[0] = NAME).
// Each command prints results to stdout, errors to stderr, and returns the process exit code
// (0 ok, 1 the command found problems / failed, 2 usage error). Commands that print data accept
// `--json` for scripts. Thread-safety: registration happens during static initialisation only.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace picket::cli {

using CommandFn = int (*)(const std::vector<std::string>& args);

struct Command {
  std::string_view name;
  std::string_view summary;
  CommandFn run;
};

class Registration {
 public:
  Registration(std::string_view name, std::string_view summary, CommandFn run);
};

const std::vector<Command>& Commands();

}  // namespace picket::cli
