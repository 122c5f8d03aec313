#include "broker/binlog/rows_event.h"

#include "broker/binlog/json_binary.h"

namespace sluice::binlog {
namespace {

constexpr uint64_t kPartialJsonUpdates = 1;  // binlog_row_value_options bit

bool BitSet(std::string_view bitmap, size_t i) {
  return (static_cast<uint8_t>(bitmap[i / 8]) >> (i % 8)) & 1;
}

size_t CountBits(std::string_view bitmap, size_t n) {
  size_t c = 0;
  for (size_t i = 0; i < n; ++i) c += BitSet(bitmap, i);
  return c;
}

// Where ReadImage puts an image's values. Column(k, i) returns the value of
// the image's k-th present column, table column i.

// DecodeRows: the record's Column messages, reused from row to row (a warm
// record decodes a row without allocating: protobuf keeps cleared elements
// for reuse).
class ProtoImage {
 public:
  ProtoImage(google::protobuf::RepeatedPtrField<proto::Column>* cols, const TableMap& table,
             bool column_names)
      : cols_(cols), table_(table), column_names_(column_names) {}
  void Resize(size_t n) {
    while (static_cast<size_t>(cols_->size()) > n) cols_->RemoveLast();
    while (static_cast<size_t>(cols_->size()) < n) cols_->Add();
  }
  proto::Value* Column(size_t k, size_t i) {
    proto::Column* c = cols_->Mutable(static_cast<int>(k));
    const ColumnType& ct = table_.columns[i];
    c->set_index(static_cast<uint32_t>(i));
    if (column_names_ && i < table_.names.size()) {
      c->set_name(table_.names[i]);
    } else if (!c->name().empty()) {
      c->clear_name();
    }
    c->set_mysql_type(ct.real_type);
    c->set_is_unsigned(ct.is_unsigned);
    return c->mutable_value();
  }

 private:
  google::protobuf::RepeatedPtrField<proto::Column>* cols_;
  const TableMap& table_;
  const bool column_names_;
};

// EncodeRows: bare values; what the Column around each one holds is the
// same for every row of the event and is encoded once (RowEncoder).
class WireImage {
 public:
  explicit WireImage(RowEncoder::Image* im) : im_(im) {}
  void Resize(size_t n) {
    if (im_->values.size() < n) im_->values.resize(n);
    im_->columns.resize(n);
  }
  proto::Value* Column(size_t k, size_t i) {
    im_->columns[k] = static_cast<uint32_t>(i);
    return &im_->values[k];
  }

 private:
  RowEncoder::Image* im_;
};

struct ImageReader {
  const TableMap& table;
  size_t row;  // 0-based row number in the event, for error messages

  Status Error(size_t col, const Status& st) const {
    return st.WithContext(table.db + "." + table.table + " row " + std::to_string(row + 1) +
                          " column " + std::to_string(col + 1));
  }
};

// Reads one row image (null bitmap + values of the present columns) from
// the front of *in into *image. `json_raw`, when given, receives the raw
// bytes of each JSON column (to apply a later partial update to); `partial`
// marks the JSON columns whose value is a diff against json_raw.
template <typename Image>
Status ReadImage(const ImageReader& ir, std::string_view present, size_t present_count,
                 std::string_view* in, Image* image, std::vector<std::string_view>* json_raw,
                 const std::vector<bool>* partial) {
  const TableMap& t = ir.table;
  const size_t ncols = t.columns.size();
  size_t null_bytes = (present_count + 7) / 8;
  if (in->size() < null_bytes) {
    return ir.Error(0, Status::Corruption("row image truncated in its null bitmap"));
  }
  std::string_view nulls = in->substr(0, null_bytes);
  in->remove_prefix(null_bytes);
  image->Resize(present_count);
  size_t k = 0;  // index among present columns
  for (size_t i = 0; i < ncols; ++i) {
    if (!BitSet(present, i)) continue;
    const ColumnType& ct = t.columns[i];
    proto::Value* v = image->Column(k, i);
    if (BitSet(nulls, k)) {
      v->set_is_null(true);
    } else if (partial != nullptr && (*partial)[i]) {
      // A PARTIAL_UPDATE_ROWS JSON value: length (meta bytes), then diffs.
      ByteReader r(*in);
      uint64_t len;
      std::string_view diffs;
      if (!r.GetLE(ct.meta, &len) || !r.GetBytes(len, &diffs)) {
        return ir.Error(i, Status::Corruption("partial JSON value truncated"));
      }
      *in = r.rest();
      if (json_raw == nullptr || (*json_raw)[i].data() == nullptr) {
        return ir.Error(i, Status::FailedPrecondition(
                               "a partial JSON update (binlog_row_value_options=PARTIAL_JSON) "
                               "without the column's before image: with binlog_row_image "
                               "MINIMAL or NOBLOB the new document cannot be rebuilt; set "
                               "binlog_row_image=FULL or binlog_row_value_options='' on the "
                               "source"));
      }
      std::string* out = v->mutable_json();
      out->clear();
      Status st = ApplyJsonDiffs((*json_raw)[i], diffs, out);
      if (!st.ok()) return ir.Error(i, st);
    } else {
      std::string_view start = *in;
      Status st = DecodeColumnValue(ct, in, v);
      if (!st.ok()) return ir.Error(i, st);
      if (json_raw != nullptr && ct.real_type == kTypeJson) {
        // Keep the binary document (after its length prefix) for diffs.
        ByteReader r(start);
        uint64_t len;
        std::string_view doc;
        if (r.GetLE(ct.meta, &len) && r.GetBytes(len, &doc)) (*json_raw)[i] = doc;
      }
    }
    ++k;
  }
  return Status::Ok();
}

proto::Op OpOf(RowsKind kind) {
  return kind == RowsKind::kWrite    ? proto::OP_INSERT
         : kind == RowsKind::kDelete ? proto::OP_DELETE
                                     : proto::OP_UPDATE;
}

// DecodeRows' output: each row a ChangeRecord handed to a RowSink.
class ProtoRows {
 public:
  ProtoRows(const TableMap& table, const RowsContext& ctx, proto::Op op, proto::ChangeRecord* rec,
            RowSink* sink)
      : table_(table), ctx_(ctx), op_(op), rec_(rec), sink_(sink) {}

  // Sets what every record of the event shares. Called per row: the sink
  // may have swapped the scratch record for another one.
  void StartRow() {
    proto::ChangeRecord* rec = rec_;
    rec->set_format_version(proto::RECORD_FORMAT_V1);
    rec->set_op(op_);
    rec->set_db(table_.db);
    rec->set_table(table_.table);
    rec->mutable_pk()->Clear();
    if (ctx_.column_names)
      for (const auto& name : table_.pk) rec->add_pk(name);
    rec->set_ts(ctx_.timestamp);
    rec->mutable_pos()->mutable_file()->assign(ctx_.file);
    rec->mutable_pos()->set_pos(ctx_.end_pos);
    rec->mutable_gtid()->assign(ctx_.gtid);
    if (!rec->sql().empty()) rec->clear_sql();
    if (rec->has_schema()) rec->clear_schema();  // the scratch may have held a prebuilt record
    if (rec->has_error()) rec->clear_error();
  }
  ProtoImage Before() { return ProtoImage(rec_->mutable_before(), table_, ctx_.column_names); }
  ProtoImage After() { return ProtoImage(rec_->mutable_after(), table_, ctx_.column_names); }
  void NoBefore() { rec_->mutable_before()->Clear(); }
  void NoAfter() { rec_->mutable_after()->Clear(); }
  Status EndRow() { return sink_->OnRow(rec_); }

 private:
  const TableMap& table_;
  const RowsContext& ctx_;
  const proto::Op op_;
  proto::ChangeRecord* rec_;
  RowSink* sink_;
};

// EncodeRows' output: each row's record encoded by RowEncoder.
class WireRows {
 public:
  WireRows(RowEncoder* enc, EncodedRowSink* out) : enc_(enc), out_(out) {}
  void StartRow() {
    enc_->before().present = false;
    enc_->after().present = false;
  }
  WireImage Before() {
    enc_->before().present = true;
    return WireImage(&enc_->before());
  }
  WireImage After() {
    enc_->after().present = true;
    return WireImage(&enc_->after());
  }
  void NoBefore() {}
  void NoAfter() {}
  Status EndRow() {
    enc_->WriteRow(out_);
    return Status::Ok();
  }

 private:
  RowEncoder* enc_;
  EncodedRowSink* out_;
};

// The row loop both DecodeRows and EncodeRows run: bitmaps, images,
// partial JSON updates, and the errors of each.
template <typename Rows>
Status ForEachRow(const TableMap& table, const RowsEventHeader& rows, Rows* out) {
  ByteReader r(rows.body);
  uint64_t ncols;
  if (!r.GetPackedInt(&ncols)) return Status::Corruption("rows event truncated in column count");
  if (ncols != table.columns.size()) {
    return Status::Corruption("rows event for " + table.db + "." + table.table + " has " +
                              std::to_string(ncols) + " columns, its table map " +
                              std::to_string(table.columns.size()));
  }
  const size_t bitmap_bytes = (ncols + 7) / 8;
  const bool is_update = rows.kind == RowsKind::kUpdate || rows.kind == RowsKind::kPartialUpdate;
  std::string_view present_bi, present_ai;
  if (!r.GetBytes(bitmap_bytes, &present_bi) ||
      (is_update && !r.GetBytes(bitmap_bytes, &present_ai))) {
    return Status::Corruption("rows event truncated in its column bitmaps");
  }
  if (!is_update) present_ai = present_bi;
  const size_t count_bi = CountBits(present_bi, ncols);
  const size_t count_ai = CountBits(present_ai, ncols);

  const proto::Op op = OpOf(rows.kind);
  size_t json_columns = 0;
  std::vector<std::string_view> json_raw;
  std::vector<bool> partial;
  if (rows.kind == RowsKind::kPartialUpdate) {
    for (const auto& c : table.columns) json_columns += c.real_type == kTypeJson;
    json_raw.resize(ncols);
    partial.resize(ncols);
  }

  std::string_view in = r.rest();
  for (size_t row = 0; !in.empty(); ++row) {
    ImageReader ir{table, row};
    const size_t before_row = in.size();
    out->StartRow();
    if (op == proto::OP_INSERT) {
      out->NoBefore();
      auto after = out->After();
      SLUICE_RETURN_IF_ERROR(ReadImage(ir, present_ai, count_ai, &in, &after, nullptr, nullptr));
    } else {
      std::fill(json_raw.begin(), json_raw.end(), std::string_view());
      auto before = out->Before();
      SLUICE_RETURN_IF_ERROR(ReadImage(ir, present_bi, count_bi, &in, &before,
                                       json_raw.empty() ? nullptr : &json_raw, nullptr));
      if (op == proto::OP_DELETE) {
        out->NoAfter();
      } else {
        const std::vector<bool>* partial_ptr = nullptr;
        if (rows.kind == RowsKind::kPartialUpdate) {
          ByteReader pr(in);
          uint64_t options;
          if (!pr.GetPackedInt(&options)) {
            return ir.Error(0, Status::Corruption("partial update truncated in value options"));
          }
          std::fill(partial.begin(), partial.end(), false);
          if (options & kPartialJsonUpdates) {
            std::string_view bits;
            if (!pr.GetBytes((json_columns + 7) / 8, &bits)) {
              return ir.Error(0, Status::Corruption("partial update truncated in partial bits"));
            }
            size_t j = 0;  // one bit per JSON column of the table, present or not
            for (size_t i = 0; i < ncols; ++i)
              if (table.columns[i].real_type == kTypeJson) partial[i] = BitSet(bits, j++);
            partial_ptr = &partial;
          }
          in = pr.rest();
        }
        auto after = out->After();
        SLUICE_RETURN_IF_ERROR(ReadImage(ir, present_ai, count_ai, &in, &after,
                                         json_raw.empty() ? nullptr : &json_raw, partial_ptr));
      }
    }
    if (in.size() == before_row) {
      // No column present in any image: rows take no bytes, so the rest
      // of the event cannot be rows.
      return ir.Error(0, Status::Corruption("rows event with no columns present has " +
                                            std::to_string(in.size()) + " bytes of rows"));
    }
    SLUICE_RETURN_IF_ERROR(out->EndRow());
  }
  return Status::Ok();
}

}  // namespace

RowsKind RowsKindOf(uint8_t type) {
  switch (static_cast<EventType>(type)) {
    case EventType::kWriteRowsV0:
    case EventType::kWriteRowsV1:
    case EventType::kWriteRowsV2: return RowsKind::kWrite;
    case EventType::kUpdateRowsV0:
    case EventType::kUpdateRowsV1:
    case EventType::kUpdateRowsV2: return RowsKind::kUpdate;
    case EventType::kDeleteRowsV0:
    case EventType::kDeleteRowsV1:
    case EventType::kDeleteRowsV2: return RowsKind::kDelete;
    case EventType::kPartialUpdateRows: return RowsKind::kPartialUpdate;
    default: return RowsKind::kNone;
  }
}

Result<RowsEventHeader> ParseRowsHeader(uint8_t type, std::string_view data,
                                        const FormatDescription& fd) {
  RowsEventHeader h;
  h.kind = RowsKindOf(type);
  if (h.kind == RowsKind::kNone) return Status::InvalidArgument("not a rows event");
  uint8_t phl = fd.PostHeaderLength(type);
  bool v2 = type >= static_cast<uint8_t>(EventType::kWriteRowsV2);
  if (phl == 0) phl = v2 ? 10 : 8;
  ByteReader r(data);
  if (!ReadTableId(&r, phl, &h.table_id) || !r.Get(&h.flags)) {
    return Status::Corruption(EventTypeName(type) + " post-header truncated");
  }
  size_t read = (phl == 6 ? 4 : 6) + 2;
  if (v2) {
    uint16_t extra_len;
    if (!r.Get(&extra_len) || extra_len < 2 || !r.Skip(extra_len - 2)) {
      return Status::Corruption(EventTypeName(type) + " extra data truncated");
    }
    read += extra_len;
  }
  if (phl > read && !r.Skip(phl - read)) {
    return Status::Corruption(EventTypeName(type) + " post-header truncated");
  }
  h.body = r.rest();
  return h;
}

Status DecodeRows(const TableMap& table, const RowsEventHeader& rows, const RowsContext& ctx,
                  proto::ChangeRecord* rec, RowSink* sink) {
  ProtoRows out(table, ctx, OpOf(rows.kind), rec, sink);
  return ForEachRow(table, rows, &out);
}

Status EncodeRows(const TableMap& table, const RowsEventHeader& rows, const RowsContext& ctx,
                  RowEncoder* scratch, EncodedRowSink* sink) {
  scratch->StartEvent(table, ctx, OpOf(rows.kind));
  WireRows out(scratch, sink);
  return ForEachRow(table, rows, &out);
}

}  // namespace sluice::binlog
