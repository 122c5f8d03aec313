// A record's column value as the text a SELECT over the text protocol
// returns for it, for tests that compare decoded records with the server's
// rows (MariaDb::Query): nullopt for NULL, BINARY/BLOB as HEX(), GEOMETRY
// as the "SRID:HEX(WKB)" that type_workload.h selects. DOUBLE and FLOAT
// print with 17 significant digits, not as the server prints them: compare
// those as numbers.
#pragma once

#include <cstdio>
#include <optional>
#include <string>

#include "proto/record.pb.h"
#include "tests/support/hex.h"

namespace sluice::testing {

inline std::optional<std::string> SelectText(const proto::Column& c) {
  const proto::Value& v = c.value();
  switch (v.kind_case()) {
    case proto::Value::kIsNull: return std::nullopt;
    case proto::Value::kInt64: return std::to_string(v.int64());
    case proto::Value::kUint64: return std::to_string(v.uint64());
    case proto::Value::kFloat64: {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.17g", v.float64());
      return std::string(buf);
    }
    case proto::Value::kDecimal: return v.decimal();
    case proto::Value::kText: return v.text();
    case proto::Value::kBinary: return Hex(v.binary());
    case proto::Value::kJson: return v.json();
    case proto::Value::kEnumLabel: return v.enum_label();
    case proto::Value::kEnumIndex: return std::to_string(v.enum_index());
    case proto::Value::kGeometry:
      return std::to_string(v.geometry().srid()) + ":" + Hex(v.geometry().wkb());
    default: return std::string("<unset>");
  }
}

}  // namespace sluice::testing
