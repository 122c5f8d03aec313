// A DecoderSink that keeps what a Decoder gives, for tests: rows, DDL and
// error records in `records`, schema records apart in `schemas` (most
// tests look at rows; the schema tests at shapes), transaction ends and
// warnings.
#pragma once

#include <string>
#include <vector>

#include "broker/binlog/decoder.h"

namespace sluice::testing {

class RecordCollector : public binlog::DecoderSink {
 public:
  Status OnRow(proto::ChangeRecord* r) override { return Keep(r); }
  Status OnDdl(proto::ChangeRecord* r) override { return Keep(r); }
  Status OnTxnEnd(const binlog::TxnEnd& end) override {
    ends.push_back(end);
    return Status::Ok();
  }
  void OnWarning(const std::string& m) override { warnings.push_back(m); }

  std::vector<proto::ChangeRecord> records;  // rows, DDL and error records
  std::vector<proto::ChangeRecord> schemas;  // schema records
  std::vector<binlog::TxnEnd> ends;
  std::vector<std::string> warnings;

 private:
  Status Keep(proto::ChangeRecord* r) {
    (r->op() == proto::OP_SCHEMA ? schemas : records).emplace_back().Swap(r);
    return Status::Ok();
  }
};

}  // namespace sluice::testing
