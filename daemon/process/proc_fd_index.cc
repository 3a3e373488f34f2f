#include "process/proc_fd_index.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace picket {
namespace {

constexpr size_t kDirentBufferBytes = 32 * 1024;
constexpr size_t kHintedMruEntries = 4;  // MRU entries whose remembered fd numbers are tried first

// Number of a /proc or fd/ entry name; nullopt for non-numeric names ("self", "sys", ...).
template <typename T>
std::optional<T> NumberFromName(std::string_view name) {
  if (name.empty() || name[0] < '0' || name[0] > '9') return std::nullopt;
  T value = 0;
  const auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), value);
  if (ec != std::errc() || end != name.data() + name.size() || value < 0) return std::nullopt;
  return value;
}

// "PID", "PID/fd" or "PID/fd/N", relative to the proc root.
class PidPath {
 public:
  explicit PidPath(pid_t pid) { Append(pid); }
  PidPath(pid_t pid, std::string_view suffix) : PidPath(pid) { Append(suffix); }
  PidPath(pid_t pid, int fd) : PidPath(pid, "/fd/") { Append(fd); }
  const char* c_str() const { return text_; }

 private:
  void Append(long value) { end_ = std::to_chars(end_, text_ + sizeof(text_) - 1, value).ptr; }
  void Append(std::string_view part) { end_ = std::copy(part.begin(), part.end(), end_); }
  char text_[48] = {};
  char* end_ = text_;
};

bool LinkIs(int dir, const char* path, std::string_view target) {
  char link[64];
  const ssize_t n = readlinkat(dir, path, link, sizeof(link));
  return n == static_cast<ssize_t>(target.size()) && std::memcmp(link, target.data(), target.size()) == 0;
}

// Calls on_name(name) for each entry of the open directory `fd` from its current position,
// skipping "." and "..". Stops early when on_name returns true. Returns false when reading failed.
template <typename OnName>
bool ForEachEntry(int fd, std::vector<uint64_t>& buffer, OnName&& on_name) {
  char* const bytes = reinterpret_cast<char*>(buffer.data());
  const size_t size = buffer.size() * sizeof(uint64_t);
  for (;;) {
    const ssize_t n = getdents64(fd, bytes, size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    if (n == 0) return true;
    for (ssize_t off = 0; off < n;) {
      const auto* entry = reinterpret_cast<const dirent64*>(bytes + off);
      off += entry->d_reclen;
      const std::string_view name(entry->d_name);
      if (name == "." || name == "..") continue;
      if (on_name(name)) return true;
    }
  }
}

}  // namespace

ProcFdIndex::ProcFdIndex(const ProcFdIndexOptions& options, UniqueFd proc_dir)
    : options_(options), proc_dir_(std::move(proc_dir)), dirent_buffer_(kDirentBufferBytes / sizeof(uint64_t)) {
  mru_.reserve(options_.mru_pids);
}

Result<std::unique_ptr<ProcFdIndex>> ProcFdIndex::Open(const ProcFdIndexOptions& options) {
  UniqueFd dir(open(options.proc_root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid()) return Error::FromErrno("open " + options.proc_root);
  return std::unique_ptr<ProcFdIndex>(new ProcFdIndex(options, std::move(dir)));
}

std::vector<pid_t> ProcFdIndex::mru_pids() const {
  std::vector<pid_t> pids;
  pids.reserve(mru_.size());
  for (const MruEntry& entry : mru_) pids.push_back(entry.pid);
  return pids;
}

bool ProcFdIndex::FdLinksTo(pid_t pid, int fd, std::string_view target) const {
  return LinkIs(proc_dir_.get(), PidPath(pid, fd).c_str(), target);
}

ProcFdIndex::PidState ProcFdIndex::ScanFdDir(pid_t pid, std::string_view target, int* fd, UniqueFd* pid_dir) {
  UniqueFd fd_dir(openat(proc_dir_.get(), PidPath(pid, "/fd").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd_dir.valid()) return errno == ENOENT || errno == ESRCH ? PidState::kGone : PidState::kNotHeld;
  ++stats_.fd_dirs_read;
  int found = -1;
  ForEachEntry(fd_dir.get(), dirent_buffer_, [&](std::string_view name) {
    char link[64];
    const ssize_t n = readlinkat(fd_dir.get(), name.data(), link, sizeof(link));
    if (n < 0 && errno == EACCES) return true;  // not ours to read: no entry of this table will be
    if (n != static_cast<ssize_t>(target.size()) || std::memcmp(link, target.data(), target.size()) != 0) {
      return false;
    }
    found = NumberFromName<int>(name).value_or(-1);
    return true;
  });
  if (found < 0) return PidState::kNotHeld;
  // The fd directory's parent is this process's /proc/PID, whatever has happened to the PID since.
  pid_dir->reset(openat(fd_dir.get(), "..", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!pid_dir->valid()) return PidState::kGone;
  *fd = found;
  return PidState::kFound;
}

std::optional<SocketHolder> ProcFdIndex::MakeHolder(pid_t pid, int fd, UniqueFd pid_dir, bool from_mru) const {
  if (!pid_dir.valid()) pid_dir.reset(openat(proc_dir_.get(), PidPath(pid).c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!pid_dir.valid()) return std::nullopt;
  SocketHolder holder;
  holder.pid = pid;
  holder.pid_dir = std::move(pid_dir);
  holder.fd_name = std::to_string(fd);
  holder.from_mru = from_mru;
  return holder;
}

std::optional<SocketHolder> ProcFdIndex::SearchMru(std::string_view target) {
  // Remembered fd numbers of the most recent owners: no directory listing at all.
  for (size_t i = 0; i < mru_.size() && i < kHintedMruEntries; ++i) {
    const MruEntry entry = mru_[i];
    for (int fd : {entry.last_fd, entry.last_fd + 1}) {
      if (!FdLinksTo(entry.pid, fd, target)) continue;
      // Opened after the readlink: StillHolds() later proves this process holds the socket.
      std::optional<SocketHolder> holder = MakeHolder(entry.pid, fd, UniqueFd(), true);
      if (!holder) break;
      ++stats_.fd_hint_hits;
      PromoteMru(i, fd);
      return holder;
    }
  }
  for (size_t i = 0; i < mru_.size();) {
    const pid_t pid = mru_[i].pid;
    int fd = -1;
    UniqueFd pid_dir;
    switch (ScanFdDir(pid, target, &fd, &pid_dir)) {
      case PidState::kFound:
        PromoteMru(i, fd);
        return MakeHolder(pid, fd, std::move(pid_dir), true);
      case PidState::kGone:
        mru_.erase(mru_.begin() + static_cast<std::ptrdiff_t>(i));
        break;
      case PidState::kNotHeld:
        ++i;
        break;
    }
  }
  return std::nullopt;
}

Status ProcFdIndex::ListCandidates(std::optional<uint32_t> uid_hint) {
  candidates_.clear();
  ++stats_.proc_listings;
  if (lseek(proc_dir_.get(), 0, SEEK_SET) != 0) return Error::FromErrno("rewind " + options_.proc_root);
  const bool listed = ForEachEntry(proc_dir_.get(), dirent_buffer_, [&](std::string_view name) {
    const std::optional<pid_t> pid = NumberFromName<pid_t>(name);
    if (!pid || *pid == 0) return false;
    if (std::any_of(mru_.begin(), mru_.end(), [&](const MruEntry& e) { return e.pid == *pid; })) return false;
    bool uid_match = false;
    if (uid_hint) {
      struct stat st {};
      if (fstatat(proc_dir_.get(), name.data(), &st, 0) != 0) return false;  // already gone
      uid_match = st.st_uid == *uid_hint;
    }
    candidates_.push_back(Candidate{*pid, uid_match});
    return false;
  });
  if (!listed) return Error::FromErrno("list " + options_.proc_root);
  // The socket's uid first; newest PIDs first (a process not among recent owners is likely new).
  std::sort(candidates_.begin(), candidates_.end(), [](const Candidate& a, const Candidate& b) {
    return a.uid_match != b.uid_match ? a.uid_match : a.pid > b.pid;
  });
  return OkStatus();
}

Result<std::optional<SocketHolder>> ProcFdIndex::FindSocketHolder(uint64_t inode, std::optional<uint32_t> uid_hint) {
  char target_buf[40];
  const auto written = std::to_chars(target_buf, target_buf + sizeof(target_buf), inode);
  std::string target = "socket:[";
  target.append(target_buf, written.ptr);
  target += ']';

  if (std::optional<SocketHolder> holder = SearchMru(target)) return holder;

  if (Status s = ListCandidates(uid_hint); !s.ok()) return s.error();
  for (const Candidate& candidate : candidates_) {
    int fd = -1;
    UniqueFd pid_dir;
    if (ScanFdDir(candidate.pid, target, &fd, &pid_dir) != PidState::kFound) continue;
    InsertMru(candidate.pid, fd);
    return MakeHolder(candidate.pid, fd, std::move(pid_dir), false);
  }
  return std::optional<SocketHolder>();
}

bool ProcFdIndex::StillHolds(const SocketHolder& holder, uint64_t inode) {
  if (!holder.pid_dir.valid()) return false;
  const std::string path = "fd/" + holder.fd_name;
  return LinkIs(holder.pid_dir.get(), path.c_str(), "socket:[" + std::to_string(inode) + "]");
}

void ProcFdIndex::PromoteMru(size_t index, int fd) {
  mru_[index].last_fd = fd;
  std::rotate(mru_.begin(), mru_.begin() + static_cast<std::ptrdiff_t>(index),
              mru_.begin() + static_cast<std::ptrdiff_t>(index) + 1);
}

void ProcFdIndex::InsertMru(pid_t pid, int fd) {
  if (options_.mru_pids == 0) return;
  if (mru_.size() >= options_.mru_pids) mru_.pop_back();
  mru_.insert(mru_.begin(), MruEntry{pid, fd});
}

}  // namespace picket
