// RecordView: a row change read in place from its stored bytes (the
// ChangeRecord wire format, proto/record.proto), without building the
// protobuf message: views of its strings, its columns in vectors reused
// from record to record. The Kafka port renders every value it sends
// (record_json.h) and parsing into messages was a third of that cost.
//
//   RecordView v;
//   if (v.Parse(bytes)) AppendRecordJson(v, ctx, &out);   // the fast way
//   else { proto::ChangeRecord r; r.ParseFromArray(...); AppendRecordJson(r, ctx, &out); }
//
// Parse takes only what it can read exactly as the protobuf library
// would: a row change (insert, update, delete, snapshot read) whose fields
// are known, of their declared wire types, each singular field once, and
// whose values are scalars (not GEOMETRY or VECTOR). Everything else
// (DDL, schema and error records, unknown or repeated singular fields,
// anything malformed) is refused, and the caller parses the message: what
// the view renders is then always what the message renders, which
// tests/fuzz/record_view_fuzz.cc checks on arbitrary bytes.
//
// The accessors are named as the message's, so record_json.cc renders
// both with one template. A view is valid while the bytes are.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "proto/record.pb.h"

namespace sluice {

class ValueView {
 public:
  proto::Value::KindCase kind_case() const { return kind_; }
  int64_t int64() const { return static_cast<int64_t>(bits_); }
  uint64_t uint64() const { return bits_; }
  double float64() const;
  uint64_t enum_index() const { return bits_; }
  std::string_view decimal() const { return bytes_; }
  std::string_view text() const { return bytes_; }
  std::string_view binary() const { return bytes_; }
  std::string_view json() const { return bytes_; }
  std::string_view enum_label() const { return bytes_; }

 private:
  friend class RecordView;
  proto::Value::KindCase kind_ = proto::Value::KIND_NOT_SET;
  uint64_t bits_ = 0;  // int64 (decoded), uint64, enum_index, or the double's bits
  std::string_view bytes_;
};

class ColumnView {
 public:
  uint32_t index() const { return index_; }
  std::string_view name() const { return name_; }
  uint32_t mysql_type() const { return mysql_type_; }
  const ValueView& value() const { return value_; }

 private:
  friend class RecordView;
  uint32_t index_ = 0;
  uint32_t mysql_type_ = 0;
  std::string_view name_;
  ValueView value_;
};

class RecordView {
 public:
  struct Pos {
    std::string_view file_;
    uint64_t pos_ = 0;
    std::string_view file() const { return file_; }
    uint64_t pos() const { return pos_; }
  };
  struct Txn {
    uint32_t seq_ = 0;
    bool last_ = false;
    uint32_t seq() const { return seq_; }
    bool last() const { return last_; }
  };
  struct Snapshot {
    std::string_view id_;
    int32_t phase_ = 0;
    uint64_t rows_ = 0, chunk_ = 0;
    std::string_view id() const { return id_; }
    proto::SnapshotMark::Phase phase() const {
      return static_cast<proto::SnapshotMark::Phase>(phase_);
    }
    uint64_t rows() const { return rows_; }
    uint64_t chunk() const { return chunk_; }
  };

  // Reads `bytes`; false when they are not a record this view takes (see
  // above), and the view is then unspecified.
  bool Parse(std::string_view bytes);

  proto::Op op() const { return op_; }
  std::string_view db() const { return db_; }
  std::string_view table() const { return table_; }
  const std::vector<std::string_view>& pk() const { return pk_; }
  int pk_size() const { return static_cast<int>(pk_.size()); }
  std::string_view pk(int i) const { return pk_[static_cast<size_t>(i)]; }
  const std::vector<ColumnView>& before() const { return before_; }
  const std::vector<ColumnView>& after() const { return after_; }
  uint64_t ts() const { return ts_; }
  const Pos& pos() const { return pos_; }
  std::string_view gtid() const { return gtid_; }
  const Txn& txn() const { return txn_; }
  bool has_snapshot() const { return has_snapshot_; }
  const Snapshot& snapshot() const { return snapshot_; }

 private:
  static bool ParseValue(std::string_view bytes, ValueView* v);
  static bool ParseColumn(std::string_view bytes, ColumnView* c);

  proto::Op op_ = proto::OP_UNSPECIFIED;
  std::string_view db_, table_, gtid_;
  std::vector<std::string_view> pk_;
  std::vector<ColumnView> before_, after_;
  uint64_t ts_ = 0;
  Pos pos_;
  Txn txn_;
  bool has_snapshot_ = false;
  Snapshot snapshot_;
};

}  // namespace sluice
