#include "broker/binlog/column_value.h"

#include <array>
#include <bit>
#include <cstring>
#include <string>
#include <utility>

#include "broker/binlog/geometry_vector.h"
#include "broker/binlog/json_binary.h"

namespace sluice::binlog {
namespace {

// MariaDB's compressed columns (sql/field.h, MYSQL_TYPE_VARCHAR_COMPRESSED and
// MYSQL_TYPE_BLOB_COMPRESSED). Their metadata is read so that a table map
// that has them still parses; their values are not decoded.
constexpr uint8_t kTypeVarcharCompressed = 140;
constexpr uint8_t kTypeBlobCompressed = 141;

uint64_t LoadLE(const char* p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

uint64_t LoadBE(const char* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

// Sign-extends the low `bits` bits of v.
int64_t SignExtend(uint64_t v, int bits) {
  const int shift = 64 - bits;
  return static_cast<int64_t>(v << shift) >> shift;
}

// STRING columns hide ENUM and SET, and CHAR columns longer than 255 bytes
// fold two length bits into the type byte (MySQL Field_string::
// save_field_metadata: byte0 = real_type ^ ((field_length & 0x300) >> 4)).
uint8_t StringRealType(uint16_t meta) {
  uint8_t byte0 = static_cast<uint8_t>(meta >> 8);
  if ((byte0 & 0x30) != 0x30) byte0 |= 0x30;
  return byte0 == kTypeEnum || byte0 == kTypeSet ? byte0 : static_cast<uint8_t>(kTypeString);
}

// Max length in bytes of a CHAR column (MySQL max_display_length_for_field,
// MariaDB log_event_print_value).
uint32_t CharMaxLength(uint16_t meta) {
  if (meta < 256) return meta;  // servers that wrote the length alone
  return (((meta >> 4) & 0x300) ^ 0x300) + (meta & 0xff);
}

const char* TypeName(uint8_t type) {
  static constexpr std::pair<uint8_t, const char*> kNames[] = {{kTypeDecimal, "DECIMAL(old)"},
                                                               {kTypeTiny, "TINYINT"},
                                                               {kTypeShort, "SMALLINT"},
                                                               {kTypeLong, "INT"},
                                                               {kTypeFloat, "FLOAT"},
                                                               {kTypeDouble, "DOUBLE"},
                                                               {kTypeTimestamp, "TIMESTAMP(old)"},
                                                               {kTypeLongLong, "BIGINT"},
                                                               {kTypeInt24, "MEDIUMINT"},
                                                               {kTypeDate, "DATE"},
                                                               {kTypeTime, "TIME(old)"},
                                                               {kTypeDateTime, "DATETIME(old)"},
                                                               {kTypeYear, "YEAR"},
                                                               {kTypeNewDate, "DATE"},
                                                               {kTypeVarchar, "VARCHAR"},
                                                               {kTypeBit, "BIT"},
                                                               {kTypeTimestamp2, "TIMESTAMP"},
                                                               {kTypeDateTime2, "DATETIME"},
                                                               {kTypeTime2, "TIME"},
                                                               {kTypeVector, "VECTOR"},
                                                               {kTypeJson, "JSON"},
                                                               {kTypeNewDecimal, "DECIMAL"},
                                                               {kTypeEnum, "ENUM"},
                                                               {kTypeSet, "SET"},
                                                               {kTypeTinyBlob, "BLOB"},
                                                               {kTypeMediumBlob, "BLOB"},
                                                               {kTypeLongBlob, "BLOB"},
                                                               {kTypeBlob, "BLOB"},
                                                               {kTypeVarString, "VAR_STRING"},
                                                               {kTypeString, "CHAR"},
                                                               {kTypeGeometry, "GEOMETRY"}};
  for (const auto& [t, name] : kNames) {
    if (t == type) return name;
  }
  return "column";
}

Status Short(uint8_t type, size_t need, size_t left) {
  return Status::Corruption(std::string(TypeName(type)) + " value needs " + std::to_string(need) +
                            " bytes, " + std::to_string(left) + " left");
}

Status Bad(uint8_t type, std::string_view what) {
  return Status::Corruption(std::string(TypeName(type)) + " value " + std::string(what));
}

Status Unsupported(uint8_t type) {
  return Status::Corruption("unsupported column type " + std::to_string(type));
}

// ---- digits ---------------------------------------------------------------

// Writes v as exactly `width` digits (the caller knows v < 10^width).
char* PutFixed(char* p, uint32_t v, int width) {
  for (int i = width - 1; i >= 0; --i) {
    p[i] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
  return p + width;
}

// Writes v in decimal with at least `width` digits.
char* PutMin(char* p, uint64_t v, int width) {
  int digits = 1;
  for (uint64_t t = v; t >= 10; t /= 10) ++digits;
  if (digits < width) digits = width;
  for (int i = digits - 1; i >= 0; --i) {
    p[i] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
  return p + digits;
}

// ".ffffff" cut to fsp digits; nothing when fsp is 0.
char* PutFraction(char* p, uint32_t usec, unsigned fsp) {
  if (fsp == 0) return p;
  *p++ = '.';
  char six[6];
  PutFixed(six, usec, 6);
  std::memcpy(p, six, fsp);
  return p + fsp;
}

// "00" .. "99": dates and clocks are mostly two-digit fields.
constexpr auto kTwoDigits = [] {
  std::array<char, 200> t{};
  for (int i = 0; i < 100; ++i) {
    t[2 * i] = static_cast<char>('0' + i / 10);
    t[2 * i + 1] = static_cast<char>('0' + i % 10);
  }
  return t;
}();

// PutMin(p, v, 2), with a table for the common v < 100.
char* Put2(char* p, uint64_t v) {
  if (v >= 100) return PutMin(p, v, 2);
  std::memcpy(p, &kTwoDigits[2 * v], 2);
  return p + 2;
}

char* PutDate(char* p, uint64_t year, uint32_t month, uint32_t day) {
  if (year < 10000) {
    p = Put2(p, year / 100);
    p = Put2(p, year % 100);
  } else {
    p = PutMin(p, year, 4);
  }
  *p++ = '-';
  p = Put2(p, month);
  *p++ = '-';
  return Put2(p, day);
}

char* PutClock(char* p, uint64_t hour, uint32_t minute, uint32_t second) {
  p = Put2(p, hour);
  *p++ = ':';
  p = Put2(p, minute);
  *p++ = ':';
  return Put2(p, second);
}

void SetText(const char* begin, const char* end, proto::Value* value) {
  value->mutable_text()->assign(begin, static_cast<size_t>(end - begin));
}

// Proleptic Gregorian date of a day count since 1970-01-01 (the "days from
// civil" inverse, era-based so that it needs no tables and no time zone).
void CivilFromDays(int64_t z, int64_t* year, uint32_t* month, uint32_t* day) {
  z += 719468;  // days from 0000-03-01 to 1970-01-01
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;                                       // [0, 146096]
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;  // [0, 399]
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);                // [0, 365]
  const int64_t mp = (5 * doy + 2) / 153;                                     // March = 0
  *day = static_cast<uint32_t>(doy - (153 * mp + 2) / 5 + 1);
  *month = static_cast<uint32_t>(mp < 10 ? mp + 3 : mp - 9);
  *year = yoe + era * 400 + (*month <= 2 ? 1 : 0);
}

// "YYYY-MM-DD HH:MM:SS[.f]" in UTC of unix seconds; 0 is MySQL's zero value.
void SetUnixTime(uint32_t seconds, uint32_t usec, unsigned fsp, proto::Value* value) {
  char buf[40];
  char* p = buf;
  if (seconds == 0) {
    static constexpr std::string_view kZero = "0000-00-00 00:00:00";
    std::memcpy(p, kZero.data(), kZero.size());
    p += kZero.size();
    usec = 0;
  } else {
    int64_t year;
    uint32_t month, day;
    CivilFromDays(seconds / 86400, &year, &month, &day);
    const uint32_t sod = seconds % 86400;
    p = PutDate(p, static_cast<uint64_t>(year), month, day);
    *p++ = ' ';
    p = PutClock(p, sod / 3600, sod / 60 % 60, sod % 60);
  }
  p = PutFraction(p, usec, fsp);
  SetText(buf, p, value);
}

// ---- numbers ----------------------------------------------------------------

Status DecodeInt(const ColumnType& col, int n, std::string_view* in, proto::Value* value) {
  if (in->size() < static_cast<size_t>(n)) return Short(col.type, n, in->size());
  const uint64_t u = LoadLE(in->data(), n);
  in->remove_prefix(n);
  if (col.is_unsigned) {
    value->set_uint64(u);
  } else {
    value->set_int64(SignExtend(u, 8 * n));
  }
  return Status::Ok();
}

// DECIMAL(p,s) in MySQL's decimal2bin form (strings/decimal.cc): the integer
// digits, then the fraction digits, each cut into groups of nine digits
// stored as 4-byte big-endian words; the integer part's leftmost leftover
// digits and the fraction's rightmost leftover digits take kDigitBytes[n]
// bytes. Negative values have every byte inverted; then the first byte's top
// bit is flipped so that the bytes sort like the numbers.
constexpr int kDigitBytes[10] = {0, 1, 1, 2, 2, 3, 3, 4, 4, 4};
constexpr uint32_t kPow10[10] = {1,      10,      100,      1000,      10000,
                                 100000, 1000000, 10000000, 100000000, 1000000000};

Status DecodeNewDecimal(uint16_t meta, std::string_view* in, proto::Value* value) {
  const int precision = meta >> 8;
  const int scale = meta & 0xff;
  if (precision == 0 || precision > 65 || scale > 30 || scale > precision) {
    return Status::Corruption("DECIMAL column has impossible precision " +
                              std::to_string(precision) + " and scale " + std::to_string(scale));
  }
  const int intg = precision - scale;
  const int intg_words = intg / 9, intg_lead = intg % 9;
  const int frac_words = scale / 9, frac_tail = scale % 9;
  const size_t size = static_cast<size_t>(intg_words) * 4 + kDigitBytes[intg_lead] +
                      static_cast<size_t>(frac_words) * 4 + kDigitBytes[frac_tail];
  if (in->size() < size) return Short(kTypeNewDecimal, size, in->size());

  char bytes[40];  // at most 8 words + 2 leftover groups = 32 + 8
  std::memcpy(bytes, in->data(), size);
  const bool negative = (bytes[0] & 0x80) == 0;
  bytes[0] = static_cast<char>(bytes[0] ^ 0x80);
  if (negative) {
    for (size_t i = 0; i < size; ++i) bytes[i] = static_cast<char>(~bytes[i]);
  }

  char out[80];  // '-', up to 65 digits, '0', '.'
  char* p = out + 1;
  const char* b = bytes;
  bool nonzero = false;
  bool started = false;  // a nonzero integer digit was written
  // Reads the next group of `digits` digits; false when it holds more.
  auto group = [&](int digits, uint32_t* v) {
    *v = static_cast<uint32_t>(LoadBE(b, kDigitBytes[digits]));
    b += kDigitBytes[digits];
    return *v < kPow10[digits];
  };
  uint32_t v;
  if (intg_lead > 0) {
    if (!group(intg_lead, &v)) return Bad(kTypeNewDecimal, "has a digit group out of range");
    if (v != 0) {
      p = PutMin(p, v, 1);
      started = nonzero = true;
    }
  }
  for (int i = 0; i < intg_words; ++i) {
    if (!group(9, &v)) return Bad(kTypeNewDecimal, "has a digit group out of range");
    if (started) {
      p = PutFixed(p, v, 9);
    } else if (v != 0) {
      p = PutMin(p, v, 1);
      started = nonzero = true;
    }
  }
  if (!started) *p++ = '0';
  if (scale > 0) {
    *p++ = '.';
    for (int i = 0; i < frac_words; ++i) {
      if (!group(9, &v)) return Bad(kTypeNewDecimal, "has a digit group out of range");
      nonzero |= v != 0;
      p = PutFixed(p, v, 9);
    }
    if (frac_tail > 0) {
      if (!group(frac_tail, &v)) return Bad(kTypeNewDecimal, "has a digit group out of range");
      nonzero |= v != 0;
      p = PutFixed(p, v, frac_tail);
    }
  }
  // decimal2bin writes zero as positive; a "negative zero" prints as zero.
  char* begin = out + 1;
  if (negative && nonzero) *--begin = '-';
  in->remove_prefix(size);
  value->mutable_decimal()->assign(begin, static_cast<size_t>(p - begin));
  return Status::Ok();
}

// ---- temporal -----------------------------------------------------------------

// Fraction of TIME2/DATETIME2/TIMESTAMP2 (MySQL my_time.cc): fsp 1-2 one byte
// of hundredths, 3-4 two bytes of 1/10000 s, 5-6 three bytes of microseconds,
// all big-endian; signed except TIMESTAMP2's one-byte form.
int64_t FractionFromBinary(const char* p, unsigned fsp) {
  switch (fsp) {
    case 1:
    case 2: return static_cast<int64_t>(static_cast<int8_t>(p[0])) * 10000;
    case 3:
    case 4: return SignExtend(LoadBE(p, 2), 16) * 100;
    case 5:
    case 6: return SignExtend(LoadBE(p, 3), 24);
    default: return 0;
  }
}

Status DecodeTemporal2(uint8_t type, uint16_t meta, std::string_view* in, proto::Value* value) {
  const unsigned fsp = meta;
  if (fsp > 6) {
    return Status::Corruption(std::string(TypeName(type)) + " column has fractional precision " +
                              std::to_string(fsp) + " (0..6 allowed)");
  }
  const size_t frac_bytes = (fsp + 1) / 2;
  const size_t int_bytes = type == kTypeTime2 ? 3 : type == kTypeDateTime2 ? 5 : 4;
  const size_t size = int_bytes + frac_bytes;
  if (in->size() < size) return Short(type, size, in->size());
  const char* p = in->data();
  char buf[48];
  char* o = buf;

  if (type == kTypeTimestamp2) {
    // 4-byte big-endian unix seconds, then the fraction.
    const uint32_t seconds = static_cast<uint32_t>(LoadBE(p, 4));
    // Unlike TIME2 and DATETIME2, the one-byte fraction is unsigned here
    // (my_timestamp_from_binary).
    int64_t usec = 0;
    if (fsp == 1 || fsp == 2) {
      usec = static_cast<int64_t>(static_cast<uint8_t>(p[4])) * 10000;
    } else if (fsp > 2) {
      usec = FractionFromBinary(p + 4, fsp);
    }
    if (usec < 0 || usec > 999999) return Bad(type, "has a fraction out of range");
    in->remove_prefix(size);
    SetUnixTime(seconds, static_cast<uint32_t>(usec), fsp, value);
    return Status::Ok();
  }

  if (type == kTypeDateTime2) {
    // 40 bits big-endian, offset by 2^39: year*13+month (17 bits), day (5),
    // hour (5), minute (6), second (6); then the fraction.
    const int64_t packed = static_cast<int64_t>(LoadBE(p, 5)) - 0x8000000000LL;
    const int64_t usec = FractionFromBinary(p + 5, fsp);
    if (packed < 0) return Bad(type, "is negative");
    if (usec < 0 || usec > 999999) return Bad(type, "has a fraction out of range");
    const uint64_t ymd = static_cast<uint64_t>(packed) >> 17;
    const uint32_t hms = static_cast<uint32_t>(packed) & 0x1ffff;
    const uint64_t ym = ymd >> 5;
    o = PutDate(o, ym / 13, static_cast<uint32_t>(ym % 13), static_cast<uint32_t>(ymd & 31));
    *o++ = ' ';
    o = PutClock(o, hms >> 12, (hms >> 6) & 63, hms & 63);
    o = PutFraction(o, static_cast<uint32_t>(usec), fsp);
    in->remove_prefix(size);
    SetText(buf, o, value);
    return Status::Ok();
  }

  // TIME2: 24 bits big-endian offset by 2^23 (sign, 1 unused bit, hour 10,
  // minute 6, second 6), then the fraction. Negative values store the
  // fraction counted down from the next whole second (my_time.cc,
  // my_time_packed_from_binary), so -00:00:00.01 is 7FFFFF.FF at fsp 2.
  // The packed form is (int_part << 24) + microseconds, signed.
  int64_t packed;
  if (fsp >= 5) {
    packed = static_cast<int64_t>(LoadBE(p, 6)) - 0x800000000000LL;
  } else {
    int64_t int_part = static_cast<int64_t>(LoadBE(p, 3)) - 0x800000;
    int64_t frac = 0;
    if (fsp >= 1) {
      const int frac_width = fsp <= 2 ? 1 : 2;
      frac = static_cast<int64_t>(LoadBE(p + 3, frac_width));
      if (int_part < 0 && frac != 0) {
        ++int_part;
        frac -= frac_width == 1 ? 0x100 : 0x10000;
      }
      frac *= fsp <= 2 ? 10000 : 100;
    }
    packed = int_part * (int64_t{1} << 24) + frac;
  }
  const bool negative = packed < 0;
  const uint64_t abs = negative ? 0 - static_cast<uint64_t>(packed) : static_cast<uint64_t>(packed);
  const uint64_t usec = abs & 0xffffff;
  const uint64_t hms = abs >> 24;
  if (usec > 999999) return Bad(type, "has a fraction out of range");
  if (negative) *o++ = '-';
  o = PutClock(o, (hms >> 12) & 1023, static_cast<uint32_t>((hms >> 6) & 63),
               static_cast<uint32_t>(hms & 63));
  o = PutFraction(o, static_cast<uint32_t>(usec), fsp);
  in->remove_prefix(size);
  SetText(buf, o, value);
  return Status::Ok();
}

Status DecodeOldTemporal(uint8_t type, std::string_view* in, proto::Value* value) {
  const size_t size = type == kTypeDateTime ? 8 : type == kTypeTimestamp ? 4 : 3;
  if (in->size() < size) return Short(type, size, in->size());
  const char* p = in->data();
  char buf[48];
  char* o = buf;
  switch (type) {
    case kTypeDate:
    case kTypeNewDate: {
      // 3 bytes little-endian: day (5 bits), month (4), year (15).
      const uint32_t v = static_cast<uint32_t>(LoadLE(p, 3));
      o = PutDate(o, v >> 9, (v >> 5) & 15, v & 31);
      break;
    }
    case kTypeTime: {
      // 3-byte signed little-endian integer [-]HHMMSS.
      const int64_t v = SignExtend(LoadLE(p, 3), 24);
      const uint64_t a = static_cast<uint64_t>(v < 0 ? -v : v);
      if (v < 0) *o++ = '-';
      o = PutClock(o, a / 10000, static_cast<uint32_t>(a / 100 % 100),
                   static_cast<uint32_t>(a % 100));
      break;
    }
    case kTypeDateTime: {
      // 8-byte little-endian integer YYYYMMDDhhmmss.
      const uint64_t v = LoadLE(p, 8);
      const uint64_t d = v / 1000000, t = v % 1000000;
      o = PutDate(o, d / 10000, static_cast<uint32_t>(d / 100 % 100),
                  static_cast<uint32_t>(d % 100));
      *o++ = ' ';
      o = PutClock(o, t / 10000, static_cast<uint32_t>(t / 100 % 100),
                   static_cast<uint32_t>(t % 100));
      break;
    }
    default:  // kTypeTimestamp: 4-byte little-endian unix seconds.
      in->remove_prefix(size);
      SetUnixTime(static_cast<uint32_t>(LoadLE(p, 4)), 0, 0, value);
      return Status::Ok();
  }
  in->remove_prefix(size);
  SetText(buf, o, value);
  return Status::Ok();
}

// ---- strings -----------------------------------------------------------------

bool IsLatin1(uint32_t collation) {
  switch (collation) {
    case 5:
    case 8:
    case 15:
    case 31:
    case 47:
    case 48:
    case 49:
    case 94:
    case 1032:
    case 1071:  // MariaDB latin1_swedish_nopad_ci, latin1_nopad_bin
      return true;
    default: return false;
  }
}

// MySQL's latin1 is cp1252 (strings/ctype-latin1.cc, cs_to_uni): 0x80-0x9F
// are cp1252's letters, and its five holes map to the C1 controls.
constexpr uint16_t kCp1252High[32] = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178};

void Latin1ToUtf8(std::string_view bytes, std::string* out) {
  size_t ascii = 0;
  while (ascii < bytes.size() && static_cast<uint8_t>(bytes[ascii]) < 0x80) ++ascii;
  if (ascii == bytes.size()) {
    out->assign(bytes.data(), bytes.size());
    return;
  }
  out->resize(ascii + 3 * (bytes.size() - ascii));  // at most 3 UTF-8 bytes a char
  char* o = out->data() + ascii;
  std::memcpy(out->data(), bytes.data(), ascii);
  for (size_t i = ascii; i < bytes.size(); ++i) {
    const uint8_t c = static_cast<uint8_t>(bytes[i]);
    const uint32_t cp = c >= 0x80 && c < 0xA0 ? kCp1252High[c - 0x80] : c;
    if (cp < 0x80) {
      *o++ = static_cast<char>(cp);
    } else if (cp < 0x800) {
      *o++ = static_cast<char>(0xC0 | (cp >> 6));
      *o++ = static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      *o++ = static_cast<char>(0xE0 | (cp >> 12));
      *o++ = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      *o++ = static_cast<char>(0x80 | (cp & 0x3F));
    }
  }
  out->resize(static_cast<size_t>(o - out->data()));
}

// Character columns are text unless their collation is binary; with no
// collation known, CHAR/VARCHAR are taken as text and BLOBs as bytes.
void SetString(const ColumnType& col, bool blob_family, std::string_view bytes,
               proto::Value* value) {
  if (col.collation == kBinaryCollation || (col.collation == 0 && blob_family)) {
    value->mutable_binary()->assign(bytes.data(), bytes.size());
  } else if (IsLatin1(col.collation)) {
    Latin1ToUtf8(bytes, value->mutable_text());
  } else {
    value->mutable_text()->assign(bytes.data(), bytes.size());
  }
}

// Reads a `prefix`-byte little-endian length, then that many bytes.
Status ReadPrefixed(uint8_t type, int prefix, std::string_view* in, std::string_view* bytes) {
  if (in->size() < static_cast<size_t>(prefix)) return Short(type, prefix, in->size());
  const uint64_t length = LoadLE(in->data(), prefix);
  const size_t left = in->size() - prefix;
  if (left < length) {
    return Status::Corruption(std::string(TypeName(type)) + " value needs " +
                              std::to_string(prefix + length) + " bytes, " +
                              std::to_string(in->size()) + " left");
  }
  *bytes = in->substr(prefix, length);
  in->remove_prefix(prefix + length);
  return Status::Ok();
}

// Pack length of a BLOB-like column: the table map's metadata (1..4).
Status PackLength(uint8_t type, uint16_t meta, int* prefix) {
  if (meta >= 1 && meta <= 4) {
    *prefix = meta;
    return Status::Ok();
  }
  return Status::Corruption(std::string(TypeName(type)) + " column has length-prefix size " +
                            std::to_string(meta) + " (1..4 allowed)");
}

Status DecodeEnumSet(const ColumnType& col, uint8_t real_type, std::string_view* in,
                     proto::Value* value) {
  const size_t size = col.meta & 0xff;
  if (real_type == kTypeEnum ? size != 1 && size != 2 : size < 1 || size > 8) {
    return Status::Corruption(std::string(TypeName(real_type)) + " column has pack length " +
                              std::to_string(size));
  }
  if (in->size() < size) return Short(real_type, size, in->size());
  const uint64_t v = LoadLE(in->data(), static_cast<int>(size));
  const std::vector<std::string>* labels = col.labels;
  if (labels == nullptr || labels->empty()) {
    in->remove_prefix(size);
    value->set_enum_index(v);
    return Status::Ok();
  }
  const size_t n = labels->size();
  if (real_type == kTypeEnum) {
    if (v > n) {
      return Status::Corruption("ENUM value " + std::to_string(v) + " is out of range of " +
                                std::to_string(n) + " labels");
    }
    in->remove_prefix(size);
    // Index 0 is the '' MySQL stores for an invalid value.
    if (v == 0) {
      value->mutable_enum_label()->clear();
    } else {
      const std::string& label = (*labels)[v - 1];
      value->mutable_enum_label()->assign(label);
    }
    return Status::Ok();
  }
  if (n < 64 && (v >> n) != 0) {
    return Status::Corruption("SET value " + std::to_string(v) + " has bits beyond its " +
                              std::to_string(n) + " labels");
  }
  in->remove_prefix(size);
  std::string* out = value->mutable_enum_label();
  out->clear();
  for (uint64_t bits = v; bits != 0; bits &= bits - 1) {
    if (!out->empty()) out->push_back(',');
    out->append((*labels)[std::countr_zero(bits)]);
  }
  return Status::Ok();
}

}  // namespace

Status ReadColumnMeta(uint8_t type, std::string_view* in, uint16_t* meta) {
  int size;
  switch (type) {
    case kTypeDecimal:
    case kTypeTiny:
    case kTypeShort:
    case kTypeLong:
    case kTypeNull:
    case kTypeTimestamp:
    case kTypeLongLong:
    case kTypeInt24:
    case kTypeDate:
    case kTypeTime:
    case kTypeDateTime:
    case kTypeYear:
    case kTypeNewDate: *meta = 0; return Status::Ok();
    case kTypeFloat:
    case kTypeDouble:
    case kTypeTimestamp2:
    case kTypeDateTime2:
    case kTypeTime2:
    case kTypeVector:
    case kTypeJson:
    case kTypeTinyBlob:
    case kTypeMediumBlob:
    case kTypeLongBlob:
    case kTypeBlob:
    case kTypeGeometry:
    case kTypeBlobCompressed: size = 1; break;
    case kTypeVarchar:
    case kTypeVarString:
    case kTypeVarcharCompressed:
    case kTypeBit:
    case kTypeNewDecimal:
    case kTypeEnum:
    case kTypeSet:
    case kTypeString: size = 2; break;
    default:
      return Status::Corruption("unsupported column type " + std::to_string(type) +
                                " in table map");
  }
  if (in->size() < static_cast<size_t>(size)) {
    return Status::Corruption(std::string(TypeName(type)) + " column metadata needs " +
                              std::to_string(size) + " bytes, " + std::to_string(in->size()) +
                              " left");
  }
  const uint8_t b0 = static_cast<uint8_t>((*in)[0]);
  if (size == 1) {
    *meta = b0;
  } else {
    const uint8_t b1 = static_cast<uint8_t>((*in)[1]);
    switch (type) {
      case kTypeNewDecimal:
      case kTypeEnum:
      case kTypeSet:
      case kTypeString:
        *meta = static_cast<uint16_t>(b0 << 8 | b1);  // stored high byte first
        break;
      default:
        *meta = static_cast<uint16_t>(b1 << 8 | b0);  // little-endian
        break;
    }
  }
  in->remove_prefix(size);
  return Status::Ok();
}

void ResolveRealType(ColumnType* col) {
  col->real_type = col->type == kTypeString ? StringRealType(col->meta) : col->type;
}

Status DecodeColumnValue(const ColumnType& col, std::string_view* in, proto::Value* value) {
  switch (col.type) {
    case kTypeTiny: return DecodeInt(col, 1, in, value);
    case kTypeShort: return DecodeInt(col, 2, in, value);
    case kTypeInt24: return DecodeInt(col, 3, in, value);
    case kTypeLong: return DecodeInt(col, 4, in, value);
    case kTypeLongLong: return DecodeInt(col, 8, in, value);
    case kTypeFloat: {
      if (in->size() < 4) return Short(col.type, 4, in->size());
      const auto bits = static_cast<uint32_t>(LoadLE(in->data(), 4));
      in->remove_prefix(4);
      value->set_float64(std::bit_cast<float>(bits));
      return Status::Ok();
    }
    case kTypeDouble: {
      if (in->size() < 8) return Short(col.type, 8, in->size());
      const uint64_t bits = LoadLE(in->data(), 8);
      in->remove_prefix(8);
      value->set_float64(std::bit_cast<double>(bits));
      return Status::Ok();
    }
    case kTypeNewDecimal: return DecodeNewDecimal(col.meta, in, value);
    case kTypeDecimal: return Status::Corruption("unsupported pre-5.0 DECIMAL");
    case kTypeYear: {
      if (in->empty()) return Short(col.type, 1, 0);
      const uint8_t y = static_cast<uint8_t>((*in)[0]);
      in->remove_prefix(1);
      value->set_int64(y == 0 ? 0 : 1900 + y);
      return Status::Ok();
    }
    case kTypeDate:
    case kTypeNewDate:
    case kTypeTime:
    case kTypeDateTime:
    case kTypeTimestamp: return DecodeOldTemporal(col.type, in, value);
    case kTypeTime2:
    case kTypeDateTime2:
    case kTypeTimestamp2: return DecodeTemporal2(col.type, col.meta, in, value);
    case kTypeVarchar:
    case kTypeVarString: {
      std::string_view bytes;
      SLUICE_RETURN_IF_ERROR(ReadPrefixed(col.type, col.meta < 256 ? 1 : 2, in, &bytes));
      SetString(col, /*blob_family=*/false, bytes, value);
      return Status::Ok();
    }
    case kTypeString:
    case kTypeEnum:
    case kTypeSet: {
      const uint8_t real_type = col.type == kTypeString ? StringRealType(col.meta) : col.type;
      if (real_type != kTypeString) return DecodeEnumSet(col, real_type, in, value);
      const uint32_t max_length = CharMaxLength(col.meta);
      std::string_view bytes;
      SLUICE_RETURN_IF_ERROR(ReadPrefixed(col.type, max_length < 256 ? 1 : 2, in, &bytes));
      if (col.collation == kBinaryCollation && bytes.size() < max_length) {
        // BINARY(n) is binlogged without its trailing 0x00 pad (Field_string::
        // pack); the column's value has them.
        std::string* out = value->mutable_binary();
        out->assign(bytes.data(), bytes.size());
        out->resize(max_length, '\0');
        return Status::Ok();
      }
      SetString(col, /*blob_family=*/false, bytes, value);
      return Status::Ok();
    }
    case kTypeBlob:
    case kTypeTinyBlob:
    case kTypeMediumBlob:
    case kTypeLongBlob:
    case kTypeJson:
    case kTypeGeometry:
    case kTypeVector: {
      int prefix = 0;
      SLUICE_RETURN_IF_ERROR(PackLength(col.type, col.meta, &prefix));
      std::string_view rest = *in;  // *in moves only on success
      std::string_view bytes;
      SLUICE_RETURN_IF_ERROR(ReadPrefixed(col.type, prefix, &rest, &bytes));
      if (col.type == kTypeJson) {
        std::string* out = value->mutable_json();
        out->clear();
        Status st = AppendJsonFromBinary(bytes, out);
        if (!st.ok()) return st.WithContext("JSON value");
      } else if (col.type == kTypeGeometry) {
        SLUICE_RETURN_IF_ERROR(DecodeGeometry(bytes, value));
      } else if (col.type == kTypeVector) {
        // The length prefix is the metadata's size, as for BLOBs
        // (libs/mysql/binlog/event/binary_log_funcs.cpp calc_field_size).
        SLUICE_RETURN_IF_ERROR(DecodeVector(bytes, value));
      } else {
        SetString(col, /*blob_family=*/true, bytes, value);
      }
      *in = rest;
      return Status::Ok();
    }
    case kTypeBit: {
      // meta = (whole bytes << 8) | leftover bits; big-endian value.
      const unsigned bits = col.meta & 0xff, whole = col.meta >> 8;
      const size_t size = whole + (bits != 0 ? 1 : 0);
      if (bits > 7 || size == 0 || size > 8) {
        return Status::Corruption("BIT column has impossible width " +
                                  std::to_string(whole * 8 + bits));
      }
      if (in->size() < size) return Short(col.type, size, in->size());
      value->set_uint64(LoadBE(in->data(), static_cast<int>(size)));
      in->remove_prefix(size);
      return Status::Ok();
    }
    default: return Unsupported(col.type);
  }
}

}  // namespace sluice::binlog
