// Private to broker/binlog: small text helpers shared by mysql_source.cc
// (the connection) and mysql_options.cc (start positions, URLs, GTID sets,
// stream positions). Not an API; nothing outside this folder includes it.
//
// Thread safety: pure functions.
#pragma once

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace sluice::binlog::mysql_text {

// The longest binlog file name we accept from a user or a ROTATE event.
constexpr size_t kMaxFileName = 512;

// A whole decimal number: no sign, no spaces, nothing after it, in range.
template <typename T>
bool ParseUint(std::string_view s, T* out) {
  if (s.empty() || s.front() < '0' || s.front() > '9') return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

inline std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

inline std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// Every piece between separators, empty ones included ("a,,b" has three).
inline std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  for (size_t start = 0;;) {
    size_t end = s.find(sep, start);
    out.push_back(s.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) return out;
    start = end + 1;
  }
}

// The 8-4-4-4-12 hex form, either case.
inline bool IsUuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !std::isxdigit(static_cast<unsigned char>(s[i]))) return false;
  }
  return true;
}

// "domain-server-seq[,domain-server-seq...]", spaces around each allowed.
inline bool IsMariadbGtidPos(std::string_view s) {
  for (std::string_view g : Split(s, ',')) {
    auto parts = Split(Trim(g), '-');
    if (parts.size() != 3) return false;
    uint32_t domain, server;
    uint64_t seq;
    if (!ParseUint(parts[0], &domain) || !ParseUint(parts[1], &server) ||
        !ParseUint(parts[2], &seq)) {
      return false;
    }
  }
  return true;
}

// A binlog file name we may quote in SQL or a command: no path, no quotes.
inline bool IsSafeFileName(std::string_view s) {
  return !s.empty() && s.size() <= kMaxFileName && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
}

}  // namespace sluice::binlog::mysql_text
