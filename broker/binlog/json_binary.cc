#include "broker/binlog/json_binary.h"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <iterator>

#include "broker/binlog/json_binary_internal.h"

namespace sluice::binlog {
namespace json_internal {
namespace {

// enum_field_types values that opaque values carry and that print specially.
constexpr uint8_t kFieldTimestamp = 7;
constexpr uint8_t kFieldDate = 10;
constexpr uint8_t kFieldTime = 11;
constexpr uint8_t kFieldDateTime = 12;
constexpr uint8_t kFieldNewDecimal = 246;
constexpr uint8_t kFieldVarString = 253;

uint64_t LoadLE(const char* p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

// Reads a varlen (json_binary.h) from the front of `in`: at most 5 bytes, and
// a value that fits 32 bits, as MySQL's read_variable_length requires.
bool ReadVarLength(std::string_view in, uint32_t* value, size_t* used) {
  uint64_t v = 0;
  for (size_t i = 0; i < in.size() && i < 5; ++i) {
    const uint8_t b = static_cast<uint8_t>(in[i]);
    v |= static_cast<uint64_t>(b & 0x7f) << (7 * i);
    if ((b & 0x80) == 0) {
      if (v > UINT32_MAX) return false;
      *value = static_cast<uint32_t>(v);
      *used = i + 1;
      return true;
    }
  }
  return false;
}

template <typename T>
void AppendInt(T v, std::string* out) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, r.ptr);
}

// my_gcvt(d, MY_GCVT_ARG_DOUBLE, 34, ...) (strings/dtoa.cc) as
// Json_wrapper::to_string calls it. With a 34-character field its dtoa call
// yields the shortest round-trip digits, and the format is 'f' exactly when
// the decimal exponent `decpt` (value = 0.DIGITS * 10^decpt) is >= -14 and
// either <= 15 (MAX_DECPT_FOR_F_FORMAT) or smaller than the digit count;
// otherwise 'e' with an unpadded, unsigned-if-positive exponent.
void AppendDouble(double d, std::string* out) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof(buf), d, std::chars_format::scientific);
  std::string_view s(buf, r.ptr - buf);  // [-]D[.DDD]e(+|-)XX
  const size_t start = out->size();
  if (!s.empty() && s[0] == '-') {
    out->push_back('-');
    s.remove_prefix(1);
  }
  const size_t e = s.find('e');
  std::string digits(s.substr(0, e));
  if (digits.size() > 1) digits.erase(1, 1);  // the '.'
  int exp10 = 0;
  std::string_view es = s.substr(e + 1);
  if (!es.empty() && es[0] == '+') es.remove_prefix(1);
  std::from_chars(es.data(), es.data() + es.size(), exp10);
  const int len = static_cast<int>(digits.size());
  const int decpt = exp10 + 1;
  if (decpt >= -14 && (decpt <= 15 || len > decpt)) {
    if (decpt <= 0) {
      out->append("0.");
      out->append(static_cast<size_t>(-decpt), '0');
      out->append(digits);
    } else if (decpt < len) {
      out->append(digits, 0, decpt);
      out->push_back('.');
      out->append(digits, decpt);
    } else {
      out->append(digits);
      out->append(static_cast<size_t>(decpt - len), '0');
    }
  } else {
    out->push_back(digits[0]);
    if (len > 1) {
      out->push_back('.');
      out->append(digits, 1);
    }
    out->push_back('e');
    AppendInt(exp10, out);
  }
  std::string_view printed(out->data() + start, out->size() - start);
  if (printed.find_first_of(".e") == std::string_view::npos) out->append(".0");
}

// MySQL's format_two_digits: values of 100 and more print as "00".
void AppendTwoDigits(uint64_t v, std::string* out) {
  if (v >= 100) v = 0;
  out->push_back(static_cast<char>('0' + v / 10));
  out->push_back(static_cast<char>('0' + v % 10));
}

void AppendPadded(uint64_t v, int width, std::string* out) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  const int n = static_cast<int>(r.ptr - buf);
  if (n < width) out->append(static_cast<size_t>(width - n), '0');
  out->append(buf, r.ptr);
}

// An opaque DATE, TIME, DATETIME or TIMESTAMP: MySQL's packed longlong
// (mysys/my_time.cc TIME_to_longlong_*_packed): the absolute value holds
// microseconds in its low 24 bits, then for dates ((year*13+month)<<5|day)<<17
// | hour<<12 | minute<<6 | second, for times hour<<12 | minute<<6 | second.
// Printed as my_TIME_to_str(t, 6) prints it; only TIME shows the sign.
bool AppendTemporal(uint8_t field_type, std::string_view data, std::string* out) {
  if (data.size() != 8) return false;
  const int64_t packed = static_cast<int64_t>(LoadLE(data.data(), 8));
  const bool negative = packed < 0;
  const uint64_t u = negative ? 0 - static_cast<uint64_t>(packed) : static_cast<uint64_t>(packed);
  const uint64_t micros = u % (1 << 24);
  const uint64_t hms_all = u >> 24;
  const bool time = field_type == kFieldTime;
  if (micros > 999999 && field_type != kFieldDate) return false;
  out->push_back('"');
  if (time) {
    if (negative) out->push_back('-');
    AppendPadded((hms_all >> 12) % (1 << 10), 2, out);
    out->push_back(':');
    AppendTwoDigits((hms_all >> 6) % (1 << 6), out);
    out->push_back(':');
    AppendTwoDigits(hms_all % (1 << 6), out);
  } else {
    const uint64_t ymd = hms_all >> 17;
    const uint64_t ym = ymd >> 5;
    const uint64_t hms = hms_all % (1 << 17);
    AppendTwoDigits(ym / 13 / 100, out);
    AppendTwoDigits(ym / 13 % 100, out);
    out->push_back('-');
    AppendTwoDigits(ym % 13, out);
    out->push_back('-');
    AppendTwoDigits(ymd % (1 << 5), out);
    if (field_type != kFieldDate) {
      out->push_back(' ');
      AppendTwoDigits(hms >> 12, out);
      out->push_back(':');
      AppendTwoDigits((hms >> 6) % (1 << 6), out);
      out->push_back(':');
      AppendTwoDigits(hms % (1 << 6), out);
    }
  }
  if (field_type != kFieldDate) {
    out->push_back('.');
    AppendPadded(micros, 6, out);
  }
  out->push_back('"');
  return true;
}

// An opaque DECIMAL: precision byte, scale byte, then MySQL's decimal2bin
// form (strings/decimal.cc): the integer digits then the fraction digits in
// big-endian groups of 9 digits in 4 bytes, the partial group next to the
// point taking dig2bytes[n] bytes; a negative number has every byte
// inverted, and the first byte's top bit is flipped. Printed as decimal2string
// prints it: no leading zeros, exactly `scale` fraction digits.
bool AppendDecimal(std::string_view data, std::string* out) {
  static constexpr int kDigBytes[10] = {0, 1, 1, 2, 2, 3, 3, 4, 4, 4};
  static constexpr uint32_t kPow10[10] = {1,      10,      100,      1000,      10000,
                                          100000, 1000000, 10000000, 100000000, 1000000000};
  if (data.size() < 2) return false;
  const int precision = static_cast<uint8_t>(data[0]);
  const int scale = static_cast<uint8_t>(data[1]);
  if (precision < 1 || precision > 65 || scale > 30 || scale > precision) return false;
  const int intg = precision - scale;
  const size_t size = (intg / 9) * 4 + kDigBytes[intg % 9] + (scale / 9) * 4 + kDigBytes[scale % 9];
  std::string_view bin = data.substr(2);
  if (bin.size() != size) return false;
  const bool negative = (static_cast<uint8_t>(bin[0]) & 0x80) == 0;
  const uint8_t mask = negative ? 0xff : 0;
  size_t pos = 0;
  std::string digits;  // integer digits, then fraction digits
  // Reads a group of `n` digits; false when it is not n decimal digits.
  auto group = [&](int n) {
    const int bytes = n == 9 ? 4 : kDigBytes[n];
    uint32_t v = 0;
    for (int i = 0; i < bytes; ++i, ++pos) {
      uint8_t b = static_cast<uint8_t>(bin[pos]) ^ mask;
      if (pos == 0) b ^= 0x80;
      v = (v << 8) | b;
    }
    if (n < 9 ? v >= kPow10[n] : v > 999999999) return false;
    AppendPadded(v, n, &digits);
    return true;
  };
  if (intg % 9 != 0 && !group(intg % 9)) return false;
  for (int i = 0; i < intg / 9; ++i) {
    if (!group(9)) return false;
  }
  for (int i = 0; i < scale / 9; ++i) {
    if (!group(9)) return false;
  }
  if (scale % 9 != 0 && !group(scale % 9)) return false;
  std::string_view int_part = std::string_view(digits).substr(0, intg);
  const size_t first = int_part.find_first_not_of('0');
  int_part = first == std::string_view::npos ? "0" : int_part.substr(first);
  if (negative) out->push_back('-');
  out->append(int_part);
  if (scale > 0) {
    out->push_back('.');
    out->append(digits, intg);
  }
  return true;
}

// "base64:type<N>:<base64>" quoted, with the '\n' MySQL's base64_encode puts
// after every 76 characters written as its JSON escape.
void AppendBase64Opaque(uint8_t field_type, std::string_view data, std::string* out) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  out->append("\"base64:type");
  AppendInt(static_cast<int>(field_type), out);
  out->push_back(':');
  size_t line = 0;
  for (size_t i = 0; i < data.size(); i += 3, line += 4) {
    if (line == 76) {
      out->append("\\n");
      line = 0;
    }
    const size_t n = std::min<size_t>(3, data.size() - i);
    uint32_t c = 0;
    for (size_t k = 0; k < 3; ++k) {
      c = (c << 8) | (k < n ? static_cast<uint8_t>(data[i + k]) : 0);
    }
    out->push_back(kAlphabet[(c >> 18) & 0x3f]);
    out->push_back(kAlphabet[(c >> 12) & 0x3f]);
    out->push_back(n > 1 ? kAlphabet[(c >> 6) & 0x3f] : '=');
    out->push_back(n > 2 ? kAlphabet[c & 0x3f] : '=');
  }
  out->push_back('"');
}

Status AppendOpaque(const BinaryValue& v, uint8_t field_type, std::string_view data,
                    std::string* out) {
  switch (field_type) {
    case kFieldNewDecimal:
      if (!AppendDecimal(data, out)) {
        return Corrupt(v.doc, data, "opaque DECIMAL with a bad precision, scale, size or digit");
      }
      return Status::Ok();
    case kFieldDate:
    case kFieldTime:
    case kFieldDateTime:
    case kFieldTimestamp:
      if (!AppendTemporal(field_type, data, out)) {
        return Corrupt(v.doc, data,
                       "opaque DATE/TIME/DATETIME/TIMESTAMP that is not 8 bytes or has a "
                       "fraction over 999999");
      }
      return Status::Ok();
    case kFieldVarString: AppendQuoted(data, out); return Status::Ok();
    default: AppendBase64Opaque(field_type, data, out); return Status::Ok();
  }
}

Status AppendScalar(const BinaryValue& v, std::string* out) {
  const std::string_view b = v.bytes;
  static constexpr int kWidth[] = {0, 0, 0, 0, 1, 2, 2, 4, 4, 8, 8, 8};
  if (v.type < std::size(kWidth) && b.size() < static_cast<size_t>(kWidth[v.type])) {
    return Corrupt(v.doc, b, "scalar runs past the end of its container or document");
  }
  switch (v.type) {
    case kLiteral:
      switch (static_cast<uint8_t>(b[0])) {
        case 0: out->append("null"); return Status::Ok();
        case 1: out->append("true"); return Status::Ok();
        case 2: out->append("false"); return Status::Ok();
        default: return Corrupt(v.doc, b, "literal is not 0 (null), 1 (true) or 2 (false)");
      }
    case kInt16: AppendInt(static_cast<int16_t>(LoadLE(b.data(), 2)), out); return Status::Ok();
    case kUint16: AppendInt(LoadLE(b.data(), 2), out); return Status::Ok();
    case kInt32: AppendInt(static_cast<int32_t>(LoadLE(b.data(), 4)), out); return Status::Ok();
    case kUint32: AppendInt(LoadLE(b.data(), 4), out); return Status::Ok();
    case kInt64: AppendInt(static_cast<int64_t>(LoadLE(b.data(), 8)), out); return Status::Ok();
    case kUint64: AppendInt(LoadLE(b.data(), 8), out); return Status::Ok();
    case kDouble: {
      const double d = std::bit_cast<double>(LoadLE(b.data(), 8));
      if (!std::isfinite(d)) return Corrupt(v.doc, b, "double is not finite");
      AppendDouble(d, out);
      return Status::Ok();
    }
    case kString: {
      uint32_t len;
      size_t used;
      if (!ReadVarLength(b, &len, &used)) return Corrupt(v.doc, b, "bad string length");
      if (b.size() - used < len) {
        return Corrupt(v.doc, b, "string of " + std::to_string(len) + " bytes runs past its end");
      }
      AppendQuoted(b.substr(used, len), out);
      return Status::Ok();
    }
    case kOpaque: {
      uint32_t len;
      size_t used;
      if (b.empty() || !ReadVarLength(b.substr(1), &len, &used)) {
        return Corrupt(v.doc, b, "bad opaque field type or length");
      }
      if (b.size() - 1 - used < len) {
        return Corrupt(v.doc, b,
                       "opaque value of " + std::to_string(len) + " bytes runs past its end");
      }
      return AppendOpaque(v, static_cast<uint8_t>(b[0]), b.substr(1 + used, len), out);
    }
    default: {
      char hex[8];
      std::snprintf(hex, sizeof(hex), "0x%02x", v.type);
      return Corrupt(v.doc, b, std::string("unknown type byte ") + hex);
    }
  }
}

// MySQL's inlined_type(): which values live in their value entry.
bool Inlined(uint8_t type, bool large) {
  return type == kLiteral || type == kInt16 || type == kUint16 ||
         (large && (type == kInt32 || type == kUint32));
}

}  // namespace

Status Corrupt(std::string_view doc, std::string_view at, std::string_view what) {
  std::string m = "binary JSON";
  if (at.data() >= doc.data() && at.data() <= doc.data() + doc.size()) {
    m += " at byte " + std::to_string(at.data() - doc.data());
  }
  m += ": ";
  m += what;
  return Status::Corruption(std::move(m));
}

Status ParseContainer(const BinaryValue& v, Container* c) {
  c->object = v.type == kSmallObject || v.type == kLargeObject;
  c->large = v.type == kLargeObject || v.type == kLargeArray;
  c->doc = v.doc;
  const size_t off = c->large ? 4 : 2;
  const char* what = c->object ? "object" : "array";
  if (v.bytes.size() < 2 * off) {
    return Corrupt(v.doc, v.bytes, std::string(what) + " header runs past its end");
  }
  c->count = static_cast<uint32_t>(LoadLE(v.bytes.data(), off));
  const uint64_t size = LoadLE(v.bytes.data() + off, off);
  if (size > v.bytes.size()) {
    return Corrupt(v.doc, v.bytes,
                   std::string(what) + " of " + std::to_string(size) + " bytes has only " +
                       std::to_string(v.bytes.size()) + " bytes left in its container");
  }
  const uint64_t header = 2 * off + uint64_t{c->count} * ((c->object ? off + 2 : 0) + 1 + off);
  if (header > size) {
    return Corrupt(v.doc, v.bytes,
                   std::string(what) + " of " + std::to_string(size) + " bytes cannot hold " +
                       std::to_string(c->count) + " entries");
  }
  c->header_size = static_cast<size_t>(header);
  c->bytes = v.bytes.substr(0, size);
  return Status::Ok();
}

Status ContainerKey(const Container& c, uint32_t i, std::string_view* key) {
  const size_t off = c.large ? 4 : 2;
  const char* entry = c.bytes.data() + 2 * off + size_t{i} * (off + 2);
  const uint64_t key_offset = LoadLE(entry, off);
  const uint64_t key_length = LoadLE(entry + off, 2);
  if (key_offset < c.header_size || key_offset + key_length > c.bytes.size()) {
    return Corrupt(c.doc, std::string_view(entry, off + 2),
                   "key " + std::to_string(i) + " at offset " + std::to_string(key_offset) +
                       " is outside its object's key area");
  }
  *key = c.bytes.substr(key_offset, key_length);
  return Status::Ok();
}

Status ContainerValue(const Container& c, uint32_t i, BinaryValue* value) {
  const size_t off = c.large ? 4 : 2;
  const size_t keys = c.object ? size_t{c.count} * (off + 2) : 0;
  const size_t entry_pos = 2 * off + keys + size_t{i} * (1 + off);
  value->type = static_cast<uint8_t>(c.bytes[entry_pos]);
  value->doc = c.doc;
  if (Inlined(value->type, c.large)) {
    value->bytes = c.bytes.substr(entry_pos + 1, off);
    return Status::Ok();
  }
  const uint64_t value_offset = LoadLE(c.bytes.data() + entry_pos + 1, off);
  if (value_offset < c.header_size || value_offset >= c.bytes.size()) {
    return Corrupt(c.doc, c.bytes.substr(entry_pos),
                   "value " + std::to_string(i) + " at offset " + std::to_string(value_offset) +
                       " is outside its container's value area");
  }
  value->bytes = c.bytes.substr(value_offset);
  return Status::Ok();
}

Status AppendValue(const BinaryValue& v, int depth, size_t max_out, std::string* out) {
  if (!IsContainer(v.type)) return AppendScalar(v, out);
  if (depth >= kMaxDepth) {
    return Corrupt(v.doc, v.bytes, "containers nest deeper than " + std::to_string(kMaxDepth));
  }
  Container c;
  SLUICE_RETURN_IF_ERROR(ParseContainer(v, &c));
  out->push_back(c.object ? '{' : '[');
  for (uint32_t i = 0; i < c.count; ++i) {
    if (out->size() > max_out) {
      return Corrupt(v.doc, v.bytes,
                     "values overlap: the text grows past " + std::to_string(max_out) + " bytes");
    }
    if (i > 0) out->append(", ");
    if (c.object) {
      std::string_view key;
      SLUICE_RETURN_IF_ERROR(ContainerKey(c, i, &key));
      AppendQuoted(key, out);
      out->append(": ");
    }
    BinaryValue child;
    SLUICE_RETURN_IF_ERROR(ContainerValue(c, i, &child));
    SLUICE_RETURN_IF_ERROR(AppendValue(child, depth + 1, max_out, out));
  }
  out->push_back(c.object ? '}' : ']');
  return Status::Ok();
}

void AppendQuoted(std::string_view s, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  size_t run = 0;  // start of the bytes not yet copied
  for (size_t i = 0; i < s.size(); ++i) {
    const uint8_t c = static_cast<uint8_t>(s[i]);
    if (c > 0x1f && c != '"' && c != '\\') continue;
    out->append(s.data() + run, i - run);
    run = i + 1;
    out->push_back('\\');
    switch (c) {
      case '\b': out->push_back('b'); break;
      case '\t': out->push_back('t'); break;
      case '\n': out->push_back('n'); break;
      case '\f': out->push_back('f'); break;
      case '\r': out->push_back('r'); break;
      case '"':
      case '\\': out->push_back(static_cast<char>(c)); break;
      default:
        out->append("u00");
        out->push_back(kHex[c >> 4]);
        out->push_back(kHex[c & 0xf]);
    }
  }
  out->append(s.data() + run, s.size() - run);
  out->push_back('"');
}

}  // namespace json_internal

Status AppendJsonFromBinary(std::string_view bytes, std::string* out) {
  if (bytes.empty()) {
    out->append("null");
    return Status::Ok();
  }
  const size_t old_size = out->size();
  json_internal::BinaryValue v{static_cast<uint8_t>(bytes[0]), bytes.substr(1), bytes};
  Status st =
      json_internal::AppendValue(v, 0, json_internal::MaxOutput(old_size, bytes.size()), out);
  if (!st.ok()) out->resize(old_size);
  return st;
}

}  // namespace sluice::binlog
