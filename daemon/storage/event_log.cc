#include "storage/event_log.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "common/log.h"
#include "storage/schema.h"
#include "storage/sqlite_db.h"

namespace picket {
namespace {

constexpr std::string_view kInsertSql =
    "INSERT INTO events (time_us, verdict, decided_by, rule, protocol, src_ip, src_port, dst_ip, dst_port, host, "
    "uid, pid, exec_id, exe, cmdline, parent_exe, digest, attribution, method) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)";
constexpr std::string_view kDeleteOlderSql =
    "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE time_us < ?1 ORDER BY time_us LIMIT ?2)";
constexpr std::string_view kDeleteOldestSql =
    "DELETE FROM events WHERE id IN (SELECT id FROM events ORDER BY id LIMIT ?1)";

// Records whose memory a batch vector keeps between batches (~0.5 KB each).
constexpr size_t kKeptBatchCapacity = 1024;

int64_t NowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Creates the parent directory (0700: the log holds every user's command lines) and the file
// (0600) so that SQLite's -wal and -shm files, which copy the database's mode, are private too.
Status PrepareFile(const std::string& path) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    if (!std::filesystem::exists(parent, ec)) {
      std::filesystem::create_directories(parent, ec);
      if (ec) return Error{"history database " + path + ": creating directory " + parent.string() + ": " + ec.message()};
      ::chmod(parent.c_str(), 0700);
    }
  }
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return Error::FromErrno("history database " + path + ": open");
  ::close(fd);
  return OkStatus();
}

}  // namespace

std::string_view DecidedByName(DecidedBy by) {
  switch (by) {
    case DecidedBy::kRule: return "rule";
    case DecidedBy::kDefault: return "default";
    case DecidedBy::kPrompt: return "prompt";
    case DecidedBy::kTimeout: return "timeout";
    case DecidedBy::kUnparsed: return "unparsed";
  }
  return "default";
}

// The writer thread's connection and statements.
class EventLog::Writer {
 public:
  static Result<std::unique_ptr<Writer>> Open(const EventLogOptions& options) {
    if (Status s = PrepareFile(options.path); !s.ok()) return s.error();
    auto db = SqliteDb::Open(options.path, SqliteOpenMode::kReadWriteCreate);
    if (!db.ok()) return db.error();
    if (sqlite3_db_readonly((*db)->handle(), "main") == 1) {
      return Error{"history database " + options.path + ": not writable (opened read-only)"};
    }
    sqlite3_busy_timeout((*db)->handle(), 2000);
    auto mode = (*db)->QueryText("PRAGMA journal_mode=WAL");
    if (!mode.ok()) return mode.error();
    if (*mode != "wal") return Error{"history database " + options.path + ": cannot use WAL (journal mode " + *mode + ")"};
    if (Status s = (*db)->Exec("PRAGMA synchronous=NORMAL"); !s.ok()) return s.error();
    // 1 MB of page cache (SQLite's default is 2 MB): inserts touch only the right edge of each index.
    if (Status s = (*db)->Exec("PRAGMA cache_size=-1024"); !s.ok()) return s.error();
    if (options.max_page_count > 0) {
      if (Status s = (*db)->Exec("PRAGMA max_page_count=" + std::to_string(options.max_page_count)); !s.ok()) {
        return s.error();
      }
    }
    if (Status s = MigrateHistorySchema(**db); !s.ok()) return s.error();
    auto integrity = (*db)->QueryText("PRAGMA quick_check(1)");
    if (!integrity.ok()) return integrity.error();
    if (*integrity != "ok") return Error{"history database " + options.path + ": damaged: " + *integrity};
    auto rows = (*db)->QueryInt("SELECT count(*) FROM events");
    if (!rows.ok()) return rows.error();
    auto writer = std::unique_ptr<Writer>(new Writer(std::move(*db)));
    writer->rows_ = static_cast<uint64_t>(*rows);
    if (Status s = writer->PrepareStatements(); !s.ok()) return s.error();
    return writer;
  }

  // One transaction. On failure it is rolled back and the SQLite code is in *code.
  Status Write(const std::vector<EventRecord>& batch, size_t begin, size_t end, int* code) {
    *code = SQLITE_OK;
    if (Status s = db_->Exec("BEGIN IMMEDIATE"); !s.ok()) {
      *code = sqlite3_extended_errcode(db_->handle());
      return s;
    }
    for (size_t i = begin; i < end; ++i) {
      Bind(batch[i]);
      Status s = insert_.Run();
      insert_.Reset();
      if (!s.ok()) return Abort(s, code);
    }
    if (Status s = db_->Exec("COMMIT"); !s.ok()) return Abort(s, code);
    rows_ += end - begin;
    return OkStatus();
  }

  // One incremental retention pass. Returns the rows deleted; *more when a limit was hit.
  Result<uint64_t> Retain(const EventLogOptions& options, bool* more) {
    *more = false;
    uint64_t deleted = 0;
    if (options.max_age.count() > 0) {
      const int64_t cutoff = NowUs() - std::chrono::duration_cast<std::chrono::microseconds>(options.max_age).count();
      delete_older_.BindInt(1, cutoff);
      delete_older_.BindInt(2, static_cast<int64_t>(options.retention_step));
      auto n = RunDelete(delete_older_);
      if (!n.ok()) return n.error();
      deleted += *n;
      *more = *more || *n >= options.retention_step;
    }
    if (options.max_rows > 0 && rows_ > options.max_rows) {
      const uint64_t excess = rows_ - options.max_rows;
      delete_oldest_.BindInt(1, static_cast<int64_t>(std::min<uint64_t>(excess, options.retention_step)));
      auto n = RunDelete(delete_oldest_);
      if (!n.ok()) return n.error();
      deleted += *n;
      *more = *more || rows_ > options.max_rows;
    }
    return deleted;
  }

  uint64_t rows() const { return rows_; }

 private:
  explicit Writer(std::unique_ptr<SqliteDb> db) : db_(std::move(db)) {}

  Status PrepareStatements() {
    auto insert = db_->Prepare(kInsertSql);
    if (!insert.ok()) return insert.error();
    insert_ = std::move(*insert);
    auto older = db_->Prepare(kDeleteOlderSql);
    if (!older.ok()) return older.error();
    delete_older_ = std::move(*older);
    auto oldest = db_->Prepare(kDeleteOldestSql);
    if (!oldest.ok()) return oldest.error();
    delete_oldest_ = std::move(*oldest);
    return OkStatus();
  }

  void Bind(const EventRecord& r) {
    insert_.BindInt(1, r.time_us);
    insert_.BindText(2, r.verdict);
    insert_.BindText(3, DecidedByName(r.decided_by));
    insert_.BindTextOrNull(4, r.rule);
    insert_.BindText(5, r.protocol);
    insert_.BindTextOrNull(6, r.src_ip);
    insert_.BindInt(7, r.src_port);
    insert_.BindTextOrNull(8, r.dst_ip);
    insert_.BindInt(9, r.dst_port);
    insert_.BindTextOrNull(10, r.host);
    insert_.BindOptional(11, r.uid);
    insert_.BindOptional(12, r.pid);
    insert_.BindTextOrNull(13, r.exec_id);
    insert_.BindTextOrNull(14, r.exe);
    insert_.BindTextOrNull(15, r.cmdline);
    insert_.BindTextOrNull(16, r.parent_exe);
    insert_.BindTextOrNull(17, r.digest);
    insert_.BindText(18, r.attribution);
    insert_.BindTextOrNull(19, r.method);
  }

  Status Abort(const Status& failure, int* code) {
    *code = sqlite3_extended_errcode(db_->handle());
    (void)db_->Exec("ROLLBACK");
    return failure;
  }

  Result<uint64_t> RunDelete(SqliteStatement& stmt) {
    Status s = stmt.Run();
    stmt.Reset();
    if (!s.ok()) return s.error();
    const auto n = static_cast<uint64_t>(db_->changes());
    rows_ -= std::min(rows_, n);
    return n;
  }

  std::unique_ptr<SqliteDb> db_;
  SqliteStatement insert_;
  SqliteStatement delete_older_;
  SqliteStatement delete_oldest_;
  uint64_t rows_ = 0;
};

EventLog::EventLog(EventLogOptions options) : options_(std::move(options)) {}

Result<std::unique_ptr<EventLog>> EventLog::Open(EventLogOptions options) {
  options.queue_capacity = std::max<size_t>(options.queue_capacity, 1);
  options.batch_max = std::max<size_t>(options.batch_max, 1);
  options.retention_step = std::max<size_t>(options.retention_step, 1);
  auto writer = Writer::Open(options);
  if (!writer.ok()) return writer.error();
  auto log = std::unique_ptr<EventLog>(new EventLog(std::move(options)));
  log->writer_ = std::move(*writer);
  log->status_.on = true;
  log->status_.rows = log->writer_->rows();
  log->queue_.reserve(std::min<size_t>(log->options_.queue_capacity, 1024));
  // The writer must never take a process-directed signal (SIGTERM is read through picketd's
  // signalfd): it starts with every signal blocked, whatever the caller's mask is at this point.
  sigset_t all, previous;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &previous);
  log->thread_ = std::thread([raw = log.get()] { raw->Run(); });
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  return log;
}

EventLog::~EventLog() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

bool EventLog::Append(EventRecord record) {
  std::lock_guard lock(mu_);
  if (!status_.on) {
    ++status_.discarded;
    return false;
  }
  if (queue_.size() >= options_.queue_capacity) {
    ++status_.dropped;
    return false;
  }
  queue_.push_back(std::move(record));
  ++status_.appended;
  // The writer sleeps until a batch starts, then until it is full or flush_interval passed.
  if (queue_.size() == 1 || queue_.size() == options_.batch_max) wake_.notify_one();
  return true;
}

bool EventLog::WaitUntilWritten(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  const uint64_t target = status_.appended;
  flush_requested_ = true;
  wake_.notify_one();
  return progress_.wait_for(lock, timeout, [&] { return committed_seq_ >= target || !status_.on; });
}

EventLogStatus EventLog::status() const {
  std::lock_guard lock(mu_);
  EventLogStatus s = status_;
  s.queued = queue_.size();
  return s;
}

void EventLog::TurnOff(const std::string& reason) {
  // Called with mu_ held.
  if (!status_.on) return;
  status_.on = false;
  status_.off_reason = reason;
  status_.discarded += queue_.size();
  committed_seq_ += queue_.size();
  queue_.clear();
  PLOG(kError) << "history: off: " << reason << " (decisions go on; nothing more is recorded until restart)";
}

void EventLog::Run() {
  using Clock = std::chrono::steady_clock;
  std::vector<EventRecord> batch;
  auto next_retention = Clock::now();
  bool retention_behind = false;
  std::unique_lock lock(mu_);
  while (status_.on) {
    if (queue_.empty() && !stop_ && !retention_behind) {
      wake_.wait_until(lock, next_retention, [&] { return stop_ || !queue_.empty(); });
    }
    if (!queue_.empty() && !stop_ && !flush_requested_ && queue_.size() < options_.batch_max) {
      wake_.wait_for(lock, options_.flush_interval,
                     [&] { return stop_ || flush_requested_ || queue_.size() >= options_.batch_max; });
    }
    flush_requested_ = false;
    batch.swap(queue_);
    lock.unlock();

    std::string failure;
    size_t handled = 0;
    while (handled < batch.size() && failure.empty()) {
      const size_t end = std::min(batch.size(), handled + options_.batch_max);
      int code = SQLITE_OK;
      Status s = writer_->Write(batch, handled, end, &code);
      if (!s.ok() && (code & 0xff) == SQLITE_BUSY) {
        PLOG(kWarn) << "history: batch of " << (end - handled) << " records lost: " << s.error().message;
        std::lock_guard relock(mu_);
        status_.discarded += end - handled;
      } else if (!s.ok()) {
        failure = s.error().message;
        break;
      } else {
        std::lock_guard relock(mu_);
        status_.written += end - handled;
        ++status_.batches;
      }
      handled = end;
    }
    uint64_t retained = 0;
    if (failure.empty() && (Clock::now() >= next_retention || retention_behind)) {
      auto deleted = writer_->Retain(options_, &retention_behind);
      if (deleted.ok()) {
        retained = *deleted;
      } else {
        failure = deleted.error().message;
      }
      next_retention = Clock::now() + options_.retention_check;
    }

    lock.lock();
    status_.retention_deleted += retained;
    status_.rows = writer_->rows();
    if (!failure.empty()) {
      status_.discarded += batch.size() - handled;
      committed_seq_ += batch.size() - handled;
      TurnOff(failure);
    }
    committed_seq_ += handled;
    batch.clear();
    // A burst must not pin its memory: the two vectors trade places at every batch.
    if (batch.capacity() > kKeptBatchCapacity) std::vector<EventRecord>().swap(batch);
    progress_.notify_all();
    if (stop_ && queue_.empty()) break;
  }
  progress_.notify_all();
}

}  // namespace picket
