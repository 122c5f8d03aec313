#include "proto/frame.h"

namespace sluice::frame {
namespace {

uint32_t DecodeLength(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return (uint32_t{u[0]} << 24) | (uint32_t{u[1]} << 16) | (uint32_t{u[2]} << 8) | u[3];
}

}  // namespace

Status Append(const google::protobuf::MessageLite& msg, std::string* out, uint32_t max_frame) {
  const size_t n = msg.ByteSizeLong();
  if (n > max_frame) {
    return Status::InvalidArgument("a " + msg.GetTypeName() + " of " + std::to_string(n) +
                                   " bytes is above the frame limit of " +
                                   std::to_string(max_frame));
  }
  const size_t at = out->size();
  out->resize(at + kHeaderBytes + n);
  char* p = out->data() + at;
  p[0] = static_cast<char>(n >> 24);
  p[1] = static_cast<char>(n >> 16);
  p[2] = static_cast<char>(n >> 8);
  p[3] = static_cast<char>(n);
  msg.SerializeWithCachedSizesToArray(reinterpret_cast<uint8_t*>(p + kHeaderBytes));
  return Status::Ok();
}

Status Parse(std::string_view payload, google::protobuf::MessageLite* msg, std::string_view what) {
  if (payload.size() > static_cast<size_t>(INT32_MAX) ||
      !msg->ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    return Status::InvalidArgument("a frame of " + std::to_string(payload.size()) +
                                   " bytes is not a valid " + std::string(what));
  }
  return Status::Ok();
}

void FrameReader::Feed(std::string_view bytes) {
  // Drop what was taken before growing: the buffer holds at most one
  // partial frame plus what this call adds.
  if (start_ > 0 && (start_ == buf_.size() || start_ >= (64u << 10))) {
    buf_.erase(0, start_);
    start_ = 0;
  }
  buf_.append(bytes);
}

Result<bool> FrameReader::Next(std::string_view* payload) {
  if (buffered() < kHeaderBytes) return false;
  const uint32_t n = DecodeLength(buf_.data() + start_);
  if (n > max_frame_) {
    return Status::InvalidArgument("a frame declares " + std::to_string(n) +
                                   " bytes, above the limit of " + std::to_string(max_frame_));
  }
  if (buffered() - kHeaderBytes < n) return false;
  *payload = std::string_view(buf_.data() + start_ + kHeaderBytes, n);
  start_ += kHeaderBytes + n;
  return true;
}

}  // namespace sluice::frame
