#include "storage/event_log.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "storage/history_reader.h"
#include "storage/schema.h"
#include "storage/sqlite_db.h"
#include "storage/storage_test_util.h"

namespace picket {
namespace {

using ::testing::HasSubstr;
using testing::NowUs;
using testing::SampleRecord;
using testing::TempDir;
using namespace std::chrono_literals;

EventLogOptions Options(const std::string& path) {
  EventLogOptions o;
  o.path = path;
  o.flush_interval = 20ms;
  return o;
}

int64_t CountRows(const std::string& path) {
  auto db = SqliteDb::Open(path, SqliteOpenMode::kReadOnly);
  if (!db.ok()) return -1;
  auto n = (*db)->QueryInt("SELECT count(*) FROM events");
  return n.ok() ? *n : -1;
}

TEST(EventLog, EveryFieldRoundTrips) {
  TempDir dir;
  auto log = EventLog::Open(Options(dir.File("sub/dir/history.db")));
  ASSERT_TRUE(log.ok()) << log.error().message;
  EventRecord r = SampleRecord(0);
  r.exec_id = "4242:123456789";
  r.digest = "sha256:ab12";
  r.decided_by = DecidedBy::kRule;
  ASSERT_TRUE((*log)->Append(r));
  EventRecord kernel;
  kernel.time_us = r.time_us + 1;
  kernel.verdict = "allow";
  kernel.decided_by = DecidedBy::kDefault;
  kernel.protocol = "icmp6";
  kernel.dst_ip = "2001:2::2";
  kernel.attribution = "kernel";
  ASSERT_TRUE((*log)->Append(kernel));
  ASSERT_TRUE((*log)->WaitUntilWritten(5s));
  EXPECT_EQ((*log)->status().written, 2u);

  auto reader = HistoryReader::Open(dir.File("sub/dir/history.db"));
  ASSERT_TRUE(reader.ok()) << reader.error().message;
  auto rows = (*reader)->Query({});
  ASSERT_TRUE(rows.ok()) << rows.error().message;
  ASSERT_EQ(rows->size(), 2u);
  const EventRecord& k = (*rows)[0].record;  // newest first
  EXPECT_EQ(k.attribution, "kernel");
  EXPECT_FALSE(k.uid.has_value());
  EXPECT_FALSE(k.pid.has_value());
  EXPECT_EQ(k.exe, "");
  const EventRecord& got = (*rows)[1].record;
  EXPECT_EQ(got.time_us, r.time_us);
  EXPECT_EQ(got.verdict, "deny");
  EXPECT_EQ(got.decided_by, DecidedBy::kRule);
  EXPECT_EQ(got.rule, "block-trackers");
  EXPECT_EQ(got.protocol, "tcp");
  EXPECT_EQ(got.src_ip, r.src_ip);
  EXPECT_EQ(got.src_port, r.src_port);
  EXPECT_EQ(got.dst_ip, r.dst_ip);
  EXPECT_EQ(got.dst_port, 443);
  EXPECT_EQ(got.host, r.host);
  EXPECT_EQ(got.uid, 1000u);
  EXPECT_EQ(got.pid, r.pid);
  EXPECT_EQ(got.exec_id, "4242:123456789");
  EXPECT_EQ(got.exe, "/usr/bin/curl");
  EXPECT_EQ(got.cmdline, r.cmdline);
  EXPECT_EQ(got.parent_exe, "/usr/bin/bash");
  EXPECT_EQ(got.digest, "sha256:ab12");
  EXPECT_EQ(got.attribution, "process");
  EXPECT_EQ(got.method, "sock_diag+procfs");
}

TEST(EventLog, FileAndDirectoryArePrivate) {
  TempDir dir;
  const std::string path = dir.File("private/history.db");
  auto log = EventLog::Open(Options(path));
  ASSERT_TRUE(log.ok()) << log.error().message;
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(stat(dir.File("private").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
}

TEST(EventLog, ManyRecordsAreWrittenInBatches) {
  TempDir dir;
  EventLogOptions o = Options(dir.File("h.db"));
  o.batch_max = 1000;
  auto log = EventLog::Open(o);
  ASSERT_TRUE(log.ok());
  for (int i = 0; i < 10000; ++i) ASSERT_TRUE((*log)->Append(SampleRecord(i)));
  ASSERT_TRUE((*log)->WaitUntilWritten(20s));
  const EventLogStatus s = (*log)->status();
  EXPECT_EQ(s.written, 10000u);
  EXPECT_GE(s.batches, 10u);
  EXPECT_LT(s.batches, 10000u);
  EXPECT_EQ(CountRows(dir.File("h.db")), 10000);
}

TEST(EventLog, FullQueueDropsAndCountsInsteadOfBlocking) {
  TempDir dir;
  EventLogOptions o = Options(dir.File("h.db"));
  o.queue_capacity = 10;
  o.batch_max = 1000;        // the writer waits for a full batch …
  o.flush_interval = 10s;    // … or this long, so the queue fills first
  auto log = EventLog::Open(o);
  ASSERT_TRUE(log.ok());
  std::this_thread::sleep_for(50ms);  // let the start-up retention pass finish
  int accepted = 0;
  for (int i = 0; i < 25; ++i) accepted += (*log)->Append(SampleRecord(i)) ? 1 : 0;
  EXPECT_EQ(accepted, 10);
  EXPECT_EQ((*log)->status().dropped, 15u);
  ASSERT_TRUE((*log)->WaitUntilWritten(5s));
  EXPECT_EQ((*log)->status().written, 10u);
}

TEST(EventLog, DestructorWritesWhatIsQueued) {
  TempDir dir;
  EventLogOptions o = Options(dir.File("h.db"));
  o.flush_interval = 10s;
  {
    auto log = EventLog::Open(o);
    ASSERT_TRUE(log.ok());
    for (int i = 0; i < 100; ++i) (*log)->Append(SampleRecord(i));
  }
  EXPECT_EQ(CountRows(dir.File("h.db")), 100);
}

TEST(EventLog, RetentionByAgeIsIncremental) {
  TempDir dir;
  EventLogOptions o = Options(dir.File("h.db"));
  o.max_age = std::chrono::hours(24);
  o.retention_step = 100;
  o.retention_check = 10ms;
  {
    EventLogOptions fill = o;
    fill.max_age = 0s;
    auto log = EventLog::Open(fill);
    ASSERT_TRUE(log.ok());
    for (int i = 0; i < 1000; ++i) {
      EventRecord r = SampleRecord(i);
      r.time_us = NowUs() - (i < 700 ? 48ll : 1ll) * 3600 * 1000000;  // 700 rows two days old
      (*log)->Append(std::move(r));
    }
  }
  ASSERT_EQ(CountRows(dir.File("h.db")), 1000);
  auto log = EventLog::Open(o);
  ASSERT_TRUE(log.ok());
  for (int i = 0; i < 200 && CountRows(dir.File("h.db")) != 300; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(CountRows(dir.File("h.db")), 300);
  const EventLogStatus s = (*log)->status();
  EXPECT_EQ(s.retention_deleted, 700u);
  auto reader = HistoryReader::Open(dir.File("h.db"));
  ASSERT_TRUE(reader.ok());
  EventFilter old;
  old.window.until_us = NowUs() - 24ll * 3600 * 1000000;
  auto rows = (*reader)->Query(old);
  ASSERT_TRUE(rows.ok());
  EXPECT_TRUE(rows->empty()) << "a row older than max_age survived";
}

TEST(EventLog, RetentionByRowCountKeepsTheNewest) {
  TempDir dir;
  EventLogOptions o = Options(dir.File("h.db"));
  o.max_rows = 500;
  o.retention_step = 64;
  o.retention_check = 10ms;
  o.batch_max = 100;
  auto log = EventLog::Open(o);
  ASSERT_TRUE(log.ok());
  for (int i = 0; i < 2000; ++i) {
    ASSERT_TRUE((*log)->Append(SampleRecord(i)));
    if (i % 100 == 99) {
      ASSERT_TRUE((*log)->WaitUntilWritten(5s));
    }
  }
  ASSERT_TRUE((*log)->WaitUntilWritten(5s));
  for (int i = 0; i < 300 && CountRows(dir.File("h.db")) > 500; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(CountRows(dir.File("h.db")), 500);
  auto reader = HistoryReader::Open(dir.File("h.db"));
  ASSERT_TRUE(reader.ok());
  EventFilter all;
  all.limit = 0;
  auto rows = (*reader)->Query(all);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 500u);
  EXPECT_EQ(rows->front().record.cmdline, SampleRecord(1999).cmdline);
  EXPECT_EQ(rows->back().record.cmdline, SampleRecord(1500).cmdline);
}

TEST(EventLog, CorruptFileIsRefusedWithItsPath) {
  TempDir dir;
  const std::string path = dir.File("h.db");
  std::ofstream(path) << std::string(8192, 'x');
  auto log = EventLog::Open(Options(path));
  ASSERT_FALSE(log.ok());
  EXPECT_THAT(log.error().message, HasSubstr(path));
  EXPECT_THAT(log.error().message, HasSubstr("not a database"));
}

TEST(EventLog, UnwritableLocationIsRefused) {
  TempDir dir;
  std::ofstream(dir.File("file")) << "x";
  auto under_file = EventLog::Open(Options(dir.File("file/h.db")));
  ASSERT_FALSE(under_file.ok());
  EXPECT_THAT(under_file.error().message, HasSubstr(dir.File("file/h.db")));
  auto a_directory = EventLog::Open(Options(dir.path()));
  ASSERT_FALSE(a_directory.ok());
  EXPECT_THAT(a_directory.error().message, HasSubstr(dir.path()));
}

TEST(EventLog, ForeignOrNewerDatabasesAreRefusedUntouched) {
  TempDir dir;
  {
    auto db = SqliteDb::Open(dir.File("other.db"), SqliteOpenMode::kReadWriteCreate);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->Exec("CREATE TABLE notes(x)").ok());
  }
  auto foreign = EventLog::Open(Options(dir.File("other.db")));
  ASSERT_FALSE(foreign.ok());
  EXPECT_THAT(foreign.error().message, HasSubstr("not a Picket history file"));
  {
    auto log = EventLog::Open(Options(dir.File("new.db")));
    ASSERT_TRUE(log.ok());
  }
  {
    auto db = SqliteDb::Open(dir.File("new.db"), SqliteOpenMode::kReadWriteCreate);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->Exec("PRAGMA user_version = 99").ok());
  }
  auto newer = EventLog::Open(Options(dir.File("new.db")));
  ASSERT_FALSE(newer.ok());
  EXPECT_THAT(newer.error().message, HasSubstr("newer Picket"));
  auto reader = HistoryReader::Open(dir.File("new.db"));
  ASSERT_FALSE(reader.ok());
}

TEST(EventLog, ReopeningKeepsRowsAndSchemaVersion) {
  TempDir dir;
  for (int round = 0; round < 2; ++round) {
    auto log = EventLog::Open(Options(dir.File("h.db")));
    ASSERT_TRUE(log.ok()) << log.error().message;
    (*log)->Append(SampleRecord(round));
  }
  EXPECT_EQ(CountRows(dir.File("h.db")), 2);
  auto db = SqliteDb::Open(dir.File("h.db"), SqliteOpenMode::kReadOnly);
  ASSERT_TRUE(db.ok());
  EXPECT_EQ(*(*db)->QueryInt("PRAGMA user_version"), kHistorySchemaVersion);
  EXPECT_EQ(*(*db)->QueryInt("PRAGMA application_id"), kHistoryApplicationId);
  EXPECT_EQ(*(*db)->QueryText("PRAGMA journal_mode"), "wal");
}

TEST(EventLog, WriteFailureTurnsHistoryOffVisiblyAndAppendKeepsReturning) {
  TempDir dir;
  EventLogOptions o = Options(dir.File("h.db"));
  o.max_page_count = 40;  // a "disk" of 40 pages fills after a few hundred rows
  o.batch_max = 50;
  auto log = EventLog::Open(o);
  ASSERT_TRUE(log.ok()) << log.error().message;
  for (int i = 0; i < 5000 && (*log)->status().on; ++i) {
    (*log)->Append(SampleRecord(i));
    if (i % 50 == 49) (*log)->WaitUntilWritten(5s);
  }
  const EventLogStatus s = (*log)->status();
  ASSERT_FALSE(s.on) << "40 pages never filled";
  EXPECT_THAT(s.off_reason, HasSubstr("full"));
  EXPECT_GT(s.written, 0u);
  EXPECT_FALSE((*log)->Append(SampleRecord(1)));
  EXPECT_GT((*log)->status().discarded, 0u);
  // What was committed before the failure is intact and readable.
  auto db = SqliteDb::Open(dir.File("h.db"), SqliteOpenMode::kReadOnly);
  ASSERT_TRUE(db.ok());
  EXPECT_EQ(*(*db)->QueryText("PRAGMA integrity_check"), "ok");
  EXPECT_EQ(static_cast<uint64_t>(*(*db)->QueryInt("SELECT count(*) FROM events")), s.written);
}

// A daemon killed with SIGKILL in the middle of heavy logging must leave a database that opens,
// passes integrity_check and can be written again.
TEST(EventLog, KillNineDuringHeavyLoggingLeavesAReadableDatabase) {
  TempDir dir;
  const std::string path = dir.File("h.db");
  for (int round = 0; round < 3; ++round) {
    const int64_t before = std::max<int64_t>(CountRows(path), 0);
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      EventLogOptions o = Options(path);
      o.batch_max = 500;
      o.flush_interval = 1ms;
      auto log = EventLog::Open(o);
      if (!log.ok()) _exit(3);
      for (int i = 0;; ++i) {
        (*log)->Append(SampleRecord(i));
        if (i % 2000 == 0) std::this_thread::sleep_for(1ms);
      }
    }
    // Wait (bounded) until the child has committed a good number of rows, then kill it mid-write.
    for (int i = 0; i < 500 && CountRows(path) < before + 20000; ++i) std::this_thread::sleep_for(10ms);
    ASSERT_EQ(kill(child, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited by itself with " << WEXITSTATUS(status);
    auto db = SqliteDb::Open(path, SqliteOpenMode::kReadWriteCreate);
    ASSERT_TRUE(db.ok());
    EXPECT_EQ(*(*db)->QueryText("PRAGMA integrity_check"), "ok");
    EXPECT_GT(CountRows(path), before);
  }
  auto log = EventLog::Open(Options(path));
  ASSERT_TRUE(log.ok()) << log.error().message;
  ASSERT_TRUE((*log)->Append(SampleRecord(7)));
  ASSERT_TRUE((*log)->WaitUntilWritten(5s));
  EXPECT_EQ((*log)->status().written, 1u);
}

}  // namespace
}  // namespace picket
