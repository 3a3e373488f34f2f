// SqliteDb and SqliteStatement: a thin owner of one sqlite3 connection and its prepared statements,
// turning SQLite result codes into Result/Status whose messages name the database path and the
// statement. The only place Picket calls the SQLite C API directly.
//
// Ownership: SqliteDb owns the connection; a SqliteStatement owns its statement and must not outlive
// the SqliteDb it came from. Thread-safety: one thread at a time per connection (SQLite is built
// thread-safe, but Picket never shares a connection between threads).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace picket {

class SqliteStatement {
 public:
  SqliteStatement() = default;
  SqliteStatement(sqlite3_stmt* stmt, std::string context) : stmt_(stmt), context_(std::move(context)) {}
  SqliteStatement(SqliteStatement&&) = default;
  SqliteStatement& operator=(SqliteStatement&&) = default;

  // Parameters are 1-based as in SQLite. Empty optional / text binds NULL when `null_if_empty`.
  void BindInt(int index, int64_t value);
  void BindText(int index, std::string_view value);
  void BindTextOrNull(int index, std::string_view value);  // "" → NULL
  void BindNull(int index);
  template <typename T>
  void BindOptional(int index, const std::optional<T>& value) {
    if (value) BindInt(index, static_cast<int64_t>(*value)); else BindNull(index);
  }

  // true: a row is available; false: done. Error names the statement and SQLite's message.
  Result<bool> Step();
  // Steps to completion (for statements without result rows).
  Status Run();
  void Reset();

  int64_t ColumnInt(int column) const;
  std::string ColumnText(int column) const;  // "" for NULL
  bool ColumnIsNull(int column) const;
  int ErrorCode() const { return last_rc_; }

 private:
  struct Finalizer {
    void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
  };
  std::unique_ptr<sqlite3_stmt, Finalizer> stmt_;
  std::string context_;
  int last_rc_ = SQLITE_OK;
};

enum class SqliteOpenMode : uint8_t { kReadWriteCreate, kReadOnly };

class SqliteDb {
 public:
  // Opens (or creates) the database file. Errors name the path.
  static Result<std::unique_ptr<SqliteDb>> Open(const std::string& path, SqliteOpenMode mode);
  ~SqliteDb();
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;

  // Runs one or more statements without results.
  Status Exec(std::string_view sql);
  Result<SqliteStatement> Prepare(std::string_view sql);
  // A single integer result (e.g. "PRAGMA user_version").
  Result<int64_t> QueryInt(std::string_view sql);
  Result<std::string> QueryText(std::string_view sql);

  int64_t changes() const { return sqlite3_changes64(db_); }
  const std::string& path() const { return path_; }
  sqlite3* handle() { return db_; }

 private:
  SqliteDb(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  Error SqlError(std::string_view sql, int rc) const;

  sqlite3* db_;
  std::string path_;
};

// "history database /var/lib/picket/history.db: <what>: <sqlite message> (code N)"
std::string SqliteErrorText(sqlite3* db, int rc);

}  // namespace picket
