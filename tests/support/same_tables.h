// The project's end-to-end oracle, "the target equals the source": every
// table of a database, read from both servers, compared by what the
// servers say (no value is ever computed by sluice here):
//   - the same set of tables;
//   - the same columns (SHOW COLUMNS: names, types, keys, defaults);
//   - the same CHECKSUM TABLE;
//   - the same rows, value by value, each side in the same order: by the
//     primary key, or by every column for a table without one.
//
//   testing::Compared c;
//   ASSERT_NO_FATAL_FAILURE(testing::ExpectSameTables(src.get(), dst.get(), "shop", &c));
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/support/mariadb_fixture.h"

namespace sluice::testing {

struct Compared {
  size_t tables = 0;
  size_t rows = 0;
};

// The tables of `db`, by name.
inline std::vector<std::string> TablesOf(MariaDb* server, const std::string& db) {
  auto rows =
      server->Query("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = '" + db +
                    "' ORDER BY TABLE_NAME");
  EXPECT_TRUE(rows.ok()) << rows.status().ToString();
  std::vector<std::string> out;
  if (rows.ok()) {
    for (const auto& r : *rows) out.push_back(*r[0]);
  }
  return out;
}

// ORDER BY list of `db`.`table`: its primary key, else every column.
inline std::string RowOrder(MariaDb* server, const std::string& db, const std::string& table) {
  auto key = server->Query(
      "SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = '" + db +
      "' AND TABLE_NAME = '" + table +
      "' AND CONSTRAINT_NAME = 'PRIMARY' ORDER BY ORDINAL_POSITION");
  EXPECT_TRUE(key.ok()) << key.status().ToString();
  std::string order;
  if (key.ok()) {
    for (const auto& k : *key) order += (order.empty() ? "`" : ", `") + *k[0] + "`";
  }
  if (!order.empty()) return order;
  auto cols =
      server->Query("SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = '" + db +
                    "' AND TABLE_NAME = '" + table + "'");
  EXPECT_TRUE(cols.ok()) << cols.status().ToString();
  const int n = cols.ok() ? std::stoi(*(*cols)[0][0]) : 0;
  for (int i = 1; i <= n; ++i) order += (i > 1 ? "," : "") + std::to_string(i);
  return order;
}

inline void ExpectSameTables(MariaDb* source, MariaDb* target, const std::string& db,
                             Compared* compared = nullptr) {
  const auto tables = TablesOf(source, db);
  ASSERT_FALSE(tables.empty()) << "no table in " << db;
  ASSERT_EQ(tables, TablesOf(target, db)) << "the set of tables of " << db;
  size_t rows_compared = 0;
  for (const auto& t : tables) {
    const std::string name = db + ".`" + t + "`";
    auto ca = source->Query("SHOW COLUMNS FROM " + name);
    auto cb = target->Query("SHOW COLUMNS FROM " + name);
    ASSERT_TRUE(ca.ok() && cb.ok()) << t;
    EXPECT_EQ(*ca, *cb) << "columns of " << t;
    auto a = source->Query("CHECKSUM TABLE " + name);
    auto b = target->Query("CHECKSUM TABLE " + name);
    ASSERT_TRUE(a.ok() && b.ok()) << t;
    EXPECT_EQ((*a)[0][1], (*b)[0][1]) << "CHECKSUM TABLE " << t;
    const std::string q = "SELECT * FROM " + name + " ORDER BY " + RowOrder(source, db, t);
    auto ra = source->Query(q);
    auto rb = target->Query(q);
    ASSERT_TRUE(ra.ok() && rb.ok()) << q;
    ASSERT_EQ(ra->size(), rb->size()) << "rows of " << t;
    for (size_t i = 0; i < ra->size(); ++i) {
      ASSERT_EQ((*ra)[i].size(), (*rb)[i].size()) << t << " row " << i;
      for (size_t k = 0; k < (*ra)[i].size(); ++k) {
        ASSERT_EQ((*ra)[i][k], (*rb)[i][k]) << t << " row " << i << " (first column "
                                            << (*ra)[i][0].value_or("NULL") << ") column " << k;
      }
    }
    rows_compared += ra->size();
  }
  if (compared != nullptr) *compared = {tables.size(), rows_compared};
}

}  // namespace sluice::testing
