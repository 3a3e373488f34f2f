#include "process/proc_reader.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "common/unique_fd.h"
#include "process/proc_parsers.h"

namespace picket {

Status ReadProcFileAt(int dir, const char* name, size_t max_bytes, std::string& out) {
  UniqueFd fd(openat(dir, name, O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return Error::FromErrno(std::string("open ") + name);
  constexpr size_t kChunk = 4096;
  out.clear();
  size_t used = 0;
  while (used < max_bytes) {
    const size_t chunk = std::min(max_bytes - used, kChunk);
    out.resize(used + chunk);
    const ssize_t n = read(fd.get(), out.data() + used, chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::FromErrno(std::string("read ") + name);
    used += static_cast<size_t>(n);
    if (static_cast<size_t>(n) < chunk) break;
  }
  out.resize(used);
  return OkStatus();
}

Result<std::string> ReadProcLinkAt(int dir, const char* name) {
  char buf[PATH_MAX];
  const ssize_t n = readlinkat(dir, name, buf, sizeof(buf));
  if (n < 0) return Error::FromErrno(std::string("readlink ") + name);
  return std::string(buf, static_cast<size_t>(n));
}

namespace {
constexpr size_t kSmallFileBytes = 16 * 1024;  // stat and status are a few hundred bytes
}  // namespace

Result<ProcessInfo> ReadProcessInfo(int pid_dir, pid_t pid, const ProcReadOptions& options) {
  ProcessInfo info;
  info.pid = pid;
  std::string text;
  text.reserve(kSmallFileBytes);

  if (Status s = ReadProcFileAt(pid_dir, "stat", kSmallFileBytes, text); !s.ok()) return s.error();
  auto stat = ParseProcStat(text);
  if (!stat.ok()) return stat.error();
  if (stat->pid != pid) return Error{"stat: names pid " + std::to_string(stat->pid) + ", expected " + std::to_string(pid)};
  info.ppid = stat->ppid;
  info.start_time_ticks = stat->start_time_ticks;

  if (Status s = ReadProcFileAt(pid_dir, "status", kSmallFileBytes, text); !s.ok()) return s.error();
  auto uid = ParseStatusUid(text);
  if (!uid.ok()) return uid.error();
  info.uid = *uid;

  if (Status s = ReadProcFileAt(pid_dir, "cmdline", options.max_cmdline_bytes, text); !s.ok()) return s.error();
  info.argv = ParseCmdline(text);

  auto exe = ReadProcLinkAt(pid_dir, "exe");
  if (!exe.ok()) return exe.error();
  ExeLink link = SplitDeletedSuffix(*exe);
  struct stat st {};
  // A file really named "... (deleted)" still has links; only the kernel's suffix means deleted.
  if (link.deleted_suffix && fstatat(pid_dir, "exe", &st, 0) == 0 && st.st_nlink > 0) {
    link = ExeLink{*exe, false};
  }
  info.exe_path = std::move(link.path);
  info.exe_deleted = link.deleted_suffix;

  auto cwd = ReadProcLinkAt(pid_dir, "cwd");
  if (cwd.ok()) info.cwd = std::move(*cwd);
  return info;
}

}  // namespace picket
