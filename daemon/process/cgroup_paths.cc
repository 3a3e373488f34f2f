#include "process/cgroup_paths.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "process/proc_parsers.h"
#include "process/proc_reader.h"

namespace picket {
namespace {

constexpr std::string_view kDeletedSuffix = " (deleted)";
constexpr size_t kMountinfoBytes = 1024 * 1024;
// A cgroup2 (kernfs) file handle is the 64-bit node id, which is the cgroup id.
constexpr unsigned int kKernfsHandleBytes = sizeof(uint64_t);

// Handle buffer with room for the kernfs id, aligned for struct file_handle.
struct CgroupHandle {
  alignas(file_handle) unsigned char bytes[sizeof(file_handle) + MAX_HANDLE_SZ];
  file_handle* get() { return reinterpret_cast<file_handle*>(bytes); }
};

}  // namespace

std::optional<std::string> ParseCgroup2Path(std::string_view text) {
  std::optional<std::string> found;
  FindLine(text, [&](std::string_view line) {
    if (!line.starts_with("0::")) return false;
    const std::string_view path = line.substr(3);
    if (!path.empty() && path.front() == '/' && !path.ends_with(kDeletedSuffix)) found = std::string(path);
    return true;
  });
  return found;
}

std::optional<Cgroup2Mount> ParseCgroup2Mount(std::string_view mountinfo) {
  std::optional<Cgroup2Mount> found;
  FindLine(mountinfo, [&](std::string_view line) {
    Result<MountEntry> entry = ParseMountinfoLine(line);
    if (!entry.ok() || entry->fstype != "cgroup2" || entry->root.empty() || entry->root.front() != '/') return false;
    found = Cgroup2Mount{std::move(entry->mount_point), std::move(entry->root)};
    return true;
  });
  return found;
}

std::string JoinCgroupPath(std::string_view root, std::string_view below_mount) {
  while (!below_mount.empty() && below_mount.front() == '/') below_mount.remove_prefix(1);
  while (!root.empty() && root.back() == '/') root.remove_suffix(1);
  if (below_mount.empty()) return root.empty() ? std::string("/") : std::string(root);
  return std::string(root) + "/" + std::string(below_mount);
}

Result<std::unique_ptr<CgroupHandleResolver>> CgroupHandleResolver::Open(size_t max_entries) {
  std::string text;
  if (Status s = ReadProcFileAt(AT_FDCWD, "/proc/self/mountinfo", kMountinfoBytes, text); !s.ok()) return s.error();
  std::optional<Cgroup2Mount> mount = ParseCgroup2Mount(text);
  if (!mount) return Error{"no cgroup2 mount in /proc/self/mountinfo"};
  // open_by_handle_at needs a real open file as its mount fd (an O_PATH one is refused: EBADF).
  UniqueFd fd(open(mount->mount_point.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return Error::FromErrno("open cgroup2 mount " + mount->mount_point);
  CgroupHandle handle;
  handle.get()->handle_bytes = MAX_HANDLE_SZ;
  int mount_id = 0;
  if (name_to_handle_at(fd.get(), "", handle.get(), &mount_id, AT_EMPTY_PATH) != 0) {
    return Error::FromErrno("name_to_handle_at " + mount->mount_point);
  }
  if (handle.get()->handle_bytes != kKernfsHandleBytes) {
    return Error{"cgroup2 mount " + mount->mount_point + ": file handles of " +
                 std::to_string(handle.get()->handle_bytes) + " bytes, expected " + std::to_string(kKernfsHandleBytes)};
  }
  const int type = handle.get()->handle_type;
  return std::unique_ptr<CgroupHandleResolver>(
      new CgroupHandleResolver(std::move(*mount), std::move(fd), type, max_entries == 0 ? 1 : max_entries));
}

CgroupHandleResolver::CgroupHandleResolver(Cgroup2Mount mount, UniqueFd mount_fd, int handle_type, size_t max_entries)
    : mount_(std::move(mount)), mount_fd_(std::move(mount_fd)), handle_type_(handle_type), max_entries_(max_entries) {}

std::optional<std::string> CgroupHandleResolver::PathOf(uint64_t cgroup_id) {
  if (cgroup_id == 0) return std::nullopt;
  if (auto it = cache_.find(cgroup_id); it != cache_.end()) {
    ++counters_.hits;
    recent_.splice(recent_.begin(), recent_, it->second.recent);
    return it->second.path;
  }
  std::optional<std::string> path = Resolve(cgroup_id);
  if (!path) {
    ++counters_.failures;
    return std::nullopt;
  }
  ++counters_.resolved;
  Remember(cgroup_id, *path);
  return path;
}

std::optional<std::string> CgroupHandleResolver::Resolve(uint64_t cgroup_id) const {
  CgroupHandle handle;
  handle.get()->handle_bytes = kKernfsHandleBytes;
  handle.get()->handle_type = handle_type_;
  std::memcpy(handle.get()->f_handle, &cgroup_id, sizeof(cgroup_id));
  UniqueFd dir(open_by_handle_at(mount_fd_.get(), handle.get(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid()) return std::nullopt;
  const std::string self_fd = "/proc/self/fd/" + std::to_string(dir.get());
  Result<std::string> link = ReadProcLinkAt(AT_FDCWD, self_fd.c_str());
  if (!link.ok() || std::string_view(*link).ends_with(kDeletedSuffix)) return std::nullopt;
  const std::string_view target(*link);
  const std::string_view point(mount_.mount_point);
  const bool below = point == "/" || target == point ||
                     (target.starts_with(point) && target.size() > point.size() && target[point.size()] == '/');
  if (!below) return std::nullopt;
  return JoinCgroupPath(mount_.root, point == "/" ? target : target.substr(point.size()));
}

void CgroupHandleResolver::Remember(uint64_t cgroup_id, const std::string& path) {
  while (cache_.size() >= max_entries_ && !recent_.empty()) {
    cache_.erase(recent_.back());
    recent_.pop_back();
    ++counters_.evictions;
  }
  recent_.push_front(cgroup_id);
  cache_.emplace(cgroup_id, Entry{path, recent_.begin()});
}

}  // namespace picket
