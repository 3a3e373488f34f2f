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

}  // namespace picket
