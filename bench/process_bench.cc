// Exec-event store benchmarks (Google Benchmark); figures and commands in BENCHMARKS.md.
//
//   BM_StoreIngest        fork + exec + exit events applied to the store (events/s)
//   BM_DecodeAndIngest    the same from ring-buffer records, decoding included (events/s)
//   BM_FindLive           store lookup by PID with 10 000 processes known (latency)
//   BM_ResolveSnapshot    the attribution path's lookup: /proc/PID/stat start-time check + store hit
//   BM_MemoryPerEntry     heap bytes per known process (10 000 realistic entries)
//   BM_Digest/...         md5, sha1, sha256 of a 64 MiB file through ComputeDigests (bytes/s)
//   BM_OpensslDgstSha256  `openssl dgst -sha256` on the same file, same run (bytes/s)
//   BM_EbpfExecStorm      (root) real fork+exec+exit storm through the eBPF source: events/s, lost
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <linux/types.h>
#include <malloc.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "process/bpf_process_source.h"
#include "process/checksums.h"
#include "process/process_store.h"
#include "process/process_tracker.h"
#include "process/procfs_scan.h"
#include "process_events.h"

extern char** environ;

namespace picket {
namespace {

class TickClock final : public Clock {
 public:
  uint64_t NowBootNs() const override { return now; }
  uint64_t now = 1;
};

StoreOptions BenchOptions() {
  StoreOptions o;
  o.max_entries = 1u << 20;
  o.max_exited = 1u << 16;
  return o;
}

ExecEvent RealisticExec(pid_t tgid, uint64_t start, ProcKey parent) {
  ExecEvent e;
  e.time_ns = start + 1;
  e.proc = ProcKey{tgid, start, false};
  e.parent = parent;
  e.ns_pid = tgid;
  e.exe_path = "/usr/lib/firefox-esr/firefox-esr";
  e.argv = {"/usr/lib/firefox-esr/firefox-esr", "-contentproc", "-childID", "17", "-isForBrowser", "tab"};
  e.cwd = "/home/someone";
  e.cgroup = "app-firefox-esr-1234.scope";
  e.exe_file = FileIdentity{65024, 123456, 1700000000000000000ull, 700000, false, false, true};
  return e;
}

// A shell and a session above every benchmark process (ancestors up to PID 1).
void Seed(ProcessStore& store) {
  store.OnExec(RealisticExec(1, 1, ProcKey{}));
  ForkEvent f;
  f.parent = ProcKey{1, 1, false};
  f.child = ProcKey{2, 2, false};
  store.OnFork(f);
  store.OnExec(RealisticExec(2, 2, ProcKey{1, 1, false}));
}

void BM_StoreIngest(benchmark::State& state) {
  TickClock clock;
  ProcessStore store(BenchOptions(), clock);
  Seed(store);
  pid_t pid = 100;
  uint64_t t = 10;
  const ProcKey parent{2, 2, false};
  for (auto _ : state) {
    if (++pid > 4000000) pid = 100;
    const ProcKey child{pid, ++t, false};
    ForkEvent f;
    f.time_ns = t;
    f.parent = parent;
    f.child = child;
    store.OnFork(f);
    store.OnExec(RealisticExec(pid, t, parent));
    store.OnExit(ExitEvent{t + 1, child, 0});
    clock.now = t;
    if ((pid & 0xffff) == 0) store.Sweep(nullptr);
  }
  state.SetItemsProcessed(state.iterations() * 3);
  state.counters["lost"] = static_cast<double>(store.counters().lost_events + store.counters().unknown_exits);
}
BENCHMARK(BM_StoreIngest);

// Builds the ring-buffer bytes of one exec record.
std::vector<char> ExecRecord(uint32_t tgid, uint64_t start) {
  const std::string path = "/usr/lib/firefox-esr/firefox-esr";
  const std::string cwd = "/home/someone";
  const std::string args = std::string("/usr/lib/firefox-esr/firefox-esr\0-contentproc\0-childID\0" "17\0-isForBrowser\0tab\0", 74);
  const std::string cgroup = "app-firefox-esr-1234.scope";
  const size_t header = offsetof(pk_exec_event, data);
  std::vector<char> bytes(header + path.size() + cwd.size() + args.size() + cgroup.size());
  pk_exec_event ev{};
  ev.hdr.type = PK_EVENT_EXEC;
  ev.hdr.size = static_cast<__u32>(bytes.size());
  ev.hdr.time_ns = start + 1;
  ev.task.tgid = tgid;
  ev.task.start_ns = start;
  ev.task.ppid = 2;
  ev.task.parent_start_ns = 2;
  ev.exe.ino = 123456;
  ev.exe.dev = (254u << 20) | 0;
  ev.exe.nlink = 1;
  ev.path_len = static_cast<__u16>(path.size());
  ev.cwd_len = static_cast<__u16>(cwd.size());
  ev.args_len = static_cast<__u16>(args.size());
  ev.cgroup_len = static_cast<__u16>(cgroup.size());
  std::memcpy(bytes.data(), &ev, header);
  char* p = bytes.data() + header;
  for (const std::string* part : {&path, &cwd, &args, &cgroup}) {
    std::memcpy(p, part->data(), part->size());
    p += part->size();
  }
  return bytes;
}

void BM_DecodeAndIngest(benchmark::State& state) {
  TickClock clock;
  ProcessStore store(BenchOptions(), clock);
  Seed(store);
  std::vector<char> exec = ExecRecord(100, 10);
  pk_fork_event fork{};
  fork.hdr.type = PK_EVENT_FORK;
  fork.hdr.size = sizeof(fork);
  fork.child.ppid = 2;
  fork.child.parent_start_ns = 2;
  pk_exit_event exit{};
  exit.hdr.type = PK_EVENT_EXIT;
  exit.hdr.size = sizeof(exit);
  uint32_t pid = 100;
  uint64_t t = 10;
  for (auto _ : state) {
    if (++pid > 4000000) pid = 100;
    ++t;
    fork.child.tgid = pid;
    fork.child.start_ns = t;
    auto* ev = reinterpret_cast<pk_exec_event*>(exec.data());
    ev->task.tgid = pid;
    ev->task.start_ns = t;
    exit.tgid = pid;
    exit.start_ns = t;
    BpfProcessSource::ApplyRecord(&fork, sizeof(fork), store);
    BpfProcessSource::ApplyRecord(exec.data(), exec.size(), store);
    BpfProcessSource::ApplyRecord(&exit, sizeof(exit), store);
    clock.now = t;
    if ((pid & 0xffff) == 0) store.Sweep(nullptr);
  }
  state.SetItemsProcessed(state.iterations() * 3);
}
BENCHMARK(BM_DecodeAndIngest);

void Populate(ProcessStore& store, int count) {
  Seed(store);
  for (int i = 0; i < count; ++i) {
    const pid_t pid = 1000 + i;
    ForkEvent f;
    f.parent = ProcKey{2, 2, false};
    f.child = ProcKey{pid, 100u + static_cast<uint64_t>(i), false};
    store.OnFork(f);
    store.OnExec(RealisticExec(pid, f.child.start_ns, f.parent));
  }
}

void BM_FindLive(benchmark::State& state) {
  TickClock clock;
  ProcessStore store(BenchOptions(), clock);
  constexpr int kProcesses = 10000;
  Populate(store, kProcesses);
  int i = 0;
  for (auto _ : state) {
    auto s = store.FindLive(1000 + (i++ % kProcesses));
    benchmark::DoNotOptimize(s);
  }
}
BENCHMARK(BM_FindLive);

void BM_ResolveSnapshot(benchmark::State& state) {
  SystemClock clock;
  TrackerOptions options;
  options.monitor = ProcessMonitor::kProc;
  auto tracker = ProcessTracker::Create(options, clock);
  if (!tracker.ok()) {
    state.SkipWithError(tracker.error().message.c_str());
    return;
  }
  const pid_t self = getpid();
  UniqueFd dir = OpenPidDir((*tracker)->proc_dir(), self);
  for (auto _ : state) {
    auto s = (*tracker)->ResolveSnapshot(self, dir.get());
    benchmark::DoNotOptimize(s);
  }
  state.counters["procfs_fallbacks"] = static_cast<double>((*tracker)->counters().procfs_fallbacks);
}
BENCHMARK(BM_ResolveSnapshot);

void BM_MemoryPerEntry(benchmark::State& state) {
  constexpr int kProcesses = 10000;
  double per_entry = 0;
  for (auto _ : state) {
    malloc_trim(0);
    const size_t before = mallinfo2().uordblks;
    {
      TickClock clock;
      auto store = std::make_unique<ProcessStore>(BenchOptions(), clock);
      Populate(*store, kProcesses);
      const size_t after = mallinfo2().uordblks;
      per_entry = static_cast<double>(after - before) / kProcesses;
    }
  }
  state.counters["bytes_per_process"] = per_entry;
}
BENCHMARK(BM_MemoryPerEntry)->Iterations(1)->Unit(benchmark::kMillisecond);

// The 64 MiB input of the digest benchmarks, removed at exit.
struct TempFile {
  std::string path;
  ~TempFile() {
    if (!path.empty()) std::filesystem::remove(path);
  }
};
TempFile g_digest_file;

const std::string& DigestFile() {
  static const std::string& path = g_digest_file.path = [] {
    const std::string p = "/tmp/picket-bench-digest-" + std::to_string(getpid());
    std::ofstream out(p, std::ios::binary);
    std::vector<char> block(1 << 20);
    for (size_t i = 0; i < block.size(); ++i) block[i] = static_cast<char>((i * 131) ^ (i >> 7));
    for (int i = 0; i < 64; ++i) out.write(block.data(), static_cast<std::streamsize>(block.size()));
    return p;
  }();
  return path;
}

void BM_Digest(benchmark::State& state) {
  const DigestMask algo = static_cast<DigestMask>(state.range(0));
  UniqueFd fd(open(DigestFile().c_str(), O_RDONLY | O_CLOEXEC));
  const int64_t size = static_cast<int64_t>(std::filesystem::file_size(DigestFile()));
  for (auto _ : state) {
    auto d = ComputeDigests(fd.get(), algo);
    benchmark::DoNotOptimize(d);
  }
  state.SetBytesProcessed(state.iterations() * size);
  state.SetLabel(algo == kDigestMd5 ? "md5" : algo == kDigestSha1 ? "sha1" : "sha256");
}
BENCHMARK(BM_Digest)->Arg(kDigestMd5)->Arg(kDigestSha1)->Arg(kDigestSha256)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_OpensslDgstSha256(benchmark::State& state) {
  const std::string& file = DigestFile();
  const int64_t size = static_cast<int64_t>(std::filesystem::file_size(file));
  const std::string openssl = "/usr/bin/openssl";
  for (auto _ : state) {
    char* argv[] = {const_cast<char*>(openssl.c_str()), const_cast<char*>("dgst"), const_cast<char*>("-sha256"),
                    const_cast<char*>(file.c_str()), nullptr};
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    pid_t pid = 0;
    if (posix_spawn(&pid, argv[0], &actions, nullptr, argv, environ) != 0) {
      state.SkipWithError("cannot run openssl");
      break;
    }
    posix_spawn_file_actions_destroy(&actions);
    int status = 0;
    waitpid(pid, &status, 0);
  }
  state.SetBytesProcessed(state.iterations() * size);
}
BENCHMARK(BM_OpensslDgstSha256)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_EbpfExecStorm(benchmark::State& state) {
  if (geteuid() != 0) {
    state.SkipWithError("needs root (BPF)");
    return;
  }
  SystemClock clock;
  TrackerOptions options;
  options.monitor = ProcessMonitor::kEbpf;
  options.store.max_exited = 1u << 16;
  auto tracker = ProcessTracker::Create(options, clock);
  if (!tracker.ok()) {
    state.SkipWithError(tracker.error().message.c_str());
    return;
  }
  constexpr int kProcesses = 2000;
  uint64_t events = 0;
  for (auto _ : state) {
    const uint64_t before = (*tracker)->store().counters().execs + (*tracker)->store().counters().forks +
                            (*tracker)->store().counters().exits;
    char* argv[] = {const_cast<char*>("/bin/true"), nullptr};
    for (int i = 0; i < kProcesses; ++i) {
      pid_t pid = 0;
      if (posix_spawn(&pid, argv[0], nullptr, nullptr, argv, environ) == 0) waitpid(pid, nullptr, 0);
    }
    (*tracker)->Drain();
    events += (*tracker)->store().counters().execs + (*tracker)->store().counters().forks +
              (*tracker)->store().counters().exits - before;
  }
  state.counters["events"] = benchmark::Counter(static_cast<double>(events), benchmark::Counter::kIsRate);
  state.counters["lost"] = static_cast<double>((*tracker)->store().counters().lost_events);
}
BENCHMARK(BM_EbpfExecStorm)->Iterations(3)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace picket

BENCHMARK_MAIN();
