#include "storage/sqlite_db.h"

namespace picket {
namespace {

std::string Head(std::string_view sql) {
  std::string head(sql.substr(0, 60));
  for (char& c : head) {
    if (c == '\n' || c == '\t') c = ' ';
  }
  return sql.size() > 60 ? head + "…" : head;
}

}  // namespace

std::string SqliteErrorText(sqlite3* db, int rc) {
  const char* message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  return std::string(message != nullptr ? message : sqlite3_errstr(rc)) + " (SQLite code " + std::to_string(rc) + ")";
}

void SqliteStatement::BindInt(int index, int64_t value) { sqlite3_bind_int64(stmt_.get(), index, value); }

void SqliteStatement::BindText(int index, std::string_view value) {
  sqlite3_bind_text64(stmt_.get(), index, value.data(), value.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
}

void SqliteStatement::BindTextOrNull(int index, std::string_view value) {
  if (value.empty()) BindNull(index); else BindText(index, value);
}

void SqliteStatement::BindNull(int index) { sqlite3_bind_null(stmt_.get(), index); }

Result<bool> SqliteStatement::Step() {
  last_rc_ = sqlite3_step(stmt_.get());
  if (last_rc_ == SQLITE_ROW) return true;
  if (last_rc_ == SQLITE_DONE) return false;
  sqlite3* db = sqlite3_db_handle(stmt_.get());
  return Error{context_ + ": " + SqliteErrorText(db, last_rc_)};
}

Status SqliteStatement::Run() {
  for (;;) {
    auto row = Step();
    if (!row.ok()) return row.error();
    if (!*row) return OkStatus();
  }
}

void SqliteStatement::Reset() {
  sqlite3_reset(stmt_.get());
  sqlite3_clear_bindings(stmt_.get());
}

int64_t SqliteStatement::ColumnInt(int column) const { return sqlite3_column_int64(stmt_.get(), column); }

std::string SqliteStatement::ColumnText(int column) const {
  const auto* text = sqlite3_column_text(stmt_.get(), column);
  if (text == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(text), static_cast<size_t>(sqlite3_column_bytes(stmt_.get(), column)));
}

bool SqliteStatement::ColumnIsNull(int column) const { return sqlite3_column_type(stmt_.get(), column) == SQLITE_NULL; }

Result<std::unique_ptr<SqliteDb>> SqliteDb::Open(const std::string& path, SqliteOpenMode mode) {
  sqlite3* db = nullptr;
  const int flags = (mode == SqliteOpenMode::kReadOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
                    SQLITE_OPEN_NOMUTEX;
  const int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    Error error{"history database " + path + ": cannot open: " + SqliteErrorText(db, rc)};
    sqlite3_close_v2(db);
    return error;
  }
  sqlite3_extended_result_codes(db, 1);
  return std::unique_ptr<SqliteDb>(new SqliteDb(db, path));
}

SqliteDb::~SqliteDb() { sqlite3_close_v2(db_); }

Error SqliteDb::SqlError(std::string_view sql, int rc) const {
  return Error{"history database " + path_ + ": `" + Head(sql) + "`: " + SqliteErrorText(db_, rc)};
}

Status SqliteDb::Exec(std::string_view sql) {
  const std::string text(sql);
  const int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return SqlError(sql, rc);
  return OkStatus();
}

Result<SqliteStatement> SqliteDb::Prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return SqlError(sql, rc);
  }
  return SqliteStatement(stmt, "history database " + path_ + ": `" + Head(sql) + "`");
}

Result<int64_t> SqliteDb::QueryInt(std::string_view sql) {
  auto stmt = Prepare(sql);
  if (!stmt.ok()) return stmt.error();
  auto row = stmt->Step();
  if (!row.ok()) return row.error();
  if (!*row) return Error{"history database " + path_ + ": `" + Head(sql) + "` returned no row"};
  return stmt->ColumnInt(0);
}

Result<std::string> SqliteDb::QueryText(std::string_view sql) {
  auto stmt = Prepare(sql);
  if (!stmt.ok()) return stmt.error();
  auto row = stmt->Step();
  if (!row.ok()) return row.error();
  if (!*row) return Error{"history database " + path_ + ": `" + Head(sql) + "` returned no row"};
  return stmt->ColumnText(0);
}

}  // namespace picket
