// Debezium values (broker/kafka/debezium.h) against Debezium's documented
// mappings (MySQL connector, "Data type mappings"), with the expected
// numbers computed by libc (timegm) rather than by our own code.
#include "broker/kafka/debezium.h"

#include <gtest/gtest.h>

#include <ctime>
#include <random>
#include <string>

namespace sluice::kafka {
namespace {

int64_t Epoch(int y, int mo, int d, int h = 0, int mi = 0, int s = 0) {
  std::tm t{};
  t.tm_year = y - 1900;
  t.tm_mon = mo - 1;
  t.tm_mday = d;
  t.tm_hour = h;
  t.tm_min = mi;
  t.tm_sec = s;
  return static_cast<int64_t>(::timegm(&t));
}

proto::ChangeRecord Row(proto::Op op) {
  proto::ChangeRecord r;
  r.set_op(op);
  r.set_db("shop");
  r.set_table("orders");
  r.set_ts(1796680137);
  r.mutable_pos()->set_file("binlog.000001");
  r.mutable_pos()->set_pos(4242);
  r.set_gtid("0-1-17");
  return r;
}

void Add(google::protobuf::RepeatedPtrField<proto::Column>* cols, const char* name, uint32_t type,
         const std::string& text) {
  auto* c = cols->Add();
  c->set_index(static_cast<uint32_t>(cols->size() - 1));
  c->set_name(name);
  c->set_mysql_type(type);
  c->mutable_value()->set_text(text);
}

TEST(Debezium, DaysFromCivilIsWhatTimegmSays) {
  std::mt19937 rng(7);
  for (int i = 0; i < 20000; ++i) {
    const int y = 1 + static_cast<int>(rng() % 9998), m = 1 + static_cast<int>(rng() % 12),
              d = 1 + static_cast<int>(rng() % 28);
    ASSERT_EQ(DaysFromCivil(y, m, d) * 86400, Epoch(y, m, d)) << y << "-" << m << "-" << d;
  }
  EXPECT_EQ(DaysFromCivil(1970, 1, 1), 0);
  EXPECT_EQ(DaysFromCivil(1969, 12, 31), -1);
  EXPECT_EQ(DaysFromCivil(2000, 3, 1), 11017);
}

TEST(Debezium, TemporalColumnsAsDebeziumWritesThem) {
  proto::ChangeRecord r = Row(proto::OP_INSERT);
  Add(r.mutable_after(), "d", 10, "2026-12-07");
  Add(r.mutable_after(), "dt", 12, "2026-12-07 21:48:57");
  Add(r.mutable_after(), "dt3", 18, "2026-12-07 21:48:57.768");
  Add(r.mutable_after(), "dt6", 18, "1969-12-31 23:59:59.000001");
  Add(r.mutable_after(), "ts", 17, "2026-12-07 21:48:57.500");
  Add(r.mutable_after(), "ts0", 17, "2026-12-07 21:48:57.000");
  Add(r.mutable_after(), "t", 19, "-838:59:59.000000");
  Add(r.mutable_after(), "zero", 10, "0000-00-00");
  auto* dec = r.mutable_after()->Add();
  dec->set_name("total");
  dec->set_mysql_type(246);
  dec->mutable_value()->set_decimal("-12.3400");
  auto* js = r.mutable_after()->Add();
  js->set_name("doc");
  js->set_mysql_type(245);
  js->mutable_value()->set_json("{\"a\":[1,2]}");
  std::string out;
  ASSERT_TRUE(AppendDebeziumValue(r, "shop", &out));
  const int64_t day = Epoch(2026, 12, 7) / 86400;
  const int64_t dt = Epoch(2026, 12, 7, 21, 48, 57);
  const std::string after =
      "{\"d\":" + std::to_string(day) + ",\"dt\":" + std::to_string(dt * 1000) +
      ",\"dt3\":" + std::to_string(dt * 1000 + 768) +
      ",\"dt6\":" + std::to_string((Epoch(1969, 12, 31, 23, 59, 59)) * 1000000 + 1) +
      ",\"ts\":\"2026-12-07T21:48:57.5Z\",\"ts0\":\"2026-12-07T21:48:57Z\",\"t\":" +
      std::to_string(-((838LL * 3600 + 59 * 60 + 59) * 1000000)) +
      ",\"zero\":null,\"total\":\"-12.3400\",\"doc\":\"{\\\"a\\\":[1,2]}\"}";
  EXPECT_EQ(out,
            "{\"before\":null,\"after\":" + after +
                ",\"source\":{\"version\":\"sluice\",\"connector\":\"mysql\",\"name\":\"shop\","
                "\"ts_ms\":1796680137000,\"snapshot\":\"false\",\"db\":\"shop\","
                "\"sequence\":null,\"table\":\"orders\",\"server_id\":0,\"gtid\":\"0-1-17\","
                "\"file\":\"binlog.000001\",\"pos\":4242,\"row\":0,\"thread\":null,"
                "\"query\":null},\"op\":\"c\",\"ts_ms\":1796680137000,\"transaction\":null}");
}

TEST(Debezium, OpsAndImages) {
  proto::ChangeRecord del = Row(proto::OP_DELETE);
  auto* id = del.mutable_before()->Add();
  id->set_name("id");
  id->mutable_value()->set_int64(7);
  std::string out;
  ASSERT_TRUE(AppendDebeziumValue(del, "shop", &out));
  EXPECT_EQ(out.rfind("{\"before\":{\"id\":7},\"after\":null,", 0), 0u) << out;
  EXPECT_NE(out.find("\"op\":\"d\""), std::string::npos);

  proto::ChangeRecord read = Row(proto::OP_READ);
  *read.mutable_after() = del.before();
  out.clear();
  ASSERT_TRUE(AppendDebeziumValue(read, "shop", &out));
  EXPECT_NE(out.find("\"snapshot\":\"true\""), std::string::npos) << out;
  EXPECT_NE(out.find("\"op\":\"r\""), std::string::npos);

  proto::ChangeRecord upd = Row(proto::OP_UPDATE);
  *upd.mutable_before() = del.before();
  *upd.mutable_after() = del.before();
  out.clear();
  ASSERT_TRUE(AppendDebeziumValue(upd, "shop", &out));
  EXPECT_NE(out.find("\"op\":\"u\""), std::string::npos);

  // Not a row change: nothing (the listener sends the sluice JSON line).
  proto::ChangeRecord ddl = Row(proto::OP_DDL);
  ddl.set_sql("ALTER TABLE orders ADD COLUMN x INT");
  out.clear();
  EXPECT_FALSE(AppendDebeziumValue(ddl, "shop", &out));
  EXPECT_TRUE(out.empty());
}

}  // namespace
}  // namespace sluice::kafka
