#include "process/process_record.h"

#include <unistd.h>

namespace picket {

uint64_t ProcTickNs() {
  static const uint64_t tick_ns = [] {
    const long hz = sysconf(_SC_CLK_TCK);
    return hz > 0 ? 1000000000ull / static_cast<uint64_t>(hz) : 10000000ull;
  }();
  return tick_ns;
}

bool ProcKey::SameStart(uint64_t other_ns, bool other_coarse) const {
  if (!coarse && !other_coarse) return start_ns == other_ns;
  const uint64_t tick = ProcTickNs();
  return start_ns / tick == other_ns / tick;
}

const ImageData& ProcessImage::shared() const {
  static const ImageData empty;
  return data != nullptr ? *data : empty;
}

ProcessInfo ToProcessInfo(const ProcessSnapshot& snapshot) {
  const ProcessImage& image = *snapshot.image;
  ProcessInfo info;
  info.pid = image.key.tgid;
  info.ppid = image.ppid;
  info.uid = image.uid;
  info.start_time_ticks = image.key.start_ns / ProcTickNs();
  info.start_time_ns = image.key.start_ns;
  info.exec_ns = image.exec_id.exec_ns;
  info.exe_path = image.exe_path();
  info.exe_deleted = image.exe_file().deleted && !image.exe_file().memfd;
  info.argv = image.argv();
  info.cwd = image.cwd();
  info.ns_pid = image.ns_pid;
  info.euid = image.euid;
  info.gid = image.gid;
  info.ancestors.reserve(image.ancestors.size());
  for (const Ancestor& a : image.ancestors) info.ancestors.push_back(AncestorInfo{a.pid, a.exe_path});
  info.env.reserve(image.env().size());
  for (const EnvVar& v : image.env()) info.env.emplace_back(v.name, v.value);
  info.container_id = image.container_id();
  info.cgroup_path = image.cgroup_path();
  info.exe_dev = image.exe_file().dev;
  info.exe_ino = image.exe_file().ino;
  info.exe_ctime_ns = image.exe_file().ctime_ns;
  info.exe_size = image.exe_file().size;
  info.exe_identity_known = image.exe_file().known;
  info.exe_memfd = image.exe_file().memfd;
  info.exited = snapshot.exited();
  return info;
}

namespace {

bool IsLowerHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

}  // namespace

std::string ContainerIdFromCgroup(std::string_view cgroup) {
  constexpr size_t kIdLength = 64;
  // The last run of exactly 64 lowercase hex digits that is delimited by non-hex characters.
  size_t best = std::string_view::npos;
  size_t i = 0;
  while (i < cgroup.size()) {
    if (!IsLowerHex(cgroup[i])) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < cgroup.size() && IsLowerHex(cgroup[j])) ++j;
    if (j - i == kIdLength) best = i;
    i = j;
  }
  if (best == std::string_view::npos) return {};
  return std::string(cgroup.substr(best, kIdLength));
}

}  // namespace picket
