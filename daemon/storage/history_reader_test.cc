#include "storage/history_reader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "storage/event_log.h"
#include "storage/storage_test_util.h"

namespace picket {
namespace {

using ::testing::ElementsAre;
using testing::SampleRecord;
using testing::TempDir;
using namespace std::chrono_literals;

constexpr int64_t kHourUs = 3600ll * 1000000;

// Builds an EventFilter field by field.
struct F {
  EventFilter f;
  F& Since(int64_t us) { f.window.since_us = us; return *this; }
  F& Until(int64_t us) { f.window.until_us = us; return *this; }
  F& Exe(std::string v) { f.exe = std::move(v); return *this; }
  F& Host(std::string v) { f.host = std::move(v); return *this; }
  F& Verdict(std::string v) { f.verdict = std::move(v); return *this; }
  F& Rule(std::string v) { f.rule = std::move(v); return *this; }
  F& Limit(size_t n) { f.limit = n; return *this; }
  operator EventFilter() const { return f; }  // NOLINT(google-explicit-constructor)
};

// Six decisions at known times (t0 + i hours), written through the real writer.
class HistoryReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    EventLogOptions o;
    o.path = dir_.File("h.db");
    o.max_age = 0s;
    auto log = EventLog::Open(o);
    ASSERT_TRUE(log.ok()) << log.error().message;
    Add(**log, 0, "allow", "rule", "allow-curl", "/usr/bin/curl", "api.example.org", 443);
    Add(**log, 1, "deny", "rule", "block-ads", "/usr/lib/firefox/firefox", "ads.tracker.net", 443);
    Add(**log, 2, "allow", "default", "", "/usr/lib/firefox/firefox", "www.example.org", 443);
    Add(**log, 3, "reject", "rule", "no-dns", "/usr/sbin/dnsmasq", "", 53);
    Add(**log, 4, "allow", "default", "", "", "", 0);  // kernel
    Add(**log, 5, "deny", "default", "", "/opt/curl_x/curl", "example.org", 80);
    ASSERT_TRUE((*log)->WaitUntilWritten(5s));
    auto reader = HistoryReader::Open(o.path);
    ASSERT_TRUE(reader.ok()) << reader.error().message;
    reader_ = std::move(*reader);
  }

  void Add(EventLog& log, int hour, const std::string& verdict, const std::string& by, const std::string& rule,
           const std::string& exe, const std::string& host, uint16_t port) {
    EventRecord r = SampleRecord(hour);
    r.time_us = t0_ + hour * kHourUs;
    r.verdict = verdict;
    r.decided_by = by == "rule" ? DecidedBy::kRule : DecidedBy::kDefault;
    r.rule = rule;
    r.exe = exe;
    r.cmdline = exe.empty() ? "" : exe + " " + std::to_string(hour);
    r.attribution = exe.empty() ? "kernel" : "process";
    r.host = host;
    r.dst_ip = "198.18.0." + std::to_string(10 + hour);
    r.dst_port = port;
    ASSERT_TRUE(log.Append(r));
  }

  std::vector<int> Hours(const EventFilter& filter) {
    auto rows = reader_->Query(filter);
    EXPECT_TRUE(rows.ok()) << rows.error().message;
    std::vector<int> hours;
    if (rows.ok()) {
      for (const auto& e : *rows) hours.push_back(static_cast<int>((e.record.time_us - t0_) / kHourUs));
    }
    return hours;
  }

  TempDir dir_;
  int64_t t0_ = 1700000000ll * 1000000;
  std::unique_ptr<HistoryReader> reader_;
};

TEST_F(HistoryReaderTest, NoFilterNewestFirstWithLimit) {
  EXPECT_THAT(Hours(F()), ElementsAre(5, 4, 3, 2, 1, 0));
  EXPECT_THAT(Hours(F().Limit(2)), ElementsAre(5, 4));
}

TEST_F(HistoryReaderTest, SinceIsInclusiveUntilExclusive) {
  EXPECT_THAT(Hours(F().Since(t0_ + 2 * kHourUs)), ElementsAre(5, 4, 3, 2));
  EXPECT_THAT(Hours(F().Until(t0_ + 2 * kHourUs)), ElementsAre(1, 0));
  EXPECT_THAT(Hours(F().Since(t0_ + 1 * kHourUs).Until(t0_ + 3 * kHourUs)), ElementsAre(2, 1));
}

TEST_F(HistoryReaderTest, ExeByPathByFileNameAndKernel) {
  EXPECT_THAT(Hours(F().Exe("/usr/bin/curl")), ElementsAre(0));
  EXPECT_THAT(Hours(F().Exe("curl")), ElementsAre(5, 0));
  EXPECT_THAT(Hours(F().Exe("firefox")), ElementsAre(2, 1));
  EXPECT_THAT(Hours(F().Exe("kernel")), ElementsAre(4));
  // LIKE wildcards in the filter are literal: "curl_x" is a directory, not a pattern.
  EXPECT_THAT(Hours(F().Exe("cur_")), ElementsAre());
}

TEST_F(HistoryReaderTest, HostMatchesSubdomainsAndIp) {
  EXPECT_THAT(Hours(F().Host("example.org")), ElementsAre(5, 2, 0));
  EXPECT_THAT(Hours(F().Host("api.example.org")), ElementsAre(0));
  EXPECT_THAT(Hours(F().Host("tracker.net")), ElementsAre(1));
  EXPECT_THAT(Hours(F().Host("198.18.0.13")), ElementsAre(3));
  EXPECT_THAT(Hours(F().Host("xample.org")), ElementsAre());
}

TEST_F(HistoryReaderTest, VerdictAndRuleIncludingDefault) {
  EXPECT_THAT(Hours(F().Verdict("deny")), ElementsAre(5, 1));
  EXPECT_THAT(Hours(F().Verdict("reject")), ElementsAre(3));
  EXPECT_THAT(Hours(F().Rule("block-ads")), ElementsAre(1));
  EXPECT_THAT(Hours(F().Rule("default")), ElementsAre(5, 4, 2));
}

TEST_F(HistoryReaderTest, FiltersCombine) {
  EXPECT_THAT(Hours(F().Since(t0_ + kHourUs).Exe("firefox").Verdict("allow")), ElementsAre(2));
  EXPECT_THAT(Hours(F().Exe("curl").Host("example.org").Verdict("deny").Rule("default")), ElementsAre(5));
}

TEST_F(HistoryReaderTest, StatsOverAWindow) {
  auto all = reader_->Stats({}, 0);
  ASSERT_TRUE(all.ok()) << all.error().message;
  EXPECT_EQ(all->total, 6u);
  EXPECT_THAT(all->by_verdict, ElementsAre(CountRow{"allow", 3}, CountRow{"deny", 2}, CountRow{"reject", 1}));
  EXPECT_THAT(all->by_exe, ElementsAre(CountRow{"/usr/lib/firefox/firefox", 2}, CountRow{"/opt/curl_x/curl", 1},
                                       CountRow{"/usr/bin/curl", 1}, CountRow{"/usr/sbin/dnsmasq", 1},
                                       CountRow{"kernel", 1}));
  EXPECT_THAT(all->by_rule, ElementsAre(CountRow{"default", 3}, CountRow{"allow-curl", 1}, CountRow{"block-ads", 1},
                                        CountRow{"no-dns", 1}));
  auto late = reader_->Stats(TimeWindow{t0_ + 4 * kHourUs, std::nullopt}, 1);
  ASSERT_TRUE(late.ok());
  EXPECT_EQ(late->total, 2u);
  EXPECT_EQ(late->by_host.size(), 1u) << "top_n = 1";
}

TEST_F(HistoryReaderTest, TopProgramsAndHosts) {
  auto programs = reader_->TopPrograms({}, 2);
  ASSERT_TRUE(programs.ok()) << programs.error().message;
  ASSERT_EQ(programs->size(), 2u);
  EXPECT_EQ((*programs)[0].exe, "/usr/lib/firefox/firefox");
  EXPECT_EQ((*programs)[0].connections, 2u);
  EXPECT_EQ((*programs)[0].blocked, 1u);
  EXPECT_EQ((*programs)[0].hosts, 2u);
  auto hosts = reader_->TopHosts({}, 10);
  ASSERT_TRUE(hosts.ok());
  ASSERT_EQ(hosts->size(), 6u);
  EXPECT_EQ((*hosts)[0].connections, 1u);
}

TEST(HistoryReader, MissingFileIsAnErrorNamingIt) {
  auto reader = HistoryReader::Open("/nonexistent/picket/history.db");
  ASSERT_FALSE(reader.ok());
  EXPECT_THAT(reader.error().message, ::testing::HasSubstr("/nonexistent/picket/history.db"));
}

}  // namespace
}  // namespace picket
