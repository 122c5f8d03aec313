// Frames of sluice's wire protocols (docs/protocol.md): a 4-byte big-endian
// length N, then N bytes holding one protobuf message. The length is
// untrusted: a reader refuses one above its limit before buffering a byte of
// the body, so a peer cannot make us allocate what it declares.
//
//   FrameReader r(limits.max_frame);
//   r.Feed(bytes_from_socket);
//   std::string_view payload;
//   while (true) {
//     auto got = r.Next(&payload);
//     if (!got.ok()) { /* answer FRAME_TOO_LARGE, close */ }
//     if (!*got) break;             // need more bytes
//     ... parse payload ...
//   }
//
// Thread safety: none; one reader per connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <google/protobuf/message_lite.h>

#include "base/status.h"

namespace sluice::frame {

constexpr size_t kHeaderBytes = 4;
constexpr uint32_t kDefaultMaxFrame = 64u << 20;

// Appends `msg` as one frame to *out. InvalidArgument when the message does
// not fit in `max_frame` bytes (the peer would refuse it).
Status Append(const google::protobuf::MessageLite& msg, std::string* out,
              uint32_t max_frame = kDefaultMaxFrame);

// Parses a frame's payload into *msg; InvalidArgument naming `what` when the
// bytes are not such a message.
Status Parse(std::string_view payload, google::protobuf::MessageLite* msg, std::string_view what);

class FrameReader {
 public:
  explicit FrameReader(uint32_t max_frame = kDefaultMaxFrame) : max_frame_(max_frame) {}

  // Adds bytes received from the peer.
  void Feed(std::string_view bytes);

  // Takes the next whole frame: true and *payload (valid until the next
  // Feed or Next), or false when more bytes are needed. InvalidArgument
  // when the declared length is above the limit; the stream cannot be
  // resynchronized after that, so the caller closes the connection.
  Result<bool> Next(std::string_view* payload);

  // Bytes of frames not yet taken (for per-connection buffer limits).
  size_t buffered() const { return buf_.size() - start_; }
  // Some bytes of an unfinished frame are here (for the deadline that
  // closes connections of peers that stop mid-frame).
  bool mid_frame() const { return buffered() > 0; }
  uint32_t max_frame() const { return max_frame_; }
  // Changes the limit for the frames not yet taken: a protocol's handshake
  // reads with a small one, then raises it once the peer is authenticated.
  void set_max_frame(uint32_t max_frame) { max_frame_ = max_frame; }

 private:
  uint32_t max_frame_;
  std::string buf_;
  size_t start_ = 0;  // first byte of buf_ not yet taken
};

}  // namespace sluice::frame
