// cgroup v2 paths of processes: what the `process.cgroup` rule operand matches
// ("/user.slice/user-1000.slice/app-firefox.scope").
//
// Two ways to learn a process's path:
//   * from /proc/PID/cgroup (processes read from /proc): ParseCgroup2Path, a pure parser;
//   * from the cgroup id the eBPF source reports: CgroupHandleResolver turns the id into a file
//     handle on the cgroup2 mount (the kernfs node id is the handle), opens it with
//     open_by_handle_at and reads the directory's path back; results are cached by id, bounded (LRU).
// An id that cannot be resolved (the cgroup was removed, no cgroup2 mount, no CAP_DAC_READ_SEARCH)
// has no path: the operand then does not match. A path is never guessed.
// The mount is found with ParseCgroup2Mount over /proc/self/mountinfo (lines read by
// ParseMountinfoLine, proc_parsers.h).
// Ownership: the resolver owns its mount fd and cache. Thread-safety: parsers are pure; a resolver
// belongs to one thread (the event loop).
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/result.h"
#include "common/unique_fd.h"

namespace picket {

// The path of the "0::" line of /proc/PID/cgroup. nullopt when there is no such line (a v1-only
// system), when the path is not absolute, or when the kernel marks the cgroup " (deleted)".
std::optional<std::string> ParseCgroup2Path(std::string_view text);

struct Cgroup2Mount {
  std::string mount_point;  // where it is mounted in this mount namespace ("/sys/fs/cgroup")
  std::string root;         // the cgroup the mount shows as its root ("/" for the whole hierarchy)
};

// The first mount of type cgroup2 in /proc/self/mountinfo text (malformed lines are skipped), its
// octal escapes ("\040") decoded. nullopt when there is none.
std::optional<Cgroup2Mount> ParseCgroup2Mount(std::string_view mountinfo);

// Joins a mount's root and a path below its mount point into a cgroup path ("/" + "a/b" → "/a/b").
std::string JoinCgroupPath(std::string_view root, std::string_view below_mount);

// Answers "which cgroup v2 path has cgroup id X?".
class CgroupPathResolver {
 public:
  virtual ~CgroupPathResolver() = default;
  // The path ("/a/b", "/" for the root cgroup); nullopt when it cannot be known.
  virtual std::optional<std::string> PathOf(uint64_t cgroup_id) = 0;
};

struct CgroupResolverCounters {
  uint64_t hits = 0;       // answered from the cache
  uint64_t resolved = 0;   // resolved through a file handle
  uint64_t failures = 0;   // could not be resolved (removed cgroup, error)
  uint64_t evictions = 0;  // cache entries dropped by the bound
};

class CgroupHandleResolver final : public CgroupPathResolver {
 public:
  // Finds the cgroup2 mount in /proc/self/mountinfo and learns its file-handle type. Error (naming
  // the step) when there is no cgroup2 mount or handles cannot be made on it.
  static Result<std::unique_ptr<CgroupHandleResolver>> Open(size_t max_entries = 4096);
  CgroupHandleResolver(const CgroupHandleResolver&) = delete;
  CgroupHandleResolver& operator=(const CgroupHandleResolver&) = delete;

  std::optional<std::string> PathOf(uint64_t cgroup_id) override;

  const Cgroup2Mount& mount() const { return mount_; }
  const CgroupResolverCounters& counters() const { return counters_; }
  size_t cached() const { return cache_.size(); }

 private:
  CgroupHandleResolver(Cgroup2Mount mount, UniqueFd mount_fd, int handle_type, size_t max_entries);
  std::optional<std::string> Resolve(uint64_t cgroup_id) const;
  void Remember(uint64_t cgroup_id, const std::string& path);

  struct Entry {
    std::string path;
    std::list<uint64_t>::iterator recent;  // position in recent_ (front = most recently used)
  };

  Cgroup2Mount mount_;
  UniqueFd mount_fd_;
  int handle_type_;
  size_t max_entries_;
  std::unordered_map<uint64_t, Entry> cache_;
  std::list<uint64_t> recent_;
  CgroupResolverCounters counters_;
};

}  // namespace picket
