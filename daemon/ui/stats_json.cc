#include "ui/stats_json.h"

#include <QJsonArray>

#include <array>
#include <utility>

namespace picket {
namespace {

using Dimension = std::pair<const char*, std::vector<CountRow> StatsSnapshot::*>;

constexpr std::array<Dimension, 7> kDimensions = {{
    {"verdict", &StatsSnapshot::by_verdict},
    {"protocol", &StatsSnapshot::by_protocol},
    {"exe", &StatsSnapshot::by_exe},
    {"host", &StatsSnapshot::by_host},
    {"port", &StatsSnapshot::by_port},
    {"user", &StatsSnapshot::by_user},
    {"rule", &StatsSnapshot::by_rule},
}};

}  // namespace

QJsonObject StatsSnapshotToJson(const StatsSnapshot& snapshot) {
  QJsonObject out{{"total", static_cast<double>(snapshot.total)}};
  for (const auto& [name, member] : kDimensions) {
    QJsonArray rows;
    for (const CountRow& row : snapshot.*member) {
      rows.append(QJsonObject{{"key", QString::fromStdString(row.key)}, {"count", static_cast<double>(row.count)}});
    }
    out[QLatin1String(name)] = rows;
  }
  return out;
}

StatsSnapshot StatsSnapshotFromJson(const QJsonObject& object) {
  StatsSnapshot snapshot;
  snapshot.total = static_cast<uint64_t>(object.value(QLatin1String("total")).toDouble(0));
  for (const auto& [name, member] : kDimensions) {
    for (const QJsonValue& item : object.value(QLatin1String(name)).toArray()) {
      const QJsonObject row = item.toObject();
      (snapshot.*member).push_back(CountRow{row.value(QLatin1String("key")).toString().toStdString(),
                                            static_cast<uint64_t>(row.value(QLatin1String("count")).toDouble(0))});
    }
  }
  return snapshot;
}

}  // namespace picket
