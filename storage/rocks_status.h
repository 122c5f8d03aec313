// Private to storage/: turns a rocksdb::Status into a sluice Status a person
// can act on.
#pragma once

#include <string_view>

#include <rocksdb/status.h>

#include "base/status.h"

namespace sluice {

// `what` names the operation and its object ("append to log /data/shop").
Status FromRocks(const rocksdb::Status& s, std::string_view what);

}  // namespace sluice
