// Rule engine benchmarks (Google Benchmark): the decision for one connection with 10, 1 000 and
// 10 000 rules of mixed types, with and without a 100 000-domain list, against a plain scan of
// every rule; and the time to load those sets from disk (read + parse + compile + index), to
// rebuild after one file changed, and to read the domain list.
//
// Run: build/bench/picket_rules_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
// Figures: BENCHMARKS.md ("Rule engine").
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "rules/file_io.h"
#include "rules/operator_match.h"
#include "rules/rule_clock.h"
#include "rules/rule_engine.h"
#include "rules/rule_parser.h"
#include "rules/rule_set.h"
#include "rules/users.h"

namespace picket {
namespace {

constexpr int kDomainListSize = 100'000;

std::string Op(const std::string& type, const std::string& operand, const std::string& data) {
  return R"({"type": ")" + type + R"(", "operand": ")" + operand + R"(", "sensitive": false, "data": ")" + data +
         R"("})";
}

std::string RuleJson(const std::string& name, const std::string& action, const std::string& op) {
  return R"({"name": ")" + name + R"(", "enabled": true, "precedence": false, "action": ")" + action +
         R"(", "duration": "always", "operator": )" + op + "}";
}

// Rule i of a mixed set: mostly per-program allow rules (what prompts produce), plus host, address,
// network, port, regexp and AND-list rules, in a shuffled name order.
std::string MixedRule(int i, const std::string& name) {
  const std::string n = std::to_string(i);
  switch (i % 20) {
    case 0: case 1: case 2: case 3: case 4: case 5: case 6: case 7:
      return RuleJson(name, "allow", Op("simple", "process.path", "/usr/bin/app" + n));
    case 8: case 9: case 10:
      return RuleJson(name, "allow",
                      R"({"type": "list", "operand": "list", "list": [)" + Op("simple", "process.path", "/opt/tool" + n) +
                          ", " + Op("simple", "dest.port", std::to_string(1024 + i % 50000)) + "]}");
    case 11: case 12: return RuleJson(name, "deny", Op("simple", "dest.host", "host" + n + ".example.test"));
    case 13: return RuleJson(name, "deny", Op("simple", "dest.host", "*.zone" + n + ".example.test"));
    case 14: return RuleJson(name, "deny", Op("simple", "dest.ip", "10." + std::to_string(i / 65536 % 256) + "." +
                                                                   std::to_string(i / 256 % 256) + "." + std::to_string(i % 256)));
    case 15: return RuleJson(name, "deny", Op("network", "dest.network", "172." + std::to_string(16 + i % 16) + "." +
                                                                         std::to_string(i / 16 % 256) + ".0/24"));
    case 16: return RuleJson(name, "deny", Op("regexp", "process.path", "^/opt/sandbox" + n + "/"));
    case 17: return RuleJson(name, "deny", Op("regexp", "dest.host", "(^|\\\\.)tracker" + n + "\\\\.test$"));
    case 18: return RuleJson(name, "allow", Op("range", "dest.port", std::to_string(20000 + i % 1000) + "-" +
                                                                      std::to_string(20010 + i % 1000)));
    default: return RuleJson(name, "deny", Op("regexp", "process.command", "--token=leak" + n + "\\\\b"));
  }
}

std::vector<std::string> MixedRuleJsons(int count) {
  std::vector<std::string> names;
  std::mt19937 rng(7);
  for (int i = 0; i < count; ++i) names.push_back("rule-" + std::to_string(rng() % 1000000000) + "-" + std::to_string(i));
  std::vector<std::string> jsons;
  for (int i = 0; i < count; ++i) jsons.push_back(MixedRule(i, names[static_cast<size_t>(i)]));
  return jsons;
}

RuleSet BuildSet(int count, const std::vector<Rule>& extra = {}) {
  std::vector<Rule> rules = extra;
  for (const std::string& json : MixedRuleJsons(count)) rules.push_back(std::move(ParseRule(json)).value());
  return std::move(RuleSet::FromRules(std::move(rules))).value();
}

struct Sample {
  Flow flow;
  Attribution who;
  std::vector<std::string> hosts;
};

// Connections from programs with and without a rule, to hosts with and without a rule.
std::vector<Sample> Samples(int rule_count) {
  std::vector<Sample> samples(256);
  std::mt19937 rng(11);
  for (size_t i = 0; i < samples.size(); ++i) {
    Sample& s = samples[i];
    s.flow.protocol = Protocol::kTcp;
    s.flow.src = *IpAddress::Parse("198.18.0.1");
    s.flow.dst = *IpAddress::Parse("198.18." + std::to_string(i % 200) + "." + std::to_string(1 + i % 250));
    s.flow.src_port = 40000;
    s.flow.dst_port = (i % 3 == 0) ? 80 : 443;
    s.flow.uid = 1000;
    s.flow.out_iface = "eth0";
    s.who.kind = AttributionKind::kProcess;
    s.who.uid = 1000;
    s.who.method = "bench";
    ProcessInfo p;
    p.pid = 1000 + static_cast<pid_t>(i);
    const int app = static_cast<int>(rng() % static_cast<unsigned>(rule_count * 2 + 1));
    p.exe_path = (i % 4 == 3) ? "/usr/lib/firefox/firefox" : "/usr/bin/app" + std::to_string(app);
    p.argv = {p.exe_path, "--profile", "default", "https://www.example.org/"};
    s.who.process = std::move(p);
    const int host = static_cast<int>(rng() % static_cast<unsigned>(kDomainListSize * 2));
    s.hosts = {"host" + std::to_string(host % (rule_count + 1)) + ".example.test", "d" + std::to_string(host) + ".ads.test"};
  }
  return samples;
}

void BM_Decide(benchmark::State& state) {
  const int count = static_cast<int>(state.range(0));
  const RuleSet set = BuildSet(count);
  const std::vector<Sample> samples = Samples(count);
  size_t i = 0;
  size_t matched = 0;
  for (auto _ : state) {
    const Sample& s = samples[i++ % samples.size()];
    const Rule* rule = set.Match(Connection{s.flow, s.who, &s.hosts});
    matched += rule != nullptr;
    benchmark::DoNotOptimize(rule);
  }
  state.counters["matched_%"] = 100.0 * static_cast<double>(matched) / static_cast<double>(state.iterations());
  const RuleSet::IndexStats stats = set.index_stats();
  state.counters["unguarded"] = static_cast<double>(stats.unguarded);
}
BENCHMARK(BM_Decide)->Arg(10)->Arg(1000)->Arg(10000);

// The same decision by visiting every enabled rule in name order (no index): the cost the index saves.
void BM_DecideLinearScan(benchmark::State& state) {
  const int count = static_cast<int>(state.range(0));
  const RuleSet set = BuildSet(count);
  const std::vector<Sample> samples = Samples(count);
  size_t i = 0;
  for (auto _ : state) {
    const Sample& s = samples[i++ % samples.size()];
    ConnectionFields fields(Connection{s.flow, s.who, &s.hosts});
    const Rule* last_allow = nullptr;
    const Rule* decided = nullptr;
    for (const Rule& rule : set.rules()) {
      if (!rule.enabled || !OperatorMatches(rule.op, fields)) continue;
      if (rule.action != Action::kAllow || rule.precedence) {
        decided = &rule;
        break;
      }
      last_allow = &rule;
    }
    benchmark::DoNotOptimize(decided != nullptr ? decided : last_allow);
  }
}
BENCHMARK(BM_DecideLinearScan)->Arg(10)->Arg(1000)->Arg(10000);

class TempDir {
 public:
  TempDir() {
    std::string pattern = "/tmp/picket-rules-bench-XXXXXX";
    path_ = mkdtemp(pattern.data()) != nullptr ? pattern : "/tmp";
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

void WriteDomainList(const std::string& dir) {
  std::ofstream out(dir + "/blocklist.txt");
  out << "# generated\n127.0.0.1 localhost\n";
  for (int i = 0; i < kDomainListSize; ++i) out << "0.0.0.0 d" << i << ".ads.test\n";
}

void BM_DecideWithDomainList(benchmark::State& state) {
  const int count = static_cast<int>(state.range(0));
  TempDir lists;
  WriteDomainList(lists.path());
  SystemUserDirectory users;
  ListStore store;
  Rule list_rule = std::move(ParseRule(RuleJson("0-blocklist", "deny", Op("lists", "lists.domains", lists.path())))).value();
  list_rule.op.list_data = *store.Get(ListKind::kDomains, lists.path());
  const RuleSet set = BuildSet(count, {list_rule});
  const std::vector<Sample> samples = Samples(count);
  size_t i = 0;
  size_t blocked = 0;
  for (auto _ : state) {
    const Sample& s = samples[i++ % samples.size()];
    const Rule* rule = set.Match(Connection{s.flow, s.who, &s.hosts});
    blocked += rule == &set.rules()[0];
    benchmark::DoNotOptimize(rule);
  }
  state.counters["blocked_%"] = 100.0 * static_cast<double>(blocked) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_DecideWithDomainList)->Arg(10000);

void WriteRuleDir(const std::string& dir, int count) {
  int i = 0;
  for (const std::string& json : MixedRuleJsons(count)) {
    std::ofstream(dir + "/r" + std::to_string(i++) + ".json") << json;
  }
}

// Loading a rules directory from scratch: list, read, parse, compile, index.
void BM_LoadDirectory(benchmark::State& state) {
  TempDir dir;
  WriteRuleDir(dir.path(), static_cast<int>(state.range(0)));
  for (auto _ : state) {
    Result<RuleSet::Loaded> loaded = RuleSet::LoadDirectory(dir.path());
    benchmark::DoNotOptimize(loaded.ok());
  }
}
BENCHMARK(BM_LoadDirectory)->Arg(10)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);

// Hot reload after one file of the set changed: one file re-read, the set rebuilt.
void BM_ReloadOneChangedFile(benchmark::State& state) {
  TempDir dir;
  const int count = static_cast<int>(state.range(0));
  WriteRuleDir(dir.path(), count);
  SystemUserDirectory users;
  RuleEngine engine(RuleEngineOptions{dir.path(), &users, &SystemRuleClock(), false});
  (void)engine.Reload();
  int round = 0;
  for (auto _ : state) {
    state.PauseTiming();
    std::ofstream(dir.path() + "/r0.json")
        << RuleJson("changed", "allow", Op("simple", "dest.port", std::to_string(1 + round++ % 60000)));
    engine.MarkFileDirty("r0.json");
    state.ResumeTiming();
    benchmark::DoNotOptimize(engine.Reload().ok());
  }
}
BENCHMARK(BM_ReloadOneChangedFile)->Arg(10000)->Unit(benchmark::kMillisecond);

void BM_LoadDomainList(benchmark::State& state) {
  TempDir lists;
  WriteDomainList(lists.path());
  for (auto _ : state) {
    ListStore store;
    auto data = store.Get(ListKind::kDomains, lists.path());
    benchmark::DoNotOptimize(data.ok());
  }
}
BENCHMARK(BM_LoadDomainList)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace picket

BENCHMARK_MAIN();
