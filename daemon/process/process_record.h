// Process identity and the immutable records of the exec-event store (process_store.h).
//
// ProcKey = (tgid, start time in CLOCK_BOOTTIME ns) names one process for the whole boot: a PID
// alone never does (PIDs are reused). An ExecId names one exec image of a process: minted at exec,
// and at fork for the child's inherited image. Start times from kernel events are exact
// nanoseconds; start times read from /proc/PID/stat are clock ticks (10 ms at USER_HZ 100), so a
// key carries whether it is coarse, and SameStart() compares two keys at the precision both have.
//
// ProcessImage is what one exec of one process looks like; once built it is never changed, and
// the store shares it by shared_ptr<const ProcessImage> (reason: a snapshot handed out must stay
// valid and unchanged after the store evicts or replaces the entry, without copying argv/env).
// ProcessSnapshot = that image + the process's exit state at the time of the lookup.
// Thread-safety: plain values and immutable shared images; safe to read from any thread.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "process/process_info.h"

namespace picket {

// Nanoseconds per clock tick of /proc/PID/stat field 22 (sysconf(_SC_CLK_TCK), normally 100 Hz).
uint64_t ProcTickNs();

struct ProcKey {
  pid_t tgid = 0;
  uint64_t start_ns = 0;     // CLOCK_BOOTTIME ns at fork (task start_boottime)
  bool coarse = false;       // start_ns came from /proc ticks (multiple of ProcTickNs())

  // True when both describe the same start time at the coarser of the two precisions.
  bool SameStart(uint64_t other_ns, bool other_coarse) const;
  bool SameProcess(const ProcKey& other) const { return tgid == other.tgid && SameStart(other.start_ns, other.coarse); }
  bool operator==(const ProcKey& other) const = default;
};

struct ExecId {
  ProcKey proc;
  uint64_t exec_ns = 0;  // CLOCK_BOOTTIME ns of the exec (of the fork for an inherited image); 0 = unknown (read from /proc)
  bool operator==(const ExecId& other) const = default;
};

// The executable's file identity at exec: what a checksum is cached by.
struct FileIdentity {
  uint64_t dev = 0;       // st_dev (user-space encoding)
  uint64_t ino = 0;
  uint64_t ctime_ns = 0;  // st_ctim as ns
  uint64_t size = 0;
  bool deleted = false;   // no link left (st_nlink == 0)
  bool memfd = false;     // anonymous memory file (memfd_create), never on disk
  bool known = false;     // false when the source could not read it

  bool SameVersion(const FileIdentity& other) const {
    return known && other.known && dev == other.dev && ino == other.ino && ctime_ns == other.ctime_ns && size == other.size;
  }
};

struct Ancestor {
  pid_t pid = 0;
  ExecId exec;
  std::string exe_path;
};

// An ancestor chain, parent first, read like a const vector. Copies share one immutable vector: the
// children of one parent, and a process's images before and after exec, hold the same chain
// (reason: with 10 000 processes, per-image copies were about half of the store's memory).
class AncestorChain {
 public:
  AncestorChain() = default;
  AncestorChain(std::vector<Ancestor> chain)  // NOLINT(google-explicit-constructor): built like a vector
      : chain_(chain.empty() ? nullptr : std::make_shared<const std::vector<Ancestor>>(std::move(chain))) {}
  bool empty() const { return chain_ == nullptr; }
  size_t size() const { return chain_ != nullptr ? chain_->size() : 0; }
  const Ancestor& operator[](size_t i) const { return (*chain_)[i]; }
  const Ancestor& front() const { return chain_->front(); }
  const Ancestor& back() const { return chain_->back(); }
  std::vector<Ancestor>::const_iterator begin() const { return chain_ != nullptr ? chain_->begin() : Empty().begin(); }
  std::vector<Ancestor>::const_iterator end() const { return chain_ != nullptr ? chain_->end() : Empty().end(); }

 private:
  static const std::vector<Ancestor>& Empty() {
    static const std::vector<Ancestor> empty;
    return empty;
  }
  std::shared_ptr<const std::vector<Ancestor>> chain_;
};

struct EnvVar {
  std::string name;
  std::string value;
};

enum ImageFlag : uint32_t {
  kImageFromProcfs = 1u << 0,     // read from /proc (walk or on-demand), not from kernel events
  kImagePartial = 1u << 1,        // some fields unknown (e.g. a fork whose parent was never seen)
  kImageAncestorsCut = 1u << 2,   // the ancestor chain stops before PID 1 (an ancestor was unknown)
  kImageArgvTruncated = 1u << 3,  // argv longer than the capture limit
  kImageEnvTruncated = 1u << 4,   // environment longer than the capture limit: a wanted variable may be missing
  kImagePathTruncated = 1u << 5,  // exe path deeper/longer than the kernel-side walk allows
};

// The part of an image that a fork inherits from its parent unchanged: held by shared_ptr, so the
// children of one parent image (and a child whose cgroup is its parent's) share one copy instead of
// each copying path, argv, cwd, environment and file identity (reason: 10 000 forks of one parent
// each paid ~0.4 KB for the copies). Immutable once built; outlives the images that share it.
struct ImageData {
  std::string exe_path;
  std::vector<std::string> argv;
  std::string cwd;
  std::vector<EnvVar> env;         // only the variables the store was asked to keep
  std::string container_id;        // 64-hex id found in the cgroup name; empty when none
  std::string cgroup_path;         // cgroup v2 path ("/user.slice/…"); empty when unknown
  FileIdentity exe_file;
};

struct ProcessImage {
  ProcKey key;
  ExecId exec_id;
  pid_t ns_pid = 0;                // pid in its own pid namespace
  pid_t ppid = 0;                  // parent's tgid when this image was recorded
  ExecId parent_exec;              // the parent's image at that time (proc.tgid 0 = unknown)
  AncestorChain ancestors;         // parent first, up to PID 1 (shared, immutable: survives eviction)
  uint32_t uid = 0;
  uint32_t euid = 0;
  uint32_t gid = 0;
  uint32_t flags = 0;              // ImageFlag bits
  std::shared_ptr<const ImageData> data;  // shared with the parent's image after a fork; null = all empty
  uint64_t cgroup_id = 0;
  uint32_t pid_ns = 0;
  uint32_t mnt_ns = 0;

  bool has(ImageFlag flag) const { return (flags & flag) != 0; }
  const std::string& exe_path() const { return shared().exe_path; }
  const std::vector<std::string>& argv() const { return shared().argv; }
  const std::string& cwd() const { return shared().cwd; }
  const std::vector<EnvVar>& env() const { return shared().env; }
  const std::string& container_id() const { return shared().container_id; }
  const std::string& cgroup_path() const { return shared().cgroup_path; }
  const FileIdentity& exe_file() const { return shared().exe_file; }
  const ImageData& shared() const;  // *data, or an empty ImageData when null
};

struct ProcessSnapshot {
  std::shared_ptr<const ProcessImage> image;
  std::optional<uint64_t> exit_ns;  // set once the process has ended (CLOCK_BOOTTIME ns)

  bool exited() const { return exit_ns.has_value(); }
  // A process that has ended and whose image has no path left to open: its digest can never be
  // computed (the on-disk path, if any, names another file now).
  bool unhashable() const { return exited() && (image->exe_file().deleted || image->exe_file().memfd || !image->exe_file().known); }
};

// The attribution stage's view of a snapshot (process_info.h).
ProcessInfo ToProcessInfo(const ProcessSnapshot& snapshot);

// The 64-hex container id in a cgroup path or leaf name ("docker-<id>.scope", "/kubepods/.../<id>",
// "libpod-<id>.scope", "crio-<id>.scope"); empty when there is none.
std::string ContainerIdFromCgroup(std::string_view cgroup);

}  // namespace picket
