#include "storage/stats.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "storage/storage_test_util.h"

namespace picket {
namespace {

using ::testing::ElementsAre;
using testing::SampleRecord;

TEST(LiveStats, CountsEveryDimension) {
  LiveStats stats;
  EventRecord a = SampleRecord(0);  // deny, rule block-trackers, tcp 443, curl
  EventRecord b = SampleRecord(1);  // allow, default, udp6 53, firefox
  EventRecord kernel;
  kernel.verdict = "allow";
  kernel.protocol = "icmp";
  kernel.dst_ip = "198.18.0.9";
  kernel.attribution = "kernel";
  stats.Count(a);
  stats.Count(a);
  stats.Count(b);
  stats.Count(kernel);
  const StatsSnapshot s = stats.Snapshot(0);
  EXPECT_EQ(s.total, 4u);
  EXPECT_THAT(s.by_verdict, ElementsAre(CountRow{"allow", 2}, CountRow{"deny", 2}));
  EXPECT_THAT(s.by_protocol, ElementsAre(CountRow{"tcp", 2}, CountRow{"icmp", 1}, CountRow{"udp6", 1}));
  EXPECT_THAT(s.by_exe, ElementsAre(CountRow{"/usr/bin/curl", 2}, CountRow{"/usr/lib/firefox/firefox", 1},
                                    CountRow{"kernel", 1}));
  EXPECT_THAT(s.by_host, ElementsAre(CountRow{"host0.example.org", 2}, CountRow{"198.18.0.9", 1},
                                     CountRow{"host1.example.org", 1}));
  EXPECT_THAT(s.by_port, ElementsAre(CountRow{"443", 2}, CountRow{"0", 1}, CountRow{"53", 1}));
  EXPECT_THAT(s.by_user, ElementsAre(CountRow{"1000", 3}, CountRow{"-", 1}));
  EXPECT_THAT(s.by_rule, ElementsAre(CountRow{"block-trackers", 2}, CountRow{"default", 2}));
}

TEST(LiveStats, KeysAreBoundedWithAnOtherBucket) {
  LiveStats stats(3);
  for (int i = 0; i < 10; ++i) {
    EventRecord r = SampleRecord(0);
    r.host = "h" + std::to_string(i) + ".example";
    stats.Count(r);
  }
  const StatsSnapshot s = stats.Snapshot(0);
  EXPECT_EQ(s.by_host.size(), 3u);
  EXPECT_EQ(s.by_host[0], (CountRow{"(other)", 8}));
  EXPECT_EQ(stats.overflowed(), 8u);
}

TEST(LiveStats, TopN) {
  LiveStats stats;
  for (int i = 0; i < 6; ++i) stats.Count(SampleRecord(i));
  EXPECT_EQ(stats.Snapshot(1).by_host.size(), 1u);
}

}  // namespace
}  // namespace picket
