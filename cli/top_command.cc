// `picket top`: the most active programs and hosts in the event log.
#include <cstdio>
#include <string>
#include <vector>

#include "command.h"
#include "history_cli.h"

namespace picket::cli {
namespace {

constexpr const char* kHelp =
    "usage: picket top [--since T] [--until T] [--limit N] [--json] [--db FILE]\n"
    "\n"
    "The N (--limit, default 10) programs and hosts with the most decisions in the event log (all of\n"
    "it, or the window --since/--until; see `picket log --help` for the time forms), with how many\n"
    "were blocked (deny or reject) and how many distinct hosts / programs each talked to.\n";

constexpr size_t kDefaultTop = 10;

void PrintJson(const std::vector<TopProgram>& programs, const std::vector<TopHost>& hosts) {
  std::string out = "{\"programs\":[";
  for (size_t i = 0; i < programs.size(); ++i) {
    const TopProgram& p = programs[i];
    out += (i ? ",\n  " : "\n  ") + std::string("{\"exe\":") + JsonQuote(p.exe) +
           ",\"connections\":" + std::to_string(p.connections) + ",\"blocked\":" + std::to_string(p.blocked) +
           ",\"hosts\":" + std::to_string(p.hosts) + "}";
  }
  out += "],\n \"hosts\":[";
  for (size_t i = 0; i < hosts.size(); ++i) {
    const TopHost& h = hosts[i];
    out += (i ? ",\n  " : "\n  ") + std::string("{\"host\":") + JsonQuote(h.host) +
           ",\"connections\":" + std::to_string(h.connections) + ",\"blocked\":" + std::to_string(h.blocked) +
           ",\"programs\":" + std::to_string(h.programs) + "}";
  }
  out += "]}\n";
  std::fputs(out.c_str(), stdout);
}

void PrintText(const std::vector<TopProgram>& programs, const std::vector<TopHost>& hosts) {
  std::printf("%12s %8s %6s  %s\n", "connections", "blocked", "hosts", "program");
  for (const TopProgram& p : programs) {
    std::printf("%12llu %8llu %6llu  %s\n", static_cast<unsigned long long>(p.connections),
                static_cast<unsigned long long>(p.blocked), static_cast<unsigned long long>(p.hosts), p.exe.c_str());
  }
  std::printf("\n%12s %8s %6s  %s\n", "connections", "blocked", "progs", "host");
  for (const TopHost& h : hosts) {
    std::printf("%12llu %8llu %6llu  %s\n", static_cast<unsigned long long>(h.connections),
                static_cast<unsigned long long>(h.blocked), static_cast<unsigned long long>(h.programs),
                h.host.c_str());
  }
}

int RunTop(const std::vector<std::string>& args) {
  auto options = ParseHistoryOptions(args, {"since", "until", "limit", "json", "db"}, NowMicros());
  if (!options.ok()) {
    std::fprintf(stderr, "picket top: %s\n\n%s", options.error().message.c_str(), kHelp);
    return 2;
  }
  if (options->help) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  const size_t limit = options->limit_given && options->filter.limit > 0 ? options->filter.limit : kDefaultTop;
  auto reader = OpenHistoryReader(options->db);
  if (!reader.ok()) {
    std::fprintf(stderr, "picket top: %s\n", reader.error().message.c_str());
    return 1;
  }
  auto programs = (*reader)->TopPrograms(options->filter.window, limit);
  auto hosts = programs.ok() ? (*reader)->TopHosts(options->filter.window, limit) : programs.error();
  if (!programs.ok() || !hosts.ok()) {
    std::fprintf(stderr, "picket top: %s\n", (!programs.ok() ? programs.error() : hosts.error()).message.c_str());
    return 1;
  }
  if (options->json) {
    PrintJson(*programs, *hosts);
  } else {
    PrintText(*programs, *hosts);
  }
  return 0;
}

const Registration kTop{"top", "the most active programs and hosts in the event log (--since ...)", &RunTop};

}  // namespace
}  // namespace picket::cli
