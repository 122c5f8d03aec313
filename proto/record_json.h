// Renders a ChangeRecord as its JSON line (docs/formats.md, "JSON line").
// This is the one place that defines the JSON form; every tool calls it.
//
//   {"offset":42,"dest":"shop","op":"update","db":"shop","table":"orders",
//    "pk":["id"],"before":{...},"after":{...},"ts":1764000000,
//    "pos":"binlog.000001:12345","gtid":"0-1-17","txn":{"seq":0,"last":true}}
//
// Keys appear in that order. "offset"/"dest" only when given (absent from
// `sluice decode`); "before" only for update/delete, "after" only for
// insert/update; "pk" only when known; "gtid" only when the source has one;
// a DDL record carries "sql" in place of pk/before/after; a schema record
// "pk" and "columns"; an error record "error" (and "sql" for a statement).
// GEOMETRY values are {"srid":N,"wkb":"<base64>"}, VECTOR values arrays of
// numbers (float32 in shortest round-trip form).
// The output is always valid JSON: invalid UTF-8 in a text value becomes
// U+FFFD, non-finite doubles become null.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "proto/record.pb.h"
#include "proto/record_view.h"

namespace sluice {

struct JsonContext {
  std::optional<uint64_t> offset;  // the record's commit-log offset
  std::string_view dest;           // destination name; omitted when empty
};

// Appends the JSON object (no trailing newline) to *out. A RecordView
// (record_view.h) renders exactly as the message it was read from would.
void AppendRecordJson(const proto::ChangeRecord& record, const JsonContext& ctx, std::string* out);
void AppendRecordJson(const RecordView& record, const JsonContext& ctx, std::string* out);

// Renders stored records (ChangeRecord bytes) as JSON lines: a row change
// through a RecordView, anything else through the parsed message, both
// reused from record to record. For readers of many records (`sluice
// tail`, the Kafka port).
class StoredRecordJson {
 public:
  // Appends the record's JSON object; false (nothing appended) when the
  // bytes are not a ChangeRecord.
  bool Append(std::string_view bytes, const JsonContext& ctx, std::string* out) {
    if (view_.Parse(bytes)) {
      AppendRecordJson(view_, ctx, out);
      return true;
    }
    if (!message_.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return false;
    AppendRecordJson(message_, ctx, out);
    return true;
  }

 private:
  RecordView view_;
  proto::ChangeRecord message_;
};

inline std::string RecordToJson(const proto::ChangeRecord& record, const JsonContext& ctx = {}) {
  std::string out;
  AppendRecordJson(record, ctx, &out);
  return out;
}

// Appends the record's key as a JSON object of its primary-key columns'
// values, in key order ({"id":7}; the after image, the before image for a
// delete), and returns true; returns false (appending nothing) when the
// record has no key: no primary key, not a row, or a key column missing
// from the image. The Kafka protocol's record key.
bool AppendKeyJson(const proto::ChangeRecord& record, std::string* out);
bool AppendKeyJson(const RecordView& record, std::string* out);

// Appends one column's value as the JSON line writes it.
void AppendColumnValueJson(const proto::Column& col, std::string* out);

// The record's "op" in JSON ("insert", "read", "ddl", ...).
std::string_view OpName(proto::Op op);

// Appends s as a JSON string literal (quoted, escaped, valid UTF-8).
void AppendJsonString(std::string_view s, std::string* out);

// Appends the standard base64 (RFC 4648, with padding) of bytes.
void AppendBase64(std::string_view bytes, std::string* out);

}  // namespace sluice
