#include "process/digest_gate.h"

#include <utility>

namespace picket {

DigestGate::DigestGate(ChecksumService& service, size_t max_waiting, std::string proc_root)
    : service_(service), max_waiting_(max_waiting), proc_root_(std::move(proc_root)) {}

bool DigestGate::FillFromCache(ProcessInfo& process, const FileVersion& version) {
  const Digests* cached = service_.Cached(version, required_);
  if (cached == nullptr) return false;
  process.digests.state = DigestState::kReady;
  process.digests.md5 = cached->md5;
  process.digests.sha1 = cached->sha1;
  process.digests.sha256 = cached->sha256;
  return true;
}

bool DigestGate::NeedsWait(Attribution& attribution) {
  if (required_ == 0 || attribution.kind != AttributionKind::kProcess || !attribution.process) return false;
  ProcessInfo& process = *attribution.process;
  const std::optional<FileVersion> version = VersionOf(process);
  if (!version) {
    process.digests.state = DigestState::kUnhashable;
    ++counters_.unhashable;
    return false;
  }
  if (FillFromCache(process, *version)) {
    ++counters_.ready;
    return false;
  }
  if (waiting_ >= max_waiting_) {
    process.digests.state = DigestState::kUnhashable;
    ++counters_.over_cap;
    return false;
  }
  if (!service_.InFlight(*version)) {
    auto fd = OpenExecutable(process, *version, proc_root_);
    if (!fd.ok()) {
      service_.CountUnhashable();
      process.digests.state = DigestState::kUnhashable;
      ++counters_.unhashable;
      return false;
    }
    service_.Request(*version, required_, std::move(*fd));
  }
  return true;
}

void DigestGate::Park(Attribution attribution, Resume resume) {
  const std::optional<FileVersion> version = VersionOf(*attribution.process);
  held_[*version].push_back(Held{std::move(attribution), std::move(resume)});
  ++waiting_;
  ++counters_.held;
}

bool DigestGate::Hold(Attribution& attribution, Resume resume) {
  if (!NeedsWait(attribution)) return false;
  Park(std::move(attribution), std::move(resume));
  return true;
}

void DigestGate::ResumeAll(std::vector<Held>& held, bool finished_ok) {
  for (Held& h : held) {
    ProcessInfo& process = *h.attribution.process;
    const std::optional<FileVersion> version = VersionOf(process);
    if (!finished_ok || !version || !FillFromCache(process, *version)) process.digests.state = DigestState::kUnhashable;
    --waiting_;
    ++counters_.resumed;
    h.resume(std::move(h.attribution));
  }
}

size_t DigestGate::OnFinished() {
  size_t resumed = 0;
  for (const ChecksumService::Finished& finished : service_.CollectFinished()) {
    auto it = held_.find(finished.version);
    if (it == held_.end()) continue;
    std::vector<Held> held = std::move(it->second);
    held_.erase(it);
    resumed += held.size();
    ResumeAll(held, finished.ok);
  }
  return resumed;
}

size_t DigestGate::ReleaseAll() {
  size_t resumed = OnFinished();
  auto all = std::move(held_);
  held_.clear();
  for (auto& [version, held] : all) {
    resumed += held.size();
    ResumeAll(held, /*finished_ok=*/true);
  }
  return resumed;
}

}  // namespace picket
