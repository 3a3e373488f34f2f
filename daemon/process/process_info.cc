#include "process/process_info.h"

namespace picket {

std::string ProcessInfo::Command() const {
  std::string out;
  for (const auto& arg : argv) {
    if (!out.empty()) out += ' ';
    out += arg;
  }
  return out;
}

std::string ProcessInfo::ExecIdText() const {
  if (start_time_ns == 0) return {};
  return std::to_string(pid) + ":" + std::to_string(start_time_ns) + ":" + std::to_string(exec_ns);
}

}  // namespace picket
