// Pure parsers for the /proc files that attribution reads: /proc/PID/stat, /proc/PID/status,
// /proc/PID/cmdline, /proc/PID/mountinfo, fd link targets ("socket:[N]") and exe link targets
// (" (deleted)" suffix).
//
// Each takes the bytes already read (never a path), never reads past them, and rejects malformed
// input with an Error naming the field. No state; thread-safe.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace picket {

// The fields of /proc/PID/stat that attribution uses (proc(5) numbering in comments).
struct StatFields {
  pid_t pid = 0;                  // field 1
  std::string comm;               // field 2, without the parentheses; may hold spaces and ')'
  char state = '?';               // field 3
  pid_t ppid = 0;                 // field 4
  uint64_t start_time_ticks = 0;  // field 22: clock ticks since boot
};

// Parses one /proc/PID/stat line. comm is everything between the first '(' and the LAST ')', so a
// comm such as "a) (b" is handled. Error when a field is missing or not a number.
Result<StatFields> ParseProcStat(std::string_view text);

// Real uid: the first number of the "Uid:" line of /proc/PID/status.
Result<uint32_t> ParseStatusUid(std::string_view text);

// The ids of /proc/PID/status that the exec-event store keeps.
struct StatusIds {
  uint32_t uid = 0;   // "Uid:" real
  uint32_t euid = 0;  // "Uid:" effective
  uint32_t gid = 0;   // "Gid:" real
  pid_t ns_pid = 0;   // last number of "NSpid:" (the pid in the process's own pid namespace); 0 when absent
};

// Parses the Uid, Gid and NSpid lines. Error when Uid or Gid is missing or malformed.
Result<StatusIds> ParseStatusIds(std::string_view text);

// Calls `visit(line)` for each '\n'-separated line of `text` (without the newline) until it returns
// true; returns whether one did.
template <typename Visit>
bool FindLine(std::string_view text, Visit visit) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    if (visit(text.substr(pos, end - pos))) return true;
    pos = end + 1;
  }
  return false;
}

// The cgroup v2 path ("0::/path" line) of /proc/PID/cgroup; on a v1-only system the path of the
// "name=systemd" hierarchy. nullopt when neither is present.
std::optional<std::string> ParseCgroupPath(std::string_view text);

// Splits /proc/PID/cmdline on NUL. A trailing NUL ends the last argument; a last argument without
// one (a process that rewrote its argv, or a truncated read) is kept. Empty input → empty vector.
// At most `max_args` arguments are returned; the rest are dropped.
std::vector<std::string> ParseCmdline(std::string_view bytes, size_t max_args = 4096);

// Inode of a socket fd link target "socket:[12345]"; nullopt for anything else.
std::optional<uint64_t> ParseSocketLink(std::string_view link);

// readlink(/proc/PID/exe) result split into the path and whether it carries the kernel's
// " (deleted)" suffix (the suffix is removed from `path`).
struct ExeLink {
  std::string path;
  bool deleted_suffix = false;
};
ExeLink SplitDeletedSuffix(std::string_view link);

// One line of /proc/PID/mountinfo (proc(5)): "ID PARENT MAJ:MIN ROOT MOUNT_POINT OPTIONS [OPTIONAL...]
// - FSTYPE SOURCE SUPER_OPTIONS". ROOT and MOUNT_POINT have the kernel's octal escapes (\040 space,
// \011 tab, \012 newline, \134 backslash) decoded.
struct MountEntry {
  std::string root;         // the mounted directory inside its filesystem ("/" = the whole fs; nsfs
                            // mounts show "net:[4026532177]")
  std::string mount_point;  // absolute path in the reader's mount namespace
  std::string fstype;
};

// Parses one line (no trailing newline). Error naming the field when a field is missing, the
// "-" separator is absent, the mount point is not absolute or an escape is malformed.
Result<MountEntry> ParseMountinfoLine(std::string_view line);

// The mount point of the first cgroup2 mount of the whole hierarchy (ROOT "/") in a mountinfo
// file; nullopt when there is none. Error (naming the line number) when a line is malformed.
Result<std::optional<std::string>> FindCgroup2MountPoint(std::string_view mountinfo);

}  // namespace picket
