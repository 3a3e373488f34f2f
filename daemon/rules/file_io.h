// File access for the rule engine: bounded reads of regular files with their identity, directory
// listings, and atomic writes (temp file + fsync + rename) for the files Picket writes.
//
// Paths in, values or errors out; errors name the path and the failing call.
// Thread-safety: stateless functions, safe from any thread.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace picket {

// Identity of a file on disk; a change in any field means the file must be re-read.
struct FileStamp {
  dev_t dev = 0;
  ino_t ino = 0;
  off_t size = 0;
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;
  bool operator==(const FileStamp&) const = default;
};

struct FileContent {
  std::string bytes;
  FileStamp identity;  // of the file that was read (fstat of the open descriptor)
};

// Reads a regular file of at most `max_bytes`. O_NONBLOCK keeps a FIFO from blocking the open.
// Errors: "open: …", "not a regular file", "larger than N bytes", "read: …".
Result<FileContent> ReadRegularFile(const std::string& path, size_t max_bytes);

// lstat-free stat of `path` (follows symlinks, as reading does).
Result<FileStamp> StatIdentity(const std::string& path);

// The entry names of directory `dir` accepted by `keep`, sorted (byte order).
// Error (naming `what` and `dir`) when `dir` is missing, not a directory, or cannot be listed.
Result<std::vector<std::string>> ListDirectory(const std::string& dir, std::string_view what,
                                               bool (*keep)(std::string_view name));

std::string JoinDirAndName(const std::string& dir, const std::string& name);

// Writes `bytes` to `path` so that readers see either the old file or the complete new one: a
// temporary file in the same directory (".NAME.XXXXXX.tmp", never ending in ".json"), written,
// fsync'ed, given `mode`, renamed over `path`, then the directory fsync'ed.
Status WriteFileAtomically(const std::string& path, std::string_view bytes, mode_t mode = 0600);

}  // namespace picket
