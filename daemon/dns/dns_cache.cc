#include "dns/dns_cache.h"

#include <algorithm>
#include <chrono>
#include <cstring>

namespace picket {
namespace {

constexpr size_t kInitialSlots = 1024;  // a power of two

}  // namespace

size_t DnsCache::Hash(const IpAddress& a) {
  uint64_t lo = 0, hi = 0;
  std::memcpy(&lo, a.bytes().data(), 8);
  std::memcpy(&hi, a.bytes().data() + 8, 8);
  uint64_t h = lo * 0x9e3779b97f4a7c15ull ^ (hi + static_cast<uint64_t>(a.family())) * 0xc2b2ae3d27d4eb4full;
  h ^= h >> 29;
  h *= 0xbf58476d1ce4e5b9ull;
  return static_cast<size_t>(h ^ (h >> 32));
}

DnsCache::DnsCache(DnsCacheOptions options) : options_(options), slots_(kInitialSlots, kNone) {
  options_.max_names = std::max<size_t>(options_.max_names, 1);
  options_.max_names_per_address = std::max<size_t>(options_.max_names_per_address, 1);
  options_.max_ttl = std::max(options_.max_ttl, options_.min_ttl);
}

uint32_t DnsCache::Expiry(uint32_t ttl_seconds, Clock::time_point now) const {
  const auto ttl = std::clamp(std::chrono::seconds(ttl_seconds), options_.min_ttl, options_.max_ttl);
  const auto expires = std::chrono::ceil<std::chrono::seconds>((now + ttl).time_since_epoch()).count();
  return static_cast<uint32_t>(std::clamp<int64_t>(expires, 0, UINT32_MAX));
}

uint32_t DnsCache::StoreName(std::string_view name) {
  if (name_end_ % kChunkBytes + name.size() > kChunkBytes) name_end_ = (name_end_ / kChunkBytes + 1) * kChunkBytes;
  const size_t chunk = name_end_ / kChunkBytes;
  if (chunk == chunks_.size()) chunks_.push_back(std::make_unique_for_overwrite<char[]>(kChunkBytes));
  std::memcpy(chunks_[chunk].get() + name_end_ % kChunkBytes, name.data(), name.size());
  const auto offset = static_cast<uint32_t>(name_end_);
  name_end_ += name.size();
  name_bytes_ += name.size();
  return offset;
}

// Names sit in learn order (a refreshed entry's name is stored again), so walking the entries from
// the oldest moves every name to an offset no later than its own: the copy works in place, and the
// chunks past the last name are freed.
void DnsCache::CompactNamesIfWasteful() {
  const uint64_t waste = name_end_ - name_bytes_;
  if (waste <= 2 * kChunkBytes || waste <= name_bytes_ / 4) return;
  uint64_t end = 0;
  for (uint32_t i = oldest_; i != kNone; i = entries_[i].newer) {
    Entry& e = entries_[i];
    if (end % kChunkBytes + e.name_size > kChunkBytes) end = (end / kChunkBytes + 1) * kChunkBytes;
    char* to = chunks_[end / kChunkBytes].get() + end % kChunkBytes;
    std::memmove(to, NameOf(e).data(), e.name_size);
    e.name = static_cast<uint32_t>(end);
    end += e.name_size;
  }
  name_end_ = end;
  chunks_.resize(std::min<size_t>(chunks_.size(), end / kChunkBytes + 1));
  chunks_.shrink_to_fit();
}

size_t DnsCache::FindSlot(const IpAddress& address) const {
  const size_t mask = slots_.size() - 1;
  for (size_t slot = Hash(address) & mask;; slot = (slot + 1) & mask) {
    if (slots_[slot] == kNone || entries_[slots_[slot]].address == address) return slot;
  }
}

uint32_t DnsCache::Head(const IpAddress& address) const { return slots_[FindSlot(address)]; }

void DnsCache::SetHead(const IpAddress& address, uint32_t index) {
  size_t slot = FindSlot(address);
  if (slots_[slot] == kNone) {
    if ((addresses_ + 1) * 2 > slots_.size()) {
      Grow();
      slot = FindSlot(address);
    }
    ++addresses_;
  }
  slots_[slot] = index;
}

// Backward-shift deletion: later entries of the probe run move up so no lookup meets a hole.
void DnsCache::EraseSlot(size_t slot) {
  const size_t mask = slots_.size() - 1;
  size_t hole = slot;
  for (size_t next = (hole + 1) & mask; slots_[next] != kNone; next = (next + 1) & mask) {
    const size_t home = Hash(entries_[slots_[next]].address) & mask;
    // Move `next` into the hole unless its home lies cyclically in (hole, next].
    const bool home_after_hole = hole <= next ? (home > hole && home <= next) : (home > hole || home <= next);
    if (!home_after_hole) {
      slots_[hole] = slots_[next];
      hole = next;
    }
  }
  slots_[hole] = kNone;
  --addresses_;
}

void DnsCache::Grow() {
  std::vector<uint32_t> old(slots_.size() * 2, kNone);
  old.swap(slots_);
  const size_t mask = slots_.size() - 1;
  for (uint32_t head : old) {
    if (head == kNone) continue;
    size_t slot = Hash(entries_[head].address) & mask;
    while (slots_[slot] != kNone) slot = (slot + 1) & mask;
    slots_[slot] = head;
  }
}

uint32_t DnsCache::Allocate() {
  if (free_ != kNone) {
    const uint32_t index = free_;
    free_ = entries_[index].next_same_address;
    entries_[index].next_same_address = kNone;
    return index;
  }
  entries_.emplace_back();
  return static_cast<uint32_t>(entries_.size() - 1);
}

void DnsCache::LinkNewest(uint32_t index) {
  Entry& e = entries_[index];
  e.newer = kNone;
  e.older = newest_;
  if (newest_ != kNone) entries_[newest_].newer = index;
  newest_ = index;
  if (oldest_ == kNone) oldest_ = index;
}

void DnsCache::UnlinkLearnOrder(uint32_t index) {
  Entry& e = entries_[index];
  if (e.newer != kNone) entries_[e.newer].older = e.older; else newest_ = e.older;
  if (e.older != kNone) entries_[e.older].newer = e.newer; else oldest_ = e.newer;
  e.newer = e.older = kNone;
}

void DnsCache::Remove(uint32_t index) {
  Entry& e = entries_[index];
  const size_t slot = FindSlot(e.address);
  if (slots_[slot] == index) {
    if (e.next_same_address == kNone) EraseSlot(slot); else slots_[slot] = e.next_same_address;
  } else {
    for (uint32_t i = slots_[slot]; i != kNone; i = entries_[i].next_same_address) {
      if (entries_[i].next_same_address == index) {
        entries_[i].next_same_address = e.next_same_address;
        break;
      }
    }
  }
  UnlinkLearnOrder(index);
  name_bytes_ -= e.name_size;
  e.name_size = 0;
  e.next_same_address = free_;
  free_ = index;
  --size_;
}

void DnsCache::EvictOldest() {
  if (oldest_ != kNone) Remove(oldest_);
}

void DnsCache::Add(const IpAddress& address, std::string_view name, uint32_t ttl_seconds, Clock::time_point now) {
  if (name.empty() || name.size() > UINT8_MAX) return;
  const IpAddress key = address.Normalized();
  const auto expires = Expiry(ttl_seconds, now);
  size_t count = 0;
  uint32_t last = kNone;
  const uint32_t head = Head(key);
  for (uint32_t i = head, previous = kNone; i != kNone; previous = i, i = entries_[i].next_same_address) {
    if (NameOf(entries_[i]) == name) {
      // Learned again: newest in both orders (the cache's and its address's); the name is stored
      // again at the end, so the names stay in learn order.
      entries_[i].expires_s = expires;
      name_bytes_ -= entries_[i].name_size;
      entries_[i].name = StoreName(name);
      UnlinkLearnOrder(i);
      LinkNewest(i);
      if (previous != kNone) {
        entries_[previous].next_same_address = entries_[i].next_same_address;
        entries_[i].next_same_address = head;
        SetHead(key, i);
      }
      ++counters_.refreshed;
      CompactNamesIfWasteful();
      return;
    }
    ++count;
    last = i;
  }
  if (count >= options_.max_names_per_address) {
    Remove(last);
    ++counters_.evicted_per_address;
  }
  while (size_ >= options_.max_names) {
    if (Expired(entries_[oldest_], now)) ++counters_.expired; else ++counters_.evicted;
    EvictOldest();
  }
  const uint32_t index = Allocate();
  Entry& e = entries_[index];
  e.address = key;
  e.expires_s = expires;
  e.name = StoreName(name);
  e.name_size = static_cast<uint8_t>(name.size());
  e.next_same_address = Head(key);
  SetHead(key, index);
  LinkNewest(index);
  ++size_;
  ++counters_.added;
  CompactNamesIfWasteful();
}

size_t DnsCache::Lookup(const IpAddress& address, Clock::time_point now, std::vector<std::string>* names) {
  names->clear();
  ++counters_.lookups;
  const IpAddress key = address.Normalized();
  // Expired entries met on the way are dropped (up to a handful per lookup; the rest go later or
  // by eviction), without allocating.
  uint32_t expired[16];
  size_t expired_count = 0;
  for (uint32_t i = Head(key); i != kNone; i = entries_[i].next_same_address) {
    if (!Expired(entries_[i], now)) {
      names->emplace_back(NameOf(entries_[i]));
    } else if (expired_count < std::size(expired)) {
      expired[expired_count++] = i;
    }
  }
  for (size_t k = 0; k < expired_count; ++k) {
    Remove(expired[k]);
    ++counters_.expired;
  }
  if (expired_count != 0) CompactNamesIfWasteful();
  if (!names->empty()) ++counters_.hits;
  return names->size();
}

}  // namespace picket
