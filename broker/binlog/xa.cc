#include "broker/binlog/xa.h"

#include <cctype>

#include "broker/binlog/event.h"

namespace sluice::binlog {
namespace {

// gtrid/bqual are at most 64 bytes each (XIDDATASIZE 128 in all).
constexpr uint32_t kMaxXidPart = 64;

void AppendHex(std::string_view bytes, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (unsigned char c : bytes) {
    out->push_back(kHex[c >> 4]);
    out->push_back(kHex[c & 15]);
  }
}

std::string XidKey(uint64_t format, std::string_view gtrid, std::string_view bqual) {
  std::string key = std::to_string(format) + ":";
  AppendHex(gtrid, &key);
  key.push_back(':');
  AppendHex(bqual, &key);
  return key;
}

// Reads one xid part at s[*i]: X'hex' or 'text' (quotes doubled inside).
bool XidPart(std::string_view s, size_t* i, std::string* bytes) {
  bytes->clear();
  if (*i < s.size() && (s[*i] == 'X' || s[*i] == 'x') && *i + 1 < s.size() && s[*i + 1] == '\'') {
    size_t j = *i + 2;
    while (j + 1 < s.size() && std::isxdigit(static_cast<unsigned char>(s[j])) &&
           std::isxdigit(static_cast<unsigned char>(s[j + 1]))) {
      bytes->push_back(static_cast<char>(std::stoi(std::string(s.substr(j, 2)), nullptr, 16)));
      j += 2;
    }
    if (j >= s.size() || s[j] != '\'') return false;
    *i = j + 1;
    return bytes->size() <= kMaxXidPart;
  }
  if (*i < s.size() && s[*i] == '\'') {
    size_t j = *i + 1;
    for (; j < s.size(); ++j) {
      if (s[j] == '\'') {
        if (j + 1 < s.size() && s[j + 1] == '\'') {
          bytes->push_back('\'');
          ++j;
          continue;
        }
        break;
      }
      bytes->push_back(s[j]);
    }
    if (j >= s.size()) return false;
    *i = j + 1;
    return bytes->size() <= kMaxXidPart;
  }
  return false;
}

void SkipSpace(std::string_view s, size_t* i) {
  while (*i < s.size() && std::isspace(static_cast<unsigned char>(s[*i]))) ++*i;
}

// Accepts `word` (upper-case) at s[*i] as a whole word, case-insensitively.
bool Word(std::string_view s, size_t* i, std::string_view word) {
  SkipSpace(s, i);
  if (s.size() - *i < word.size()) return false;
  for (size_t k = 0; k < word.size(); ++k)
    if (std::toupper(static_cast<unsigned char>(s[*i + k])) != word[k]) return false;
  size_t end = *i + word.size();
  if (end < s.size() && (std::isalnum(static_cast<unsigned char>(s[end])) || s[end] == '_')) {
    return false;
  }
  *i = end;
  return true;
}

// gtrid [, bqual [, formatID]] in normal form.
bool ParseXid(std::string_view s, size_t* i, std::string* xid) {
  std::string gtrid, bqual;
  uint64_t format = 1;
  SkipSpace(s, i);
  if (!XidPart(s, i, &gtrid)) return false;
  SkipSpace(s, i);
  if (*i < s.size() && s[*i] == ',') {
    ++*i;
    SkipSpace(s, i);
    if (!XidPart(s, i, &bqual)) return false;
    SkipSpace(s, i);
    if (*i < s.size() && s[*i] == ',') {
      ++*i;
      SkipSpace(s, i);
      size_t start = *i;
      format = 0;
      while (*i < s.size() && std::isdigit(static_cast<unsigned char>(s[*i])) && *i - start < 10) {
        format = format * 10 + static_cast<uint64_t>(s[*i] - '0');
        ++*i;
      }
      if (*i == start) return false;
    }
  }
  *xid = XidKey(format, gtrid, bqual);
  return true;
}

}  // namespace

Result<XaPrepare> ParseXaPrepare(std::string_view body) {
  ByteReader r(body);
  uint8_t one_phase;
  uint32_t format, gtrid_len, bqual_len;
  std::string_view gtrid, bqual;
  if (!r.Get(&one_phase) || !r.Get(&format) || !r.Get(&gtrid_len) || !r.Get(&bqual_len)) {
    return Status::Corruption("XA_PREPARE event truncated");
  }
  if (gtrid_len > kMaxXidPart || bqual_len > kMaxXidPart) {
    return Status::Corruption("XA_PREPARE event names an xid of " + std::to_string(gtrid_len) +
                              "+" + std::to_string(bqual_len) + " bytes (at most 64+64)");
  }
  if (!r.GetBytes(gtrid_len, &gtrid) || !r.GetBytes(bqual_len, &bqual)) {
    return Status::Corruption("XA_PREPARE event truncated in its xid");
  }
  return XaPrepare{one_phase != 0, XidKey(format, gtrid, bqual)};
}

XaStatement ClassifyXa(std::string_view sql, std::string* xid) {
  size_t i = 0;
  if (!Word(sql, &i, "XA")) return XaStatement::kNone;
  if (Word(sql, &i, "START") || Word(sql, &i, "BEGIN")) return XaStatement::kStart;
  if (Word(sql, &i, "END")) return XaStatement::kEnd;
  if (Word(sql, &i, "PREPARE")) return XaStatement::kPrepare;
  const bool commit = Word(sql, &i, "COMMIT");
  if (!commit && !Word(sql, &i, "ROLLBACK")) return XaStatement::kNone;
  if (!ParseXid(sql, &i, xid)) xid->clear();
  if (commit) {
    size_t j = i;
    if (Word(sql, &j, "ONE") && Word(sql, &j, "PHASE")) return XaStatement::kCommitOnePhase;
    return XaStatement::kCommit;
  }
  return XaStatement::kRollback;
}

}  // namespace sluice::binlog
