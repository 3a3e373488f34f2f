// Test helpers for the storage tests: a temporary directory removed at the end and a sample record.
// Thread-safety: none.
#pragma once

#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <string>

#include "storage/event.h"

namespace picket::testing {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/picket-storage-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  std::string File(const std::string& name) const { return path_ + "/" + name; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline int64_t NowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

inline EventRecord SampleRecord(int n = 0) {
  EventRecord r;
  r.time_us = NowUs();
  r.verdict = n % 3 == 0 ? "deny" : "allow";
  r.decided_by = n % 3 == 0 ? DecidedBy::kRule : DecidedBy::kDefault;
  r.rule = n % 3 == 0 ? "block-trackers" : "";
  r.protocol = n % 2 == 0 ? "tcp" : "udp6";
  r.src_ip = "198.18.0.1";
  r.src_port = static_cast<uint16_t>(40000 + n % 1000);
  r.dst_ip = "198.18.0." + std::to_string(2 + n % 5);
  r.dst_port = n % 2 == 0 ? 443 : 53;
  r.host = n % 5 == 4 ? "" : "host" + std::to_string(n % 5) + ".example.org";
  r.uid = 1000;
  r.pid = 4242 + n % 10;
  r.exec_id = "";
  r.exe = n % 4 == 0 ? "/usr/bin/curl" : "/usr/lib/firefox/firefox";
  r.cmdline = r.exe + " --sample " + std::to_string(n);
  r.parent_exe = "/usr/bin/bash";
  r.digest = "";
  r.attribution = "process";
  r.method = "sock_diag+procfs";
  return r;
}

}  // namespace picket::testing
