// The value of a row change in Debezium's MySQL connector envelope, as its
// JSON converter writes it with schemas disabled
// (value.converter.schemas.enable=false), so that an application written
// against Debezium's topics reads a `value_format = "debezium"` Kafka
// listener unchanged (docs/kafka.md, "Debezium values"):
//
//   {"before":{...}|null,"after":{...}|null,
//    "source":{"version":"sluice","connector":"mysql","name":"<dest>",
//              "ts_ms":...,"snapshot":"true"|"false","db":"shop",
//              "sequence":null,"table":"orders","server_id":0,
//              "gtid":"0-1-17"|null,"file":"binlog.000001","pos":1234,
//              "row":0,"thread":null,"query":null},
//    "op":"c"|"u"|"d"|"r","ts_ms":...,"transaction":null}
//
// Column values follow Debezium's default mappings where the log has what
// they need: DATE as days since the epoch, DATETIME as epoch milliseconds
// (fractional precision 0 to 3) or microseconds (4 to 6), TIMESTAMP as an
// ISO-8601 UTC string, TIME as microseconds, binary as base64, JSON as a
// string, ENUM/SET as their labels; DECIMAL as a string (Debezium's
// decimal.handling.mode=string). What differs is in docs/kafka.md.
#pragma once

#include <string>
#include <string_view>

#include "proto/record.pb.h"

namespace sluice::kafka {

// Appends the envelope of a row record (insert, update, delete, read) and
// returns true; returns false, appending nothing, for any other record.
bool AppendDebeziumValue(const proto::ChangeRecord& record, std::string_view dest,
                         std::string* out);

// Days from 1970-01-01 to the civil date (proleptic Gregorian).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d);

}  // namespace sluice::kafka
