// Change records of a made-up "shop" database for the consumer-side tests
// (CLI, Kafka): inserts, updates and deletes of rows keyed by "id" with a
// few column types (text with a tab, binary, a NULL, a column without a
// name), and a DDL every seventh record.
//
//   proto::ChangeRecord r = testing::SampleRecord(k, /*seq=*/0, /*last=*/true);
#pragma once

#include <cstdint>
#include <string>

#include "proto/record.pb.h"

namespace sluice::testing {

// Record number k (its offset, in a log of only these) of a transaction,
// `seq` within it.
inline proto::ChangeRecord SampleRecord(size_t k, int seq, bool last) {
  proto::ChangeRecord r;
  r.set_format_version(proto::RECORD_FORMAT_V1);
  r.set_db("shop");
  r.set_table(k % 2 ? "orders" : "users");
  r.set_ts(1764000000 + k);
  r.mutable_pos()->set_file("binlog.000001");
  r.mutable_pos()->set_pos(1000 + k);
  r.set_gtid("0-1-" + std::to_string(k));
  r.mutable_txn()->set_seq(seq);
  r.mutable_txn()->set_last(last);
  if (k % 7 == 6) {
    r.set_op(proto::OP_DDL);
    r.set_sql("ALTER TABLE orders ADD COLUMN note TEXT -- \"quoted\" \xc3\xa9");
    return r;
  }
  r.set_op(k % 3 == 0 ? proto::OP_INSERT : k % 3 == 1 ? proto::OP_UPDATE : proto::OP_DELETE);
  r.add_pk("id");
  auto fill = [&](google::protobuf::RepeatedPtrField<proto::Column>* cols, int version) {
    auto* id = cols->Add();
    id->set_index(0);
    id->set_name("id");
    id->mutable_value()->set_int64(static_cast<int64_t>(k));
    auto* name = cols->Add();
    name->set_index(1);
    name->set_name("name");
    name->mutable_value()->set_text("n\t" + std::to_string(k + version));
    auto* blob = cols->Add();
    blob->set_index(2);
    blob->mutable_value()->set_binary(std::string("\x00\xff", 2));
    auto* nul = cols->Add();
    nul->set_index(3);
    nul->set_name("gone");
    nul->mutable_value()->set_is_null(true);
  };
  if (r.op() != proto::OP_INSERT) fill(r.mutable_before(), 0);
  if (r.op() != proto::OP_DELETE) fill(r.mutable_after(), 1);
  return r;
}

}  // namespace sluice::testing
