// RowEncoder (rows_event.h): ChangeRecord wire bytes without the message.
// Field numbers and types are proto/record.proto's; wire types: 0 varint,
// 1 fixed64, 2 length-delimited.
#include "broker/binlog/rows_event.h"

#include <cstring>

#include "base/coding.h"

namespace sluice::binlog {
namespace {

constexpr char Tag(int field, int wire_type) { return static_cast<char>(field << 3 | wire_type); }

using coding::PutVarint64;
using coding::VarintLength;
constexpr auto PutVarint = coding::EncodeVarint64;

void AppendBytesField(std::string* s, int field, std::string_view bytes) {
  s->push_back(Tag(field, 2));
  PutVarint64(s, bytes.size());
  s->append(bytes);
}

void AppendVarintField(std::string* s, int field, uint64_t v) {
  s->push_back(Tag(field, 0));
  PutVarint64(s, v);
}

// memcpy for the few bytes of a column header, without a call per column.
char* CopySmall(char* p, const char* src, size_t n) {
  if (n > 16) {
    std::memcpy(p, src, n);
  } else if (n >= 8) {
    std::memcpy(p, src, 8);  // two overlapping fixed-size copies
    std::memcpy(p + n - 8, src + n - 8, 8);
  } else if (n >= 4) {
    std::memcpy(p, src, 4);
    std::memcpy(p + n - 4, src + n - 4, 4);
  } else {
    for (size_t k = 0; k < n; ++k) p[k] = src[k];
  }
  return p + n;
}

uint64_t ZigZag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}

// A Value's bytes: its one oneof member, written whatever its value (a set
// oneof member has presence), or nothing when none is set.
std::string_view BytesMember(const proto::Value& v, int* field) {
  switch (v.kind_case()) {
    case proto::Value::kDecimal: *field = 5; return v.decimal();
    case proto::Value::kText: *field = 6; return v.text();
    case proto::Value::kBinary: *field = 7; return v.binary();
    case proto::Value::kJson: *field = 8; return v.json();
    case proto::Value::kEnumLabel: *field = 9; return v.enum_label();
    default: *field = 0; return {};
  }
}

// The bytes inside a Geometry or Vector member (protobuf's proto3 rules:
// srid 0 and empty wkb are left out; the repeated float is packed, and left
// out when empty).
size_t GeometrySize(const proto::Geometry& g) {
  size_t n = 0;
  if (g.srid() != 0) n += 1 + VarintLength(g.srid());
  if (!g.wkb().empty()) n += 1 + VarintLength(g.wkb().size()) + g.wkb().size();
  return n;
}
size_t VectorSize(const proto::Vector& v) {
  const size_t n = 4 * static_cast<size_t>(v.values_size());
  return n == 0 ? 0 : 1 + VarintLength(n) + n;
}

size_t ValueSize(const proto::Value& v) {
  switch (v.kind_case()) {
    case proto::Value::kIsNull: return 2;
    case proto::Value::kInt64: return 1 + VarintLength(ZigZag(v.int64()));
    case proto::Value::kUint64: return 1 + VarintLength(v.uint64());
    case proto::Value::kFloat64: return 9;
    case proto::Value::kEnumIndex: return 1 + VarintLength(v.enum_index());
    case proto::Value::kGeometry: {
      const size_t n = GeometrySize(v.geometry());
      return 1 + VarintLength(n) + n;
    }
    case proto::Value::kVector: {
      const size_t n = VectorSize(v.vector());
      return 1 + VarintLength(n) + n;
    }
    case proto::Value::KIND_NOT_SET: return 0;
    default: {
      int field;
      size_t n = BytesMember(v, &field).size();
      return 1 + VarintLength(n) + n;
    }
  }
}

char* WriteValue(const proto::Value& v, char* p) {
  switch (v.kind_case()) {
    case proto::Value::kIsNull:
      *p++ = Tag(1, 0);
      *p++ = v.is_null() ? 1 : 0;
      return p;
    case proto::Value::kInt64: *p++ = Tag(2, 0); return PutVarint(p, ZigZag(v.int64()));
    case proto::Value::kUint64: *p++ = Tag(3, 0); return PutVarint(p, v.uint64());
    case proto::Value::kFloat64: {
      *p++ = Tag(4, 1);
      double d = v.float64();
      uint64_t bits;
      std::memcpy(&bits, &d, 8);
      for (int i = 0; i < 8; ++i) *p++ = static_cast<char>(bits >> (8 * i));
      return p;
    }
    case proto::Value::kEnumIndex: *p++ = Tag(10, 0); return PutVarint(p, v.enum_index());
    case proto::Value::kGeometry: {
      const proto::Geometry& g = v.geometry();
      *p++ = Tag(11, 2);
      p = PutVarint(p, GeometrySize(g));
      if (g.srid() != 0) {
        *p++ = Tag(1, 0);
        p = PutVarint(p, g.srid());
      }
      if (!g.wkb().empty()) {
        *p++ = Tag(2, 2);
        p = PutVarint(p, g.wkb().size());
        std::memcpy(p, g.wkb().data(), g.wkb().size());
        p += g.wkb().size();
      }
      return p;
    }
    case proto::Value::kVector: {
      const proto::Vector& vec = v.vector();
      *p++ = Tag(12, 2);
      p = PutVarint(p, VectorSize(vec));
      if (vec.values_size() != 0) {
        const size_t n = 4 * static_cast<size_t>(vec.values_size());
        *p++ = Tag(1, 2);
        p = PutVarint(p, n);
        for (float f : vec.values()) {
          uint32_t bits;
          std::memcpy(&bits, &f, 4);
          for (int i = 0; i < 4; ++i) *p++ = static_cast<char>(bits >> (8 * i));
        }
      }
      return p;
    }
    case proto::Value::KIND_NOT_SET: return p;
    default: {
      int field;
      std::string_view b = BytesMember(v, &field);
      *p++ = Tag(field, 2);
      p = PutVarint(p, b.size());
      std::memcpy(p, b.data(), b.size());
      return p + b.size();
    }
  }
}

}  // namespace

void RowEncoder::StartEvent(const TableMap& table, const RowsContext& ctx, proto::Op op) {
  prefix_.clear();
  AppendVarintField(&prefix_, 1, proto::RECORD_FORMAT_V1);
  if (op != 0) AppendVarintField(&prefix_, 2, op);
  if (!table.db.empty()) AppendBytesField(&prefix_, 3, table.db);
  if (!table.table.empty()) AppendBytesField(&prefix_, 4, table.table);
  if (ctx.column_names)
    for (const auto& name : table.pk) AppendBytesField(&prefix_, 5, name);

  suffix_.clear();
  if (ctx.timestamp != 0) AppendVarintField(&suffix_, 8, ctx.timestamp);
  suffix_.push_back(Tag(9, 2));  // pos: always there (DecodeRows sets it)
  const size_t pos_size =
      (ctx.file.empty() ? 0 : 1 + VarintLength(ctx.file.size()) + ctx.file.size()) +
      (ctx.end_pos == 0 ? 0 : 1 + VarintLength(ctx.end_pos));
  PutVarint64(&suffix_, pos_size);
  if (!ctx.file.empty()) AppendBytesField(&suffix_, 1, ctx.file);
  if (ctx.end_pos != 0) AppendVarintField(&suffix_, 2, ctx.end_pos);
  if (!ctx.gtid.empty()) AppendBytesField(&suffix_, 10, ctx.gtid);

  headers_.clear();
  header_ends_.clear();
  for (size_t i = 0; i < table.columns.size(); ++i) {
    const ColumnType& ct = table.columns[i];
    if (i != 0) AppendVarintField(&headers_, 1, i);
    if (ctx.column_names && i < table.names.size() && !table.names[i].empty()) {
      AppendBytesField(&headers_, 2, table.names[i]);
    }
    if (ct.real_type != 0) AppendVarintField(&headers_, 3, ct.real_type);
    if (ct.is_unsigned) AppendVarintField(&headers_, 4, 1);
    headers_.push_back(Tag(5, 2));  // the value follows
    header_ends_.push_back(static_cast<uint32_t>(headers_.size()));
  }
}

// Sizes of the image's Column messages and values go to sizes[k]; returns
// the bytes of the image's fields in the record.
size_t RowEncoder::ImageSize(const Image& im, Sizes* sizes) const {
  size_t total = 0;
  for (size_t k = 0; k < im.columns.size(); ++k) {
    const uint32_t i = im.columns[k];
    const size_t header = header_ends_[i] - (i == 0 ? 0 : header_ends_[i - 1]);
    const size_t value = ValueSize(im.values[k]);
    const size_t column = header + VarintLength(value) + value;
    sizes[k] = {column, value};
    total += 1 + VarintLength(column) + column;
  }
  return total;
}

char* RowEncoder::WriteImage(const Image& im, char tag, const Sizes* sizes, char* p) const {
  for (size_t k = 0; k < im.columns.size(); ++k) {
    const uint32_t i = im.columns[k];
    const uint32_t begin = i == 0 ? 0 : header_ends_[i - 1];
    *p++ = tag;
    p = PutVarint(p, sizes[k].column);
    p = CopySmall(p, headers_.data() + begin, header_ends_[i] - begin);
    p = PutVarint(p, sizes[k].value);
    p = WriteValue(im.values[k], p);
  }
  return p;
}

void RowEncoder::WriteRow(EncodedRowSink* out) {
  const size_t nb = before_.present ? before_.columns.size() : 0;
  const size_t na = after_.present ? after_.columns.size() : 0;
  if (sizes_.size() < nb + na) sizes_.resize(nb + na);
  size_t total = prefix_.size() + suffix_.size();
  if (before_.present) total += ImageSize(before_, sizes_.data());
  if (after_.present) total += ImageSize(after_, sizes_.data() + nb);
  char* p = out->Extend(total);
  std::memcpy(p, prefix_.data(), prefix_.size());
  p += prefix_.size();
  if (before_.present) p = WriteImage(before_, Tag(6, 2), sizes_.data(), p);
  if (after_.present) p = WriteImage(after_, Tag(7, 2), sizes_.data() + nb, p);
  std::memcpy(p, suffix_.data(), suffix_.size());
  out->EndRecord();
}

}  // namespace sluice::binlog
