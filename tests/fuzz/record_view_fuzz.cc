// libFuzzer target for RecordView (proto/record_view.h), which renders
// stored records that the Kafka port sends: bytes from the log are
// untrusted. The oracle is the protobuf library: whenever the view takes
// the bytes, the library must parse them too, and the JSON line and key
// rendered from the view must equal those rendered from the message.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "proto/record_json.h"
#include "proto/record_view.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  sluice::RecordView view;
  if (!view.Parse(bytes)) return 0;
  sluice::proto::ChangeRecord message;
  if (!message.ParseFromArray(data, static_cast<int>(size))) __builtin_trap();
  const sluice::JsonContext ctx{7, "shop"};
  std::string from_view, from_message;
  sluice::AppendRecordJson(view, ctx, &from_view);
  sluice::AppendRecordJson(message, ctx, &from_message);
  if (from_view != from_message) __builtin_trap();
  std::string key_view, key_message;
  const bool has_view = sluice::AppendKeyJson(view, &key_view);
  const bool has_message = sluice::AppendKeyJson(message, &key_message);
  if (has_view != has_message || key_view != key_message) __builtin_trap();
  return 0;
}
