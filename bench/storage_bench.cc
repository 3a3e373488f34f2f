// Event log and DNS cache micro-benchmarks (Google Benchmark); figures in BENCHMARKS.md.
//
//   BM_BuildAndAppend        the verdict path's share of logging: build the row of a decision and
//                            Append() it (the writer thread runs meanwhile)
//   BM_WriterThroughput      rows per second the writer thread commits (append 200 000, wait)
//   BM_DnsCacheLookup/hit|miss
//   BM_DnsCacheMemory        bytes of heap per cached (address, name) pair at 100 000 names
//   BM_Query*                `picket log` / `stats` / `top` queries over a 1 000 000-row database
//                            (built once under /tmp, removed at exit)
#include <benchmark/benchmark.h>
#include <malloc.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include "dns/dns_cache.h"
#include "storage/decision_record.h"
#include "storage/event_log.h"
#include "storage/history_reader.h"

namespace picket {
namespace {

constexpr int64_t kHourUs = 3600ll * 1000000;

struct Sample {
  Flow flow;
  Attribution attribution;
};

Sample MakeSample(int n) {
  Sample s;
  s.flow.protocol = n % 5 == 0 ? Protocol::kUdp : Protocol::kTcp;
  const uint8_t src[4] = {198, 18, 0, 1};
  const uint8_t dst[4] = {198, 18, static_cast<uint8_t>(n >> 8), static_cast<uint8_t>(n)};
  s.flow.src = IpAddress::V4(src);
  s.flow.dst = IpAddress::V4(dst);
  s.flow.src_port = static_cast<uint16_t>(30000 + n % 30000);
  s.flow.dst_port = n % 5 == 0 ? 53 : 443;
  s.attribution.kind = AttributionKind::kProcess;
  s.attribution.uid = 1000;
  s.attribution.method = "sock_diag+procfs";
  ProcessInfo p;
  p.pid = 1000 + n % 50;
  p.uid = 1000;
  static const char* kExes[] = {"/usr/lib/firefox/firefox", "/usr/bin/curl", "/usr/lib/systemd/systemd-resolved",
                                "/usr/bin/git", "/usr/libexec/evolution-data-server"};
  p.exe_path = kExes[n % 5];
  p.argv = {p.exe_path, "--some-option", "https://host" + std::to_string(n % 200) + ".example.org/path"};
  s.attribution.process = std::move(p);
  return s;
}

std::string HostName(int n) { return "host" + std::to_string(n % 2000) + ".cdn" + std::to_string(n % 7) + ".example.org"; }

std::string TempPath(const char* name) { return "/tmp/picket-bench-" + std::to_string(getpid()) + "-" + name; }

void RemoveDb(const std::string& path) {
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
}

void BM_BuildAndAppend(benchmark::State& state) {
  const std::string path = TempPath("append.db");
  EventLogOptions options;
  options.path = path;
  options.queue_capacity = 1 << 20;
  auto log = EventLog::Open(options);
  if (!log.ok()) {
    state.SkipWithError(log.error().message.c_str());
    return;
  }
  const Sample sample = MakeSample(7);
  const std::string host = HostName(7);
  for (auto _ : state) {
    EventRecord r = MakeDecisionRecord({"allow", DecidedBy::kRule, "allow-firefox", host, WallClockMicros()},
                                       sample.flow, sample.attribution);
    benchmark::DoNotOptimize((*log)->Append(std::move(r)));
  }
  state.SetItemsProcessed(state.iterations());
  (*log)->WaitUntilWritten(std::chrono::seconds(60));
  const EventLogStatus s = (*log)->status();
  state.counters["dropped"] = static_cast<double>(s.dropped);
  log->reset();
  RemoveDb(path);
}
BENCHMARK(BM_BuildAndAppend);

void BM_WriterThroughput(benchmark::State& state) {
  const int rows = static_cast<int>(state.range(0));
  std::vector<EventRecord> records;
  for (int i = 0; i < 1000; ++i) {
    const Sample s = MakeSample(i);
    records.push_back(MakeDecisionRecord({"allow", DecidedBy::kDefault, "", HostName(i), WallClockMicros()}, s.flow,
                                         s.attribution));
  }
  for (auto _ : state) {
    state.PauseTiming();
    const std::string path = TempPath("writer.db");
    RemoveDb(path);
    EventLogOptions options;
    options.path = path;
    options.queue_capacity = static_cast<size_t>(rows);
    auto log = EventLog::Open(options);
    if (!log.ok()) {
      state.SkipWithError(log.error().message.c_str());
      return;
    }
    state.ResumeTiming();
    const int64_t start = WallClockMicros();
    for (int i = 0; i < rows; ++i) {
      EventRecord r = records[static_cast<size_t>(i) % records.size()];
      r.time_us = start + i;  // decisions arrive in time order
      (*log)->Append(std::move(r));
    }
    (*log)->WaitUntilWritten(std::chrono::seconds(120));
    state.PauseTiming();
    state.counters["written"] = static_cast<double>((*log)->status().written);
    log->reset();
    state.counters["bytes_per_row"] = static_cast<double>(std::filesystem::file_size(path)) / rows;
    RemoveDb(path);
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * rows);
}
BENCHMARK(BM_WriterThroughput)->Arg(200000)->Unit(benchmark::kMillisecond)->Iterations(3);

IpAddress V4(int n) {
  const uint8_t b[4] = {10, static_cast<uint8_t>(n >> 16), static_cast<uint8_t>(n >> 8), static_cast<uint8_t>(n)};
  return IpAddress::V4(b);
}

void BM_DnsCacheLookup(benchmark::State& state) {
  DnsCache cache({});
  const auto now = DnsCache::Clock::now();
  for (int i = 0; i < 100000; ++i) cache.Add(V4(i), HostName(i), 3600, now);
  const bool hit = state.range(0) == 1;
  std::vector<std::string> names;
  int i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(cache.Lookup(V4(hit ? i % 100000 : 200000 + i % 100000), now, &names));
    ++i;
  }
  state.SetLabel(hit ? "hit" : "miss");
}
BENCHMARK(BM_DnsCacheLookup)->Arg(1)->Arg(0);

void BM_DnsCacheMemory(benchmark::State& state) {
  constexpr int kNames = 100000;
  for (auto _ : state) {
    malloc_trim(0);
    const size_t before = mallinfo2().uordblks;
    auto cache = std::make_unique<DnsCache>(DnsCacheOptions{});
    const auto now = DnsCache::Clock::now();
    for (int i = 0; i < kNames; ++i) cache->Add(V4(i * 7), HostName(i), 3600, now);
    const size_t after = mallinfo2().uordblks;
    state.counters["bytes_per_name"] = static_cast<double>(after - before) / kNames;
    state.counters["names"] = static_cast<double>(cache->size());
  }
}
BENCHMARK(BM_DnsCacheMemory)->Iterations(1)->Unit(benchmark::kMillisecond);

// ---- queries over 1 000 000 rows ----

constexpr int kQueryRows = 1000000;

const std::string& QueryDb() {
  static const std::string path = [] {
    const std::string p = TempPath("query.db");
    RemoveDb(p);
    EventLogOptions options;
    options.path = p;
    options.queue_capacity = 1 << 20;
    options.max_rows = 0;
    options.max_age = std::chrono::seconds(0);
    auto log = EventLog::Open(options);
    if (!log.ok()) return std::string();
    const int64_t start = WallClockMicros() - 30 * 24 * kHourUs;
    const int64_t step = 30 * 24 * kHourUs / kQueryRows;  // one month of history
    for (int i = 0; i < kQueryRows; ++i) {
      const Sample s = MakeSample(i);
      const bool deny = i % 10 == 0;
      (*log)->Append(MakeDecisionRecord({deny ? "deny" : "allow", deny ? DecidedBy::kRule : DecidedBy::kDefault,
                                         deny ? "block-trackers" : "", i % 3 == 0 ? "" : HostName(i),
                                         start + i * step},
                                        s.flow, s.attribution));
      if (i % 200000 == 199999) (*log)->WaitUntilWritten(std::chrono::seconds(120));
    }
    (*log)->WaitUntilWritten(std::chrono::seconds(120));
    return p;
  }();
  return path;
}

// Opens the 1 000 000-row database and runs `query` once per iteration; an error ends the run.
template <typename Query>
void RunOnQueryDb(benchmark::State& state, Query query) {
  auto reader = HistoryReader::Open(QueryDb());
  if (!reader.ok()) {
    state.SkipWithError(reader.error().message.c_str());
    return;
  }
  for (auto _ : state) {
    Status status = query(**reader);
    if (!status.ok()) {
      state.SkipWithError(status.error().message.c_str());
      return;
    }
  }
}

// One `picket log` query (EventFilter's fields); when since_ago_us > 0 its window starts that long
// before the run.
struct QueryCase {
  const char* name = "";
  const char* exe = "";
  const char* host = "";
  const char* verdict = "";
  const char* rule = "";
  size_t limit = 50;
  int64_t since_ago_us = 0;
};

const QueryCase kQueryCases[] = {
    {.name = "BM_QueryNewest50"},
    {.name = "BM_QueryExeName", .exe = "curl"},
    {.name = "BM_QueryExePathToday", .exe = "/usr/lib/firefox/firefox", .limit = 0, .since_ago_us = 24 * kHourUs},
    {.name = "BM_QueryHostDomain", .host = "cdn3.example.org"},
    {.name = "BM_QueryDeniedLastHour", .verdict = "deny", .limit = 0, .since_ago_us = kHourUs},
    {.name = "BM_QueryRareRuleAllTime", .rule = "no-such-rule"},
};

void BM_Query(benchmark::State& state, const QueryCase& query_case) {
  EventFilter filter;
  filter.exe = query_case.exe;
  filter.host = query_case.host;
  filter.verdict = query_case.verdict;
  filter.rule = query_case.rule;
  filter.limit = query_case.limit;
  if (query_case.since_ago_us > 0) filter.window.since_us = WallClockMicros() - query_case.since_ago_us;
  size_t rows = 0;
  RunOnQueryDb(state, [&](HistoryReader& reader) -> Status {
    auto result = reader.Query(filter);
    if (!result.ok()) return result.error();
    rows = result->size();
    return OkStatus();
  });
  state.counters["rows"] = static_cast<double>(rows);
}

// Registered here (static initialisation runs in file order) so they keep their place and names.
[[maybe_unused]] const bool kQueriesRegistered = [] {
  for (const QueryCase& c : kQueryCases) {
    benchmark::RegisterBenchmark(c.name, [&c](benchmark::State& state) { BM_Query(state, c); })
        ->Unit(benchmark::kMillisecond);
  }
  return true;
}();

void BM_StatsAllRows(benchmark::State& state) {
  RunOnQueryDb(state, [](HistoryReader& reader) {
    benchmark::DoNotOptimize(reader.Stats({}, 10));
    return OkStatus();
  });
}
BENCHMARK(BM_StatsAllRows)->Unit(benchmark::kMillisecond);

void BM_StatsLastDay(benchmark::State& state) {
  const TimeWindow day{WallClockMicros() - 24 * kHourUs, std::nullopt};
  RunOnQueryDb(state, [&](HistoryReader& reader) {
    benchmark::DoNotOptimize(reader.Stats(day, 10));
    return OkStatus();
  });
}
BENCHMARK(BM_StatsLastDay)->Unit(benchmark::kMillisecond);

void BM_TopProgramsAndHostsAllRows(benchmark::State& state) {
  RunOnQueryDb(state, [](HistoryReader& reader) {
    benchmark::DoNotOptimize(reader.TopPrograms({}, 10));
    benchmark::DoNotOptimize(reader.TopHosts({}, 10));
    return OkStatus();
  });
}
BENCHMARK(BM_TopProgramsAndHostsAllRows)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace picket

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  const std::string db = "/tmp/picket-bench-" + std::to_string(getpid()) + "-query.db";
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(db + suffix);
  return 0;
}
