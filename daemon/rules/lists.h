// Lists for the `lists` operator: a directory of list files (blocklists) whose entries a
// connection property is looked up in (see rules/FORMAT.md, "Lists").
//
// ParseListFile is a pure parser over bytes. ListData is the merged, compiled content of one
// directory: domains in hash sets (exact names and `*.suffix` wildcards), regexps in an RE2::Set,
// addresses and networks in a PrefixMap, digests in a hash set. ListStore reads directories and
// keeps each file's parsed content, re-reading only files that changed.
// Ownership: ListData is shared (shared_ptr<const ListData>) between every rule using the directory.
// Thread-safety: ListData is immutable and may be read from any thread; ListStore is not
// thread-safe (one owner, the rule loader).
#pragma once

#include <re2/re2.h>
#include <re2/set.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "common/ip_address.h"
#include "common/result.h"
#include "rules/file_io.h"
#include "rules/network.h"
#include "rules/rule.h"

namespace picket {

enum class ListKind : uint8_t {
  kDomains,        // lists.domains: hosts-format lines "0.0.0.0 name" / "127.0.0.1 name"
  kDomainsRegexp,  // lists.domains_regexp: one RE2 pattern per line
  kIps,            // lists.ips: one address (or network) per line
  kNets,           // lists.nets: one network (or address) per line
  kHashMd5,        // lists.hash.md5: "<md5 hex> <anything>" per line
  kHashSha256,     // lists.hash.sha256 (Picket extension): "<sha256 hex> <anything>"
};
std::string_view ListKindOperand(ListKind kind);  // "lists.domains" …
// The list kind a lists.* operand looks up, or nullopt for other operands.
std::optional<ListKind> ListKindOf(Operand operand);

inline constexpr size_t kMaxListFileBytes = size_t{256} << 20;

// The entries of one list file. Lines that are empty or start with '#' are comments; lines that are
// not entries of this kind are skipped and counted.
struct ListFile {
  std::vector<std::string> names;      // kDomains: exact names, lower case, no trailing dot
  std::vector<std::string> suffixes;   // kDomains: "*.example.org" / ".example.org" → "example.org"
  std::vector<std::string> patterns;   // kDomainsRegexp (each compiles)
  std::vector<IpNetwork> networks;     // kIps, kNets (an address is a network of one)
  std::vector<std::string> digests;    // kHash*: lower-case hex
  size_t skipped_lines = 0;
  size_t first_skipped_line = 0;       // 1-based; 0 when nothing was skipped
  std::string first_skipped_reason;

  size_t entries() const;
};

ListFile ParseListFile(ListKind kind, std::string_view bytes);

// Lower-cases ASCII letters and drops one trailing dot: the form names are compared in.
std::string NormalizeHostName(std::string_view name);

class ListData {
 public:
  ListData(ListKind kind, const std::vector<const ListFile*>& files);
  ~ListData();
  ListData(const ListData&) = delete;
  ListData& operator=(const ListData&) = delete;

  ListKind kind() const { return kind_; }
  size_t size() const { return size_; }

  // kDomains: `host` (any case, optional trailing dot) is listed, or is a subdomain of a listed
  // `*.suffix` (the suffix itself does not match its wildcard).
  bool ContainsDomain(std::string_view host) const;
  // kDomainsRegexp: some pattern matches `host` (lower-cased, unanchored, case-insensitive).
  bool MatchesDomain(std::string_view host) const;
  // kIps, kNets: `ip` is listed or inside a listed network.
  bool ContainsAddress(const IpAddress& ip) const;
  // kHash*: the hex digest (any case) is listed.
  bool ContainsDigest(std::string_view hex) const;

 private:
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view text) const { return std::hash<std::string_view>()(text); }
  };
  using StringSet = std::unordered_set<std::string, StringHash, std::equal_to<>>;

  ListKind kind_;
  size_t size_ = 0;
  StringSet names_;
  StringSet suffixes_;
  std::vector<std::unique_ptr<re2::RE2>> patterns_;  // every pattern
  std::unique_ptr<re2::RE2::Set> pattern_set_;      // all of them at once, when the set compiles
  PrefixMap<uint8_t> networks_;
  StringSet digests_;
};

// A list directory's problem that does not stop it loading (a skipped line, an unreadable file).
struct ListWarning {
  std::string file;
  std::string message;
};

class ListStore {
 public:
  ListStore();
  ~ListStore();
  ListStore(const ListStore&) = delete;
  ListStore& operator=(const ListStore&) = delete;

  // The merged list of `kind` in directory `dir` (absolute path). The directory is read on first
  // use and again after MarkDirty; then only files whose identity changed are re-parsed. Files are
  // those named "*.*" (a dot somewhere in the name), not starting with '.', regular, at most
  // kMaxListFileBytes. Error when `dir` cannot be listed.
  Result<std::shared_ptr<const ListData>> Get(ListKind kind, const std::string& dir);

  // Warnings of the last read of (kind, dir).
  std::vector<ListWarning> Warnings(ListKind kind, const std::string& dir) const;

  // The next Get of `dir` (or of every directory) re-reads the directory listing.
  void MarkDirty(const std::string& dir);
  void MarkAllDirty();

  // Directories currently known (for watching).
  std::vector<std::string> Directories() const;

  // Drops directories not in `used` (keeps memory bounded after rules stop using a list).
  void Retain(const std::vector<std::string>& used);

 private:
  struct FileEntry {
    FileStamp identity;
    std::shared_ptr<const ListFile> parsed;
  };
  struct DirEntry {
    bool dirty = true;
    std::map<std::string, FileEntry> files;  // by file name
    std::shared_ptr<const ListData> merged;
    std::vector<ListWarning> warnings;
  };
  Status Reload(ListKind kind, const std::string& dir, DirEntry& entry);

  std::map<std::pair<ListKind, std::string>, DirEntry> dirs_;
};

}  // namespace picket
