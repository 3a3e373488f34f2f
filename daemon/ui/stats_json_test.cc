#include "ui/stats_json.h"

#include <gtest/gtest.h>

#include <QJsonArray>

#include "storage/storage_test_util.h"

namespace picket {
namespace {

TEST(StatsJsonTest, RoundTripsEveryDimension) {
  LiveStats live(3);
  EventRecord record = testing::SampleRecord(0);  // deny, tcp, /usr/bin/curl, port 443, uid 1000
  for (int i = 0; i < 3; ++i) live.Count(record);
  record.exe = "/usr/bin/wget";
  live.Count(record);
  record.exe = "/usr/bin/nc";  // third key over max_keys 3 (one slot is kept for it): goes to "(other)"
  live.Count(record);
  const StatsSnapshot snapshot = live.Snapshot(0);
  const QJsonObject json = StatsSnapshotToJson(snapshot);
  EXPECT_EQ(json.value("total").toInt(), 5);
  ASSERT_EQ(json.value("exe").toArray().size(), 3);
  EXPECT_EQ(json.value("exe").toArray()[0].toObject().value("key").toString(), "/usr/bin/curl");
  EXPECT_EQ(json.value("exe").toArray()[0].toObject().value("count").toInt(), 3);
  EXPECT_EQ(json.value("port").toArray()[0].toObject().value("key").toString(), "443");
  const StatsSnapshot back = StatsSnapshotFromJson(json);
  EXPECT_EQ(back.total, snapshot.total);
  EXPECT_EQ(back.by_verdict, snapshot.by_verdict);
  EXPECT_EQ(back.by_protocol, snapshot.by_protocol);
  EXPECT_EQ(back.by_exe, snapshot.by_exe);
  EXPECT_EQ(back.by_host, snapshot.by_host);
  EXPECT_EQ(back.by_port, snapshot.by_port);
  EXPECT_EQ(back.by_user, snapshot.by_user);
  EXPECT_EQ(back.by_rule, snapshot.by_rule);
}

TEST(StatsJsonTest, MalformedInputReadsAsEmpty) {
  const StatsSnapshot s = StatsSnapshotFromJson(QJsonObject{{"total", "x"}, {"exe", 3}});
  EXPECT_EQ(s.total, 0u);
  EXPECT_TRUE(s.by_exe.empty());
}

}  // namespace
}  // namespace picket
