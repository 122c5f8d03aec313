#include "broker/consumer/server.h"

#include <uv.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>
#include <unordered_set>

#include "base/thread_name.h"
#include "broker/consumer/fetch_frame.h"
#include "broker/net/listen.h"
#include "proto/auth.h"
#include "proto/frame.h"

namespace sluice::consumer {
namespace {

constexpr uint32_t kProtocolVersion = 1;
// Responses are bounded by the service's max_bytes; this only guards the
// 4-byte length field.
constexpr uint32_t kMaxResponseFrame = 1u << 30;

proto::Error Err(proto::ErrorCode code, std::string message) {
  proto::Error e;
  e.set_code(code);
  e.set_message(std::move(message));
  return e;
}

bool IsGroupRequest(proto::Request::BodyCase b) {
  return b == proto::Request::kSubscribe || b == proto::Request::kGet ||
         b == proto::Request::kAck || b == proto::Request::kRollback ||
         b == proto::Request::kUnsubscribe;
}

}  // namespace

// The commit hook outlives the server (the service keeps it): it only
// signals while the loop's async handle is open.
struct WakeSignal {
  std::mutex mu;
  uv_async_t* async = nullptr;  // null once the server stops
  void Send() {
    std::lock_guard<std::mutex> lock(mu);
    if (async != nullptr) uv_async_send(async);
  }
};

struct ConsumerServer::Impl {
  enum class Auth { kNone, kAwaitProof, kUser, kAnonymous, kAdmin };

  struct Conn {
    Impl* impl = nullptr;
    uv_tcp_t tcp{};
    uv_timer_t timer{};
    int open_handles = 2;
    frame::FrameReader reader;
    Auth auth = Auth::kNone;
    std::string user, nonce;
    // The request waiting for a commit, and when its wait ends (loop ms).
    bool parked = false;
    proto::Request parked_req;
    uint64_t park_deadline = 0;
    uint64_t last_activity = 0;  // bytes read or output drained
    uint64_t frame_started = 0;  // first byte of an unfinished frame; 0: none
    size_t out_pending = 0;      // bytes handed to uv_write, not yet written
    std::string spare;           // a written answer's buffer, for the next one
    bool reading = false;
    bool closing = false;  // uv_close called
    bool close_when_flushed = false;

    explicit Conn(uint32_t max_frame) : reader(max_frame) {}
  };

  struct Write {
    uv_write_t req{};
    Conn* conn = nullptr;
    std::string bytes;
  };

  ServerOptions opt;
  ConsumerService* svc = nullptr;
  uv_loop_t loop{};
  uv_tcp_t server{};
  uv_async_t wake{};
  uv_async_t stop{};
  std::shared_ptr<WakeSignal> signal = std::make_shared<WakeSignal>();
  std::unordered_set<Conn*> conns;
  ServerStats stats;
  std::thread thread;
  bool stopping = false;
  // A key no password hashes to: an unknown user's proof is checked
  // against it, so the answer does not say whether the user exists.
  const std::string unknown_user_key = auth::RandomBytes(32);

  uint64_t Now() { return uv_now(&loop); }

  // --- output -----------------------------------------------------------------

  void Send(Conn* c, const proto::Response& r) {
    if (c->closing) return;
    std::string bytes = TakeBuffer(c);
    if (Status st = frame::Append(r, &bytes, kMaxResponseFrame); !st.ok()) {
      // Cannot happen with the service's bounds; answer something small.
      bytes.clear();
      proto::Response e;
      e.set_id(r.id());
      *e.mutable_error() = Err(proto::INTERNAL, "response too large: " + st.ToString());
      (void)frame::Append(e, &bytes, kMaxResponseFrame);
    }
    SendFrame(c, std::move(bytes));
  }

  // An empty buffer for the next answer: the one the last finished write
  // gave back, so big answers do not allocate (and fault in) afresh.
  static std::string TakeBuffer(Conn* c) {
    std::string b = std::move(c->spare);
    c->spare = std::string();
    b.clear();
    return b;
  }

  void SendFrame(Conn* c, std::string bytes) {
    if (c->closing) return;
    auto* w = new Write();
    w->conn = c;
    w->bytes = std::move(bytes);
    w->req.data = w;
    c->out_pending += w->bytes.size();
    stats.bytes_out.fetch_add(w->bytes.size(), std::memory_order_relaxed);
    uv_buf_t buf = uv_buf_init(w->bytes.data(), static_cast<unsigned>(w->bytes.size()));
    int rc = uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&c->tcp), &buf, 1, OnWritten);
    if (rc != 0) {
      c->out_pending -= w->bytes.size();
      delete w;
      Close(c);
    }
  }

  static void OnWritten(uv_write_t* req, int status) {
    auto* w = static_cast<Write*>(req->data);
    Conn* c = w->conn;
    Impl* impl = c->impl;
    c->out_pending -= w->bytes.size();
    if (w->bytes.capacity() > c->spare.capacity()) c->spare = std::move(w->bytes);
    delete w;
    if (c->closing) return;
    if (status != 0) {
      impl->Close(c);
      return;
    }
    c->last_activity = impl->Now();
    if (c->close_when_flushed) {
      if (c->out_pending == 0) impl->Close(c);
      return;
    }
    impl->Resume(c);
  }

  void SendError(Conn* c, uint64_t id, const proto::Error& e) {
    proto::Response r;
    r.set_id(id);
    *r.mutable_error() = e;
    Send(c, r);
  }

  // Answers and closes once the answer is written (the stream cannot go
  // on, or the peer must not).
  void Refuse(Conn* c, uint64_t id, const proto::Error& e) {
    stats.protocol_errors.fetch_add(1, std::memory_order_relaxed);
    SendError(c, id, e);
    c->close_when_flushed = true;
    StopReading(c);
    if (c->out_pending == 0) Close(c);
  }

  // --- connection life ------------------------------------------------------

  void Close(Conn* c) {
    if (c->closing) return;
    c->closing = true;
    conns.erase(c);
    stats.connections_open.fetch_sub(1, std::memory_order_relaxed);
    auto done = [](uv_handle_t* h) {
      auto* conn = static_cast<Conn*>(h->data);
      if (--conn->open_handles == 0) delete conn;
    };
    uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), done);
    uv_close(reinterpret_cast<uv_handle_t*>(&c->timer), done);
  }

  void StopReading(Conn* c) {
    if (!c->reading) return;
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&c->tcp));
    c->reading = false;
  }

  void StartReading(Conn* c) {
    if (c->reading) return;
    c->reading = true;
    uv_read_start(
        reinterpret_cast<uv_stream_t*>(&c->tcp),
        [](uv_handle_t*, size_t suggested, uv_buf_t* buf) {
          // 64 KiB reads: the FrameReader copies them into its buffer.
          size_t n = std::min<size_t>(suggested, 64 << 10);
          *buf = uv_buf_init(new char[n], static_cast<unsigned>(n));
        },
        OnRead);
  }

  bool Blocked(Conn* c) const {
    return c->parked || c->close_when_flushed || c->out_pending > opt.max_output_bytes;
  }

  // Serves what is buffered, then reads more unless the connection waits
  // (a parked request, output above its limit).
  void Resume(Conn* c) {
    if (!c->reading) c->frame_started = 0;  // the peer could not send while we did not read
    ServeFrames(c);
    if (c->closing) return;
    if (Blocked(c)) {
      StopReading(c);
    } else {
      StartReading(c);
    }
    Arm(c);
  }

  // Arms the connection's timer for its nearest deadline.
  void Arm(Conn* c) {
    if (c->closing) return;
    uint64_t at = c->last_activity + opt.idle_timeout_ms;
    if (c->parked) at = c->park_deadline;
    if (c->frame_started != 0 && !c->parked) {
      at = std::min<uint64_t>(at, c->frame_started + opt.frame_deadline_ms);
    }
    const uint64_t now = Now();
    uv_timer_start(&c->timer, OnTimer, at > now ? at - now : 0, 0);
  }

  static void OnTimer(uv_timer_t* t) {
    auto* c = static_cast<Conn*>(t->data);
    Impl* impl = c->impl;
    const uint64_t now = impl->Now();
    if (c->parked) {
      if (now >= c->park_deadline) impl->Unpark(c, /*timed_out=*/true);
      return;
    }
    if (c->frame_started != 0 && now >= c->frame_started + impl->opt.frame_deadline_ms) {
      impl->Refuse(c, 0,
                   Err(proto::TIMEOUT, "a frame was not completed within " +
                                           std::to_string(impl->opt.frame_deadline_ms) +
                                           " ms; closing the connection"));
      return;
    }
    if (now >= c->last_activity + impl->opt.idle_timeout_ms) {
      impl->stats.protocol_errors.fetch_add(1, std::memory_order_relaxed);
      impl->Close(c);  // idle: nothing to say to a peer that does not read
      return;
    }
    impl->Arm(c);
  }

  static void OnConnection(uv_stream_t* server, int status) {
    Impl* impl = static_cast<Impl*>(server->data);
    if (status != 0 || impl->stopping) return;
    auto* c = new Conn(impl->opt.max_frame);
    c->impl = impl;
    uv_tcp_init(&impl->loop, &c->tcp);
    uv_timer_init(&impl->loop, &c->timer);
    c->tcp.data = c;
    c->timer.data = c;
    impl->conns.insert(c);
    impl->stats.connections_open.fetch_add(1, std::memory_order_relaxed);
    if (uv_accept(server, reinterpret_cast<uv_stream_t*>(&c->tcp)) != 0) {
      impl->Close(c);
      return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    c->last_activity = impl->Now();
    if (impl->conns.size() > impl->opt.max_connections) {
      impl->stats.connections_refused.fetch_add(1, std::memory_order_relaxed);
      impl->Refuse(
          c, 0,
          Err(proto::TOO_MANY_CONNECTIONS, "the server has its maximum of " +
                                               std::to_string(impl->opt.max_connections) +
                                               " connections; retry later or use another broker"));
      impl->Arm(c);
      return;
    }
    impl->stats.connections_accepted.fetch_add(1, std::memory_order_relaxed);
    impl->Resume(c);
  }

  static void OnRead(uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
    auto* c = static_cast<Conn*>(s->data);
    Impl* impl = c->impl;
    if (n > 0) {
      c->reader.Feed(std::string_view(buf->base, static_cast<size_t>(n)));
      c->last_activity = impl->Now();
    }
    delete[] buf->base;
    if (n < 0) {
      impl->Close(c);  // EOF or error: a vanished client's parked request goes too
      return;
    }
    if (n > 0) impl->Resume(c);
  }

  // --- requests -------------------------------------------------------------

  void ServeFrames(Conn* c) {
    while (!c->closing && !Blocked(c)) {
      std::string_view payload;
      Result<bool> got = c->reader.Next(&payload);
      if (!got.ok()) {
        Refuse(c, 0,
               Err(proto::FRAME_TOO_LARGE, got.status().message() + "; closing the connection"));
        return;
      }
      if (!*got) break;
      proto::Request req;
      if (!req.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
        Refuse(c, 0,
               Err(proto::BAD_REQUEST,
                   "the frame is not a sluice Request message (docs/protocol.md); closing the "
                   "connection"));
        return;
      }
      stats.requests.fetch_add(1, std::memory_order_relaxed);
      Serve(c, req);
    }
    if (!c->reader.mid_frame()) {
      c->frame_started = 0;
    } else if (c->frame_started == 0) {
      c->frame_started = Now();
    }
  }

  void Serve(Conn* c, const proto::Request& req) {
    const auto body = req.body_case();
    if (body == proto::Request::kHello) return Hello(c, req);
    if (body == proto::Request::kAuth) return Authenticate(c, req);
    if (c->auth != Auth::kNone && IsAdminRequest(req)) return ServeAdmin(c, req);
    if (c->auth == Auth::kAdmin) {
      return SendError(c, req.id(),
                       Err(proto::NOT_AUTHENTICATED,
                           "an HA admin connection only sends Status, Promote and Demote, each "
                           "with a proof of the HA secret"));
    }
    if (c->auth != Auth::kUser && c->auth != Auth::kAnonymous) {
      return SendError(
          c, req.id(),
          Err(proto::NOT_AUTHENTICATED, c->auth == Auth::kNone
                                            ? "send Hello first"
                                            : "send Auth with the proof of the password first"));
    }
    if (c->auth == Auth::kAnonymous && IsGroupRequest(body)) {
      return SendError(c, req.id(),
                       Err(proto::PERMISSION_DENIED,
                           "anonymous access is read-only (Fetch, ListOffsets, Status); consumer "
                           "groups need a user"));
    }
    TryServe(c, req, IfEmpty::kPark);
  }

  // What TryServe does when a Fetch or Get has nothing to return yet.
  enum class IfEmpty { kPark, kAnswer, kWait };

  // Serves `req` without blocking. When a Fetch or Get has nothing yet:
  // kPark parks it if it asked for a wait (else answers), kAnswer answers
  // empty, kWait answers nothing and returns false (it stays parked).
  bool TryServe(Conn* c, const proto::Request& req, IfEmpty if_empty) {
    proto::Response r;
    r.set_id(req.id());
    proto::Error e;
    switch (req.body_case()) {
      case proto::Request::kFetch: {
        // The hot path: records go from the log straight into the frame.
        proto::FetchRequest f = req.fetch();
        f.set_wait_ms(0);
        RecordSet set;
        e = svc->FetchRecords(f, &set);
        if (e.code() != proto::OK) break;
        if (set.records.empty() && !Empty(c, req, req.fetch().wait_ms(), if_empty)) return false;
        std::string bytes = TakeBuffer(c);
        AppendFetchFrame(req.id(), set, &bytes);
        SendFrame(c, std::move(bytes));
        return true;
      }
      case proto::Request::kGet: {
        proto::GetRequest g = req.get();
        g.set_timeout_ms(0);
        e = svc->Get(g, r.mutable_get());
        if (e.code() == proto::OK && r.get().batch_id() == 0 &&
            !Empty(c, req, req.get().timeout_ms(), if_empty)) {
          return false;
        }
        break;
      }
      case proto::Request::kListOffsets:
        e = svc->ListOffsets(req.list_offsets(), r.mutable_list_offsets());
        break;
      case proto::Request::kSubscribe:
        e = svc->Subscribe(req.subscribe(), r.mutable_subscribe());
        break;
      case proto::Request::kAck: e = svc->Ack(req.ack(), r.mutable_ack()); break;
      case proto::Request::kRollback:
        e = svc->Rollback(req.rollback(), r.mutable_rollback());
        break;
      case proto::Request::kUnsubscribe:
        e = svc->Unsubscribe(req.unsubscribe(), r.mutable_unsubscribe());
        break;
      case proto::Request::kStatus: e = svc->GetStatus(req.status(), r.mutable_status()); break;
      default:
        e = Err(proto::BAD_REQUEST,
                "unknown request type (field " + std::to_string(static_cast<int>(req.body_case())) +
                    "); this server speaks protocol version " + std::to_string(kProtocolVersion));
        break;
    }
    if (e.code() != proto::OK) {
      r.clear_body();
      *r.mutable_error() = e;
    }
    Send(c, r);
    return true;
  }

  // A Fetch or Get found nothing: true to answer it empty now.
  bool Empty(Conn* c, const proto::Request& req, uint32_t wait_ms, IfEmpty if_empty) {
    if (if_empty == IfEmpty::kAnswer) return true;
    if (if_empty == IfEmpty::kWait) return false;
    if (wait_ms == 0) return true;
    c->parked = true;
    c->parked_req = req;
    c->park_deadline = Now() + std::min(wait_ms, opt.max_wait_ms);
    stats.polls_parked.fetch_add(1, std::memory_order_relaxed);
    StopReading(c);
    return false;
  }

  // Answers the parked request (with nothing when `timed_out`) if it has
  // something now, and goes on with the connection's next requests.
  void Unpark(Conn* c, bool timed_out) {
    if (!TryServe(c, c->parked_req, timed_out ? IfEmpty::kAnswer : IfEmpty::kWait)) return;
    (timed_out ? stats.polls_expired : stats.polls_woken).fetch_add(1, std::memory_order_relaxed);
    c->parked = false;
    c->parked_req.Clear();
    c->last_activity = Now();
    Resume(c);
  }

  // A commit: retries the parked requests. A Fetch whose offset the log has
  // not reached yet is skipped without reading.
  static void OnWake(uv_async_t* a) {
    Impl* impl = static_cast<Impl*>(a->data);
    std::vector<Conn*> parked;
    for (Conn* c : impl->conns) {
      if (c->parked) parked.push_back(c);
    }
    for (Conn* c : parked) {
      if (c->closing || !c->parked) continue;
      const proto::Request& req = c->parked_req;
      if (req.body_case() == proto::Request::kFetch) {
        proto::ListOffsetsRequest lo;
        lo.set_dest(req.fetch().dest());
        proto::ListOffsetsResponse off;
        if (impl->svc->ListOffsets(lo, &off).code() == proto::OK &&
            off.high_watermark() <= req.fetch().offset()) {
          continue;
        }
      }
      impl->Unpark(c, /*timed_out=*/false);
    }
  }

  void Hello(Conn* c, const proto::Request& req) {
    const proto::Hello& h = req.hello();
    proto::Response r;
    r.set_id(req.id());
    proto::HelloResponse* hr = r.mutable_hello();
    hr->set_protocol_version(kProtocolVersion);
    if (h.seen_epoch() > 0) svc->NoteClientEpoch(Epoch(h.seen_epoch()));  // may fence this node
    proto::StatusResponse st;
    svc->GetStatus({}, &st);
    hr->set_node_id(st.node_id());
    hr->set_role(st.role());
    hr->set_epoch(std::max(opt.epoch, st.epoch()));
    if (h.protocol_version() != kProtocolVersion) {
      *r.mutable_error() = Err(proto::UNSUPPORTED_VERSION,
                               "protocol version " + std::to_string(h.protocol_version()) +
                                   " is not spoken here; this server speaks version " +
                                   std::to_string(kProtocolVersion));
      return Send(c, r);
    }
    c->user = h.user();
    c->nonce = auth::RandomBytes(auth::kNonceBytes);
    hr->set_nonce(c->nonce);
    if (h.ha_admin()) {
      c->auth = Auth::kAdmin;
      hr->set_auth_required(false);
    } else if (h.user().empty()) {
      if (!opt.anonymous) {
        stats.auth_failures.fetch_add(1, std::memory_order_relaxed);
        r.clear_hello();
        *r.mutable_error() = Err(proto::AUTH_FAILED,
                                 "anonymous access is off on this server; connect as a user "
                                 "(a [[user]] of the server's config)");
        return RefuseResponse(c, r);
      }
      c->auth = Auth::kAnonymous;
      hr->set_auth_required(false);
    } else {
      c->auth = Auth::kAwaitProof;
      hr->set_auth_required(true);
    }
    Send(c, r);
  }

  void Authenticate(Conn* c, const proto::Request& req) {
    if (c->auth != Auth::kAwaitProof) {
      return SendError(c, req.id(),
                       Err(proto::BAD_REQUEST, c->auth == Auth::kNone
                                                   ? "send Hello with a user before Auth"
                                                   : "this connection is authenticated already"));
    }
    const proto::Auth& a = req.auth();
    if (a.client_nonce().size() < auth::kMinClientNonceBytes ||
        a.client_nonce().size() > auth::kMaxClientNonceBytes) {
      return SendError(c, req.id(),
                       Err(proto::BAD_REQUEST, "Auth.client_nonce must be 16 to 64 bytes"));
    }
    auto it = opt.users.find(c->user);
    const std::string& key = it == opt.users.end() ? unknown_user_key : it->second;
    if (it == opt.users.end() ||
        !auth::ProofMatches(auth::Proof(key, c->nonce, a.client_nonce()), a.proof())) {
      stats.auth_failures.fetch_add(1, std::memory_order_relaxed);
      proto::Response r;
      r.set_id(req.id());
      *r.mutable_error() = Err(proto::AUTH_FAILED, "authentication failed for user '" + c->user +
                                                       "': unknown user or wrong password");
      return RefuseResponse(c, r);
    }
    c->auth = Auth::kUser;
    proto::Response r;
    r.set_id(req.id());
    r.mutable_auth();
    Send(c, r);
  }

  // Status with a proof, Promote and Demote (proto/protocol.proto, "role
  // changes"): proven with the HA secret and this connection's nonce.
  static bool IsAdminRequest(const proto::Request& req) {
    return req.body_case() == proto::Request::kPromote ||
           req.body_case() == proto::Request::kDemote ||
           (req.body_case() == proto::Request::kStatus && !req.status().proof().empty());
  }

  void ServeAdmin(Conn* c, const proto::Request& req) {
    std::string client_nonce, proof, action;
    switch (req.body_case()) {
      case proto::Request::kPromote:
        client_nonce = req.promote().client_nonce();
        proof = req.promote().proof();
        action = "|promote";
        break;
      case proto::Request::kDemote:
        client_nonce = req.demote().client_nonce();
        proof = req.demote().proof();
        action = "|demote|" + req.demote().primary();
        break;
      default:
        client_nonce = req.status().client_nonce();
        proof = req.status().proof();
        action = "|status";
        break;
    }
    if (opt.ha_key.empty()) {
      return SendError(c, req.id(),
                       Err(proto::PERMISSION_DENIED,
                           "this node has no [ha] secret_file, so it takes no role changes"));
    }
    if (client_nonce.size() < auth::kMinClientNonceBytes ||
        client_nonce.size() > auth::kMaxClientNonceBytes ||
        !auth::ProofMatches(auth::Proof(opt.ha_key, c->nonce, client_nonce + action), proof)) {
      stats.auth_failures.fetch_add(1, std::memory_order_relaxed);
      proto::Response r;
      r.set_id(req.id());
      *r.mutable_error() = Err(proto::AUTH_FAILED,
                               "the proof does not match this node's HA secret (check "
                               "--secret-file against the node's [ha] secret_file)");
      return RefuseResponse(c, r);
    }
    proto::Response r;
    r.set_id(req.id());
    proto::Error e;
    if (req.body_case() == proto::Request::kPromote) {
      e = svc->Promote(req.promote(), r.mutable_promote());
    } else if (req.body_case() == proto::Request::kDemote) {
      e = svc->Demote(req.demote(), r.mutable_demote());
    } else {
      e = svc->GetStatus(req.status(), r.mutable_status());
    }
    if (e.code() != proto::OK) {
      r.clear_body();
      *r.mutable_error() = e;
    }
    Send(c, r);
  }

  void RefuseResponse(Conn* c, const proto::Response& r) {
    Send(c, r);
    c->close_when_flushed = true;
    StopReading(c);
    if (c->out_pending == 0) Close(c);
  }

  static void OnStop(uv_async_t* a) {
    Impl* impl = static_cast<Impl*>(a->data);
    impl->stopping = true;
    std::vector<Conn*> all(impl->conns.begin(), impl->conns.end());
    for (Conn* c : all) {
      if (c->parked) {
        impl->SendError(c, c->parked_req.id(),
                        Err(proto::UNAVAILABLE, "the server is shutting down; try another broker"));
      }
      impl->Close(c);
    }
    uv_close(reinterpret_cast<uv_handle_t*>(&impl->server), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&impl->wake), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&impl->stop), nullptr);
  }
};

ConsumerServer::ConsumerServer(std::unique_ptr<Impl> impl, int port)
    : impl_(std::move(impl)), port_(port) {}

Result<std::unique_ptr<ConsumerServer>> ConsumerServer::Start(const ServerOptions& options,
                                                              ConsumerService* service) {
  auto impl = std::make_unique<Impl>();
  impl->opt = options;
  impl->svc = service;
  uv_loop_init(&impl->loop);
  impl->loop.data = impl.get();
  impl->server.data = impl.get();
  int port = 0;
  Status st = net::Listen(&impl->loop, &impl->server, "server.listen", options.listen,
                          Impl::OnConnection, &port);
  if (!st.ok()) {
    uv_run(&impl->loop, UV_RUN_DEFAULT);
    uv_loop_close(&impl->loop);
    return st;
  }
  uv_async_init(&impl->loop, &impl->wake, Impl::OnWake);
  impl->wake.data = impl.get();
  uv_async_init(&impl->loop, &impl->stop, Impl::OnStop);
  impl->stop.data = impl.get();
  impl->signal->async = &impl->wake;
  service->SetCommitHook([signal = impl->signal] { signal->Send(); });
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] {
    SetThreadName("sl-consumer");
    uv_run(&raw->loop, UV_RUN_DEFAULT);
  });
  return std::unique_ptr<ConsumerServer>(new ConsumerServer(std::move(impl), port));
}

const ServerStats& ConsumerServer::stats() const { return impl_->stats; }

void ConsumerServer::Stop() {
  if (!impl_ || !impl_->thread.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(impl_->signal->mu);
    impl_->signal->async = nullptr;
  }
  uv_async_send(&impl_->stop);
  impl_->thread.join();
  uv_loop_close(&impl_->loop);
}

ConsumerServer::~ConsumerServer() { Stop(); }

}  // namespace sluice::consumer
