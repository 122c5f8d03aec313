#include "proto/record_view.h"

#include <cstring>

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

// Marks `field` seen; false when it was already (a singular field twice:
// protobuf would keep the last or merge, so the view declines).
bool Once(uint32_t field, uint32_t* seen) {
  if (field >= 32) return false;
  const uint32_t bit = 1u << field;
  if (*seen & bit) return false;
  *seen |= bit;
  return true;
}

}  // namespace

bool RecordView::ParseValue(std::string_view bytes, ValueView* v) {
  Wire w(bytes);
  bool any = false;
  while (!w.done()) {
    uint32_t field, type;
    if (!w.Tag(&field, &type) || any) return false;  // a second kind: the last would win
    any = true;
    uint64_t x = 0;
    switch (field) {
      case proto::Value::kIsNull:
      case proto::Value::kInt64:
      case proto::Value::kUint64:
      case proto::Value::kEnumIndex:
        if (type != kVarint || !w.Varint(&x)) return false;
        // sint64: ZigZag.
        v->bits_ = field == proto::Value::kInt64 ? (x >> 1) ^ (~(x & 1) + 1) : x;
        break;
      case proto::Value::kFloat64:
        if (type != kFixed64 || !w.Fixed64(&v->bits_)) return false;
        break;
      case proto::Value::kDecimal:
      case proto::Value::kText:
      case proto::Value::kBinary:
      case proto::Value::kJson:
      case proto::Value::kEnumLabel:
        if (type != kLen || !w.Len(&v->bytes_)) return false;
        break;
      default: return false;  // GEOMETRY, VECTOR, unknown: the message renders them
    }
    v->kind_ = static_cast<proto::Value::KindCase>(field);
  }
  return true;
}

double ValueView::float64() const {
  double d;
  std::memcpy(&d, &bits_, sizeof d);
  return d;
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

  Wire w(bytes);
  uint32_t seen = 0;
  while (!w.done()) {
    uint32_t field, type;
    if (!w.Tag(&field, &type)) return false;
    uint64_t x;
    std::string_view s;
    switch (field) {
      case proto::ChangeRecord::kFormatVersionFieldNumber:
        if (type != kVarint || !Once(field, &seen) || !w.Varint(&x)) return false;
        break;
      case proto::ChangeRecord::kOpFieldNumber:
        if (type != kVarint || !Once(field, &seen) || !w.Varint(&x)) return false;
        if (x != proto::OP_INSERT && x != proto::OP_UPDATE && x != proto::OP_DELETE &&
            x != proto::OP_READ) {
          return false;  // not a row change
        }
        op_ = static_cast<proto::Op>(x);
        break;
      case proto::ChangeRecord::kDbFieldNumber:
        if (type != kLen || !Once(field, &seen) || !w.Len(&db_)) return false;
        break;
      case proto::ChangeRecord::kTableFieldNumber:
        if (type != kLen || !Once(field, &seen) || !w.Len(&table_)) return false;
        break;
      case proto::ChangeRecord::kPkFieldNumber:
        if (type != kLen || !w.Len(&s)) return false;
        pk_.push_back(s);
        break;
      case proto::ChangeRecord::kBeforeFieldNumber:
      case proto::ChangeRecord::kAfterFieldNumber: {
        if (type != kLen || !w.Len(&s)) return false;
        auto& image = field == proto::ChangeRecord::kBeforeFieldNumber ? before_ : after_;
        ColumnView& c = image.emplace_back();
        Wire cw(s);
        uint32_t cseen = 0;
        while (!cw.done()) {
          uint32_t f, t;
          if (!cw.Tag(&f, &t)) return false;
          std::string_view v;
          switch (f) {
            case proto::Column::kIndexFieldNumber:
              if (t != kVarint || !Once(f, &cseen) || !cw.Varint(&x)) return false;
              c.index_ = static_cast<uint32_t>(x);
              break;
            case proto::Column::kNameFieldNumber:
              if (t != kLen || !Once(f, &cseen) || !cw.Len(&c.name_)) return false;
              break;
            case proto::Column::kMysqlTypeFieldNumber:
              if (t != kVarint || !Once(f, &cseen) || !cw.Varint(&x)) return false;
              c.mysql_type_ = static_cast<uint32_t>(x);
              break;
            case proto::Column::kIsUnsignedFieldNumber:
              if (t != kVarint || !Once(f, &cseen) || !cw.Varint(&x)) return false;
              break;
            case proto::Column::kValueFieldNumber:
              if (t != kLen || !Once(f, &cseen) || !cw.Len(&v) || !ParseValue(v, &c.value_)) {
                return false;
              }
              break;
            default: return false;
          }
        }
        break;
      }
      case proto::ChangeRecord::kTsFieldNumber:
        if (type != kVarint || !Once(field, &seen) || !w.Varint(&ts_)) return false;
        break;
      case proto::ChangeRecord::kPosFieldNumber: {
        if (type != kLen || !Once(field, &seen) || !w.Len(&s)) return false;
        Wire pw(s);
        uint32_t pseen = 0;
        while (!pw.done()) {
          uint32_t f, t;
          if (!pw.Tag(&f, &t)) return false;
          if (f == proto::SourcePosition::kFileFieldNumber) {
            if (t != kLen || !Once(f, &pseen) || !pw.Len(&pos_.file_)) return false;
          } else if (f == proto::SourcePosition::kPosFieldNumber) {
            if (t != kVarint || !Once(f, &pseen) || !pw.Varint(&pos_.pos_)) return false;
          } else {
            return false;
          }
        }
        break;
      }
      case proto::ChangeRecord::kGtidFieldNumber:
        if (type != kLen || !Once(field, &seen) || !w.Len(&gtid_)) return false;
        break;
      case proto::ChangeRecord::kTxnFieldNumber: {
        if (type != kLen || !Once(field, &seen) || !w.Len(&s)) return false;
        Wire tw(s);
        uint32_t tseen = 0;
        while (!tw.done()) {
          uint32_t f, t;
          if (!tw.Tag(&f, &t) || t != kVarint || !Once(f, &tseen) || !tw.Varint(&x)) return false;
          if (f == proto::TxnInfo::kSeqFieldNumber) {
            txn_.seq_ = static_cast<uint32_t>(x);
          } else if (f == proto::TxnInfo::kLastFieldNumber) {
            txn_.last_ = x != 0;
          } else {
            return false;
          }
        }
        break;
      }
      case proto::ChangeRecord::kSnapshotFieldNumber: {
        if (type != kLen || !Once(field, &seen) || !w.Len(&s)) return false;
        has_snapshot_ = true;
        Wire sw(s);
        uint32_t sseen = 0;
        while (!sw.done()) {
          uint32_t f, t;
          if (!sw.Tag(&f, &t) || !Once(f, &sseen)) return false;
          if (f == proto::SnapshotMark::kIdFieldNumber) {
            if (t != kLen || !sw.Len(&snapshot_.id_)) return false;
          } else if (t != kVarint || !sw.Varint(&x)) {
            return false;
          } else if (f == proto::SnapshotMark::kPhaseFieldNumber) {
            snapshot_.phase_ = static_cast<int32_t>(x);
          } else if (f == proto::SnapshotMark::kRowsFieldNumber) {
            snapshot_.rows_ = x;
          } else if (f == proto::SnapshotMark::kChunkFieldNumber) {
            snapshot_.chunk_ = x;
          } else {
            return false;
          }
        }
        break;
      }
      default: return false;  // sql, schema, error, unknown: the message's to read
    }
  }
  return op_ != proto::OP_UNSPECIFIED;
}

}  // namespace sluice
