// ParseServerStats: reads picket_test_server's stats text ("key value" per line) into a map.
// Missing keys read as 0 through operator[]. Thread-safety: pure function.
#pragma once

#include <map>
#include <sstream>
#include <string>

namespace picket::testing {

inline std::map<std::string, long> ParseServerStats(const std::string& text) {
  std::map<std::string, long> stats;
  std::istringstream in(text);
  std::string key;
  long value = 0;
  while (in >> key >> value) stats[key] = value;
  return stats;
}

}  // namespace picket::testing
