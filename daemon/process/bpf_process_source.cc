#include "process/bpf_process_source.h"

#include <bpf/libbpf.h>
#include <linux/types.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <string>

#include "common/log.h"
#include "process/proc_parsers.h"
#include "process_events.h"
#include "process_events.skel.h"

namespace picket {
namespace {

// libbpf's messages (including a verifier log) go to the debug log; a failure is reported once by
// the caller with its context.
int LibbpfPrint(enum libbpf_print_level level, const char* format, va_list args) {
  if (level == LIBBPF_DEBUG || !log::Enabled(log::Level::kDebug)) return 0;
  char line[1024];
  const int n = std::vsnprintf(line, sizeof(line), format, args);
  std::string_view text(line, n < 0 ? 0 : std::min<size_t>(static_cast<size_t>(n), sizeof(line) - 1));
  while (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  PLOG(kDebug) << "libbpf: " << text;
  return 0;
}

Error LibbpfError(std::string_view step, int err) {
  const int e = err < 0 ? -err : err;
  return Error{"bpf " + std::string(step) + ": " + std::strerror(e), e};
}

uint64_t UserDev(uint32_t kernel_dev) { return makedev(kernel_dev >> 20, kernel_dev & 0xfffff); }

FileIdentity ToIdentity(const pk_file& file) {
  FileIdentity id;
  if (file.ino == 0) return id;
  id.dev = UserDev(file.dev);
  id.ino = file.ino;
  id.ctime_ns = file.ctime_ns;
  id.size = file.size;
  id.deleted = file.nlink == 0;
  id.known = true;
  return id;
}

ProcKey Key(uint32_t tgid, uint64_t start_ns) { return ProcKey{static_cast<pid_t>(tgid), start_ns, false}; }

bool ApplyFork(const pk_fork_event& ev, ProcessStore& store) {
  ForkEvent out;
  out.time_ns = ev.hdr.time_ns;
  out.child = Key(ev.child.tgid, ev.child.start_ns);
  out.child_ns_pid = static_cast<pid_t>(ev.child.ns_pid);
  out.parent = Key(ev.child.ppid, ev.child.parent_start_ns);
  out.uid = ev.child.uid;
  out.euid = ev.child.euid;
  out.gid = ev.child.gid;
  out.cgroup_id = ev.child.cgroup_id;
  out.pid_ns = ev.child.pid_ns;
  out.mnt_ns = ev.child.mnt_ns;
  out.exe_file = ToIdentity(ev.exe);
  store.OnFork(out);
  return true;
}

bool ApplyExec(const pk_exec_event& ev, size_t size, ProcessStore& store) {
  const size_t header = offsetof(pk_exec_event, data);
  const size_t data_len = static_cast<size_t>(ev.path_len) + ev.cwd_len + ev.args_len + ev.env_len + ev.cgroup_len;
  if (size < header + data_len) return false;
  const char* data = ev.data;
  const std::string_view path(data, ev.path_len);
  data += ev.path_len;
  const std::string_view cwd(data, ev.cwd_len);
  data += ev.cwd_len;
  const std::string_view args(data, ev.args_len);
  data += ev.args_len;
  const std::string_view env(data, ev.env_len);
  data += ev.env_len;
  const std::string_view cgroup(data, ev.cgroup_len);

  ExecEvent out;
  out.time_ns = ev.hdr.time_ns;
  out.proc = Key(ev.task.tgid, ev.task.start_ns);
  out.ns_pid = static_cast<pid_t>(ev.task.ns_pid);
  out.old_tid = static_cast<pid_t>(ev.old_pid);
  out.parent = Key(ev.task.ppid, ev.task.parent_start_ns);
  out.uid = ev.task.uid;
  out.euid = ev.task.euid;
  out.gid = ev.task.gid;
  out.cgroup_id = ev.task.cgroup_id;
  out.cgroup = std::string(cgroup);
  out.pid_ns = ev.task.pid_ns;
  out.mnt_ns = ev.task.mnt_ns;
  out.exe_path = std::string(path);
  out.exe_file = ToIdentity(ev.exe);
  out.exe_file.memfd = (ev.flags & PK_EXEC_PSEUDO_FS) != 0 && path.starts_with("/memfd:");
  out.argv = ParseCmdline(args);
  out.cwd = std::string(cwd);
  out.environ = std::string(env);
  if (ev.flags & PK_EXEC_PATH_TRUNCATED) out.flags |= kImagePathTruncated;
  if (ev.flags & PK_EXEC_ARGS_TRUNCATED) out.flags |= kImageArgvTruncated;
  if (ev.flags & PK_EXEC_ENV_TRUNCATED) out.flags |= kImageEnvTruncated;
  if (ev.flags & (PK_EXEC_ARGS_UNREAD | PK_EXEC_PATH_TRUNCATED)) out.flags |= kImagePartial;
  store.OnExec(out);
  return true;
}

}  // namespace

Result<std::unique_ptr<BpfProcessSource>> BpfProcessSource::Open(const BpfSourceOptions& options) {
  static const bool print_set = [] {
    libbpf_set_print(LibbpfPrint);
    return true;
  }();
  (void)print_set;
  std::unique_ptr<BpfProcessSource> source(new BpfProcessSource());
  source->skel_ = process_events_bpf__open();
  if (source->skel_ == nullptr) return LibbpfError("open process_events", errno);
  source->skel_->rodata->wakeup_bytes = options.wakeup_bytes;
  if (int err = bpf_map__set_max_entries(source->skel_->maps.events, options.ring_buffer_bytes); err != 0) {
    return LibbpfError("ring buffer size " + std::to_string(options.ring_buffer_bytes), err);
  }
  if (int err = process_events_bpf__load(source->skel_); err != 0) return LibbpfError("load process_events", err);
  if (int err = process_events_bpf__attach(source->skel_); err != 0) {
    return LibbpfError("attach sched_process_fork/exec/exit", err);
  }
  source->ring_ = ring_buffer__new(bpf_map__fd(source->skel_->maps.events), &BpfProcessSource::OnRecord,
                                   source.get(), nullptr);
  if (source->ring_ == nullptr) return LibbpfError("ring buffer reader", errno);
  return source;
}

BpfProcessSource::~BpfProcessSource() {
  if (ring_ != nullptr) ring_buffer__free(ring_);
  if (skel_ != nullptr) process_events_bpf__destroy(skel_);
}

int BpfProcessSource::fd() const { return ring_buffer__epoll_fd(ring_); }

void BpfProcessSource::SetCaptureEnvironment(bool capture) { skel_->bss->capture_env = capture ? 1 : 0; }

uint64_t BpfProcessSource::kernel_lost_total() const {
  uint64_t total = 0;
  for (int i = 0; i < PK_STAT_COUNT; ++i) total += __atomic_load_n(&skel_->bss->stats[i], __ATOMIC_RELAXED);
  return total;
}

bool BpfProcessSource::ApplyRecord(const void* data, size_t size, ProcessStore& store) {
  if (size < sizeof(pk_event_header)) return false;
  pk_event_header header;
  std::memcpy(&header, data, sizeof(header));
  switch (header.type) {
    case PK_EVENT_FORK: {
      if (size < sizeof(pk_fork_event)) return false;
      return ApplyFork(*static_cast<const pk_fork_event*>(data), store);
    }
    case PK_EVENT_EXEC: {
      if (size < offsetof(pk_exec_event, data)) return false;
      return ApplyExec(*static_cast<const pk_exec_event*>(data), size, store);
    }
    case PK_EVENT_EXIT: {
      if (size < sizeof(pk_exit_event)) return false;
      const auto& ev = *static_cast<const pk_exit_event*>(data);
      store.OnExit(ExitEvent{ev.hdr.time_ns, Key(ev.tgid, ev.start_ns), ev.exit_code});
      return true;
    }
    default: return false;
  }
}

int BpfProcessSource::OnRecord(void* ctx, void* data, size_t size) {
  auto* self = static_cast<BpfProcessSource*>(ctx);
  if (ApplyRecord(data, size, *self->draining_)) {
    ++self->counters_.events;
  } else {
    ++self->counters_.malformed;
  }
  return 0;
}

Result<size_t> BpfProcessSource::Drain(ProcessStore& store) {
  draining_ = &store;
  const int n = ring_buffer__consume(ring_);
  draining_ = nullptr;
  // Records the kernel could not write: counted by the program, reported once each.
  const uint64_t lost = kernel_lost_total();
  if (lost > lost_reported_) {
    store.OnLostEvents(lost - lost_reported_);
    counters_.lost += lost - lost_reported_;
    lost_reported_ = lost;
  }
  if (n < 0) return LibbpfError("ring buffer consume", n);
  return static_cast<size_t>(n);
}

}  // namespace picket
