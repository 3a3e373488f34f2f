#include "process/procfs_scan.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include <algorithm>
#include <cstring>
#include <charconv>
#include <string>

#include "process/cgroup_paths.h"
#include "process/proc_parsers.h"
#include "process/proc_reader.h"

namespace picket {
namespace {

constexpr size_t kSmallFileBytes = 16 * 1024;
constexpr std::string_view kMemfdPrefix = "/memfd:";

uint64_t TimespecNs(const timespec& ts) {
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

uint32_t NsInode(int pid_dir, const char* name) {
  struct stat st {};
  if (fstatat(pid_dir, name, &st, 0) != 0) return 0;
  return static_cast<uint32_t>(st.st_ino);
}

uint64_t CgroupId(int cgroup2_root, const std::string& path) {
  if (cgroup2_root < 0 || path.empty()) return 0;
  const std::string relative = path == "/" ? std::string(".") : path.substr(path.front() == '/' ? 1 : 0);
  struct stat st {};
  if (fstatat(cgroup2_root, relative.c_str(), &st, 0) != 0) return 0;
  return st.st_ino;
}

// The exe link, its file identity, and whether it is deleted or a memfd.
Status ReadExe(int pid_dir, ExecEvent& event) {
  auto link = ReadProcLinkAt(pid_dir, "exe");
  if (!link.ok()) return link.error();
  struct stat st {};
  if (fstatat(pid_dir, "exe", &st, 0) != 0) return Error::FromErrno("stat exe");
  ExeLink exe = SplitDeletedSuffix(*link);
  // A file really named "... (deleted)" still has links; only the kernel's suffix means deleted.
  if (exe.deleted_suffix && st.st_nlink > 0) exe = ExeLink{*link, false};
  event.exe_file.dev = st.st_dev;
  event.exe_file.ino = st.st_ino;
  event.exe_file.ctime_ns = TimespecNs(st.st_ctim);
  event.exe_file.size = static_cast<uint64_t>(st.st_size);
  event.exe_file.deleted = st.st_nlink == 0;
  event.exe_file.memfd = exe.deleted_suffix && std::string_view(exe.path).starts_with(kMemfdPrefix);
  event.exe_file.known = true;
  event.exe_path = std::move(exe.path);
  return OkStatus();
}

}  // namespace

Result<uint64_t> ReadStartTicks(int pid_dir, pid_t pid) {
  std::string text;
  if (Status s = ReadProcFileAt(pid_dir, "stat", kSmallFileBytes, text); !s.ok()) return s.error();
  auto stat = ParseProcStat(text);
  if (!stat.ok()) return stat.error();
  if (stat->pid != pid) return Error{"stat: names pid " + std::to_string(stat->pid) + ", expected " + std::to_string(pid)};
  if (stat->state == 'Z' || stat->state == 'X') return Error{"pid " + std::to_string(pid) + " has ended (zombie)"};
  return stat->start_time_ticks;
}

Result<ExecEvent> ReadProcfsProcess(int pid_dir, pid_t pid, const ProcfsReadOptions& options) {
  ExecEvent event;
  std::string text;
  text.reserve(kSmallFileBytes);
  if (Status s = ReadProcFileAt(pid_dir, "stat", kSmallFileBytes, text); !s.ok()) return s.error();
  auto stat = ParseProcStat(text);
  if (!stat.ok()) return stat.error();
  if (stat->pid != pid) return Error{"stat: names pid " + std::to_string(stat->pid) + ", expected " + std::to_string(pid)};
  if (stat->state == 'Z' || stat->state == 'X') return Error{"pid " + std::to_string(pid) + " has ended (zombie)"};
  event.proc = ProcKey{pid, stat->start_time_ticks * ProcTickNs(), true};
  event.parent = ProcKey{stat->ppid, 0, true};

  if (Status s = ReadProcFileAt(pid_dir, "status", kSmallFileBytes, text); !s.ok()) return s.error();
  auto ids = ParseStatusIds(text);
  if (!ids.ok()) return ids.error();
  event.uid = ids->uid;
  event.euid = ids->euid;
  event.gid = ids->gid;
  event.ns_pid = ids->ns_pid;

  if (Status s = ReadExe(pid_dir, event); !s.ok()) return s.error();

  if (Status s = ReadProcFileAt(pid_dir, "cmdline", options.max_cmdline_bytes, text); !s.ok()) return s.error();
  if (text.size() >= options.max_cmdline_bytes) event.flags |= kImageArgvTruncated;
  event.argv = ParseCmdline(text);

  if (auto cwd = ReadProcLinkAt(pid_dir, "cwd"); cwd.ok()) event.cwd = std::move(*cwd);
  if (ReadProcFileAt(pid_dir, "cgroup", kSmallFileBytes, text).ok()) {
    if (std::optional<std::string> path = ParseCgroupPath(text)) {
      event.cgroup_id = CgroupId(options.cgroup2_root, *path);
      event.cgroup = std::move(*path);
    }
    if (std::optional<std::string> path = ParseCgroup2Path(text)) event.cgroup_path = std::move(*path);
  }
  event.pid_ns = NsInode(pid_dir, "ns/pid");
  event.mnt_ns = NsInode(pid_dir, "ns/mnt");
  if (options.read_environ && ReadProcFileAt(pid_dir, "environ", options.max_environ_bytes, event.environ).ok()) {
    if (event.environ.size() >= options.max_environ_bytes) event.flags |= kImageEnvTruncated;
  }
  // Read last: a process that ended while being read is not reported (its files may mix two images).
  auto again = ReadStartTicks(pid_dir, pid);
  if (!again.ok()) return again.error();
  return event;
}

UniqueFd OpenPidDir(int proc_dir, pid_t pid) {
  char name[16];
  auto [end, ec] = std::to_chars(name, name + sizeof(name) - 1, pid);
  if (ec != std::errc()) return UniqueFd();
  *end = '\0';
  return UniqueFd(openat(proc_dir, name, O_PATH | O_DIRECTORY | O_CLOEXEC));
}

Result<std::vector<pid_t>> ListProcPids(int proc_dir) {
  const int fd = openat(proc_dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Error::FromErrno("open proc root");
  DIR* dir = fdopendir(fd);
  if (dir == nullptr) {
    close(fd);
    return Error::FromErrno("fdopendir proc root");
  }
  std::vector<pid_t> pids;
  while (dirent* entry = readdir(dir)) {
    const std::string_view name(entry->d_name);
    pid_t pid = 0;
    auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), pid);
    if (ec == std::errc() && end == name.data() + name.size() && pid > 0) pids.push_back(pid);
  }
  closedir(dir);
  std::sort(pids.begin(), pids.end());
  return pids;
}

namespace {

constexpr size_t kMountinfoBytes = 4 << 20;

// The whole of a seq_file such as mountinfo (a short read is not its end: read until 0).
Result<std::string> ReadSeqFile(const std::string& path, size_t max_bytes) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return Error::FromErrno("open " + path);
  std::string text;
  char buf[8192];
  while (text.size() < max_bytes) {
    const ssize_t n = read(fd.get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::FromErrno("read " + path);
    if (n == 0) return text;
    text.append(buf, static_cast<size_t>(n));
  }
  return Error{path + ": longer than " + std::to_string(max_bytes) + " bytes"};
}

// The cgroup2 root listed in our own mountinfo.
Result<Cgroup2Root> VisibleCgroup2Mount() {
  const std::string where = "/proc/self/mountinfo";
  auto text = ReadSeqFile(where, kMountinfoBytes);
  if (!text.ok()) return text.error();
  auto mount_point = FindCgroup2MountPoint(*text);
  if (!mount_point.ok()) return Error{where + ": " + mount_point.error().message};
  if (!mount_point->has_value()) return Error{where + ": no cgroup2 mount of the whole hierarchy"};
  Cgroup2Root root{**mount_point, UniqueFd(open(mount_point->value().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC))};
  if (!root.fd.valid()) return Error::FromErrno("open " + root.path + " (from " + where + ")");
  struct statfs fs {};
  if (fstatfs(root.fd.get(), &fs) != 0) return Error::FromErrno("fstatfs " + root.path);
  if (static_cast<unsigned long>(fs.f_type) != CGROUP2_SUPER_MAGIC) return Error{root.path + " is not a cgroup2 filesystem"};
  return root;
}

// No cgroup2 mount is visible (a process started by `ip netns exec` has a new /sys without the
// cgroup mounts): mount the hierarchy on a fresh directory, keep an fd of its root, and detach the
// mount at once — the fd keeps the hierarchy's root reachable, and nothing stays mounted.
Result<Cgroup2Root> PrivateCgroup2Mount() {
  char dir[] = "/tmp/picket-cgroup2-XXXXXX";
  if (mkdtemp(dir) == nullptr) return Error::FromErrno("mkdtemp for a cgroup2 mount");
  Cgroup2Root root{std::string("cgroup2 mounted privately (") + dir + ", detached)", UniqueFd()};
  if (mount("cgroup2", dir, "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0) {
    Error error = Error::FromErrno(std::string("mount cgroup2 on ") + dir);
    rmdir(dir);
    return error;
  }
  root.fd = UniqueFd(open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC));
  const int open_errno = errno;
  umount2(dir, MNT_DETACH);
  rmdir(dir);
  if (!root.fd.valid()) return Error{std::string("open ") + dir + ": " + std::strerror(open_errno), open_errno};
  return root;
}

}  // namespace

Result<Cgroup2Root> FindCgroup2Root() {
  auto own = VisibleCgroup2Mount();
  if (own.ok()) return own;
  auto mounted = PrivateCgroup2Mount();
  if (mounted.ok()) return mounted;
  return Error{"no cgroup2 hierarchy: " + own.error().message + "; " + mounted.error().message};
}

UniqueFd OpenCgroup2Root() {
  auto root = FindCgroup2Root();
  if (!root.ok()) return UniqueFd();
  return std::move(root->fd);
}

std::optional<uint64_t> ProcfsLivenessProbe::StartTicks(pid_t tgid) {
  UniqueFd dir = OpenPidDir(proc_dir_, tgid);
  if (!dir.valid()) return std::nullopt;
  auto ticks = ReadStartTicks(dir.get(), tgid);
  if (!ticks.ok()) return std::nullopt;
  return *ticks;
}

}  // namespace picket
