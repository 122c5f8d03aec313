// libFuzzer target for the Kafka port's requests (broker/kafka): the input
// is a client's byte stream, frames of a 4-byte big-endian length and a
// body, as the FrameServer would cut them; each body goes to one session
// of the real KafkaProtocol, serving a real commit log ("shop", a few
// records) through a real ConsumerService. Headers, every API's decoder,
// SASL, the group coordinator and Fetch's batch building all see untrusted
// bytes. Nothing may crash; a session that refuses stops getting frames,
// as a closed connection would. Seeds: streams captured from kcat,
// confluent-kafka, kafka-python and kafkajs (tests/fuzz/corpus/kafka_request).
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "broker/consumer/service.h"
#include "broker/kafka/server.h"
#include "broker/kafka/session.h"
#include "proto/auth.h"
#include "proto/record.pb.h"
#include "storage/commit_log.h"

namespace {

using namespace sluice;

class Conn final : public net::ServerConnection {
 public:
  void Send(std::string frame) override { bytes += frame.size(); }
  std::string TakeBuffer() override { return {}; }
  void CloseAfter(std::string frame) override {
    Send(std::move(frame));
    closed = true;
  }
  void Refuse(std::string frame) override { CloseAfter(std::move(frame)); }
  void Park(uint32_t) override { parked = true; }
  void SetMaxFrame(uint32_t) override {}

  size_t bytes = 0;
  bool closed = false;
  bool parked = false;
};

struct World {
  std::unique_ptr<CommitLog> log;
  std::unique_ptr<consumer::ConsumerService> service;
  kafka::KafkaStats stats;
  std::unique_ptr<kafka::KafkaProtocol> protocol;
};

World* TheWorld() {
  static World* w = [] {
    auto* world = new World();
    const char* tmp = std::getenv("TMPDIR");
    std::string dir =
        std::string(tmp ? tmp : "/tmp") + "/kafka_request_fuzz_" + std::to_string(::getpid());
    std::filesystem::remove_all(dir);
    CommitLogOptions o;
    o.path = dir;
    auto opened = CommitLog::Open(o);
    if (!opened.ok()) __builtin_trap();
    world->log = std::move(*opened);
    std::vector<std::string> recs;
    for (int i = 0; i < 20; ++i) {
      proto::ChangeRecord r;
      r.set_op(proto::OP_INSERT);
      r.set_db("shop");
      r.set_table("orders");
      r.add_pk("id");
      auto* c = r.add_after();
      c->set_name("id");
      c->mutable_value()->set_int64(i);
      r.set_ts(1764000000 + i);
      r.mutable_txn()->set_last(true);
      recs.push_back(r.SerializeAsString());
    }
    std::vector<std::string_view> views(recs.begin(), recs.end());
    proto::SourceCheckpoint cp;
    cp.set_file("binlog.000001");
    cp.set_pos(4);
    if (!world->log->CommitTransaction(views, cp).ok()) __builtin_trap();
    consumer::ServiceOptions so;
    world->service = std::make_unique<consumer::ConsumerService>(so);
    world->service->SetRole(Role::kPrimary, "");
    world->service->AddDestination("shop", world->log.get());
    kafka::KafkaOptions ko;
    ko.anonymous = true;
    ko.users["u"] = auth::PasswordKey("pw");
    world->protocol =
        std::make_unique<kafka::KafkaProtocol>(ko, world->service.get(), &world->stats);
    return world;
  }();
  return w;
}

uint32_t Big32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  World* w = TheWorld();
  Conn conn;
  std::unique_ptr<net::Session> session = w->protocol->Open(&conn);
  size_t at = 0;
  while (at + 4 <= size && !conn.closed) {
    const uint32_t n = Big32(data + at);
    at += 4;
    if (n > size - at) break;
    session->OnFrame(std::string_view(reinterpret_cast<const char*>(data) + at, n));
    at += n;
    if (conn.parked) {
      conn.parked = false;
      session->Retry(/*expired=*/true);
    }
  }
  return 0;
}
