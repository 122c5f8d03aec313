// The frame codec of the wire protocols (proto/frame.h, docs/protocol.md).
#include "proto/frame.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "proto/protocol.pb.h"

namespace sluice::frame {
namespace {

// One request of every kind, with fields set.
std::vector<proto::Request> EveryRequest() {
  std::vector<proto::Request> v;
  auto add = [&](auto fill) {
    proto::Request r;
    r.set_id(v.size() + 1);
    fill(&r);
    v.push_back(r);
  };
  add([](proto::Request* r) {
    r->mutable_hello()->set_protocol_version(1);
    r->mutable_hello()->set_user("reader");
  });
  add([](proto::Request* r) { r->mutable_auth()->set_proof(std::string(32, '\x7f')); });
  add([](proto::Request* r) {
    auto* f = r->mutable_fetch();
    f->set_dest("shop");
    f->set_offset(1ull << 40);
    f->set_max_records(1000);
    f->set_wait_ms(500);
  });
  add([](proto::Request* r) { r->mutable_list_offsets()->set_timestamp(1764000000); });
  add([](proto::Request* r) { r->mutable_subscribe()->set_filter("shop\\..*"); });
  add([](proto::Request* r) { r->mutable_get()->set_batch_size(100); });
  add([](proto::Request* r) { r->mutable_ack()->set_batch_id(7); });
  add([](proto::Request* r) { r->mutable_rollback()->set_batch_id(0); });
  add([](proto::Request* r) { r->mutable_unsubscribe()->set_group("g"); });
  add([](proto::Request* r) { r->mutable_status(); });
  return v;
}

// The header is the payload's length in big-endian order, and the payload
// is protobuf's encoding: Request{id: 1} is field 1 as a varint, tag 0x08
// (protobuf encoding spec), then 0x01.
TEST(FrameTest, BytesFollowTheSpec) {
  proto::Request r;
  r.set_id(1);
  std::string out;
  ASSERT_TRUE(Append(r, &out).ok());
  EXPECT_EQ(out, std::string("\x00\x00\x00\x02\x08\x01", 6));
  proto::Request big;
  big.mutable_auth()->set_proof(std::string(300, 'p'));
  out.clear();
  ASSERT_TRUE(Append(big, &out).ok());
  // auth = field 11, length-delimited: tag 0x5a; inside, proof = field 2.
  const uint32_t n = static_cast<uint32_t>(out.size() - 4);
  EXPECT_EQ(static_cast<unsigned char>(out[0]), n >> 24);
  EXPECT_EQ(static_cast<unsigned char>(out[2]), (n >> 8) & 0xff);
  EXPECT_EQ(static_cast<unsigned char>(out[3]), n & 0xff);
  EXPECT_EQ(static_cast<unsigned char>(out[4]), 0x5a);
}

TEST(FrameTest, EveryRequestRoundTripsWhateverTheReadSizes) {
  const auto requests = EveryRequest();
  std::string stream;
  for (const auto& r : requests) ASSERT_TRUE(Append(r, &stream).ok());
  std::mt19937 rng(7);
  for (int trial = 0; trial < 50; ++trial) {
    FrameReader reader(1 << 20);
    std::vector<proto::Request> got;
    size_t at = 0;
    while (at < stream.size()) {
      size_t n = std::min<size_t>(stream.size() - at, 1 + rng() % (trial < 10 ? 3 : 200));
      reader.Feed(std::string_view(stream).substr(at, n));
      at += n;
      for (;;) {
        std::string_view payload;
        auto more = reader.Next(&payload);
        ASSERT_TRUE(more.ok()) << more.status().ToString();
        if (!*more) break;
        proto::Request r;
        ASSERT_TRUE(Parse(payload, &r, "Request").ok());
        got.push_back(r);
      }
    }
    ASSERT_EQ(got.size(), requests.size());
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i].SerializeAsString(), requests[i].SerializeAsString()) << i;
      EXPECT_EQ(got[i].body_case(), requests[i].body_case());
    }
    EXPECT_EQ(reader.buffered(), 0u);
    EXPECT_FALSE(reader.mid_frame());
  }
}

TEST(FrameTest, DeclaredLengthAboveTheLimitIsRefusedFromTheHeaderAlone) {
  FrameReader reader(1000);
  reader.Feed(std::string("\x7f\xff\xff\xff", 4));  // 2 GiB declared
  std::string_view payload;
  auto r = reader.Next(&payload);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("2147483647"), std::string::npos) << r.status().ToString();
  EXPECT_NE(r.status().message().find("1000"), std::string::npos);
  EXPECT_EQ(reader.buffered(), 4u);  // nothing was allocated for the body
}

TEST(FrameTest, LengthAtTheLimitIsAcceptedAndOneMoreIsNot) {
  proto::Request r;
  r.mutable_auth()->set_proof(std::string(200, 'x'));
  const uint32_t n = static_cast<uint32_t>(r.ByteSizeLong());
  std::string out;
  ASSERT_TRUE(Append(r, &out, n).ok());
  EXPECT_EQ(Append(r, &out, n - 1).code(), Code::kInvalidArgument);
  FrameReader exact(n), below(n - 1);
  exact.Feed(out);
  below.Feed(out);
  std::string_view payload;
  EXPECT_TRUE(*exact.Next(&payload));
  EXPECT_EQ(payload.size(), n);
  EXPECT_FALSE(below.Next(&payload).ok());
}

TEST(FrameTest, TruncatedFrameWaitsAndGarbageDoesNotParse) {
  FrameReader reader;
  reader.Feed(
      std::string("\x00\x00\x00\x10"
                  "abc",
                  7));
  std::string_view payload;
  EXPECT_FALSE(*reader.Next(&payload));
  EXPECT_TRUE(reader.mid_frame());
  reader.Feed(std::string(13, '\xff'));
  ASSERT_TRUE(*reader.Next(&payload));
  proto::Request r;
  Status st = Parse(payload, &r, "Request");
  EXPECT_EQ(st.code(), Code::kInvalidArgument);
  EXPECT_NE(st.message().find("not a valid Request"), std::string::npos);
  // An empty frame is a valid (empty) message: the server answers it as a
  // request without a body.
  reader.Feed(std::string("\x00\x00\x00\x00", 4));
  ASSERT_TRUE(*reader.Next(&payload));
  EXPECT_TRUE(Parse(payload, &r, "Request").ok());
  EXPECT_EQ(r.body_case(), proto::Request::BODY_NOT_SET);
}

TEST(FrameTest, ManySmallFramesKeepTheBufferBounded) {
  proto::Request r;
  r.set_id(5);
  std::string one;
  ASSERT_TRUE(Append(r, &one).ok());
  FrameReader reader;
  size_t max_buffered = 0;
  for (int i = 0; i < 100000; ++i) {
    reader.Feed(one);
    reader.Feed(std::string_view(one).substr(0, 3));  // a partial frame stays behind
    std::string_view payload;
    ASSERT_TRUE(*reader.Next(&payload));
    max_buffered = std::max(max_buffered, reader.buffered());
    reader.Feed(std::string_view(one).substr(3));
    ASSERT_TRUE(*reader.Next(&payload));
  }
  EXPECT_EQ(reader.buffered(), 0u);
  EXPECT_LE(max_buffered, 2 * one.size());
}

}  // namespace
}  // namespace sluice::frame
