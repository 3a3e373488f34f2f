// Fuzz target: every /proc parser over the same bytes. They must reject or parse, never crash,
// and never read past the input.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "process/cgroup_paths.h"
#include "process/proc_parsers.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto stat = picket::ParseProcStat(bytes);
  if (stat.ok() && stat->comm.size() > size) __builtin_trap();
  (void)picket::ParseStatusUid(bytes);
  (void)picket::ParseStatusIds(bytes);
  auto cgroup = picket::ParseCgroupPath(bytes);
  if (cgroup && cgroup->size() > size) __builtin_trap();
  auto cgroup2 = picket::ParseCgroup2Path(bytes);
  if (cgroup2 && (cgroup2->size() > size || cgroup2->empty() || cgroup2->front() != '/')) __builtin_trap();
  auto mount = picket::ParseCgroup2Mount(bytes);
  if (mount && (mount->mount_point.size() > size || mount->root.size() > size)) __builtin_trap();
  const auto argv = picket::ParseCmdline(bytes);
  size_t total = 0;
  for (const auto& arg : argv) total += arg.size();
  if (total > size) __builtin_trap();
  (void)picket::ParseSocketLink(bytes);
  (void)picket::SplitDeletedSuffix(bytes);
  auto mount_point = picket::FindCgroup2MountPoint(bytes);
  if (mount_point.ok() && mount_point->has_value() && (*mount_point)->size() > size) __builtin_trap();
  return 0;
}
