#include "storage/history_reader.h"

#include <limits>

#include "storage/schema.h"

namespace picket {
namespace {

constexpr std::string_view kColumns =
    "id, time_us, verdict, decided_by, rule, protocol, src_ip, src_port, dst_ip, dst_port, host, uid, pid, exec_id, "
    "exe, cmdline, parent_exe, digest, attribution, method";

DecidedBy ParseDecidedBy(std::string_view text) {
  for (DecidedBy by : {DecidedBy::kRule, DecidedBy::kDefault, DecidedBy::kPrompt, DecidedBy::kTimeout,
                       DecidedBy::kUnparsed}) {
    if (DecidedByName(by) == text) return by;
  }
  return DecidedBy::kDefault;
}

// A WHERE clause built from fixed fragments; every value is a bound parameter.
class Where {
 public:
  void Add(std::string fragment, std::vector<std::string> texts) {
    clause_ += clause_.empty() ? " WHERE " : " AND ";
    // Each '?' in the fragment takes the next parameter number.
    for (char c : fragment) {
      if (c == '?') {
        clause_ += "?" + std::to_string(++count_);
      } else {
        clause_ += c;
      }
    }
    for (auto& t : texts) params_.push_back(Param{std::move(t), 0, false});
  }
  void AddInt(const std::string& fragment, int64_t value) {
    clause_ += clause_.empty() ? " WHERE " : " AND ";
    clause_ += fragment + " ?" + std::to_string(++count_);
    params_.push_back(Param{{}, value, true});
  }
  void Window(const TimeWindow& w) {
    if (w.since_us) AddInt("time_us >=", *w.since_us);
    if (w.until_us) AddInt("time_us <", *w.until_us);
  }
  const std::string& clause() const { return clause_; }
  int count() const { return count_; }
  void Bind(SqliteStatement& stmt) const {
    for (size_t i = 0; i < params_.size(); ++i) {
      const int index = static_cast<int>(i + 1);
      if (params_[i].is_int) stmt.BindInt(index, params_[i].number); else stmt.BindText(index, params_[i].text);
    }
  }

 private:
  struct Param {
    std::string text;
    int64_t number;
    bool is_int;
  };
  std::string clause_;
  std::vector<Param> params_;
  int count_ = 0;
};

EventRecord ReadRecord(const SqliteStatement& s) {
  EventRecord r;
  r.time_us = s.ColumnInt(1);
  r.verdict = s.ColumnText(2);
  r.decided_by = ParseDecidedBy(s.ColumnText(3));
  r.rule = s.ColumnText(4);
  r.protocol = s.ColumnText(5);
  r.src_ip = s.ColumnText(6);
  r.src_port = static_cast<uint16_t>(s.ColumnInt(7));
  r.dst_ip = s.ColumnText(8);
  r.dst_port = static_cast<uint16_t>(s.ColumnInt(9));
  r.host = s.ColumnText(10);
  if (!s.ColumnIsNull(11)) r.uid = static_cast<uint32_t>(s.ColumnInt(11));
  if (!s.ColumnIsNull(12)) r.pid = s.ColumnInt(12);
  r.exec_id = s.ColumnText(13);
  r.exe = s.ColumnText(14);
  r.cmdline = s.ColumnText(15);
  r.parent_exe = s.ColumnText(16);
  r.digest = s.ColumnText(17);
  r.attribution = s.ColumnText(18);
  r.method = s.ColumnText(19);
  return r;
}

}  // namespace

std::string EscapeLike(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '%' || c == '_' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

Result<std::unique_ptr<HistoryReader>> HistoryReader::Open(const std::string& path) {
  auto db = SqliteDb::Open(path, SqliteOpenMode::kReadOnly);
  if (!db.ok()) return db.error();
  sqlite3_busy_timeout((*db)->handle(), 2000);
  if (Status s = CheckHistorySchema(**db); !s.ok()) return s.error();
  return std::unique_ptr<HistoryReader>(new HistoryReader(std::move(*db)));
}

Result<std::vector<StoredEvent>> HistoryReader::Query(const EventFilter& filter) {
  Where where;
  where.Window(filter.window);
  if (!filter.exe.empty()) {
    if (filter.exe.find('/') != std::string::npos) {
      where.Add("exe = ?", {filter.exe});
    } else {
      where.Add("(exe LIKE ? ESCAPE '\\' OR (exe IS NULL AND attribution = ?))",
                {"%/" + EscapeLike(filter.exe), filter.exe});
    }
  }
  if (!filter.host.empty()) {
    where.Add("(host = ? OR host LIKE ? ESCAPE '\\' OR dst_ip = ?)",
              {filter.host, "%." + EscapeLike(filter.host), filter.host});
  }
  if (!filter.verdict.empty()) where.Add("verdict = ?", {filter.verdict});
  if (!filter.rule.empty()) where.Add("(rule = ? OR (rule IS NULL AND decided_by = ?))", {filter.rule, filter.rule});
  std::string sql = "SELECT " + std::string(kColumns) + " FROM events" + where.clause() + " ORDER BY id DESC";
  if (filter.limit > 0) sql += " LIMIT " + std::to_string(filter.limit);
  auto stmt = db_->Prepare(sql);
  if (!stmt.ok()) return stmt.error();
  where.Bind(*stmt);
  std::vector<StoredEvent> out;
  for (;;) {
    auto row = stmt->Step();
    if (!row.ok()) return row.error();
    if (!*row) break;
    out.push_back(StoredEvent{stmt->ColumnInt(0), ReadRecord(*stmt)});
  }
  return out;
}

Result<StatsSnapshot> HistoryReader::Stats(const TimeWindow& window, size_t top_n) {
  // One pass over the window through the same counting code as the live statistics.
  Where where;
  where.Window(window);
  auto stmt = db_->Prepare(
      "SELECT verdict, protocol, exe, attribution, host, dst_ip, dst_port, uid, rule, decided_by FROM events" +
      where.clause());
  if (!stmt.ok()) return stmt.error();
  where.Bind(*stmt);
  LiveStats stats(std::numeric_limits<size_t>::max());
  EventRecord r;
  for (;;) {
    auto row = stmt->Step();
    if (!row.ok()) return row.error();
    if (!*row) break;
    r.verdict = stmt->ColumnText(0);
    r.protocol = stmt->ColumnText(1);
    r.exe = stmt->ColumnText(2);
    r.attribution = stmt->ColumnText(3);
    r.host = stmt->ColumnText(4);
    r.dst_ip = stmt->ColumnText(5);
    r.dst_port = static_cast<uint16_t>(stmt->ColumnInt(6));
    r.uid = stmt->ColumnIsNull(7) ? std::nullopt : std::optional<uint32_t>(static_cast<uint32_t>(stmt->ColumnInt(7)));
    r.rule = stmt->ColumnText(8);
    r.decided_by = ParseDecidedBy(stmt->ColumnText(9));
    stats.Count(r);
  }
  return stats.Snapshot(top_n);
}

namespace {

constexpr const char* kProgramKey = "COALESCE(exe, attribution)";
constexpr const char* kHostKey = "COALESCE(host, dst_ip)";

}  // namespace

// One grouped query for both "top" views: rows keyed by `key`, with connections, blocked and the
// number of distinct `other` values. Row is TopProgram or TopHost (same four fields, same order).
template <typename Row>
Result<std::vector<Row>> HistoryReader::TopBy(const char* key, const char* other, const TimeWindow& window,
                                              size_t limit) {
  Where where;
  where.Window(window);
  auto stmt = db_->Prepare(std::string("SELECT ") + key + " AS k, count(*), sum(verdict != 'allow'), count(DISTINCT " +
                           other + ") FROM events" + where.clause() + " GROUP BY k ORDER BY 2 DESC, k LIMIT " +
                           std::to_string(limit));
  if (!stmt.ok()) return stmt.error();
  where.Bind(*stmt);
  std::vector<Row> out;
  for (;;) {
    auto row = stmt->Step();
    if (!row.ok()) return row.error();
    if (!*row) break;
    out.push_back({stmt->ColumnText(0), static_cast<uint64_t>(stmt->ColumnInt(1)),
                   static_cast<uint64_t>(stmt->ColumnInt(2)), static_cast<uint64_t>(stmt->ColumnInt(3))});
  }
  return out;
}

Result<std::vector<TopProgram>> HistoryReader::TopPrograms(const TimeWindow& window, size_t limit) {
  return TopBy<TopProgram>(kProgramKey, kHostKey, window, limit);
}

Result<std::vector<TopHost>> HistoryReader::TopHosts(const TimeWindow& window, size_t limit) {
  return TopBy<TopHost>(kHostKey, kProgramKey, window, limit);
}

}  // namespace picket
