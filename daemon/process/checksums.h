// Checksums of executables: md5 and sha1 (OpenSnitch rules) and sha256, via OpenSSL EVP, computed
// lazily on a worker thread, once per file version.
//
// A file version is (st_dev, st_ino, ctime ns, size) of the executable as recorded at exec: a new
// process of an unchanged file reuses the cached digest; a replaced or modified file has a new ctime
// (and usually size), so it is a new version and is hashed again. The file is read through an fd
// opened from /proc/PID/exe and fstat-checked against the version before and after hashing (a file
// changed meanwhile is not reported). When the process is gone, the on-disk path is used only if its
// fstat identity is exactly the version; a deleted or memfd image of an ended process is unhashable.
//
// ChecksumService: single-flight per version (a second request joins the first), bounded LRU cache,
// one worker thread fed through a queue; results come back through CollectFinished() on the
// event-loop thread, announced by an eventfd (notify_fd) the event loop watches.
// Ownership: the service owns its worker thread (joined on destruction), the fds of queued jobs and
// the eventfd. Thread-safety: every public method is for the event-loop thread only; the worker
// touches only the job/result queues (mutex-guarded).
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"
#include "process/process_info.h"

namespace picket {

enum DigestAlgo : uint8_t {
  kDigestMd5 = 1u << 0,
  kDigestSha1 = 1u << 1,
  kDigestSha256 = 1u << 2,
};
using DigestMask = uint8_t;

struct FileVersion {
  uint64_t dev = 0;
  uint64_t ino = 0;
  uint64_t ctime_ns = 0;
  uint64_t size = 0;
  bool operator==(const FileVersion&) const = default;
};

struct FileVersionHash {
  size_t operator()(const FileVersion& v) const;
};

struct Digests {
  DigestMask computed = 0;
  std::string md5;  // lowercase hex
  std::string sha1;
  std::string sha256;
};

// Reads `fd` from offset 0 to its end and computes the digests in `algos` in one pass.
// Error (naming the call) when reading or OpenSSL fails.
Result<Digests> ComputeDigests(int fd, DigestMask algos);

// The file version of a process's executable; nullopt when its identity is unknown.
std::optional<FileVersion> VersionOf(const ProcessInfo& process);

// Opens the executable of `process` for hashing (see above). Error says why it is unhashable.
Result<UniqueFd> OpenExecutable(const ProcessInfo& process, const FileVersion& version,
                                const std::string& proc_root = "/proc");

struct ChecksumOptions {
  size_t cache_entries = 4096;
};

struct ChecksumCounters {
  uint64_t requests = 0;       // Request() calls
  uint64_t cache_hits = 0;     // answered by Cached()
  uint64_t joined = 0;         // requests joined an in-flight job (single-flight)
  uint64_t jobs = 0;           // files hashed
  uint64_t bytes = 0;          // bytes hashed
  uint64_t failures = 0;       // jobs that failed (unreadable, changed while hashing)
  uint64_t unhashable = 0;     // requests for an image that cannot be opened
  uint64_t evicted = 0;        // cache entries dropped by the cap
};

class ChecksumService {
 public:
  static Result<std::unique_ptr<ChecksumService>> Create(const ChecksumOptions& options);
  ~ChecksumService();
  ChecksumService(const ChecksumService&) = delete;
  ChecksumService& operator=(const ChecksumService&) = delete;

  // The cached digests of `version` if they include every algorithm of `want`; else nullptr.
  // Valid until the next call that changes the cache (Request, CollectFinished).
  const Digests* Cached(const FileVersion& version, DigestMask want);

  enum class Outcome : uint8_t { kQueued, kJoined };
  // Queues hashing `fd` (the open executable of `version`) for the algorithms of `want` not cached
  // yet, or joins the job already running for it. The fd is closed after hashing.
  Outcome Request(const FileVersion& version, DigestMask want, UniqueFd fd);
  // True while a job for `version` is queued or running.
  bool InFlight(const FileVersion& version) const { return in_flight_.count(version) != 0; }
  void CountUnhashable() { ++counters_.unhashable; }

  // Readable (eventfd) when finished jobs wait for CollectFinished().
  int notify_fd() const { return notify_.get(); }

  struct Finished {
    FileVersion version;
    bool ok = false;
    std::string error;  // why it failed
  };
  // Moves finished jobs into the cache (event-loop thread); returns them in completion order.
  std::vector<Finished> CollectFinished();

  const ChecksumCounters& counters() const { return counters_; }
  size_t cache_size() const { return cache_.size(); }

 private:
  struct Job {
    FileVersion version;
    DigestMask want = 0;
    UniqueFd fd;
  };
  struct JobResult {
    FileVersion version;
    Result<Digests> digests = Error{"not run"};
    uint64_t bytes = 0;
  };
  struct CacheEntry {
    Digests digests;
    std::list<FileVersion>::iterator lru;
  };

  explicit ChecksumService(const ChecksumOptions& options, UniqueFd notify);
  void WorkerLoop();
  JobResult RunJob(Job& job);
  void Store(const FileVersion& version, const Digests& digests);

  ChecksumOptions options_;
  UniqueFd notify_;
  // Event-loop thread only:
  std::unordered_map<FileVersion, CacheEntry, FileVersionHash> cache_;
  std::list<FileVersion> lru_;  // most recently used first
  std::unordered_map<FileVersion, DigestMask, FileVersionHash> in_flight_;
  ChecksumCounters counters_;
  // Shared with the worker, under mutex_:
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job> jobs_;
  std::vector<JobResult> results_;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace picket
