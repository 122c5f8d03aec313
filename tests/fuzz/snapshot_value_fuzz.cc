// libFuzzer target for what a snapshot reads from the source server
// (broker/snapshot/table_reader.h): a column's text as a record value, for
// every column type the reader knows, and the progress it keeps in the
// log's ingest state (a SnapshotJob and its last key). Input: the first
// byte picks the column type, the second its flags (unsigned, NULL); the
// rest is the server's text. Damage must give Corruption (or a value),
// never a crash; what parses must serialize.
#include <cstddef>
#include <cstdint>
#include <string>

#include "broker/snapshot/table_reader.h"
#include "proto/meta.pb.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using sluice::Code;
  static const char* kTypes[] = {
      "tinyint", "smallint", "mediumint", "int",       "bigint",   "year",      "float",
      "double",  "decimal",  "date",      "time",      "datetime", "timestamp", "char",
      "varchar", "text",     "binary",    "varbinary", "blob",     "enum",      "set",
      "bit",     "json",     "geometry",  "point",     "inet6",    "unknown"};
  if (size < 2) return 0;
  sluice::snapshot::ColumnDesc c;
  c.name = "c";
  c.data_type = kTypes[data[0] % (sizeof kTypes / sizeof kTypes[0])];
  c.column_type = c.data_type;
  c.is_unsigned = (data[1] & 1) != 0;
  c.charset = (data[1] & 4) != 0 ? "binary" : "utf8mb4";
  std::optional<std::string_view> text;
  if ((data[1] & 2) == 0) text.emplace(reinterpret_cast<const char*>(data + 2), size - 2);
  sluice::proto::Value v;
  sluice::Status st = sluice::snapshot::TextToValue(c, text, &v);
  if (!st.ok() && st.code() != Code::kCorruption) __builtin_trap();
  if (st.ok() && v.kind_case() == sluice::proto::Value::KIND_NOT_SET) __builtin_trap();
  (void)v.SerializeAsString();
  (void)sluice::snapshot::DefinitionKey(std::string(text.value_or("")));

  sluice::proto::SnapshotJob job;
  if (job.ParseFromArray(data + 2, static_cast<int>(size - 2))) {
    for (const auto& t : job.tables()) {
      sluice::proto::SnapshotKey key;
      (void)key.ParseFromString(t.last_key());
    }
  }
  return 0;
}
