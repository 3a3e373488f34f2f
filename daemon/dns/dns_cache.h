// DnsCache: IP address → the host names DNS answers gave for it, bounded in size and time.
//
// Each entry is one (address, name) pair learned from a DNS answer. It expires after the answer's
// TTL, clamped to [min_ttl, max_ttl] (a floor, because programs connect right after a lookup even
// when the TTL is 0, and keep using answers longer than their TTL; a cap, so nothing lives for
// ever). Beyond `max_names` entries the one learned longest ago is evicted; one address keeps at
// most `max_names_per_address` names (a shared CDN address must not crowd out the rest). Learning
// a pair again refreshes it. Every eviction and expiry is counted.
//
// Time is injected: every call takes `now`, so tests drive expiry without sleeping. Expiry times
// are kept in whole seconds of the clock, rounded up (an entry lives at most 1 s past its TTL).
// Memory (reason: 100 000 names must fit the daemon's RSS budget): an entry is 40 bytes with no
// allocation of its own; names are packed in 64 KiB chunks in learn order, and the space of removed
// names is reclaimed in place once it exceeds a quarter of the live names' bytes.
// Addresses are normalized (IPv4-mapped IPv6 → IPv4) on both insert and lookup.
// Ownership: owns its entries. Thread-safety: none; the event-loop thread owns the cache.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/ip_address.h"

namespace picket {

struct DnsCacheOptions {
  size_t max_names = 100000;
  size_t max_names_per_address = 16;
  std::chrono::seconds min_ttl{300};
  std::chrono::seconds max_ttl{86400};
};

struct DnsCacheCounters {
  uint64_t added = 0;                 // new (address, name) pairs
  uint64_t refreshed = 0;             // pairs learned again (expiry moved)
  uint64_t evicted = 0;               // dropped because the cache was full (oldest learned first)
  uint64_t evicted_per_address = 0;   // dropped because their address had too many names
  uint64_t expired = 0;               // dropped because their TTL passed
  uint64_t lookups = 0;
  uint64_t hits = 0;                  // lookups that found at least one name
};

class DnsCache {
 public:
  using Clock = std::chrono::steady_clock;

  explicit DnsCache(DnsCacheOptions options);
  DnsCache(const DnsCache&) = delete;
  DnsCache& operator=(const DnsCache&) = delete;

  // Learns that `address` is `name` for `ttl_seconds` from `now`. An empty name is ignored.
  void Add(const IpAddress& address, std::string_view name, uint32_t ttl_seconds, Clock::time_point now);

  // Replaces *names with the names known for `address` at `now`, most recently learned first;
  // drops the expired ones it meets. Returns the number of names.
  size_t Lookup(const IpAddress& address, Clock::time_point now, std::vector<std::string>* names);

  size_t size() const { return size_; }
  // Bytes held for names (whole chunks), for tests of the reclaiming bound.
  size_t name_storage_bytes() const { return chunks_.size() * kChunkBytes; }
  const DnsCacheOptions& options() const { return options_; }
  const DnsCacheCounters& counters() const { return counters_; }

 private:
  static constexpr uint32_t kNone = UINT32_MAX;

  struct Entry {
    IpAddress address;
    uint8_t name_size = 0;
    uint32_t expires_s = 0;         // Clock seconds, rounded up: expired once now >= this
    uint32_t name = 0;              // offset of the name (name_size bytes, no terminator) in the chunks
    uint32_t older = kNone;         // learn order (a doubly linked list over all entries)
    uint32_t newer = kNone;
    uint32_t next_same_address = kNone;  // this address's entries, newest first; free-list link
  };
  static size_t Hash(const IpAddress& a);
  static bool Expired(const Entry& e, Clock::time_point now) { return now >= Clock::time_point(std::chrono::seconds(e.expires_s)); }

  // The address index: open addressing with linear probing over `slots_`, each slot the newest
  // entry of one address (kNone = empty); at most half full. ~8 bytes per address, no node
  // allocations (an unordered_map costs ~56 bytes per address).
  size_t FindSlot(const IpAddress& address) const;  // the slot of `address`, or the empty slot ending its probe
  uint32_t Head(const IpAddress& address) const;     // kNone when the address has no entry
  void SetHead(const IpAddress& address, uint32_t index);
  void EraseSlot(size_t slot);
  void Grow();

  uint32_t Allocate();
  void Remove(uint32_t index);  // unlinks everywhere and frees the slot
  void LinkNewest(uint32_t index);
  void UnlinkLearnOrder(uint32_t index);
  void EvictOldest();
  uint32_t Expiry(uint32_t ttl_seconds, Clock::time_point now) const;

  // Names, packed in chunks of kChunkBytes in learn order (a name never spans two chunks).
  static constexpr uint32_t kChunkBytes = 64 * 1024;
  std::string_view NameOf(const Entry& e) const { return {chunks_[e.name / kChunkBytes].get() + e.name % kChunkBytes, e.name_size}; }
  uint32_t StoreName(std::string_view name);  // appends; returns the offset
  void CompactNamesIfWasteful();              // moves the live names down over the removed ones

  DnsCacheOptions options_;
  std::deque<Entry> entries_;  // chunked: no 2x slack while growing, indices stay valid
  std::vector<std::unique_ptr<char[]>> chunks_;
  uint64_t name_end_ = 0;      // where the next name goes (chunk * kChunkBytes + position)
  uint64_t name_bytes_ = 0;    // bytes of the names of the entries held
  std::vector<uint32_t> slots_;
  size_t addresses_ = 0;       // occupied slots
  uint32_t newest_ = kNone;
  uint32_t oldest_ = kNone;
  uint32_t free_ = kNone;
  size_t size_ = 0;
  DnsCacheCounters counters_;
};

}  // namespace picket
