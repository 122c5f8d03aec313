// Random row changes for the tests of the JSON renderers (record_json.h,
// record_view.h): every scalar value kind, strings with quotes, control
// characters and valid and invalid UTF-8, columns without names, keys
// whose column is missing from the image, snapshot marks, NaN and
// infinities; now and then a GEOMETRY or VECTOR value.
//
//   std::mt19937_64 rng(1);
//   proto::ChangeRecord r = testing::RandomRowRecord(&rng);
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>

#include "proto/record.pb.h"

namespace sluice::testing {

inline std::string RandomText(std::mt19937_64* rng) {
  static const char* const kPieces[] = {"a",
                                        "Z",
                                        " ",
                                        "\"",
                                        "\\",
                                        "\n",
                                        "\t",
                                        "\x01",
                                        "\x7f",
                                        "\xc3\xa9",
                                        "\xe2\x82\xac",
                                        "\xf0\x9f\x98\x80",
                                        "\xc3",
                                        "\xff",
                                        "\xed\xa0\x80",
                                        "0",
                                        ":",
                                        "{}"};
  std::string s;
  const size_t n = (*rng)() % 12;
  for (size_t i = 0; i < n; ++i) s += kPieces[(*rng)() % std::size(kPieces)];
  return s;
}

inline void RandomValue(std::mt19937_64* rng, proto::Column* c) {
  proto::Value* v = c->mutable_value();
  switch ((*rng)() % 14) {
    case 0: v->set_is_null(true); break;
    case 1: v->set_int64(static_cast<int64_t>((*rng)())); break;
    case 2: v->set_int64(-static_cast<int64_t>((*rng)() % 1000)); break;
    case 3: v->set_uint64((*rng)()); break;
    case 4: {
      static const double kDoubles[] = {0.1,
                                        -2.5e300,
                                        1e-310,
                                        3.0,
                                        std::numeric_limits<double>::quiet_NaN(),
                                        std::numeric_limits<double>::infinity()};
      v->set_float64(kDoubles[(*rng)() % std::size(kDoubles)]);
      c->set_mysql_type((*rng)() % 2 ? 4 : 5);  // FLOAT or DOUBLE
      break;
    }
    case 5: v->set_decimal("-12." + std::to_string((*rng)() % 10000)); break;
    case 6: v->set_text(RandomText(rng)); break;
    case 7: v->set_binary(RandomText(rng)); break;
    case 8: v->set_json((*rng)() % 3 ? "{\"k\":[1,2]}" : ""); break;
    case 9: v->set_enum_label(RandomText(rng)); break;
    case 10: v->set_enum_index((*rng)() % 64); break;
    case 11: break;  // an empty Value: no kind
    case 12:
      if ((*rng)() % 4 == 0) {
        v->mutable_geometry()->set_srid(4326);
        v->mutable_geometry()->set_wkb("\x01\x01");
      } else {
        v->set_text("");
      }
      break;
    default:
      if ((*rng)() % 4 == 0) {
        v->mutable_vector()->add_values(1.5f);
      } else {
        c->clear_value();  // no value at all
      }
  }
}

inline proto::ChangeRecord RandomRowRecord(std::mt19937_64* rng) {
  static const proto::Op kOps[] = {proto::OP_INSERT, proto::OP_UPDATE, proto::OP_DELETE,
                                   proto::OP_READ};
  proto::ChangeRecord r;
  if ((*rng)() % 2) r.set_format_version(proto::RECORD_FORMAT_V1);
  r.set_op(kOps[(*rng)() % std::size(kOps)]);
  r.set_db(RandomText(rng));
  r.set_table((*rng)() % 2 ? "orders" : RandomText(rng));
  const int ncols = static_cast<int>((*rng)() % 6);
  for (int image = 0; image < 2; ++image) {
    if ((*rng)() % 5 == 0) continue;  // an image left out
    auto* cols = image == 0 ? r.mutable_before() : r.mutable_after();
    for (int i = 0; i < ncols; ++i) {
      proto::Column* c = cols->Add();
      c->set_index(static_cast<uint32_t>(i));
      if ((*rng)() % 6) c->set_name(i == 0 ? "id" : "c" + std::to_string(i));
      if ((*rng)() % 3 == 0) c->set_mysql_type(static_cast<uint32_t>((*rng)() % 256));
      if ((*rng)() % 4 == 0) c->set_is_unsigned(true);
      RandomValue(rng, c);
    }
  }
  if ((*rng)() % 3) r.add_pk("id");
  if ((*rng)() % 5 == 0) r.add_pk("c2");
  r.set_ts((*rng)() % 2 ? 1764000000 : (*rng)());
  if ((*rng)() % 6) {
    r.mutable_pos()->set_file((*rng)() % 4 ? "binlog.000001" : RandomText(rng));
    r.mutable_pos()->set_pos((*rng)());
  }
  if ((*rng)() % 2) r.set_gtid("0-1-" + std::to_string((*rng)() % 100000));
  if ((*rng)() % 4) {
    r.mutable_txn()->set_seq(static_cast<uint32_t>((*rng)() % 100));
    r.mutable_txn()->set_last((*rng)() % 2);
  }
  if ((*rng)() % 5 == 0) {
    r.mutable_snapshot()->set_id(RandomText(rng));
    r.mutable_snapshot()->set_chunk((*rng)() % 1000);
  }
  return r;
}

}  // namespace sluice::testing
