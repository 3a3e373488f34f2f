// ProcessResolver: turns a PID found by the attribution stage (with its open /proc/PID directory, so
// the answer is about that very process) into the process's description. The exec-event store's
// ProcessTracker implements it; ProcfsAttributor without a resolver reads /proc itself.
// Thread-safety: per implementation (the tracker: event-loop thread only).
#pragma once

#include <sys/types.h>

#include "common/result.h"
#include "process/process_info.h"

namespace picket {

class ProcessResolver {
 public:
  virtual ~ProcessResolver() = default;
  // The process whose /proc/PID directory is open as `pid_dir`. Error when it has ended.
  virtual Result<ProcessInfo> Resolve(pid_t pid, int pid_dir) = 0;
  // Attribution method name for the decision log (a static string).
  virtual const char* method() const = 0;
};

}  // namespace picket
