// ProcFdIndex: finds the process that holds a socket (by inode) by reading /proc/PID/fd links.
//
// Order of search: first the PIDs that held recently found sockets (a small most-recently-used
// list remembering the fd number each socket had: a client making many connections usually reuses
// that fd number or the next one, so it is found with one or two readlinks, else by listing its one
// fd directory), then every numeric directory of /proc, processes owned by the socket's uid first
// (a cheap fstatat of /proc/PID), then the others (a process may hold a socket created under
// another uid), newest PIDs first within each group. The holder is returned with a directory fd of
// its /proc/PID: reads through it fail once the process is gone instead of describing a process
// that reused the PID, and StillHolds() re-checks ownership through it.
//
// No caching of answers: every call reads /proc. A socket held by several processes (inherited over
// fork) is reported for the first process found in the order above.
// Ownership: owns an fd of the proc root. Thread-safety: none; one thread only.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"

namespace picket {

struct ProcFdIndexOptions {
  std::string proc_root = "/proc";
  size_t mru_pids = 64;
};

// The process found holding a socket.
struct SocketHolder {
  pid_t pid = 0;
  UniqueFd pid_dir;     // /proc/PID (O_PATH directory fd): pins this process
  std::string fd_name;  // entry of /proc/PID/fd that links to the socket
  bool from_mru = false;
};

class ProcFdIndex {
 public:
  // Error when the proc root cannot be opened.
  static Result<std::unique_ptr<ProcFdIndex>> Open(const ProcFdIndexOptions& options);

  // The process holding "socket:[inode]", searched as described above. ok(nullopt) when no process
  // holds it. Error only when the proc root cannot be listed.
  Result<std::optional<SocketHolder>> FindSocketHolder(uint64_t inode, std::optional<uint32_t> uid_hint);

  // True while holder.fd_name still links to "socket:[inode]" (false once the process is gone).
  static bool StillHolds(const SocketHolder& holder, uint64_t inode);

  // PIDs of the most-recently-used list, most recent first.
  std::vector<pid_t> mru_pids() const;

  // Work done so far, for tests and benchmarks.
  struct Stats {
    uint64_t fd_dirs_read = 0;   // /proc/PID/fd directories listed
    uint64_t fd_hint_hits = 0;   // found at a remembered fd number without listing fd/
    uint64_t proc_listings = 0;  // full listings of the proc root
  };
  const Stats& stats() const { return stats_; }

 private:
  struct Candidate {
    pid_t pid;
    bool uid_match;
  };
  struct MruEntry {
    pid_t pid;
    int last_fd;  // fd number of the last socket found in this process
  };
  enum class PidState : uint8_t { kFound, kNotHeld, kGone };

  ProcFdIndex(const ProcFdIndexOptions& options, UniqueFd proc_dir);
  // True when /proc/PID/fd/FD links to `target`.
  bool FdLinksTo(pid_t pid, int fd, std::string_view target) const;
  // Lists /proc/PID/fd looking for `target` ("socket:[N]"). kFound sets *fd and *pid_dir (opened
  // as the fd directory's parent, so it is the same process).
  PidState ScanFdDir(pid_t pid, std::string_view target, int* fd, UniqueFd* pid_dir);
  // Opens /proc/PID for a holder found by readlink alone.
  std::optional<SocketHolder> MakeHolder(pid_t pid, int fd, UniqueFd pid_dir, bool from_mru) const;
  std::optional<SocketHolder> SearchMru(std::string_view target);
  Status ListCandidates(std::optional<uint32_t> uid_hint);
  void PromoteMru(size_t index, int fd);
  void InsertMru(pid_t pid, int fd);

  ProcFdIndexOptions options_;
  UniqueFd proc_dir_;
  std::vector<MruEntry> mru_;
  std::vector<Candidate> candidates_;  // reused between scans
  std::vector<uint64_t> dirent_buffer_;
  Stats stats_;
};

}  // namespace picket
