#include "process/process_store.h"

#include <time.h>

#include <algorithm>

namespace picket {

uint64_t SystemClock::NowBootNs() const {
  timespec ts{};
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

ProcessStore::ProcessStore(StoreOptions options, const Clock& clock) : options_(std::move(options)), clock_(clock) {
  options_.max_entries = std::max<size_t>(options_.max_entries, 1);
  options_.max_exited = std::min(options_.max_exited, options_.max_entries);
}

ProcessStore::Relation ProcessStore::Relate(const ProcKey& key) const {
  auto it = live_.find(key.tgid);
  if (it == live_.end()) return Relation::kNone;
  const ProcKey& held = it->second.image->key;
  if (held.SameStart(key.start_ns, key.coarse)) return Relation::kSame;
  return held.start_ns < key.start_ns ? Relation::kHeldIsOlder : Relation::kHeldIsNewer;
}

void ProcessStore::RemoveLive(pid_t tgid) {
  auto it = live_.find(tgid);
  if (it == live_.end()) return;
  lru_.erase(it->second.lru);
  live_.erase(it);
}

void ProcessStore::EndLive(pid_t tgid, uint64_t exit_ns) {
  auto it = live_.find(tgid);
  if (it == live_.end()) return;
  std::shared_ptr<const ProcessImage> image = std::move(it->second.image);
  RemoveLive(tgid);
  if (options_.max_exited == 0) return;
  while (exited_.size() >= options_.max_exited) {
    EvictOldestExited();
    ++counters_.evicted_cap_exited;
  }
  exited_.push_back(ExitedEntry{std::move(image), exit_ns});
  auto pos = std::prev(exited_.end());
  exited_by_pid_.emplace(tgid, pos);
}

void ProcessStore::EvictOldestExited() {
  if (exited_.empty()) return;
  auto oldest = exited_.begin();
  auto range = exited_by_pid_.equal_range(oldest->image->key.tgid);
  for (auto it = range.first; it != range.second; ++it) {
    if (it->second == oldest) {
      exited_by_pid_.erase(it);
      break;
    }
  }
  exited_.erase(oldest);
}

void ProcessStore::PutLive(std::shared_ptr<const ProcessImage> image) {
  const pid_t tgid = image->key.tgid;
  auto it = live_.find(tgid);
  if (it != live_.end()) {
    it->second.image = std::move(image);
    lru_.splice(lru_.begin(), lru_, it->second.lru);
    return;
  }
  lru_.push_front(tgid);
  live_.emplace(tgid, LiveEntry{std::move(image), lru_.begin()});
  EnforceCaps();
}

void ProcessStore::EnforceCaps() {
  while (live_.size() + exited_.size() > options_.max_entries) {
    if (!exited_.empty()) {
      EvictOldestExited();
      ++counters_.evicted_cap_exited;
      continue;
    }
    // The least recently used live entry; never the one just inserted (front of lru_).
    if (lru_.size() <= 1) break;
    RemoveLive(lru_.back());
    ++counters_.evicted_cap_live;
  }
}

ProcessStore::ExitedEntry* ProcessStore::FindExited(const ProcKey& key) {
  auto range = exited_by_pid_.equal_range(key.tgid);
  for (auto it = range.first; it != range.second; ++it) {
    if (it->second->image->key.SameStart(key.start_ns, key.coarse)) return &*it->second;
  }
  return nullptr;
}

AncestorChain ProcessStore::AncestorsOf(const ProcKey& parent, pid_t ppid, uint64_t child_start_ns,
                                        uint32_t* flags) const {
  std::vector<Ancestor> chain;
  if (ppid <= 0) return chain;  // PID 1 (and kernel threads) have no parent process
  std::shared_ptr<const ProcessImage> image;
  auto it = live_.find(ppid);
  if (it != live_.end()) {
    const ProcKey& held = it->second.image->key;
    // With the parent's start time known, it must match; otherwise (from /proc) the holder of the
    // parent PID must have started no later than the child (a later one reused the PID).
    const bool start_known = parent.tgid == ppid && parent.start_ns != 0;
    const bool matches = start_known ? held.SameStart(parent.start_ns, parent.coarse)
                                     : held.start_ns <= child_start_ns + ProcTickNs();
    if (matches) image = it->second.image;
  }
  if (image == nullptr && parent.tgid == ppid && parent.start_ns != 0) {
    auto range = exited_by_pid_.equal_range(ppid);
    for (auto e = range.first; e != range.second; ++e) {
      if (e->second->image->key.SameStart(parent.start_ns, parent.coarse)) image = e->second->image;
    }
  }
  if (image == nullptr) {
    *flags |= kImageAncestorsCut;
    return chain;
  }
  for (const ChainOfParent& cached : chains_) {
    if (cached.parent != image) continue;
    if (cached.cut) *flags |= kImageAncestorsCut;
    return cached.chain;
  }
  bool cut = image->has(kImageAncestorsCut);
  chain.reserve(std::min(image->ancestors.size() + 1, options_.max_ancestors));
  chain.push_back(Ancestor{image->key.tgid, image->exec_id, image->exe_path()});
  for (const Ancestor& a : image->ancestors) {
    if (chain.size() >= options_.max_ancestors) {
      cut = true;
      break;
    }
    chain.push_back(a);
  }
  if (cut) *flags |= kImageAncestorsCut;
  ChainOfParent& slot = chains_[next_chain_];
  next_chain_ = (next_chain_ + 1) % kChainCacheSize;
  slot = ChainOfParent{std::move(image), AncestorChain(std::move(chain)), cut};
  return slot.chain;
}

std::vector<EnvVar> ProcessStore::FilterEnv(std::string_view environ) const {
  std::vector<EnvVar> out;
  if (options_.wanted_env.empty()) return out;
  size_t pos = 0;
  while (pos < environ.size()) {
    size_t end = environ.find('\0', pos);
    if (end == std::string_view::npos) end = environ.size();
    const std::string_view entry = environ.substr(pos, end - pos);
    pos = end + 1;
    const size_t eq = entry.find('=');
    if (eq == std::string_view::npos) continue;
    const std::string_view name = entry.substr(0, eq);
    for (const std::string& wanted : options_.wanted_env) {
      if (name != wanted) continue;
      // The first definition wins (as getenv), later duplicates are ignored.
      const bool seen = std::any_of(out.begin(), out.end(), [&](const EnvVar& v) { return v.name == name; });
      if (!seen) out.push_back(EnvVar{std::string(name), std::string(entry.substr(eq + 1))});
    }
  }
  return out;
}

std::string ProcessStore::CgroupPathOf(uint64_t cgroup_id) const {
  if (cgroup_resolver_ == nullptr || cgroup_id == 0) return {};
  return cgroup_resolver_->PathOf(cgroup_id).value_or(std::string());
}

std::shared_ptr<const ImageData> ProcessStore::InheritedData(const ProcessImage& parent, uint64_t cgroup_id) const {
  // The child's container id and cgroup path are its parent's when it stayed in the parent's cgroup.
  const bool same_id = parent.cgroup_id == cgroup_id;
  std::string container_id = same_id ? parent.container_id() : std::string();
  std::string cgroup_path = same_id && cgroup_id != 0 ? parent.cgroup_path() : CgroupPathOf(cgroup_id);
  if (container_id == parent.container_id() && cgroup_path == parent.cgroup_path()) return parent.data;
  ImageData data = parent.shared();
  data.container_id = std::move(container_id);
  data.cgroup_path = std::move(cgroup_path);
  return std::make_shared<const ImageData>(std::move(data));
}

std::shared_ptr<ProcessImage> ProcessStore::ImageFromExec(const ExecEvent& event) const {
  auto image = std::make_shared<ProcessImage>();
  image->key = event.proc;
  image->exec_id = ExecId{event.proc, event.time_ns};
  image->ns_pid = event.ns_pid;
  image->ppid = event.parent.tgid;
  image->uid = event.uid;
  image->euid = event.euid;
  image->gid = event.gid;
  image->data = std::make_shared<const ImageData>(ImageData{
      .exe_path = event.exe_path,
      .argv = event.argv,
      .cwd = event.cwd,
      .env = FilterEnv(event.environ),
      .container_id = ContainerIdFromCgroup(event.cgroup),
      .cgroup_path = event.cgroup_path.empty() ? CgroupPathOf(event.cgroup_id) : event.cgroup_path,
      .exe_file = event.exe_file,
  });
  image->cgroup_id = event.cgroup_id;
  image->pid_ns = event.pid_ns;
  image->mnt_ns = event.mnt_ns;
  image->flags = event.flags;
  return image;
}

void ProcessStore::OnFork(const ForkEvent& event) {
  ++counters_.forks;
  switch (Relate(event.child)) {
    case Relation::kHeldIsNewer:
      ++counters_.stale_events;
      return;
    case Relation::kSame: {
      // The exec (or a /proc read) came first. Keep its image; kernel data replaces /proc data
      // only through the exec event itself, so nothing else to do.
      return;
    }
    case Relation::kHeldIsOlder:
      ++counters_.lost_exits_inferred;
      EndLive(event.child.tgid, event.time_ns);
      break;
    case Relation::kNone: break;
  }
  auto image = std::make_shared<ProcessImage>();
  image->key = event.child;
  image->exec_id = ExecId{event.child, event.time_ns};
  image->ns_pid = event.child_ns_pid;
  image->ppid = event.parent.tgid;
  image->uid = event.uid;
  image->euid = event.euid;
  image->gid = event.gid;
  image->cgroup_id = event.cgroup_id;
  image->pid_ns = event.pid_ns;
  image->mnt_ns = event.mnt_ns;
  // The child runs its parent's image until it execs.
  std::shared_ptr<const ProcessImage> parent;
  if (auto it = live_.find(event.parent.tgid);
      it != live_.end() && it->second.image->key.SameStart(event.parent.start_ns, event.parent.coarse)) {
    parent = it->second.image;
  }
  if (parent != nullptr) {
    image->data = InheritedData(*parent, event.cgroup_id);
    image->flags = parent->flags & (kImageArgvTruncated | kImageEnvTruncated | kImagePathTruncated | kImagePartial);
    image->parent_exec = parent->exec_id;
    image->ancestors = AncestorsOf(event.parent, event.parent.tgid, event.child.start_ns, &image->flags);
  } else {
    ++counters_.orphan_forks;
    image->flags = kImagePartial | kImageAncestorsCut;
    ImageData data;
    data.cgroup_path = CgroupPathOf(event.cgroup_id);
    data.exe_file = event.exe_file;
    image->data = std::make_shared<const ImageData>(std::move(data));
  }
  PutLive(std::move(image));
}

void ProcessStore::OnExec(const ExecEvent& event) {
  ++counters_.execs;
  AncestorChain ancestors;
  ExecId parent_exec;
  uint32_t inherited_flags = 0;
  switch (Relate(event.proc)) {
    case Relation::kHeldIsNewer:
      ++counters_.stale_events;
      return;
    case Relation::kSame: {
      // Same process, new image: ancestry is unchanged (recorded at fork). A /proc-built entry
      // without ancestors is rebuilt from the parent below.
      const ProcessImage& held = *live_.at(event.proc.tgid).image;
      if (!held.has(kImageFromProcfs) || !held.ancestors.empty()) {
        ancestors = held.ancestors;
        parent_exec = held.parent_exec;
        inherited_flags = held.flags & kImageAncestorsCut;
      }
      break;
    }
    case Relation::kHeldIsOlder:
      ++counters_.lost_exits_inferred;
      EndLive(event.proc.tgid, event.time_ns);
      break;
    case Relation::kNone: break;
  }
  std::shared_ptr<ProcessImage> image = ImageFromExec(event);
  if (ancestors.empty() && parent_exec.proc.tgid == 0) {
    image->ancestors = AncestorsOf(event.parent, event.parent.tgid, event.proc.start_ns, &image->flags);
    if (!image->ancestors.empty()) image->parent_exec = image->ancestors.front().exec;
  } else {
    image->ancestors = std::move(ancestors);
    image->parent_exec = parent_exec;
    image->flags |= inherited_flags;
  }
  // An exact start time from the kernel replaces a coarse one from /proc.
  PutLive(std::move(image));
}

void ProcessStore::OnExit(const ExitEvent& event) {
  ++counters_.exits;
  switch (Relate(event.proc)) {
    case Relation::kSame:
      EndLive(event.proc.tgid, event.time_ns);
      return;
    case Relation::kHeldIsOlder:
      // The held process ended unseen and a process we never saw has now ended too.
      ++counters_.lost_exits_inferred;
      ++counters_.unknown_exits;
      EndLive(event.proc.tgid, event.time_ns);
      return;
    case Relation::kHeldIsNewer:
    case Relation::kNone:
      if (ExitedEntry* exited = FindExited(event.proc)) {
        // Ended earlier than recorded (its end was inferred when a newer process appeared).
        exited->exit_ns = std::min(exited->exit_ns, event.time_ns);
        ++counters_.stale_events;
        return;
      }
      ++counters_.unknown_exits;
      return;
  }
}

void ProcessStore::OnLostEvents(uint64_t count) {
  if (count == 0) return;
  counters_.lost_events += count;
  tainted_ = true;
}

ProcessSnapshot ProcessStore::InsertFromProcfs(const ExecEvent& event) {
  ++counters_.procfs_inserts;
  const Relation relation = Relate(event.proc);
  if (relation == Relation::kSame) {
    const auto& held = live_.at(event.proc.tgid).image;
    if (!held->has(kImageFromProcfs) && !held->has(kImagePartial)) {
      --counters_.procfs_inserts;
      ++counters_.procfs_ignored;
      return ProcessSnapshot{held, std::nullopt};
    }
  } else if (relation == Relation::kHeldIsNewer) {
    --counters_.procfs_inserts;
    ++counters_.procfs_ignored;
    return ProcessSnapshot{live_.at(event.proc.tgid).image, std::nullopt};
  } else if (relation == Relation::kHeldIsOlder) {
    ++counters_.lost_exits_inferred;
    EndLive(event.proc.tgid, clock_.NowBootNs());
  }
  std::shared_ptr<ProcessImage> image = ImageFromExec(event);
  image->flags |= kImageFromProcfs;
  if (relation == Relation::kSame) {
    // Keep the more exact start time and the ancestry already known (a partial kernel entry).
    const ProcessImage& held = *live_.at(event.proc.tgid).image;
    if (!held.key.coarse) {
      image->key = held.key;
      image->exec_id = held.exec_id;
    }
    if (!held.ancestors.empty()) {
      image->ancestors = held.ancestors;
      image->parent_exec = held.parent_exec;
      image->flags |= held.flags & kImageAncestorsCut;
    }
  }
  if (image->ancestors.empty()) {
    image->ancestors = AncestorsOf(event.parent, event.parent.tgid, image->key.start_ns, &image->flags);
    if (!image->ancestors.empty()) image->parent_exec = image->ancestors.front().exec;
  }
  std::shared_ptr<const ProcessImage> stored = image;
  PutLive(stored);
  return ProcessSnapshot{std::move(stored), std::nullopt};
}

void ProcessStore::ForgetLive(pid_t tgid) { RemoveLive(tgid); }

std::optional<ProcessSnapshot> ProcessStore::FindLive(pid_t tgid) {
  auto it = live_.find(tgid);
  if (it == live_.end()) {
    ++counters_.misses;
    return std::nullopt;
  }
  ++counters_.hits;
  lru_.splice(lru_.begin(), lru_, it->second.lru);
  return ProcessSnapshot{it->second.image, std::nullopt};
}

std::optional<ProcKey> ProcessStore::LiveKey(pid_t tgid) const {
  auto it = live_.find(tgid);
  if (it == live_.end()) return std::nullopt;
  return it->second.image->key;
}

std::optional<ProcessSnapshot> ProcessStore::Find(const ProcKey& key) {
  if (Relate(key) == Relation::kSame) return FindLive(key.tgid);
  if (ExitedEntry* exited = FindExited(key)) {
    ++counters_.hits;
    return ProcessSnapshot{exited->image, exited->exit_ns};
  }
  ++counters_.misses;
  return std::nullopt;
}

std::optional<ProcessSnapshot> ProcessStore::FindExec(const ExecId& id) {
  std::optional<ProcessSnapshot> found = Find(id.proc);
  if (!found || found->image->exec_id.exec_ns != id.exec_ns) return std::nullopt;
  return found;
}

size_t ProcessStore::Sweep(LivenessProbe* probe) {
  const uint64_t now = clock_.NowBootNs();
  for (auto it = exited_.begin(); it != exited_.end();) {
    auto next = std::next(it);
    if (it->exit_ns + options_.exit_grace_ns <= now) {
      auto range = exited_by_pid_.equal_range(it->image->key.tgid);
      for (auto e = range.first; e != range.second; ++e) {
        if (e->second == it) {
          exited_by_pid_.erase(e);
          break;
        }
      }
      exited_.erase(it);
      ++counters_.evicted_grace;
    }
    it = next;
  }
  if (probe == nullptr) return 0;
  size_t checked = 0;
  std::vector<pid_t> gone;
  for (const auto& [tgid, entry] : live_) {
    ++checked;
    const std::optional<uint64_t> ticks = probe->StartTicks(tgid);
    if (!ticks || !entry.image->key.SameStart(*ticks * ProcTickNs(), /*other_coarse=*/true)) gone.push_back(tgid);
  }
  for (pid_t tgid : gone) {
    ++counters_.gone_detected;
    EndLive(tgid, now);
  }
  return checked;
}

std::vector<pid_t> ProcessStore::LivePids() const {
  std::vector<pid_t> pids;
  pids.reserve(live_.size());
  for (const auto& entry : live_) pids.push_back(entry.first);
  return pids;
}

}  // namespace picket
