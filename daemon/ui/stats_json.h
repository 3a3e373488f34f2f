// Live decision statistics on the wire: a StatsSnapshot (storage/stats.h) as the JSON object the
// `stats` request answers under "decisions", and back (for clients). Keys per dimension are the
// ones of storage/stats.h; each dimension is an array of {"key","count"} sorted by count.
// Pure functions. Thread-safety: reentrant.
#pragma once

#include <QJsonObject>

#include "storage/stats.h"

namespace picket {

// {"total":N,"verdict":[{"key":"allow","count":N},...],"protocol":[...],"exe":[...],"host":[...],
//  "port":[...],"user":[...],"rule":[...]}
QJsonObject StatsSnapshotToJson(const StatsSnapshot& snapshot);

// The inverse; members that are missing or of the wrong type read as empty / zero.
StatsSnapshot StatsSnapshotFromJson(const QJsonObject& object);

}  // namespace picket
