#include "storage/time_spec.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

namespace picket {
namespace {

constexpr int64_t kS = 1000000;
// 2025-01-31 14:05:09 UTC
constexpr int64_t kNow = 1738332309ll * kS;

class TimeSpecTest : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("TZ", "UTC", 1);
    tzset();
  }
};

TEST_F(TimeSpecTest, Durations) {
  EXPECT_EQ(*ParseTimeSpec("30s", kNow), kNow - 30 * kS);
  EXPECT_EQ(*ParseTimeSpec("15m", kNow), kNow - 900 * kS);
  EXPECT_EQ(*ParseTimeSpec("2h", kNow), kNow - 7200 * kS);
  EXPECT_EQ(*ParseTimeSpec("7d", kNow), kNow - 7 * 86400 * kS);
  EXPECT_EQ(*ParseTimeSpec("1w", kNow), kNow - 7 * 86400 * kS);
}

TEST_F(TimeSpecTest, DaysAndDates) {
  EXPECT_EQ(*ParseTimeSpec("today", kNow), 1738281600ll * kS);
  EXPECT_EQ(*ParseTimeSpec("yesterday", kNow), (1738281600ll - 86400) * kS);
  EXPECT_EQ(*ParseTimeSpec("2025-01-31", kNow), 1738281600ll * kS);
  EXPECT_EQ(*ParseTimeSpec("2025-01-31T14:05", kNow), (1738332309ll - 9) * kS);
  EXPECT_EQ(*ParseTimeSpec("2025-01-31 14:05:09", kNow), kNow);
  EXPECT_EQ(*ParseTimeSpec("2025-01-31T14:05:09Z", kNow), kNow);
  EXPECT_EQ(*ParseTimeSpec("@1738332309", kNow), kNow);
}

TEST_F(TimeSpecTest, GarbageIsRejectedNamingTheText) {
  for (const char* bad : {"", "h", "5x", "-5m", "2025-13-01", "2025-01-31T", "2025-01-31Tfoo", "@", "@12a",
                          "2025-01-31 14:05:09 extra", "tomorrow"}) {
    auto r = ParseTimeSpec(bad, kNow);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_THAT(r.error().message, ::testing::HasSubstr("'" + std::string(bad) + "'"));
    }
  }
}

TEST_F(TimeSpecTest, FormatLocalTime) { EXPECT_EQ(FormatLocalTime(kNow), "2025-01-31 14:05:09"); }

}  // namespace
}  // namespace picket
