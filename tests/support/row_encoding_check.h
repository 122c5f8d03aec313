// The ingest workers' wire encoder (binlog::EncodeAction) against its
// oracle: protobuf's own serialization of the records binlog::DecodeAction
// builds. Used by the binlog round trip over every column type and by the
// binlog fuzz target.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "broker/binlog/decoder.h"

namespace sluice::testing {

// Returns "" when both paths give the same status and byte-identical
// records, else what differs.
inline std::string CompareRowEncodings(const binlog::EventPlan::Action& a, std::string_view file,
                                       bool column_names) {
  struct Serialized : binlog::RowSink {
    std::vector<std::string> records;
    Status OnRow(proto::ChangeRecord* r) override {
      records.push_back(r->SerializeAsString());
      return Status::Ok();
    }
  } messages;
  struct Encoded : binlog::EncodedRowSink {
    std::vector<std::string> records;
    std::string building;
    char* Extend(size_t n) override {
      building.resize(building.size() + n);
      return building.data() + building.size() - n;
    }
    void EndRecord() override { records.push_back(std::move(building)), building.clear(); }
  } encoded;
  proto::ChangeRecord scratch;
  binlog::RowEncoder encoder;
  Status d = binlog::DecodeAction(a, file, column_names, &scratch, &messages);
  Status e = binlog::EncodeAction(a, file, column_names, &encoder, &encoded);
  if (d.ToString() != e.ToString()) {
    return "DecodeAction: " + d.ToString() + "; EncodeAction: " + e.ToString();
  }
  if (messages.records.size() != encoded.records.size()) {
    return std::to_string(messages.records.size()) + " records from DecodeAction, " +
           std::to_string(encoded.records.size()) + " from EncodeAction";
  }
  for (size_t i = 0; i < messages.records.size(); ++i) {
    if (messages.records[i] != encoded.records[i]) {
      return "record " + std::to_string(i) + " of the event differs (" +
             std::to_string(messages.records[i].size()) + " bytes serialized by protobuf, " +
             std::to_string(encoded.records[i].size()) + " encoded)";
    }
  }
  return "";
}

}  // namespace sluice::testing
