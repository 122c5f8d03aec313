#include "broker/kafka/debezium.h"

#include <charconv>
#include <cstdint>
#include <optional>

#include "proto/record_json.h"

namespace sluice::kafka {
namespace {

// enum_field_types of the temporal columns (the table map's real types).
constexpr uint32_t kTimestamp = 7, kDate = 10, kTime = 11, kDatetime = 12, kNewDate = 14,
                   kTimestamp2 = 17, kDatetime2 = 18, kTime2 = 19;

void AppendNull(std::string* out) { out->append("null"); }

void AppendInt(int64_t v, std::string* out) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, r.ptr);
}

// Reads `n` digits at s[*i]; nullopt when they are not there.
std::optional<int64_t> Digits(std::string_view s, size_t* i, size_t n) {
  if (*i + n > s.size()) return std::nullopt;
  int64_t v = 0;
  for (size_t k = 0; k < n; ++k) {
    const char c = s[*i + k];
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  *i += n;
  return v;
}

bool Expect(std::string_view s, size_t* i, char c) {
  if (*i >= s.size() || s[*i] != c) return false;
  ++*i;
  return true;
}

// "YYYY-MM-DD": days since the epoch; nullopt for a zero or invalid date
// (Debezium gives those as null).
std::optional<int64_t> DateDays(std::string_view s, size_t* i) {
  auto y = Digits(s, i, 4);
  if (!y || !Expect(s, i, '-')) return std::nullopt;
  auto m = Digits(s, i, 2);
  if (!m || !Expect(s, i, '-')) return std::nullopt;
  auto d = Digits(s, i, 2);
  if (!d || *m < 1 || *m > 12 || *d < 1 || *d > 31) return std::nullopt;
  return DaysFromCivil(*y, static_cast<unsigned>(*m), static_cast<unsigned>(*d));
}

// ".ffffff" (optional): the fraction as microseconds, and its digits.
bool Fraction(std::string_view s, size_t* i, int64_t* micros, size_t* digits) {
  *micros = 0;
  *digits = 0;
  if (*i >= s.size()) return true;
  if (!Expect(s, i, '.')) return false;
  while (*i < s.size() && *digits < 6 && s[*i] >= '0' && s[*i] <= '9') {
    *micros = *micros * 10 + (s[*i] - '0');
    ++*i;
    ++*digits;
  }
  for (size_t k = *digits; k < 6; ++k) *micros *= 10;
  return *i == s.size() && *digits > 0;
}

// "YYYY-MM-DD HH:MM:SS[.f]": microseconds since the epoch (as UTC) and
// the fraction's digits.
std::optional<int64_t> DatetimeMicros(std::string_view s, size_t* digits) {
  size_t i = 0;
  auto days = DateDays(s, &i);
  if (!days || !Expect(s, &i, ' ')) return std::nullopt;
  auto h = Digits(s, &i, 2);
  if (!h || !Expect(s, &i, ':')) return std::nullopt;
  auto mi = Digits(s, &i, 2);
  if (!mi || !Expect(s, &i, ':')) return std::nullopt;
  auto sec = Digits(s, &i, 2);
  int64_t micros = 0;
  if (!sec || !Fraction(s, &i, &micros, digits)) return std::nullopt;
  return ((*days * 24 + *h) * 60 + *mi) * 60'000'000 + *sec * 1'000'000 + micros;
}

// "[-]H+:MM:SS[.f]": microseconds.
std::optional<int64_t> TimeMicros(std::string_view s) {
  size_t i = 0;
  const bool negative = Expect(s, &i, '-');
  int64_t h = 0;
  size_t hd = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9' && hd < 4) {
    h = h * 10 + (s[i++] - '0');
    ++hd;
  }
  if (hd == 0 || !Expect(s, &i, ':')) return std::nullopt;
  auto m = Digits(s, &i, 2);
  if (!m || !Expect(s, &i, ':')) return std::nullopt;
  auto sec = Digits(s, &i, 2);
  int64_t micros = 0;
  size_t digits = 0;
  if (!sec || !Fraction(s, &i, &micros, &digits)) return std::nullopt;
  const int64_t v = ((h * 60 + *m) * 60 + *sec) * 1'000'000 + micros;
  return negative ? -v : v;
}

void AppendColumn(const proto::Column& c, std::string* out) {
  const proto::Value& v = c.value();
  if (v.kind_case() == proto::Value::kText) {
    const std::string_view s = v.text();
    switch (c.mysql_type()) {
      case kDate:
      case kNewDate: {
        size_t i = 0;
        auto days = DateDays(s, &i);
        if (days && i == s.size()) return AppendInt(*days, out);
        return AppendNull(out);
      }
      case kDatetime:
      case kDatetime2: {
        size_t digits = 0;
        auto us = DatetimeMicros(s, &digits);
        if (!us) return AppendNull(out);
        return AppendInt(digits <= 3 ? *us / 1000 : *us, out);  // Timestamp / MicroTimestamp
      }
      case kTimestamp:
      case kTimestamp2: {
        size_t digits = 0;
        if (!DatetimeMicros(s, &digits)) return AppendNull(out);
        // ZonedTimestamp: ISO-8601 in UTC, the fraction without its
        // trailing zeros (Java's ISO_OFFSET_DATE_TIME).
        std::string iso(s);
        iso[10] = 'T';
        while (iso.find('.') != std::string::npos && (iso.back() == '0' || iso.back() == '.')) {
          const bool dot = iso.back() == '.';
          iso.pop_back();
          if (dot) break;
        }
        iso += 'Z';
        return AppendJsonString(iso, out);
      }
      case kTime:
      case kTime2: {
        auto us = TimeMicros(s);
        if (!us) return AppendNull(out);
        return AppendInt(*us, out);  // MicroTime
      }
      default: break;
    }
  }
  if (v.kind_case() == proto::Value::kJson) {
    // io.debezium.data.Json: the document as a string.
    if (v.json().empty()) return AppendNull(out);
    return AppendJsonString(v.json(), out);
  }
  AppendColumnValueJson(c, out);
}

void AppendImage(const google::protobuf::RepeatedPtrField<proto::Column>& cols, std::string* out) {
  out->push_back('{');
  bool first = true;
  for (const auto& c : cols) {
    if (!first) out->push_back(',');
    first = false;
    if (c.name().empty()) {
      AppendJsonString("@" + std::to_string(c.index() + 1), out);
    } else {
      AppendJsonString(c.name(), out);
    }
    out->push_back(':');
    AppendColumn(c, out);
  }
  out->push_back('}');
}

}  // namespace

int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  // Eras of 400 years (146097 days) from 0000-03-01, March-based months so
  // that the leap day ends a year.
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool AppendDebeziumValue(const proto::ChangeRecord& r, std::string_view dest, std::string* out) {
  const char* op = nullptr;
  switch (r.op()) {
    case proto::OP_INSERT: op = "c"; break;
    case proto::OP_UPDATE: op = "u"; break;
    case proto::OP_DELETE: op = "d"; break;
    case proto::OP_READ: op = "r"; break;
    default: return false;
  }
  const bool has_before = r.op() == proto::OP_UPDATE || r.op() == proto::OP_DELETE;
  const bool has_after = r.op() != proto::OP_DELETE;
  out->append("{\"before\":");
  if (has_before) {
    AppendImage(r.before(), out);
  } else {
    out->append("null");
  }
  out->append(",\"after\":");
  if (has_after) {
    AppendImage(r.after(), out);
  } else {
    out->append("null");
  }
  const int64_t ts_ms = static_cast<int64_t>(r.ts()) * 1000;
  out->append(",\"source\":{\"version\":\"sluice\",\"connector\":\"mysql\",\"name\":");
  AppendJsonString(dest, out);
  out->append(",\"ts_ms\":");
  AppendInt(ts_ms, out);
  out->append(r.op() == proto::OP_READ ? ",\"snapshot\":\"true\"" : ",\"snapshot\":\"false\"");
  out->append(",\"db\":");
  AppendJsonString(r.db(), out);
  out->append(",\"sequence\":null,\"table\":");
  AppendJsonString(r.table(), out);
  out->append(",\"server_id\":0,\"gtid\":");
  if (r.gtid().empty()) {
    out->append("null");
  } else {
    AppendJsonString(r.gtid(), out);
  }
  out->append(",\"file\":");
  AppendJsonString(r.pos().file(), out);
  out->append(",\"pos\":");
  AppendInt(static_cast<int64_t>(r.pos().pos()), out);
  out->append(",\"row\":0,\"thread\":null,\"query\":null},\"op\":\"");
  out->append(op);
  out->append("\",\"ts_ms\":");
  AppendInt(ts_ms, out);
  out->append(",\"transaction\":null}");
  return true;
}

}  // namespace sluice::kafka
