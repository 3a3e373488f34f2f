#include "storage/schema.h"

#include <iterator>
#include <string>
#include <string_view>

namespace picket {
namespace {

// Migration N brings a database from version N-1 to N. Append new migrations; never edit one that
// has shipped.
constexpr std::string_view kMigrations[] = {
    // 1: the events table and the indexes behind `picket log` filters and `picket stats` windows.
    R"sql(
CREATE TABLE events (
  id          INTEGER PRIMARY KEY,
  time_us     INTEGER NOT NULL,
  verdict     TEXT    NOT NULL,
  decided_by  TEXT    NOT NULL,
  rule        TEXT,
  protocol    TEXT    NOT NULL,
  src_ip      TEXT,
  src_port    INTEGER,
  dst_ip      TEXT,
  dst_port    INTEGER,
  host        TEXT,
  uid         INTEGER,
  pid         INTEGER,
  exec_id     TEXT,
  exe         TEXT,
  cmdline     TEXT,
  parent_exe  TEXT,
  digest      TEXT,
  attribution TEXT    NOT NULL,
  method      TEXT
);
CREATE INDEX events_time ON events(time_us);
CREATE INDEX events_exe ON events(exe, time_us);
CREATE INDEX events_host ON events(host, time_us);
)sql",
};

static_assert(std::size(kMigrations) == kHistorySchemaVersion, "one migration per schema version");

Result<int64_t> ApplicationId(SqliteDb& db) { return db.QueryInt("PRAGMA application_id"); }

Status CheckOwner(SqliteDb& db, int64_t version) {
  auto app = ApplicationId(db);
  if (!app.ok()) return app.error();
  if (*app != kHistoryApplicationId && !(*app == 0 && version == 0)) {
    return Error{"history database " + db.path() + ": not a Picket history file (application_id " +
                 std::to_string(*app) + ")"};
  }
  if (version > kHistorySchemaVersion) {
    return Error{"history database " + db.path() + ": schema version " + std::to_string(version) +
                 " was written by a newer Picket (this build knows up to " + std::to_string(kHistorySchemaVersion) +
                 ")"};
  }
  return OkStatus();
}

}  // namespace

Status MigrateHistorySchema(SqliteDb& db) {
  auto version = db.QueryInt("PRAGMA user_version");
  if (!version.ok()) return version.error();
  if (*version == 0) {
    // A non-empty file without our version is someone else's database.
    auto tables = db.QueryInt("SELECT count(*) FROM sqlite_schema");
    if (!tables.ok()) return tables.error();
    if (*tables != 0) return Error{"history database " + db.path() + ": not a Picket history file (has other tables)"};
  }
  if (Status s = CheckOwner(db, *version); !s.ok()) return s;
  for (int64_t v = *version; v < kHistorySchemaVersion; ++v) {
    const std::string sql = "BEGIN IMMEDIATE;\n" + std::string(kMigrations[v]) + "\nPRAGMA application_id = " +
                            std::to_string(kHistoryApplicationId) + ";\nPRAGMA user_version = " +
                            std::to_string(v + 1) + ";\nCOMMIT;";
    if (Status s = db.Exec(sql); !s.ok()) {
      (void)db.Exec("ROLLBACK");
      return Error{"migrating to schema version " + std::to_string(v + 1) + ": " + s.error().message};
    }
  }
  return OkStatus();
}

Status CheckHistorySchema(SqliteDb& db) {
  auto version = db.QueryInt("PRAGMA user_version");
  if (!version.ok()) return version.error();
  if (Status s = CheckOwner(db, *version); !s.ok()) return s;
  if (*version < kHistorySchemaVersion) {
    return Error{"history database " + db.path() + ": schema version " + std::to_string(*version) +
                 " is older than this build's " + std::to_string(kHistorySchemaVersion) +
                 " (picketd upgrades it when it starts)"};
  }
  return OkStatus();
}

}  // namespace picket
