#include "proto/record_json.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

proto::Column Col(uint32_t index, std::string name, uint32_t type) {
  proto::Column c;
  c.set_index(index);
  c.set_name(std::move(name));
  c.set_mysql_type(type);
  return c;
}

// The example line of the project's design ("Change record", also in
// docs/formats.md), built field by field.
TEST(RecordJson, MatchesDesignExample) {
  proto::ChangeRecord r;
  r.set_format_version(proto::RECORD_FORMAT_V1);
  r.set_op(proto::OP_UPDATE);
  r.set_db("shop");
  r.set_table("orders");
  r.add_pk("id");
  auto* b_id = r.add_before();
  *b_id = Col(0, "id", 3);
  b_id->mutable_value()->set_int64(7);
  auto* b_st = r.add_before();
  *b_st = Col(1, "status", 15);
  b_st->mutable_value()->set_text("paid");
  auto* a_id = r.add_after();
  *a_id = Col(0, "id", 3);
  a_id->mutable_value()->set_int64(7);
  auto* a_st = r.add_after();
  *a_st = Col(1, "status", 15);
  a_st->mutable_value()->set_text("shipped");
  r.set_ts(1764000000);
  r.mutable_pos()->set_file("binlog.000001");
  r.mutable_pos()->set_pos(12345);
  r.set_gtid("0-1-17");
  r.mutable_txn()->set_seq(0);
  r.mutable_txn()->set_last(true);

  const std::string expected =
      R"({"offset":42,"dest":"shop","op":"update","db":"shop","table":"orders",)"
      R"("pk":["id"],"before":{"id":7,"status":"paid"},"after":{"id":7,"status":"shipped"},)"
      R"("ts":1764000000,"pos":"binlog.000001:12345","gtid":"0-1-17",)"
      R"("txn":{"seq":0,"last":true}})";
  EXPECT_EQ(RecordToJson(r, JsonContext{42, "shop"}), expected);

  // `sluice decode` has neither offset nor dest.
  std::string decode_form = RecordToJson(r);
  EXPECT_EQ(decode_form.rfind(R"({"op":"update","db":"shop")", 0), 0u) << decode_form;
}

TEST(RecordJson, ValueKindsFollowDesignRules) {
  proto::ChangeRecord r;
  r.set_op(proto::OP_INSERT);
  r.set_db("d");
  r.set_table("t");
  auto add = [&](uint32_t idx, std::string name, uint32_t type) {
    auto* c = r.add_after();
    *c = Col(idx, std::move(name), type);
    return c->mutable_value();
  };
  add(0, "u", 8)->set_uint64(18446744073709551615ull);   // BIGINT UNSIGNED max
  add(1, "s", 8)->set_int64(-9223372036854775807 - 1);   // BIGINT min
  add(2, "d", 246)->set_decimal("-12.3400");             // DECIMAL keeps its digits
  add(3, "f", 4)->set_float64(static_cast<float>(0.1));  // FLOAT: shortest float form
  add(4, "g", 5)->set_float64(0.1);                      // DOUBLE
  add(5, "b", 252)->set_binary("foobar");                // RFC 4648: "Zm9vYmFy"
  add(6, "j", 245)->set_json(R"({"a":[1,2]})");
  add(7, "e", 247)->set_enum_label("red");
  add(8, "n", 3)->set_is_null(true);
  add(9, "", 3)->set_int64(5);  // unknown name: "@10"
  add(10, "bit", 16)->set_uint64(5);
  r.mutable_pos()->set_file("f");
  EXPECT_EQ(RecordToJson(r),
            R"({"op":"insert","db":"d","table":"t","after":{"u":18446744073709551615,)"
            R"("s":-9223372036854775808,"d":"-12.3400","f":0.1,"g":0.1,"b":"Zm9vYmFy",)"
            R"("j":{"a":[1,2]},"e":"red","n":null,"@10":5,"bit":5},"ts":0,"pos":"f:0",)"
            R"("txn":{"seq":0,"last":false}})");
}

TEST(RecordJson, DeleteHasOnlyBeforeAndDdlHasSql) {
  proto::ChangeRecord del;
  del.set_op(proto::OP_DELETE);
  auto* c = del.add_before();
  *c = Col(0, "id", 3);
  c->mutable_value()->set_int64(1);
  std::string j = RecordToJson(del);
  EXPECT_NE(j.find(R"("before":{"id":1})"), std::string::npos);
  EXPECT_EQ(j.find("after"), std::string::npos);

  proto::ChangeRecord ddl;
  ddl.set_op(proto::OP_DDL);
  ddl.set_db("shop");
  ddl.set_sql("ALTER TABLE t ADD c INT");
  EXPECT_EQ(RecordToJson(ddl),
            R"({"op":"ddl","db":"shop","table":"","sql":"ALTER TABLE t ADD c INT","ts":0,)"
            R"("pos":":0","txn":{"seq":0,"last":false}})");
}

// RFC 8259 section 7: quote, backslash and control characters escaped.
TEST(RecordJson, StringEscapingAndUtf8) {
  std::string out;
  AppendJsonString("a\"b\\c\n\x01", &out);
  EXPECT_EQ(out, R"("a\"b\\c\n\u0001")");
  out.clear();
  AppendJsonString("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", &out);  // valid: kept as is
  EXPECT_EQ(out, "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
  out.clear();
  AppendJsonString("x\xff\xc3y\xed\xa0\x80", &out);  // stray byte, cut sequence, surrogate
  EXPECT_EQ(out, R"("x\ufffd\ufffdy\ufffd\ufffd\ufffd")");
}

// RFC 4648 section 10 test vectors.
TEST(RecordJson, Base64Rfc4648) {
  const std::pair<const char*, const char*> vectors[] = {{"", ""},
                                                         {"f", "Zg=="},
                                                         {"fo", "Zm8="},
                                                         {"foo", "Zm9v"},
                                                         {"foob", "Zm9vYg=="},
                                                         {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"}};
  for (auto [in, want] : vectors) {
    std::string out;
    AppendBase64(in, &out);
    EXPECT_EQ(out, want) << in;
  }
}

}  // namespace
}  // namespace sluice

namespace sluice {
namespace {

// GEOMETRY as Debezium emits it; VECTOR as an array of float32 numbers in
// their shortest round-trip form (0.1f prints as 0.1, not 0.10000000149).
TEST(RecordJson, GeometryAndVectorValues) {
  proto::ChangeRecord r;
  r.set_op(proto::OP_INSERT);
  r.set_db("d");
  r.set_table("t");
  auto* g = r.add_after();
  *g = Col(0, "g", 255);
  g->mutable_value()->mutable_geometry()->set_srid(4326);
  g->mutable_value()->mutable_geometry()->set_wkb(std::string("\x01\x01\x00", 3));
  auto* v = r.add_after();
  *v = Col(1, "v", 242);
  v->mutable_value()->mutable_vector()->add_values(0.1f);
  v->mutable_value()->mutable_vector()->add_values(-2.0f);
  v->mutable_value()->mutable_vector()->add_values(3.4028235e38f);
  std::string json = RecordToJson(r);
  EXPECT_NE(json.find(R"("after":{"g":{"srid":4326,"wkb":"AQEA"},"v":[0.1,-2,3.4028235e+38]})"),
            std::string::npos)
      << json;
}

TEST(RecordJson, SchemaRecord) {
  proto::ChangeRecord r;
  r.set_op(proto::OP_SCHEMA);
  r.set_db("shop");
  r.set_table("orders");
  auto* shape = r.mutable_schema();
  shape->set_names_known(true);
  shape->add_pk("id");
  auto* id = shape->add_columns();
  id->set_name("id");
  id->set_mysql_type(3);
  id->set_sql_type("int unsigned");
  id->set_is_unsigned(true);
  auto* st = shape->add_columns();
  st->set_name("status");
  st->set_mysql_type(247);
  st->set_sql_type("enum('new','paid')");
  st->set_nullable(true);
  st->set_charset("utf8mb4");
  st->add_labels("new");
  st->add_labels("paid");
  r.mutable_pos()->set_file("binlog.000001");
  r.mutable_pos()->set_pos(4);
  std::string json = RecordToJson(r);
  EXPECT_EQ(
      json,
      R"j({"op":"schema","db":"shop","table":"orders","pk":["id"],"columns":[)j"
      R"j({"name":"id","type":"int unsigned","mysql_type":3,"unsigned":true,"nullable":false},)j"
      R"j({"name":"status","type":"enum('new','paid')","mysql_type":247,"unsigned":false,)j"
      R"j("nullable":true,"charset":"utf8mb4","labels":["new","paid"]}],)j"
      R"j("ts":0,"pos":"binlog.000001:4","txn":{"seq":0,"last":false}})j");
}

TEST(RecordJson, ErrorRecord) {
  proto::ChangeRecord r;
  r.set_op(proto::OP_ERROR);
  r.set_db("shop");
  r.set_table("");
  r.set_sql("INSERT INTO t VALUES (1)");
  auto* e = r.mutable_error();
  e->set_kind(proto::CaptureError::STATEMENT);
  e->set_reason("statement-based DML");
  e->set_event_type(2);
  e->set_event_type_name("QUERY_EVENT");
  e->set_event_pos(100);
  r.mutable_pos()->set_file("b.000001");
  r.mutable_pos()->set_pos(180);
  EXPECT_EQ(RecordToJson(r),
            R"j({"op":"error","db":"shop","table":"","error":{"kind":"statement",)j"
            R"j("reason":"statement-based DML","event_type":"QUERY_EVENT","event_pos":100},)j"
            R"j("sql":"INSERT INTO t VALUES (1)","ts":0,"pos":"b.000001:180",)j"
            R"j("txn":{"seq":0,"last":false}})j");
  e->set_kind(proto::CaptureError::UNDECODABLE);
  e->set_raw("\xff\x00", 2);
  r.clear_sql();
  std::string json = RecordToJson(r);
  EXPECT_NE(json.find(R"j("kind":"undecodable")j"), std::string::npos) << json;
  EXPECT_NE(json.find(R"j("raw":"/wA=")j"), std::string::npos) << json;
}

}  // namespace
}  // namespace sluice
