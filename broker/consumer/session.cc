#include "broker/consumer/session.h"

#include <algorithm>

#include "broker/consumer/fetch_frame.h"
#include "proto/frame.h"
#include "proto/wire_error.h"

namespace sluice::consumer {
namespace {

// Answers are bounded by the service's max_bytes; this only guards the
// 4-byte length field.
constexpr uint32_t kMaxResponseFrame = 1u << 30;

proto::ErrorCode RefusalCode(net::Refusal why) {
  switch (why) {
    case net::Refusal::kFrameTooLarge: return proto::FRAME_TOO_LARGE;
    case net::Refusal::kFrameDeadline: return proto::TIMEOUT;
    case net::Refusal::kTooManyConnections: return proto::TOO_MANY_CONNECTIONS;
    case net::Refusal::kShutdown: return proto::UNAVAILABLE;
  }
  return proto::INTERNAL;
}

}  // namespace

class ConsumerSession final : public net::Session {
 public:
  ConsumerSession(ConsumerProtocol* p, net::ServerConnection* conn)
      : p_(p), svc_(p->service_), conn_(conn), handshake_(&p->auth_) {}

  void OnFrame(std::string_view body) override {
    proto::Request req;
    if (!req.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
      return Refuse(
          0, proto::MakeError(proto::BAD_REQUEST,
                              "the frame is not a sluice Request message (docs/protocol.md); "
                              "closing the connection"));
    }
    Serve(req);
  }

  bool Retry(bool expired) override {
    // A Fetch whose offset the log has not reached is skipped unread.
    if (!expired && parked_.body_case() == proto::Request::kFetch) {
      proto::ListOffsetsRequest lo;
      lo.set_dest(parked_.fetch().dest());
      proto::ListOffsetsResponse off;
      if (svc_->ListOffsets(lo, &off).code() == proto::OK &&
          off.high_watermark() <= parked_.fetch().offset()) {
        return false;
      }
    }
    if (!TryServe(parked_, expired ? IfEmpty::kAnswer : IfEmpty::kWait)) return false;
    parked_.Clear();
    return true;
  }

  std::string Farewell(net::Refusal why, const std::string& message) override {
    const uint64_t id = why == net::Refusal::kShutdown ? parked_.id() : 0;
    return Frame(ErrorResponse(id, proto::MakeError(RefusalCode(why), message)));
  }

 private:
  // What TryServe does when a Fetch or Get has nothing to return yet.
  enum class IfEmpty { kPark, kAnswer, kWait };

  void Serve(const proto::Request& req) {
    const auto body = req.body_case();
    if (body == proto::Request::kHello) return Hello(req);
    if (body == proto::Request::kAuth) return Authenticate(req);
    if (Handshake::IsRoleRequest(req) && handshake_.access() != Handshake::Access::kNone) {
      return ServeRole(req);
    }
    if (proto::Error e = handshake_.Admit(req); e.code() != proto::OK) {
      return Send(ErrorResponse(req.id(), e));
    }
    TryServe(req, IfEmpty::kPark);
  }

  // Serves `req` without blocking. When a Fetch or Get has nothing yet:
  // kPark parks it if it asked for a wait (else answers), kAnswer answers
  // empty, kWait answers nothing and returns false (it stays parked).
  bool TryServe(const proto::Request& req, IfEmpty if_empty) {
    proto::Response r;
    r.set_id(req.id());
    proto::Error e;
    switch (req.body_case()) {
      case proto::Request::kFetch: {
        // The hot path: records go from the log straight into the frame.
        proto::FetchRequest f = req.fetch();
        f.set_wait_ms(0);
        RecordSet set;
        e = svc_->FetchRecords(f, &set);
        if (e.code() != proto::OK) break;
        if (set.records.empty() && !Empty(req, req.fetch().wait_ms(), if_empty)) return false;
        std::string bytes = conn_->TakeBuffer();
        AppendFetchFrame(req.id(), set, &bytes);
        conn_->Send(std::move(bytes));
        return true;
      }
      case proto::Request::kGet: {
        proto::GetRequest g = req.get();
        g.set_timeout_ms(0);
        e = svc_->Get(g, r.mutable_get());
        if (e.code() == proto::OK && r.get().batch_id() == 0 &&
            !Empty(req, req.get().timeout_ms(), if_empty)) {
          return false;
        }
        break;
      }
      case proto::Request::kListOffsets:
        e = svc_->ListOffsets(req.list_offsets(), r.mutable_list_offsets());
        break;
      case proto::Request::kSubscribe:
        e = svc_->Subscribe(req.subscribe(), r.mutable_subscribe());
        break;
      case proto::Request::kAck: e = svc_->Ack(req.ack(), r.mutable_ack()); break;
      case proto::Request::kRollback:
        e = svc_->Rollback(req.rollback(), r.mutable_rollback());
        break;
      case proto::Request::kUnsubscribe:
        e = svc_->Unsubscribe(req.unsubscribe(), r.mutable_unsubscribe());
        break;
      case proto::Request::kStatus: e = NodeStatus(r.mutable_status()); break;
      default:
        e = proto::MakeError(
            proto::BAD_REQUEST,
            "unknown request type (field " + std::to_string(static_cast<int>(req.body_case())) +
                "); this server speaks protocol version " + std::to_string(kProtocolVersion));
        break;
    }
    Answer(&r, e);
    return true;
  }

  // A Fetch or Get found nothing: true to answer it empty now.
  bool Empty(const proto::Request& req, uint32_t wait_ms, IfEmpty if_empty) {
    if (if_empty == IfEmpty::kAnswer) return true;
    if (if_empty == IfEmpty::kWait) return false;
    if (wait_ms == 0) return true;
    parked_ = req;
    conn_->Park(wait_ms);
    return false;
  }

  // The service's status with the node's part added.
  proto::Error NodeStatus(proto::StatusResponse* out) {
    proto::Error e = svc_->GetStatus({}, out);
    if (e.code() == proto::OK && p_->admin_ != nullptr) p_->admin_->FillStatus(out);
    return e;
  }

  void Hello(const proto::Request& req) {
    const proto::Hello& h = req.hello();
    if (h.seen_epoch() > 0 && p_->admin_ != nullptr) {
      p_->admin_->NoteClientEpoch(Epoch(h.seen_epoch()));  // may fence this node
    }
    proto::Response r;
    r.set_id(req.id());
    proto::HelloResponse* hr = r.mutable_hello();
    proto::StatusResponse st;
    (void)NodeStatus(&st);
    hr->set_node_id(st.node_id());
    hr->set_role(st.role());
    hr->set_epoch(std::max(p_->epoch_, st.epoch()));
    proto::Error e = handshake_.Hello(h, kProtocolVersion, hr);
    if (e.code() == proto::AUTH_FAILED) {
      p_->auth_failures_->fetch_add(1, std::memory_order_relaxed);
      return CloseAfter(req.id(), e);
    }
    if (e.code() != proto::OK) *r.mutable_error() = e;  // the HelloResponse stays
    Send(r);
  }

  void Authenticate(const proto::Request& req) {
    proto::Error e = handshake_.Authenticate(req.auth());
    if (e.code() == proto::AUTH_FAILED) {
      p_->auth_failures_->fetch_add(1, std::memory_order_relaxed);
      return CloseAfter(req.id(), e);
    }
    proto::Response r;
    r.set_id(req.id());
    r.mutable_auth();
    Answer(&r, e);
  }

  void ServeRole(const proto::Request& req) {
    proto::Error e = handshake_.ProveRole(req);
    if (e.code() == proto::AUTH_FAILED) {
      p_->auth_failures_->fetch_add(1, std::memory_order_relaxed);
      return CloseAfter(req.id(), e);
    }
    proto::Response r;
    r.set_id(req.id());
    RoleAdmin* admin = p_->admin_;
    if (e.code() == proto::OK) {
      if (req.body_case() == proto::Request::kStatus) {
        e = NodeStatus(r.mutable_status());
      } else if (admin == nullptr) {
        e = proto::MakeError(proto::UNAVAILABLE, "this node takes no role changes");
      } else if (req.body_case() == proto::Request::kPromote) {
        e = admin->Promote(req.promote(), r.mutable_promote());
      } else if (req.body_case() == proto::Request::kSnapshot) {
        e = admin->Snapshot(req.snapshot(), r.mutable_snapshot());
      } else {
        e = admin->Demote(req.demote(), r.mutable_demote());
      }
    }
    Answer(&r, e);
  }

  // Sends *r, or the error `e` in its place.
  void Answer(proto::Response* r, const proto::Error& e) {
    if (e.code() != proto::OK) {
      r->clear_body();
      *r->mutable_error() = e;
    }
    Send(*r);
  }

  static proto::Response ErrorResponse(uint64_t id, const proto::Error& e) {
    proto::Response r;
    r.set_id(id);
    *r.mutable_error() = e;
    return r;
  }

  std::string Frame(const proto::Response& r) {
    std::string bytes = conn_->TakeBuffer();
    if (Status st = frame::Append(r, &bytes, kMaxResponseFrame); !st.ok()) {
      // Cannot happen with the service's bounds; answer something small.
      bytes.clear();
      (void)frame::Append(
          ErrorResponse(r.id(),
                        proto::MakeError(proto::INTERNAL, "response too large: " + st.ToString())),
          &bytes, kMaxResponseFrame);
    }
    return bytes;
  }

  void Send(const proto::Response& r) { conn_->Send(Frame(r)); }

  // Answers `e` and closes the connection once the answer is written: a
  // peer that broke the protocol (Refuse) or failed to prove who it is.
  void Refuse(uint64_t id, const proto::Error& e) { conn_->Refuse(Frame(ErrorResponse(id, e))); }
  void CloseAfter(uint64_t id, const proto::Error& e) {
    conn_->CloseAfter(Frame(ErrorResponse(id, e)));
  }

  ConsumerProtocol* const p_;
  ConsumerService* const svc_;
  net::ServerConnection* const conn_;
  Handshake handshake_;
  proto::Request parked_;  // the request waiting for a commit
};

ConsumerProtocol::ConsumerProtocol(ConsumerService* service, RoleAdmin* admin, AuthConfig auth,
                                   uint64_t epoch, std::atomic<uint64_t>* auth_failures)
    : service_(service),
      admin_(admin),
      auth_(std::move(auth)),
      epoch_(epoch),
      auth_failures_(auth_failures) {}

std::unique_ptr<net::Session> ConsumerProtocol::Open(net::ServerConnection* conn) {
  return std::make_unique<ConsumerSession>(this, conn);
}

}  // namespace sluice::consumer
