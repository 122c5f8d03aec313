#include "proto/record_view.h"

#include <cstring>
#include <initializer_list>

namespace sluice {
namespace {

// Wire types (protobuf encoding guide).
constexpr uint32_t kVarint = 0, kFixed64 = 1, kLen = 2;

// Reads the wire format of one message: tags, varints, fixed64s and
// length-delimited fields, each bounds-checked.
class Wire {
 public:
  explicit Wire(std::string_view b) : p_(b.data()), end_(b.data() + b.size()) {}
  bool done() const { return p_ == end_; }

  // A varint in its shortest form (no trailing zero byte) of at most 10
  // bytes, whose tenth holds only bit 63. Protobuf reads some longer forms
  // too; the view declines them, and the message reads them.
  bool Varint(uint64_t* v) {
    uint64_t r = 0;
    for (int shift = 0; shift < 70; shift += 7) {
      if (p_ == end_) return false;
      const auto b = static_cast<uint8_t>(*p_++);
      if (shift == 63 && b > 1) return false;
      r |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) {
        if (b == 0 && shift > 0) return false;  // padded
        *v = r;
        return true;
      }
    }
    return false;
  }
  // A tag of one byte: every field the view reads is numbered under 16.
  bool Tag(uint32_t* field, uint32_t* type) {
    if (p_ == end_) return false;
    const auto t = static_cast<uint8_t>(*p_);
    if (t >= 0x80) return false;
    ++p_;
    *field = t >> 3;
    *type = t & 7u;
    return *field != 0;
  }
  bool Len(std::string_view* v) {
    uint64_t n;
    if (!Varint(&n) || n > static_cast<uint64_t>(end_ - p_)) return false;
    *v = std::string_view(p_, static_cast<size_t>(n));
    p_ += n;
    return true;
  }
  bool Fixed64(uint64_t* v) {
    if (end_ - p_ < 8) return false;
    uint64_t r = 0;
    for (int i = 7; i >= 0; --i) r = (r << 8) | static_cast<uint8_t>(p_[i]);
    p_ += 8;
    *v = r;
    return true;
  }

 private:
  const char* p_;
  const char* end_;
};

// One field as read: its number, and its value as its wire type holds it.
struct Field {
  uint32_t number = 0;
  uint32_t type = 0;
  uint64_t bits = 0;       // a varint's value or a fixed64's bits
  std::string_view bytes;  // a length-delimited field's
};

// Reads a message's fields in order and hands each to fn, which returns
// false to decline the message. A field not in `repeated` (a mask of
// field numbers) may appear once: protobuf would keep the last of a
// scalar and merge a message, so the view declines a second.
template <typename Fn>
bool ForEachField(std::string_view message, uint32_t repeated, Fn fn) {
  Wire w(message);
  uint32_t seen = 0;
  while (!w.done()) {
    Field f;
    if (!w.Tag(&f.number, &f.type)) return false;  // numbers under 16: the mask holds them
    const uint32_t bit = 1u << f.number;
    if ((repeated & bit) == 0) {
      if (seen & bit) return false;
      seen |= bit;
    }
    bool ok = false;
    switch (f.type) {
      case kVarint: ok = w.Varint(&f.bits); break;
      case kFixed64: ok = w.Fixed64(&f.bits); break;
      case kLen: ok = w.Len(&f.bytes); break;
      default: break;  // groups, fixed32: not in these messages
    }
    if (!ok || !fn(f)) return false;
  }
  return true;
}

bool Bytes(const Field& f, std::string_view* out) {
  *out = f.bytes;
  return f.type == kLen;
}
// A varint field as its declared type: protobuf truncates a uint32's and
// an enum's varint the same way, and a bool is any non-zero value.
template <typename T>
bool Varint(const Field& f, T* out) {
  *out = static_cast<T>(f.bits);
  return f.type == kVarint;
}

bool IsRowOp(uint64_t op) {
  return op == proto::OP_INSERT || op == proto::OP_UPDATE || op == proto::OP_DELETE ||
         op == proto::OP_READ;
}

constexpr uint32_t Mask(std::initializer_list<int> fields) {
  uint32_t m = 0;
  for (int f : fields) m |= 1u << f;
  return m;
}

}  // namespace

double ValueView::float64() const {
  double d;
  std::memcpy(&d, &bits_, sizeof d);
  return d;
}

bool RecordView::ParseValue(std::string_view bytes, ValueView* v) {
  bool any = false;
  return ForEachField(bytes, 0, [&](const Field& f) {
    if (any) return false;  // a second kind: the last would win
    any = true;
    v->kind_ = static_cast<proto::Value::KindCase>(f.number);
    v->bits_ = f.bits;
    switch (f.number) {
      case proto::Value::kInt64:  // sint64: ZigZag
        v->bits_ = (f.bits >> 1) ^ (~(f.bits & 1) + 1);
        return f.type == kVarint;
      case proto::Value::kIsNull:
      case proto::Value::kUint64:
      case proto::Value::kEnumIndex: return f.type == kVarint;
      case proto::Value::kFloat64: return f.type == kFixed64;
      case proto::Value::kDecimal:
      case proto::Value::kText:
      case proto::Value::kBinary:
      case proto::Value::kJson:
      case proto::Value::kEnumLabel: return Bytes(f, &v->bytes_);
      default: return false;  // GEOMETRY, VECTOR, unknown: the message renders them
    }
  });
}

bool RecordView::ParseColumn(std::string_view bytes, ColumnView* c) {
  bool is_unsigned = false;  // not in the JSON line
  return ForEachField(bytes, 0, [&](const Field& f) {
    switch (f.number) {
      case proto::Column::kIndexFieldNumber: return Varint(f, &c->index_);
      case proto::Column::kNameFieldNumber: return Bytes(f, &c->name_);
      case proto::Column::kMysqlTypeFieldNumber: return Varint(f, &c->mysql_type_);
      case proto::Column::kIsUnsignedFieldNumber: return Varint(f, &is_unsigned);
      case proto::Column::kValueFieldNumber:
        return f.type == kLen && ParseValue(f.bytes, &c->value_);
      default: return false;
    }
  });
}

bool RecordView::Parse(std::string_view bytes) {
  op_ = proto::OP_UNSPECIFIED;
  db_ = table_ = gtid_ = {};
  pk_.clear();
  before_.clear();
  after_.clear();
  ts_ = 0;
  pos_ = {};
  txn_ = {};
  has_snapshot_ = false;
  snapshot_ = {};

  using R = proto::ChangeRecord;
  constexpr uint32_t kRepeated =
      Mask({R::kPkFieldNumber, R::kBeforeFieldNumber, R::kAfterFieldNumber});
  const bool ok = ForEachField(bytes, kRepeated, [&](const Field& f) {
    switch (f.number) {
      case R::kFormatVersionFieldNumber: return f.type == kVarint;
      case R::kOpFieldNumber: return Varint(f, &op_) && IsRowOp(f.bits);  // else not a row change
      case R::kDbFieldNumber: return Bytes(f, &db_);
      case R::kTableFieldNumber: return Bytes(f, &table_);
      case R::kPkFieldNumber: return Bytes(f, &pk_.emplace_back());
      case R::kBeforeFieldNumber:
        return f.type == kLen && ParseColumn(f.bytes, &before_.emplace_back());
      case R::kAfterFieldNumber:
        return f.type == kLen && ParseColumn(f.bytes, &after_.emplace_back());
      case R::kTsFieldNumber: return Varint(f, &ts_);
      case R::kGtidFieldNumber: return Bytes(f, &gtid_);
      case R::kPosFieldNumber:
        return f.type == kLen && ForEachField(f.bytes, 0, [&](const Field& g) {
                 switch (g.number) {
                   case proto::SourcePosition::kFileFieldNumber: return Bytes(g, &pos_.file_);
                   case proto::SourcePosition::kPosFieldNumber: return Varint(g, &pos_.pos_);
                   default: return false;
                 }
               });
      case R::kTxnFieldNumber:
        return f.type == kLen && ForEachField(f.bytes, 0, [&](const Field& g) {
                 switch (g.number) {
                   case proto::TxnInfo::kSeqFieldNumber: return Varint(g, &txn_.seq_);
                   case proto::TxnInfo::kLastFieldNumber: return Varint(g, &txn_.last_);
                   default: return false;
                 }
               });
      case R::kSnapshotFieldNumber:
        has_snapshot_ = true;
        return f.type == kLen && ForEachField(f.bytes, 0, [&](const Field& g) {
                 switch (g.number) {
                   case proto::SnapshotMark::kIdFieldNumber: return Bytes(g, &snapshot_.id_);
                   case proto::SnapshotMark::kPhaseFieldNumber: return Varint(g, &snapshot_.phase_);
                   case proto::SnapshotMark::kRowsFieldNumber: return Varint(g, &snapshot_.rows_);
                   case proto::SnapshotMark::kChunkFieldNumber: return Varint(g, &snapshot_.chunk_);
                   default: return false;
                 }
               });
      default: return false;  // sql, schema, error, unknown: the message's to read
    }
  });
  return ok && op_ != proto::OP_UNSPECIFIED;
}

}  // namespace sluice
