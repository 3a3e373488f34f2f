// EventLog: the SQLite event log of decisions (schema in SCHEMA.md), written by its own thread.
//
// The verdict path only calls Append(), which moves the record into a bounded in-memory queue and
// never blocks on disk: when the queue is full the record is dropped and counted. A dedicated
// writer thread takes the queue in batches (one transaction per batch; it sleeps until the first
// record of a batch arrives, then waits at most `flush_interval` for more) and enforces retention
// incrementally: after a batch (at most every `retention_check`) and when idle (every
// `retention_check`), it deletes at most `retention_step` rows older than `max_age` and at most
// `retention_step` rows beyond `max_rows`, oldest first, so no single transaction is long.
//
// Crash safety: WAL journal with synchronous=NORMAL — a killed daemon loses at most the batches
// not yet committed and never corrupts the file (a power loss may also lose the last commits).
// Failure: Open() fails for a corrupt, foreign, newer or unwritable file (the caller reports it and
// runs with history off). A write that fails later (disk full, I/O error, file corrupted under us)
// switches the log off: the reason is logged once and kept in status(), later records are counted
// as discarded, and deciding goes on.
//
// Ownership: owns the writer thread and its connection. The destructor writes what is queued
// (bounded by the queue size), then joins the thread.
// Thread-safety: Append() and status() from any thread; everything else is internal.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/result.h"
#include "storage/event.h"

namespace picket {

struct EventLogOptions {
  std::string path;                                 // the database file; its directory is created (0700)
  size_t queue_capacity = 65536;                    // records waiting for the writer; beyond: dropped
  size_t batch_max = 8192;                          // records per transaction at most
  std::chrono::milliseconds flush_interval{250};    // longest a record waits before its batch is written
  std::chrono::seconds max_age{30 * 24 * 3600};     // rows older than this are deleted (0: no age limit)
  uint64_t max_rows = 1000000;                      // rows beyond this are deleted, oldest first (0: none)
  size_t retention_step = 20000;                    // rows one retention pass deletes at most per rule
  std::chrono::milliseconds retention_check{60000};  // how often retention runs (also the idle wake-up)
  uint64_t max_page_count = 0;                      // >0: PRAGMA max_page_count (tests simulate a full disk)
};

struct EventLogStatus {
  bool on = false;            // false once a write failed
  std::string off_reason;     // why it is off
  uint64_t appended = 0;      // records accepted into the queue
  uint64_t written = 0;       // rows committed
  uint64_t dropped = 0;       // records dropped because the queue was full
  uint64_t discarded = 0;     // records not kept because the log is off (including those queued when it failed)
  uint64_t batches = 0;       // committed transactions
  uint64_t retention_deleted = 0;
  uint64_t rows = 0;          // rows in the table (as of the last batch)
  size_t queued = 0;
};

class EventLog {
 public:
  // Opens or creates the database (WAL), migrates the schema, counts the rows and starts the writer.
  // Errors name the path and the problem.
  static Result<std::unique_ptr<EventLog>> Open(EventLogOptions options);
  ~EventLog();
  EventLog(const EventLog&) = delete;
  EventLog& operator=(const EventLog&) = delete;

  // Queues a record for writing. Returns false when it was dropped (queue full) or discarded (off).
  bool Append(EventRecord record);

  // Blocks until every record appended before the call is committed (or the log is off), at most
  // `timeout`. Returns false on timeout. For tests and orderly shutdown; never on the verdict path.
  bool WaitUntilWritten(std::chrono::milliseconds timeout);

  EventLogStatus status() const;
  const std::string& path() const { return options_.path; }

 private:
  class Writer;
  explicit EventLog(EventLogOptions options);
  void Run();
  void TurnOff(const std::string& reason);

  EventLogOptions options_;
  std::unique_ptr<Writer> writer_;  // the connection; used by the writer thread only after start

  mutable std::mutex mu_;
  std::condition_variable wake_;      // writer: records arrived / stop
  std::condition_variable progress_;  // WaitUntilWritten: a batch was committed
  std::vector<EventRecord> queue_;
  bool stop_ = false;
  bool flush_requested_ = false;
  EventLogStatus status_;
  uint64_t committed_seq_ = 0;  // appended records handled (written or discarded)
  std::thread thread_;
};

}  // namespace picket
