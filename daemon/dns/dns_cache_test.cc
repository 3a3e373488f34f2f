#include "dns/dns_cache.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

namespace picket {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using std::chrono::seconds;

IpAddress Ip(const char* text) { return *IpAddress::Parse(text); }

class DnsCacheTest : public ::testing::Test {
 protected:
  std::vector<std::string> Names(DnsCache& cache, const char* ip) {
    std::vector<std::string> names;
    cache.Lookup(Ip(ip), now_, &names);
    return names;
  }
  DnsCache::Clock::time_point now_{seconds(1000)};
};

TEST_F(DnsCacheTest, LearnsAndExpiresWithTheInjectedClock) {
  DnsCache cache({.max_names = 10, .max_names_per_address = 4, .min_ttl = seconds(10), .max_ttl = seconds(100)});
  cache.Add(Ip("198.18.0.2"), "api.example.org", 60, now_);
  EXPECT_THAT(Names(cache, "198.18.0.2"), ElementsAre("api.example.org"));
  now_ += seconds(59);
  EXPECT_THAT(Names(cache, "198.18.0.2"), ElementsAre("api.example.org"));
  now_ += seconds(1);
  EXPECT_THAT(Names(cache, "198.18.0.2"), IsEmpty());
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.counters().expired, 1u);
}

TEST_F(DnsCacheTest, TtlIsClampedToTheConfiguredBounds) {
  DnsCache cache({.max_names = 10, .max_names_per_address = 4, .min_ttl = seconds(10), .max_ttl = seconds(100)});
  cache.Add(Ip("198.18.0.2"), "zero.example", 0, now_);
  cache.Add(Ip("198.18.0.3"), "long.example", 86400, now_);
  now_ += seconds(9);
  EXPECT_THAT(Names(cache, "198.18.0.2"), ElementsAre("zero.example")) << "TTL 0 lives min_ttl";
  now_ += seconds(1);
  EXPECT_THAT(Names(cache, "198.18.0.2"), IsEmpty());
  now_ += seconds(89);
  EXPECT_THAT(Names(cache, "198.18.0.3"), ElementsAre("long.example"));
  now_ += seconds(1);
  EXPECT_THAT(Names(cache, "198.18.0.3"), IsEmpty()) << "a day-long TTL is capped at max_ttl";
}

TEST_F(DnsCacheTest, SeveralNamesPerAddressNewestFirstAndRefresh) {
  DnsCache cache({.max_names = 10, .max_names_per_address = 4, .min_ttl = seconds(1), .max_ttl = seconds(1000)});
  cache.Add(Ip("2001:2::2"), "a.example", 100, now_);
  cache.Add(Ip("2001:2::2"), "b.example", 100, now_);
  EXPECT_THAT(Names(cache, "2001:2::2"), ElementsAre("b.example", "a.example"));
  now_ += seconds(90);
  cache.Add(Ip("2001:2::2"), "a.example", 100, now_);  // refreshed: lives 100 s from now
  EXPECT_EQ(cache.counters().refreshed, 1u);
  now_ += seconds(50);
  EXPECT_THAT(Names(cache, "2001:2::2"), ElementsAre("a.example"));
  EXPECT_EQ(cache.size(), 1u);
}

TEST_F(DnsCacheTest, Ipv4MappedAddressesFindIpv4Entries) {
  DnsCache cache({});
  cache.Add(Ip("::ffff:198.18.0.2"), "mapped.example", 60, now_);
  EXPECT_THAT(Names(cache, "198.18.0.2"), ElementsAre("mapped.example"));
  EXPECT_THAT(Names(cache, "::ffff:198.18.0.2"), ElementsAre("mapped.example"));
}

TEST_F(DnsCacheTest, FullCacheEvictsTheOldestLearnedAndCountsIt) {
  DnsCache cache({.max_names = 3, .max_names_per_address = 4, .min_ttl = seconds(1), .max_ttl = seconds(1000)});
  cache.Add(Ip("198.18.0.1"), "one.example", 100, now_);
  cache.Add(Ip("198.18.0.2"), "two.example", 100, now_);
  cache.Add(Ip("198.18.0.3"), "three.example", 100, now_);
  cache.Add(Ip("198.18.0.1"), "one.example", 100, now_);  // refresh: two is now the oldest
  cache.Add(Ip("198.18.0.4"), "four.example", 100, now_);
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_EQ(cache.counters().evicted, 1u);
  EXPECT_THAT(Names(cache, "198.18.0.2"), IsEmpty());
  EXPECT_THAT(Names(cache, "198.18.0.1"), ElementsAre("one.example"));
  EXPECT_THAT(Names(cache, "198.18.0.4"), ElementsAre("four.example"));
}

TEST_F(DnsCacheTest, EvictingAnExpiredEntryCountsAsExpiry) {
  DnsCache cache({.max_names = 1, .max_names_per_address = 4, .min_ttl = seconds(1), .max_ttl = seconds(1000)});
  cache.Add(Ip("198.18.0.1"), "one.example", 10, now_);
  now_ += seconds(20);
  cache.Add(Ip("198.18.0.2"), "two.example", 10, now_);
  EXPECT_EQ(cache.counters().expired, 1u);
  EXPECT_EQ(cache.counters().evicted, 0u);
}

TEST_F(DnsCacheTest, PerAddressBoundDropsThatAddressesOldestName) {
  DnsCache cache({.max_names = 100, .max_names_per_address = 2, .min_ttl = seconds(1), .max_ttl = seconds(1000)});
  cache.Add(Ip("198.18.0.9"), "a.example", 100, now_);
  cache.Add(Ip("198.18.0.9"), "b.example", 100, now_);
  cache.Add(Ip("198.18.0.9"), "c.example", 100, now_);
  EXPECT_THAT(Names(cache, "198.18.0.9"), ElementsAre("c.example", "b.example"));
  EXPECT_EQ(cache.counters().evicted_per_address, 1u);
  EXPECT_EQ(cache.size(), 2u);
}

TEST_F(DnsCacheTest, ChurnKeepsTheBoundAndReusesSlots) {
  DnsCache cache({.max_names = 50, .max_names_per_address = 3, .min_ttl = seconds(1), .max_ttl = seconds(1000)});
  for (int i = 0; i < 5000; ++i) {
    const uint8_t b[4] = {10, static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i), static_cast<uint8_t>(i % 7)};
    cache.Add(IpAddress::V4(b), "n" + std::to_string(i % 97) + ".example", static_cast<uint32_t>(i % 50), now_);
    if (i % 10 == 0) now_ += seconds(1);
    ASSERT_LE(cache.size(), 50u);
  }
  const auto& c = cache.counters();
  EXPECT_EQ(c.added - c.evicted - c.evicted_per_address - c.expired, cache.size());
}

// Random adds and lookups against a plain model (no capacity eviction): the index must find every
// live name through growth, per-address eviction, expiry and the backward-shift deletions.
TEST_F(DnsCacheTest, RandomOperationsMatchAModel) {
  DnsCache cache({.max_names = 1000000, .max_names_per_address = 4, .min_ttl = seconds(30), .max_ttl = seconds(30)});
  struct Learned {
    std::string name;
    DnsCache::Clock::time_point expires;
  };
  std::map<uint32_t, std::vector<Learned>> model;  // per address, oldest learned first
  uint64_t seed = 42;
  auto next = [&seed](uint32_t bound) {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<uint32_t>((seed >> 33) % bound);
  };
  auto ip = [](uint32_t n) {
    const uint8_t b[4] = {10, static_cast<uint8_t>(n >> 16), static_cast<uint8_t>(n >> 8), static_cast<uint8_t>(n)};
    return IpAddress::V4(b);
  };
  for (int op = 0; op < 60000; ++op) {
    if (op % 20 == 0) now_ += seconds(1);
    const uint32_t a = next(3000);
    auto& learned = model[a];
    std::erase_if(learned, [&](const Learned& l) { return l.expires <= now_; });
    if (next(2) == 0) {
      const std::string name = "n" + std::to_string(next(12)) + ".example";
      cache.Add(ip(a), name, 30, now_);
      std::erase_if(learned, [&](const Learned& l) { return l.name == name; });
      if (learned.size() == 4) learned.erase(learned.begin());
      learned.push_back({name, now_ + seconds(30)});
    } else {
      std::vector<std::string> got;
      cache.Lookup(ip(a), now_, &got);
      std::vector<std::string> want;
      for (auto it = learned.rbegin(); it != learned.rend(); ++it) want.push_back(it->name);
      ASSERT_EQ(got, want) << "address " << a << " at op " << op;
    }
  }
}

TEST_F(DnsCacheTest, ExpiryIsRoundedUpToWholeSeconds) {
  DnsCache cache({.max_names = 10, .max_names_per_address = 4, .min_ttl = seconds(10), .max_ttl = seconds(100)});
  now_ += std::chrono::milliseconds(500);
  cache.Add(Ip("198.18.0.2"), "half.example", 10, now_);  // expires at 1010.5 s, kept until 1011 s
  now_ += seconds(10);
  EXPECT_THAT(Names(cache, "198.18.0.2"), ElementsAre("half.example"));
  now_ += std::chrono::milliseconds(499);
  EXPECT_THAT(Names(cache, "198.18.0.2"), ElementsAre("half.example"));
  now_ += std::chrono::milliseconds(1);
  EXPECT_THAT(Names(cache, "198.18.0.2"), IsEmpty());
}

// Long names churned through a small cache, with refreshes and expiries: every name held reads back
// intact after the removed names' space was reclaimed, and the name storage stays bounded.
TEST_F(DnsCacheTest, NameStorageIsReclaimedAndNamesStayIntact) {
  constexpr size_t kMax = 1000;
  DnsCache cache({.max_names = kMax, .max_names_per_address = 2, .min_ttl = seconds(1), .max_ttl = seconds(1000)});
  auto ip = [](uint32_t n) {
    const uint8_t b[4] = {10, static_cast<uint8_t>(n >> 16), static_cast<uint8_t>(n >> 8), static_cast<uint8_t>(n)};
    return IpAddress::V4(b);
  };
  auto name = [](uint32_t n) { return std::string(150 + n % 100, static_cast<char>('a' + n % 26)) + "." + std::to_string(n); };
  std::map<uint32_t, std::pair<std::string, bool>> latest;  // address → the name learned last, short-lived
  size_t peak = 0;
  for (uint32_t i = 0; i < 30000; ++i) {
    const uint32_t address = i % 1500;
    const uint32_t n = i % 7 == 0 ? i / 2 : i;  // some names learned again (refresh)
    const bool short_lived = i % 11 == 0;
    cache.Add(ip(address), name(n), short_lived ? 1 : 600, now_);
    latest[address] = {name(n), short_lived};
    if (i % 100 == 0) now_ += seconds(1);
    peak = std::max(peak, cache.name_storage_bytes());
  }
  EXPECT_LE(cache.size(), kMax);
  // The live names take at most kMax * 250 bytes; reclaiming keeps at most a quarter more, plus chunks.
  EXPECT_LE(peak, kMax * 250 * 5 / 4 + 4 * 64 * 1024);
  size_t found = 0;
  for (const auto& [address, learned] : latest) {
    const std::vector<std::string> names = Names(cache, ip(address).ToString().c_str());
    if (names.empty()) continue;
    ++found;
    if (!learned.second) {
      EXPECT_EQ(names.front(), learned.first) << "address " << address;
    }
    for (const std::string& got : names) EXPECT_EQ(got, name(static_cast<uint32_t>(std::stoul(got.substr(got.find('.') + 1)))));
  }
  EXPECT_GT(found, kMax / 4);
}

TEST_F(DnsCacheTest, LookupCounters) {
  DnsCache cache({});
  cache.Add(Ip("198.18.0.1"), "one.example", 100, now_);
  Names(cache, "198.18.0.1");
  Names(cache, "198.18.0.7");
  EXPECT_EQ(cache.counters().lookups, 2u);
  EXPECT_EQ(cache.counters().hits, 1u);
}

}  // namespace
}  // namespace picket
