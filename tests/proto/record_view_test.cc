// RecordView (proto/record_view.h) against the protobuf library: a row
// change the view takes renders byte for byte as the parsed message does
// (the message's rendering is the one record_json_test checks against the
// format), and what the view declines is what only the message can read.
#include "proto/record_view.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "proto/record_json.h"
#include "tests/support/random_records.h"

namespace sluice {
namespace {

bool HasComposite(const proto::ChangeRecord& r) {
  for (const auto* image : {&r.before(), &r.after()}) {
    for (const auto& c : *image) {
      if (c.value().has_geometry() || c.value().has_vector()) return true;
    }
  }
  return false;
}

// The view of `bytes`, when it takes them, renders as the message does.
void ExpectSameAsMessage(const std::string& bytes, bool* taken) {
  RecordView view;
  *taken = view.Parse(bytes);
  if (!*taken) return;
  proto::ChangeRecord message;
  ASSERT_TRUE(message.ParseFromString(bytes)) << "the view took bytes protobuf refuses";
  const JsonContext ctx{42, "shop"};
  std::string a, b;
  AppendRecordJson(view, ctx, &a);
  AppendRecordJson(message, ctx, &b);
  EXPECT_EQ(a, b);
  std::string ka, kb;
  EXPECT_EQ(AppendKeyJson(view, &ka), AppendKeyJson(message, &kb));
  EXPECT_EQ(ka, kb);
}

TEST(RecordViewTest, RandomRowChangesRenderAsTheirMessages) {
  std::mt19937_64 rng(20261208);
  int taken_count = 0;
  for (int i = 0; i < 20000; ++i) {
    const proto::ChangeRecord r = testing::RandomRowRecord(&rng);
    const std::string bytes = r.SerializeAsString();
    bool taken = false;
    ASSERT_NO_FATAL_FAILURE(ExpectSameAsMessage(bytes, &taken));
    // Everything sluice writes is taken, except GEOMETRY and VECTOR values.
    EXPECT_EQ(taken, !HasComposite(r)) << i;
    taken_count += taken;
    if (HasFailure()) break;
  }
  EXPECT_GT(taken_count, 15000);
}

TEST(RecordViewTest, OtherRecordsAreLeftToTheMessage) {
  RecordView view;
  proto::ChangeRecord ddl;
  ddl.set_op(proto::OP_DDL);
  ddl.set_sql("CREATE TABLE t (id INT)");
  EXPECT_FALSE(view.Parse(ddl.SerializeAsString()));
  proto::ChangeRecord schema;
  schema.set_op(proto::OP_SCHEMA);
  schema.mutable_schema()->add_pk("id");
  EXPECT_FALSE(view.Parse(schema.SerializeAsString()));
  proto::ChangeRecord error;
  error.set_op(proto::OP_ERROR);
  error.mutable_error()->set_reason("x");
  EXPECT_FALSE(view.Parse(error.SerializeAsString()));
  proto::ChangeRecord mark;
  mark.set_op(proto::OP_SNAPSHOT);
  EXPECT_FALSE(view.Parse(mark.SerializeAsString()));
  EXPECT_FALSE(view.Parse(""));  // no op
}

TEST(RecordViewTest, MergedUnknownAndCutBytesAreDeclinedOrRenderedAlike) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 300; ++i) {
    const std::string a = testing::RandomRowRecord(&rng).SerializeAsString();
    const std::string b = testing::RandomRowRecord(&rng).SerializeAsString();
    bool taken = false;
    // Two records back to back parse as one merged message (the last
    // scalar wins, repeated fields append): the view declines them when a
    // singular field appears twice, and otherwise must agree.
    ASSERT_NO_FATAL_FAILURE(ExpectSameAsMessage(a + b, &taken));
    // An unknown field (number 99, varint), which protobuf keeps aside.
    ASSERT_NO_FATAL_FAILURE(ExpectSameAsMessage(a + std::string("\x98\x06\x01", 3), &taken));
    EXPECT_FALSE(taken);
    // Every cut: declined, or taken with the same rendering.
    for (size_t n = 0; n < a.size(); ++n) {
      ASSERT_NO_FATAL_FAILURE(ExpectSameAsMessage(a.substr(0, n), &taken));
    }
  }
}

}  // namespace
}  // namespace sluice
