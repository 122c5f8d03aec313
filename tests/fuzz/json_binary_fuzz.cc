// libFuzzer target for the binary JSON decoder and the partial-update applier
// (broker/binlog/json_binary.h). Input: a 2-byte little-endian split point,
// then bytes: the first `split` of them are a before-image, the rest a diff
// list, and all of them are also decoded as one document. Both come from
// binlog events, which are untrusted: damage must give Corruption, never a
// crash, a hang or a huge allocation.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "broker/binlog/json_binary.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using sluice::Code;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  size_t split = 0;
  if (in.size() >= 2) {
    split = data[0] | (size_t{data[1]} << 8);
    in.remove_prefix(2);
  }
  if (split > in.size()) split = in.size();
  const std::string_view before = in.substr(0, split);
  const std::string_view diffs = in.substr(split);

  std::string whole;
  sluice::Status st = sluice::binlog::AppendJsonFromBinary(in, &whole);
  // On error nothing is appended, and the error is always Corruption.
  if (!st.ok() && (st.code() != Code::kCorruption || !whole.empty())) __builtin_trap();

  // No diffs must render exactly what the plain decoder renders.
  std::string plain, same;
  sluice::Status a = sluice::binlog::AppendJsonFromBinary(before, &plain);
  sluice::Status b = sluice::binlog::ApplyJsonDiffs(before, {}, &same);
  if (a.ok() != b.ok() || plain != same) __builtin_trap();

  std::string updated;
  st = sluice::binlog::ApplyJsonDiffs(before, diffs, &updated);
  if (!st.ok() && (st.code() != Code::kCorruption || !updated.empty())) __builtin_trap();
  return 0;
}
