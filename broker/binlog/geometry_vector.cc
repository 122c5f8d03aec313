#include "broker/binlog/geometry_vector.h"

#include <cstdint>
#include <cstring>
#include <string>

namespace sluice::binlog {
namespace {

uint32_t Le32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= uint32_t{static_cast<uint8_t>(p[i])} << (8 * i);
  return v;
}

}  // namespace

Status DecodeGeometry(std::string_view bytes, proto::Value* value) {
  if (bytes.size() < 4) return Status::Corruption("GEOMETRY value is shorter than its 4-byte SRID");
  proto::Geometry* g = value->mutable_geometry();
  g->set_srid(Le32(bytes.data()));
  g->mutable_wkb()->assign(bytes.data() + 4, bytes.size() - 4);
  return Status::Ok();
}

Status DecodeVector(std::string_view bytes, proto::Value* value) {
  if (bytes.size() % 4 != 0) {
    return Status::Corruption("VECTOR value of " + std::to_string(bytes.size()) +
                              " bytes is not a whole number of float32 elements");
  }
  auto* floats = value->mutable_vector()->mutable_values();
  floats->Clear();
  floats->Reserve(static_cast<int>(bytes.size() / 4));
  for (size_t k = 0; k < bytes.size(); k += 4) {
    const uint32_t bits = Le32(bytes.data() + k);
    float f;
    std::memcpy(&f, &bits, 4);
    floats->Add(f);
  }
  return Status::Ok();
}

}  // namespace sluice::binlog
