// Test helpers for the rules tests: rule JSON, temporary rule directories, and (from
// testing/flows.h) connections.
// Test-only; not part of picket_rules.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "rules/rule.h"
#include "rules/rule_parser.h"
#include "testing/flows.h"

namespace picket::testing_util {

// A complete rule file around `operator_json`.
inline std::string RuleJson(const std::string& name, const std::string& action,
                            const std::string& operator_json, const std::string& extra_fields = "") {
  return R"({"name": ")" + name + R"(", "enabled": true, "action": ")" + action +
         R"(", "duration": "always", )" + extra_fields + R"("operator": )" + operator_json + "}";
}

inline std::string Op(const std::string& type, const std::string& operand, const std::string& data,
                      bool sensitive = false) {
  return R"({"type": ")" + type + R"(", "operand": ")" + operand + R"(", "data": ")" + data +
         R"(", "sensitive": )" + (sensitive ? "true" : "false") + "}";
}

inline Rule MustParse(const std::string& json) {
  Result<Rule> rule = ParseRule(json);
  EXPECT_TRUE(rule.ok()) << (rule.ok() ? "" : rule.error().message) << "\n" << json;
  return rule.ok() ? std::move(rule).value() : Rule{};
}

// A fresh directory under $TMPDIR (or /tmp), removed with its contents on destruction.
class TempDir {
 public:
  TempDir() {
    const char* base = getenv("TMPDIR");
    std::string pattern = std::string(base != nullptr ? base : "/tmp") + "/picket-rules-test-XXXXXX";
    std::vector<char> buf(pattern.begin(), pattern.end());
    buf.push_back('\0');
    const char* made = mkdtemp(buf.data());
    EXPECT_NE(made, nullptr);
    path_ = made != nullptr ? made : "";
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }
  void Write(const std::string& name, const std::string& content) const {
    std::ofstream out(File(name), std::ios::binary | std::ios::trunc);
    out << content;
    EXPECT_TRUE(out.good()) << name;
  }

 private:
  std::string path_;
};

}  // namespace picket::testing_util
