#include "tests/integration/decision_log.h"

#include <sstream>
#include <thread>

#include "tests/tools/subprocess.h"

namespace picket::testing {
namespace {

// Reads a value starting at text[*pos]: quoted ("…" with \" and \\ escapes) or up to the next space.
std::string ReadValue(const std::string& text, size_t* pos) {
  std::string value;
  size_t i = *pos;
  if (i < text.size() && text[i] == '"') {
    for (++i; i < text.size() && text[i] != '"'; ++i) {
      if (text[i] == '\\' && i + 1 < text.size()) ++i;
      value.push_back(text[i]);
    }
    if (i < text.size()) ++i;  // closing quote
  } else {
    while (i < text.size() && text[i] != ' ') value.push_back(text[i++]);
  }
  *pos = i;
  return value;
}

}  // namespace

std::optional<DecisionLine> ParseDecisionLine(const std::string& line) {
  const std::string marker = " decision ";
  const size_t start = line.find(marker);
  if (start == std::string::npos) return std::nullopt;
  DecisionLine result;
  result.raw = line;
  size_t pos = start + marker.size();
  while (pos < line.size()) {
    while (pos < line.size() && line[pos] == ' ') ++pos;
    const size_t eq = line.find('=', pos);
    const size_t space = line.find(' ', pos);
    if (eq == std::string::npos || (space != std::string::npos && space < eq)) {
      pos = space == std::string::npos ? line.size() : space;  // a word without '=': skip it
      continue;
    }
    const std::string key = line.substr(pos, eq - pos);
    pos = eq + 1;
    result.fields[key] = ReadValue(line, &pos);
  }
  if (result.fields.count("verdict") == 0) return std::nullopt;
  return result;
}

std::vector<DecisionLine> ParseDecisions(const std::string& log_text) {
  std::vector<DecisionLine> lines;
  std::istringstream in(log_text);
  std::string line;
  while (std::getline(in, line)) {
    if (auto d = ParseDecisionLine(line)) lines.push_back(std::move(*d));
  }
  return lines;
}

bool Matches(const DecisionLine& line, const DecisionMatch& want) {
  auto ok = [&](const std::string& key, const std::string& expected) {
    return expected.empty() || line.Get(key) == expected;
  };
  return ok("verdict", want.verdict) && ok("rule", want.rule) && ok("proto", want.proto) && ok("dst", want.dst) &&
         ok("exe", want.exe);
}

std::optional<DecisionLine> WaitForDecision(const std::string& log_path, const DecisionMatch& want,
                                            std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    for (const DecisionLine& line : ParseDecisions(ReadFile(log_path))) {
      if (Matches(line, want)) return line;
    }
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::string Describe(const DecisionMatch& want) {
  std::string out = "decision";
  auto add = [&](const char* key, const std::string& value) {
    if (!value.empty()) out += std::string(" ") + key + "=" + value;
  };
  add("verdict", want.verdict);
  add("rule", want.rule);
  add("proto", want.proto);
  add("dst", want.dst);
  add("exe", want.exe);
  return out;
}

}  // namespace picket::testing
