// libFuzzer target for the wire protocol's frame reader and message parsing
// (proto/frame.h, proto/protocol.proto): bytes from a client are untrusted.
// The input is split into reads at sizes taken from its first byte; every
// frame that parses as a Request must serialize and parse back to the same
// message, and the reader must never hold more than its limit plus a read.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "proto/frame.h"
#include "proto/protocol.pb.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t step = 1 + data[0] % 64;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  constexpr uint32_t kMax = 1 << 16;
  sluice::frame::FrameReader reader(kMax);
  for (size_t at = 0; at < in.size(); at += step) {
    reader.Feed(in.substr(at, step));
    for (;;) {
      std::string_view payload;
      auto more = reader.Next(&payload);
      if (!more.ok()) return 0;  // too large: the connection would close
      if (!*more) break;
      if (payload.size() > kMax) __builtin_trap();
      sluice::proto::Request r;
      if (!sluice::frame::Parse(payload, &r, "Request").ok()) continue;
      std::string again;
      if (!sluice::frame::Append(r, &again).ok()) __builtin_trap();
      sluice::proto::Request back;
      if (!sluice::frame::Parse(std::string_view(again).substr(4), &back, "Request").ok() ||
          back.SerializeAsString() != r.SerializeAsString()) {
        __builtin_trap();
      }
    }
    if (reader.buffered() > kMax + 4 + step) __builtin_trap();
  }
  return 0;
}
