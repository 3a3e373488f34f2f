// The event log's schema (described in SCHEMA.md next to this file) and its migrations.
//
// The schema version lives in `PRAGMA user_version`; the file is marked as Picket's by
// `PRAGMA application_id` (kHistoryApplicationId). Migrations run in order, each in its own
// transaction, from the file's version up to kHistorySchemaVersion; a file from a newer Picket or
// of another application is refused (never modified).
// Thread-safety: functions over one connection; the caller owns it.
#pragma once

#include <cstdint>

#include "common/result.h"
#include "storage/sqlite_db.h"

namespace picket {

inline constexpr int64_t kHistorySchemaVersion = 1;
inline constexpr int64_t kHistoryApplicationId = 0x5049434b;  // "PICK"

// Brings a writable database to kHistorySchemaVersion (creating it when empty).
Status MigrateHistorySchema(SqliteDb& db);

// For readers: the file is Picket's and its schema is one this build understands.
Status CheckHistorySchema(SqliteDb& db);

}  // namespace picket
