#include "process/process_tracker.h"

#include <fcntl.h>
#include <sys/stat.h>

#include "common/log.h"

namespace picket {

ProcessTracker::ProcessTracker(const TrackerOptions& options, const Clock& clock)
    : options_(options), store_(std::make_unique<ProcessStore>(options.store, clock)) {}

ProcessTracker::~ProcessTracker() = default;

Result<std::unique_ptr<ProcessTracker>> ProcessTracker::Create(const TrackerOptions& options, const Clock& clock) {
  std::unique_ptr<ProcessTracker> tracker(new ProcessTracker(options, clock));
  tracker->proc_dir_.reset(open(options.proc_root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!tracker->proc_dir_.valid()) return Error::FromErrno("open " + options.proc_root);
  tracker->cgroup2_root_ = OpenCgroup2Root();
  tracker->options_.procfs.cgroup2_root = tracker->cgroup2_root_.get();
  if (auto resolver = CgroupHandleResolver::Open(); resolver.ok()) {
    tracker->cgroup_resolver_ = std::move(*resolver);
    tracker->store_->SetCgroupResolver(tracker->cgroup_resolver_.get());
  } else {
    PLOG(kInfo) << "process.cgroup: cgroup ids of kernel events cannot be resolved to paths ("
                << resolver.error().message << "); only processes read from /proc have one";
  }
  tracker->options_.procfs.read_environ = !options.store.wanted_env.empty();
  tracker->probe_ = std::make_unique<ProcfsLivenessProbe>(tracker->proc_dir_.get());
  if (Status s = tracker->OpenSource(); !s.ok()) return s.error();
  if (tracker->source_) tracker->source_->SetCaptureEnvironment(!options.store.wanted_env.empty());
  tracker->Drain();
  tracker->Walk();
  tracker->Drain();
  return tracker;
}

namespace {

// The kernel sources report PIDs as the initial pid namespace numbers them; /proc (and sock_diag's
// holders) use picketd's own namespace. They agree only when picketd runs in the initial one.
constexpr uint64_t kInitialPidNamespaceInode = 0xEFFFFFFCu;  // PROC_PID_INIT_INO

bool InInitialPidNamespace() {
  struct stat st {};
  return stat("/proc/self/ns/pid", &st) == 0 && st.st_ino == kInitialPidNamespaceInode;
}

}  // namespace

Status ProcessTracker::OpenSource() {
  const ProcessMonitor wanted = options_.monitor;
  if (wanted != ProcessMonitor::kProc && !InInitialPidNamespace()) {
    const std::string why = "picketd runs in a child pid namespace, where kernel events name other PIDs than /proc";
    if (wanted != ProcessMonitor::kAuto) return Error{"process_monitor " + std::string(ProcessMonitorName(wanted)) + ": " + why};
    method_ = "sock_diag+procfs+store";
    reason_ = "auto: degraded, " + why;
    return OkStatus();
  }
  std::string bpf_failure;
  if (wanted == ProcessMonitor::kAuto || wanted == ProcessMonitor::kEbpf) {
    auto bpf = BpfProcessSource::Open(options_.bpf);
    if (bpf.ok()) {
      source_ = std::move(*bpf);
      method_ = "sock_diag+ebpf";
      reason_ = wanted == ProcessMonitor::kEbpf ? "configured" : "auto: tracepoints attached";
      return OkStatus();
    }
    if (wanted == ProcessMonitor::kEbpf) return Error{"process_monitor ebpf: " + bpf.error().message};
    bpf_failure = bpf.error().message;
  }
  std::string connector_failure;
  if (wanted == ProcessMonitor::kAuto || wanted == ProcessMonitor::kProcConnector) {
    ProcConnectorOptions connector;
    connector.proc_root = options_.proc_root;
    connector.init_netns = options_.init_netns;
    connector.read = options_.procfs;
    auto opened = ProcConnectorSource::Open(connector);
    if (opened.ok()) {
      source_ = std::move(*opened);
      method_ = "sock_diag+proc-connector";
      reason_ = wanted == ProcessMonitor::kProcConnector ? "configured" : "auto: degraded, eBPF unavailable (" + bpf_failure + ")";
      return OkStatus();
    }
    if (wanted == ProcessMonitor::kProcConnector) {
      return Error{"process_monitor proc-connector: " + opened.error().message};
    }
    connector_failure = opened.error().message;
  }
  method_ = "sock_diag+procfs+store";
  reason_ = wanted == ProcessMonitor::kProc ? "configured"
                                            : "auto: degraded, eBPF unavailable (" + bpf_failure +
                                                  "), proc connector unavailable (" + connector_failure + ")";
  return OkStatus();
}

std::string_view ProcessTracker::source_name() const { return source_ ? source_->name() : "proc"; }

int ProcessTracker::event_fd() const { return source_ ? source_->fd() : -1; }

void ProcessTracker::Drain() {
  if (!source_) return;
  auto drained = source_->Drain(*store_);
  if (!drained.ok() && ++counters_.source_errors == 1) {
    PLOG(kWarn) << "process events: " << drained.error().message << " (further errors only counted)";
  }
}

void ProcessTracker::SetWantedEnv(std::vector<std::string> names) {
  const bool capture = !names.empty();
  store_->SetWantedEnv(std::move(names));
  options_.procfs.read_environ = capture;
  if (source_) source_->SetCaptureEnvironment(capture);
}

void ProcessTracker::EnsureParent(const ExecEvent& child, size_t depth) {
  const pid_t ppid = child.parent.tgid;
  if (ppid <= 0 || depth >= options_.max_parent_depth) return;
  // Known when the store holds a process for ppid that started no later than the child.
  if (std::optional<ProcKey> held = store_->LiveKey(ppid); held && held->start_ns <= child.proc.start_ns + ProcTickNs()) {
    return;
  }
  UniqueFd dir = OpenPidDir(proc_dir_.get(), ppid);
  if (!dir.valid()) return;
  (void)Populate(ppid, dir.get(), depth + 1);
}

Result<ProcessSnapshot> ProcessTracker::Populate(pid_t pid, int pid_dir, size_t depth) {
  auto event = ReadProcfsProcess(pid_dir, pid, options_.procfs);
  if (!event.ok()) return event.error();
  EnsureParent(*event, depth);
  return store_->InsertFromProcfs(*event);
}

void ProcessTracker::Walk() {
  auto pids = ListProcPids(proc_dir_.get());
  if (!pids.ok()) {
    PLOG(kWarn) << "process walk: " << pids.error().message;
    return;
  }
  for (pid_t pid : *pids) {
    UniqueFd dir = OpenPidDir(proc_dir_.get(), pid);
    if (!dir.valid()) continue;
    auto ticks = ReadStartTicks(dir.get(), pid);
    if (!ticks.ok()) continue;
    if (std::optional<ProcKey> held = store_->LiveKey(pid); held && held->SameStart(*ticks * ProcTickNs(), true)) {
      continue;  // known (from kernel events, or as a parent populated earlier in this walk)
    }
    // Kernel threads have no exe and are skipped by the read.
    if (Populate(pid, dir.get(), 0).ok()) ++counters_.walk_inserted;
  }
}

Result<ProcessSnapshot> ProcessTracker::ResolveSnapshot(pid_t pid, int pid_dir) {
  ++counters_.resolves;
  Drain();
  auto ticks = ReadStartTicks(pid_dir, pid);
  if (!ticks.ok()) {
    ++counters_.resolve_errors;
    return ticks.error();
  }
  if (std::optional<ProcessSnapshot> held = store_->FindLive(pid)) {
    const ProcessImage& image = *held->image;
    if (image.key.SameStart(*ticks * ProcTickNs(), true) && !image.has(kImagePartial)) {
      ++counters_.resolve_hits;
      return *held;
    }
  }
  ++counters_.procfs_fallbacks;
  auto populated = Populate(pid, pid_dir, 0);
  if (!populated.ok()) {
    ++counters_.resolve_errors;
    return populated.error();
  }
  // Kernel data for the same process may have won over the /proc read; either way it is this process.
  if (!populated->image->key.SameStart(*ticks * ProcTickNs(), true)) {
    ++counters_.resolve_errors;
    return Error{"pid " + std::to_string(pid) + " changed while being read"};
  }
  return populated;
}

Result<ProcessInfo> ProcessTracker::Resolve(pid_t pid, int pid_dir) {
  auto snapshot = ResolveSnapshot(pid, pid_dir);
  if (!snapshot.ok()) return snapshot.error();
  return ToProcessInfo(*snapshot);
}

void ProcessTracker::Sweep() {
  Drain();
  const bool check_liveness = !source_ || store_->tainted();
  if (store_->tainted()) {
    ++counters_.resyncs;
    PLOG(kWarn) << "process events lost (" << store_->counters().lost_events
                << " so far): checking every known process against /proc";
    Walk();
  }
  store_->Sweep(check_liveness ? probe_.get() : nullptr);
  if (check_liveness) store_->ClearTainted();
}

}  // namespace picket
