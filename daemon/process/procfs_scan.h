// Reading processes from /proc for the exec-event store: the start-up walk, on-demand population of a
// process first met in a lookup, and the liveness probe of the sweep.
//
// Every read of one process goes through its /proc/PID directory fd, so the answer describes the
// process that fd was opened for, or fails once it has ended (a later process reusing the PID is
// never read). A zombie counts as ended. Start times are clock ticks (coarse keys, see
// process_record.h).
// Stateless functions; ProcfsLivenessProbe owns nothing (borrows the proc root fd).
// Thread-safety: functions are thread-safe; a probe belongs to one thread.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"
#include "process/process_store.h"

namespace picket {

struct ProcfsReadOptions {
  size_t max_cmdline_bytes = 16 * 1024;  // longer command lines are cut (argv truncated flag)
  bool read_environ = false;             // only when rules ask for environment variables
  size_t max_environ_bytes = 32 * 1024;
  int cgroup2_root = -1;                 // directory fd of the cgroup2 mount (for cgroup ids); -1 = none
};

// Start time (clock ticks since boot) of the process whose /proc/PID directory is `pid_dir`.
// Error when it has ended (gone, or a zombie) or stat names another pid.
Result<uint64_t> ReadStartTicks(int pid_dir, pid_t pid);

// The process as an ExecEvent with a coarse key: stat, status, cmdline, exe (link and the file's
// identity), cwd, cgroup, pid/mnt namespace inodes, and environ when asked. event.parent is the
// ppid with an unknown start. Error (naming the file) when the process has ended or is a kernel
// thread (no exe), or stat/status are malformed.
Result<ExecEvent> ReadProcfsProcess(int pid_dir, pid_t pid, const ProcfsReadOptions& options);

// Opens /proc/PID (O_PATH directory) under the proc root fd; invalid fd when there is none.
UniqueFd OpenPidDir(int proc_dir, pid_t pid);

// The numeric entries of the proc root (thread-group leaders), ascending. Error when it cannot be
// listed.
Result<std::vector<pid_t>> ListProcPids(int proc_dir);

// The root of the cgroup2 hierarchy: the mount found in /proc/self/mountinfo (fstype cgroup2, root
// "/"); when none is visible (a process started by `ip netns exec` has its own /sys without the
// cgroup mounts), cgroup2 mounted on a temporary directory, opened, and detached at once (nothing
// stays mounted). `path` describes what was opened; the fd is an O_PATH directory.
struct Cgroup2Root {
  std::string path;
  UniqueFd fd;
};
// Error naming each place looked at and why it did not serve.
Result<Cgroup2Root> FindCgroup2Root();

// FindCgroup2Root()'s fd; invalid when there is none.
UniqueFd OpenCgroup2Root();

class ProcfsLivenessProbe final : public LivenessProbe {
 public:
  explicit ProcfsLivenessProbe(int proc_dir) : proc_dir_(proc_dir) {}
  std::optional<uint64_t> StartTicks(pid_t tgid) override;

 private:
  int proc_dir_;
};

}  // namespace picket
