// ReadProcessInfo: reads one process's identity from its /proc/PID directory fd.
//
// Every file is opened relative to the directory fd, so the reads describe the process that fd was
// opened for, or fail once it has exited (a later process reusing the PID is never read).
// Stateless; thread-safe.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <string>

#include "common/result.h"
#include "process/process_info.h"

namespace picket {

struct ProcReadOptions {
  size_t max_cmdline_bytes = 64 * 1024;  // longer command lines are cut (last argument partial)
};

// Reads up to `max_bytes` of `name` under `dir` into `out`. A short read ends the file: the proc
// files read with it (stat, status, cmdline, environ, cgroup) return everything they have up to the
// size asked for, so the usual extra read(2) that returns 0 is skipped. Error names the file.
Status ReadProcFileAt(int dir, const char* name, size_t max_bytes, std::string& out);

// readlinkat(dir, name). Error names the link.
Result<std::string> ReadProcLinkAt(int dir, const char* name);

// Reads stat (ppid, start time), status (real uid), cmdline, exe and cwd of the process whose
// /proc/PID directory is open as `pid_dir`. exe " (deleted)" is stripped and flagged when the
// running image really has no link left. cwd is empty when unreadable. Error (naming the file) when
// the process has gone, a file is malformed, or stat names another pid than `pid`.
Result<ProcessInfo> ReadProcessInfo(int pid_dir, pid_t pid, const ProcReadOptions& options = {});

}  // namespace picket
