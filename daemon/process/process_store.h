// ProcessStore: the exec-event store — every process known by (tgid, start time), indexed by the PID
// it holds now, with its exec image, ancestors and exit state.
//
// Input: fork / exec / exit events (from the eBPF or proc-connector source, process_source.h) and
// records read from /proc (the start-up walk and on-demand population, process_tracker.h). Events
// are applied in arrival order; each carries the process's start time, so an event for another
// process than the one the store holds for that PID is recognised:
//   * an event for a NEWER process than the one held means the held one ended unseen (its exit was
//     lost): it moves to the exited list (counted as lost_exits_inferred);
//   * an event for an OLDER process is stale and ignored (counted), except an exit, which still
//     ends that process if it is on the exited list or held;
//   * an exec before its fork, an exit of a process never seen, a fork whose parent is unknown are
//     all handled and counted; a fork from a thread that is not a thread-group leader never reaches
//     here (sources report processes, not threads).
// Kernel events win over /proc data: a /proc record never replaces an entry built from kernel events
// for the same process; any kernel event replaces a /proc-built entry.
//
// Lookups return ProcessSnapshot values (shared immutable images, see process_record.h); nothing
// outside the store touches its maps.
// Eviction: an ended process moves to a bounded exited list and stays there for `exit_grace_ns`
// after its exit; Sweep() removes the ones past grace, and (given a LivenessProbe) moves live
// entries whose process is gone — checked by start time, never by /proc directory existence — to
// the exited list. Hard caps: `max_entries` (live + exited) and `max_exited`; over a cap the oldest
// exited entries go first, then the least recently used live ones.
// Time comes from an injected Clock (CLOCK_BOOTTIME ns), so tests control it.
// Ownership: owns all entries. Thread-safety: none; the event-loop thread only.
#pragma once

#include <sys/types.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "process/cgroup_paths.h"
#include "process/process_record.h"

namespace picket {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual uint64_t NowBootNs() const = 0;  // CLOCK_BOOTTIME in ns
};

class SystemClock final : public Clock {
 public:
  uint64_t NowBootNs() const override;
};

// Answers "is the process with this PID that started at this time still running?" for Sweep().
class LivenessProbe {
 public:
  virtual ~LivenessProbe() = default;
  // Start time (clock ticks, /proc/PID/stat field 22) of the process now holding `tgid`, or nullopt
  // when no process holds it (or only a zombie: it has ended).
  virtual std::optional<uint64_t> StartTicks(pid_t tgid) = 0;
};

struct ForkEvent {
  uint64_t time_ns = 0;
  ProcKey child;
  pid_t child_ns_pid = 0;
  ProcKey parent;          // the child's real parent (a process, not a thread)
  uint32_t uid = 0;
  uint32_t euid = 0;
  uint32_t gid = 0;
  uint64_t cgroup_id = 0;
  uint32_t pid_ns = 0;
  uint32_t mnt_ns = 0;
  FileIdentity exe_file;   // the inherited image's file (the parent's)
};

struct ExecEvent {
  uint64_t time_ns = 0;    // exec time; 0 = unknown (read from /proc)
  ProcKey proc;
  pid_t ns_pid = 0;
  pid_t old_tid = 0;       // thread that called execve (≠ tgid: exec from a non-leader thread)
  ProcKey parent;          // tgid 0 = unknown; start_ns 0 = start unknown (read from /proc: the
                           // holder of that PID counts as the parent if it started no later)
  uint32_t uid = 0;
  uint32_t euid = 0;
  uint32_t gid = 0;
  uint64_t cgroup_id = 0;
  std::string cgroup;      // cgroup path or leaf name (for the container id)
  std::string cgroup_path; // full cgroup v2 path when the source read it (/proc); empty: resolved from cgroup_id
  uint32_t pid_ns = 0;
  uint32_t mnt_ns = 0;
  std::string exe_path;
  FileIdentity exe_file;
  std::vector<std::string> argv;
  std::string cwd;
  std::string environ;     // NUL-separated NAME=VALUE block as captured (the store keeps the wanted ones)
  uint32_t flags = 0;      // ImageFlag bits known by the source (truncation, partial, from procfs)
};

struct ExitEvent {
  uint64_t time_ns = 0;
  ProcKey proc;
  int exit_code = 0;
};

struct StoreOptions {
  uint64_t exit_grace_ns = 120ull * 1000 * 1000 * 1000;  // how long an ended process stays known
  size_t max_entries = 32768;                            // live + exited
  size_t max_exited = 8192;
  size_t max_ancestors = 64;
  std::vector<std::string> wanted_env;                   // environment variables to keep
};

struct StoreCounters {
  uint64_t forks = 0;
  uint64_t execs = 0;
  uint64_t exits = 0;
  uint64_t hits = 0;                  // FindLive / Find answered
  uint64_t misses = 0;
  uint64_t procfs_inserts = 0;        // entries built from /proc (walk or on-demand fallback)
  uint64_t procfs_ignored = 0;        // /proc records not applied (kernel data for that process won)
  uint64_t lost_events = 0;           // reported lost by the source (ring buffer full, netlink overrun)
  uint64_t lost_exits_inferred = 0;   // a held process replaced by a newer one with the same PID
  uint64_t stale_events = 0;          // events about an older process than the one held, ignored
  uint64_t unknown_exits = 0;         // exits of processes never seen
  uint64_t orphan_forks = 0;          // forks whose parent was not known (child partial)
  uint64_t evicted_grace = 0;         // exited entries removed after the grace period
  uint64_t gone_detected = 0;         // live entries found gone by a liveness sweep
  uint64_t evicted_cap_exited = 0;    // exited entries removed early by a cap
  uint64_t evicted_cap_live = 0;      // live entries removed by the cap (least recently used)
};

class ProcessStore {
 public:
  ProcessStore(StoreOptions options, const Clock& clock);
  ProcessStore(const ProcessStore&) = delete;
  ProcessStore& operator=(const ProcessStore&) = delete;

  void OnFork(const ForkEvent& event);
  void OnExec(const ExecEvent& event);
  void OnExit(const ExitEvent& event);
  // The source lost `count` events: the store is tainted (liveness must be checked, /proc resynced).
  void OnLostEvents(uint64_t count);

  // A record read from /proc (event.proc is coarse; flags get kImageFromProcfs). Applied unless the
  // store holds kernel-built data for the same process. Ancestors are taken from the store's entry
  // for event.parent / event.ppid (populate parents first). Returns the snapshot held afterwards
  // for that PID (the /proc one, or the kernel-built one that won).
  ProcessSnapshot InsertFromProcfs(const ExecEvent& event);

  // The PID's current holder's image is no longer known (an exec whose new image could not be
  // read): drop the live entry so the next lookup reads /proc.
  void ForgetLive(pid_t tgid);

  // The live process holding `tgid`, if known (counts a hit or miss; marks it recently used).
  std::optional<ProcessSnapshot> FindLive(pid_t tgid);
  // The key of the live process holding `tgid`, without counting a lookup or touching the LRU.
  std::optional<ProcKey> LiveKey(pid_t tgid) const;
  // The process `key`, live or ended within the grace period (at the key's precision).
  std::optional<ProcessSnapshot> Find(const ProcKey& key);
  // The image `id` if it is the current image of a known process.
  std::optional<ProcessSnapshot> FindExec(const ExecId& id);

  // Removes exited entries past grace; with a probe, also moves live entries whose process is gone
  // (or whose PID another process holds now) to the exited list. Returns how many were checked.
  size_t Sweep(LivenessProbe* probe);
  // Clears the tainted flag (after a resync from /proc).
  void ClearTainted() { tainted_ = false; }

  void SetWantedEnv(std::vector<std::string> names) { options_.wanted_env = std::move(names); }
  const std::vector<std::string>& wanted_env() const { return options_.wanted_env; }
  // Where images whose event carries only a cgroup id get their cgroup path (borrowed; nullptr =
  // none: such images have no path). Must outlive the store.
  void SetCgroupResolver(CgroupPathResolver* resolver) { cgroup_resolver_ = resolver; }

  bool tainted() const { return tainted_; }
  size_t live_count() const { return live_.size(); }
  size_t exited_count() const { return exited_.size(); }
  // PIDs of the live entries (for a /proc resync); unordered.
  std::vector<pid_t> LivePids() const;
  const StoreCounters& counters() const { return counters_; }
  const StoreOptions& options() const { return options_; }

 private:
  struct LiveEntry {
    std::shared_ptr<const ProcessImage> image;
    std::list<pid_t>::iterator lru;  // position in lru_
  };
  struct ExitedEntry {
    std::shared_ptr<const ProcessImage> image;
    uint64_t exit_ns = 0;
  };
  enum class Relation : uint8_t { kNone, kSame, kHeldIsOlder, kHeldIsNewer };

  // How the live entry for key.tgid relates to `key`.
  Relation Relate(const ProcKey& key) const;
  // Moves the live entry for `tgid` to the exited list, ended at `exit_ns`.
  void EndLive(pid_t tgid, uint64_t exit_ns);
  void PutLive(std::shared_ptr<const ProcessImage> image);
  void RemoveLive(pid_t tgid);
  void EnforceCaps();
  void EvictOldestExited();
  ExitedEntry* FindExited(const ProcKey& key);
  AncestorChain AncestorsOf(const ProcKey& parent, pid_t ppid, uint64_t child_start_ns, uint32_t* flags) const;
  std::vector<EnvVar> FilterEnv(std::string_view environ) const;
  std::shared_ptr<ProcessImage> ImageFromExec(const ExecEvent& event) const;
  // A forked child's data: its parent image's, shared unless the child's cgroup changes it.
  std::shared_ptr<const ImageData> InheritedData(const ProcessImage& parent, uint64_t cgroup_id) const;
  std::string CgroupPathOf(uint64_t cgroup_id) const;

  StoreOptions options_;
  const Clock& clock_;
  std::unordered_map<pid_t, LiveEntry> live_;
  std::list<pid_t> lru_;                   // live tgids, most recently used first
  std::list<ExitedEntry> exited_;          // in order of exit processing (oldest first)
  std::unordered_multimap<pid_t, std::list<ExitedEntry>::iterator> exited_by_pid_;
  StoreCounters counters_;
  bool tainted_ = false;
  CgroupPathResolver* cgroup_resolver_ = nullptr;
  // The chains AncestorsOf built last, with the parent image each was built from: a later child of
  // one of these parents shares its chain instead of copying it. Several, because forks of one
  // parent interleave with other processes' forks (a build next to a server's workers): with one
  // slot, each interleaving cost the next child a copy of the whole chain.
  struct ChainOfParent {
    std::shared_ptr<const ProcessImage> parent;
    AncestorChain chain;
    bool cut = false;
  };
  static constexpr size_t kChainCacheSize = 16;
  mutable std::array<ChainOfParent, kChainCacheSize> chains_;
  mutable size_t next_chain_ = 0;  // the slot replaced next (round robin)
};

}  // namespace picket
