#include "broker/net/frame_server.h"

#include <uv.h>

#include <algorithm>
#include <mutex>
#include <thread>
#include <unordered_set>
#include <vector>

#include "base/thread_name.h"
#include "broker/net/listen.h"
#include "proto/frame.h"

namespace sluice::net {
namespace {

// The waker outlives the server (a commit hook keeps it): it only signals
// while the loop's async handle is open.
struct WakeSignal {
  std::mutex mu;
  uv_async_t* async = nullptr;  // null once the server stops
  void Send() {
    std::lock_guard<std::mutex> lock(mu);
    if (async != nullptr) uv_async_send(async);
  }
};

}  // namespace

struct FrameServer::Impl {
  struct Conn final : ServerConnection {
    Impl* impl = nullptr;
    uv_tcp_t tcp{};
    uv_timer_t timer{};
    int open_handles = 2;
    frame::FrameReader reader;
    std::unique_ptr<Session> session;
    bool parked = false;
    uint64_t park_deadline = 0;  // loop ms
    uint64_t last_activity = 0;  // bytes read or output drained
    uint64_t frame_started = 0;  // first byte of an unfinished frame; 0: none
    size_t out_pending = 0;      // bytes handed to uv_write, not yet written
    std::string spare;           // a written frame's buffer, for the next one
    bool reading = false;
    bool closing = false;  // uv_close called
    bool close_when_flushed = false;

    explicit Conn(uint32_t max_frame) : reader(max_frame) {}

    void Send(std::string frame) override { impl->SendFrame(this, std::move(frame)); }
    std::string TakeBuffer() override {
      std::string b = std::move(spare);
      spare = std::string();
      b.clear();
      return b;
    }
    void CloseAfter(std::string frame) override { impl->CloseAfter(this, std::move(frame)); }
    void Refuse(std::string frame) override {
      impl->stats->protocol_errors.fetch_add(1, std::memory_order_relaxed);
      impl->CloseAfter(this, std::move(frame));
    }
    void Park(uint32_t wait_ms) override { impl->Park(this, wait_ms); }
    void SetMaxFrame(uint32_t max_frame) override { reader.set_max_frame(max_frame); }
  };

  struct Write {
    uv_write_t req{};
    Conn* conn = nullptr;
    std::string bytes;
  };

  FrameServerOptions opt;
  Protocol* protocol = nullptr;
  FrameServerStats* stats = nullptr;
  uv_loop_t loop{};
  uv_tcp_t server{};
  uv_async_t wake{};
  uv_async_t stop{};
  std::shared_ptr<WakeSignal> signal = std::make_shared<WakeSignal>();
  std::unordered_set<Conn*> conns;
  std::thread thread;
  bool stopping = false;

  uint64_t Now() { return uv_now(&loop); }

  // --- output -----------------------------------------------------------------

  void SendFrame(Conn* c, std::string bytes) {
    if (c->closing || bytes.empty()) return;
    auto* w = new Write();
    w->conn = c;
    w->bytes = std::move(bytes);
    w->req.data = w;
    c->out_pending += w->bytes.size();
    stats->bytes_out.fetch_add(w->bytes.size(), std::memory_order_relaxed);
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

  // Sends `frame` and closes once it is written (the stream cannot go on,
  // or the peer must not).
  void CloseAfter(Conn* c, std::string frame) {
    if (c->closing || c->close_when_flushed) return;
    SendFrame(c, std::move(frame));
    c->close_when_flushed = true;
    StopReading(c);
    if (c->out_pending == 0) Close(c);
  }

  void RefuseFor(Conn* c, Refusal why, const std::string& message) {
    c->Refuse(c->session->Farewell(why, message));
  }

  // --- connection life ------------------------------------------------------

  void Close(Conn* c) {
    if (c->closing) return;
    c->closing = true;
    conns.erase(c);
    stats->connections_open.fetch_sub(1, std::memory_order_relaxed);
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
      if (now >= c->park_deadline) impl->Unpark(c, /*expired=*/true);
      return;
    }
    if (c->frame_started != 0 && now >= c->frame_started + impl->opt.frame_deadline_ms) {
      impl->RefuseFor(c, Refusal::kFrameDeadline,
                      "a frame was not completed within " +
                          std::to_string(impl->opt.frame_deadline_ms) +
                          " ms; closing the connection");
      return;
    }
    if (now >= c->last_activity + impl->opt.idle_timeout_ms) {
      impl->stats->protocol_errors.fetch_add(1, std::memory_order_relaxed);
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
    c->session = impl->protocol->Open(c);
    impl->conns.insert(c);
    impl->stats->connections_open.fetch_add(1, std::memory_order_relaxed);
    if (uv_accept(server, reinterpret_cast<uv_stream_t*>(&c->tcp)) != 0) {
      impl->Close(c);
      return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    c->last_activity = impl->Now();
    if (impl->conns.size() > impl->opt.max_connections) {
      impl->stats->connections_refused.fetch_add(1, std::memory_order_relaxed);
      impl->RefuseFor(c, Refusal::kTooManyConnections,
                      "the server has its maximum of " + std::to_string(impl->opt.max_connections) +
                          " connections; retry later or use another broker");
      impl->Arm(c);
      return;
    }
    impl->stats->connections_accepted.fetch_add(1, std::memory_order_relaxed);
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

  // --- frames ---------------------------------------------------------------

  void ServeFrames(Conn* c) {
    while (!c->closing && !Blocked(c)) {
      std::string_view body;
      Result<bool> got = c->reader.Next(&body);
      if (!got.ok()) {
        RefuseFor(c, Refusal::kFrameTooLarge, got.status().message() + "; closing the connection");
        return;
      }
      if (!*got) break;
      stats->requests.fetch_add(1, std::memory_order_relaxed);
      c->session->OnFrame(body);
    }
    if (!c->reader.mid_frame()) {
      c->frame_started = 0;
    } else if (c->frame_started == 0) {
      c->frame_started = Now();
    }
  }

  void Park(Conn* c, uint32_t wait_ms) {
    c->parked = true;
    c->park_deadline = Now() + std::min(wait_ms, opt.max_wait_ms);
    stats->polls_parked.fetch_add(1, std::memory_order_relaxed);
    StopReading(c);
  }

  // Retries the parked frame (it must answer when `expired`) and goes on
  // with the connection's next frames once it has answered.
  void Unpark(Conn* c, bool expired) {
    if (!c->session->Retry(expired) && !expired) return;
    (expired ? stats->polls_expired : stats->polls_woken).fetch_add(1, std::memory_order_relaxed);
    c->parked = false;
    c->last_activity = Now();
    Resume(c);
  }

  static void OnWake(uv_async_t* a) {
    Impl* impl = static_cast<Impl*>(a->data);
    std::vector<Conn*> parked;
    for (Conn* c : impl->conns) {
      if (c->parked) parked.push_back(c);
    }
    for (Conn* c : parked) {
      if (!c->closing && c->parked) impl->Unpark(c, /*expired=*/false);
    }
  }

  static void OnStop(uv_async_t* a) {
    Impl* impl = static_cast<Impl*>(a->data);
    impl->stopping = true;
    std::vector<Conn*> all(impl->conns.begin(), impl->conns.end());
    for (Conn* c : all) {
      if (c->parked) {
        impl->SendFrame(c, c->session->Farewell(Refusal::kShutdown,
                                                "the server is shutting down; try another broker"));
      }
      impl->Close(c);
    }
    uv_close(reinterpret_cast<uv_handle_t*>(&impl->server), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&impl->wake), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&impl->stop), nullptr);
  }
};

FrameServer::FrameServer(std::unique_ptr<Impl> impl, int port)
    : impl_(std::move(impl)), port_(port) {}

Result<std::unique_ptr<FrameServer>> FrameServer::Start(const FrameServerOptions& options,
                                                        Protocol* protocol,
                                                        FrameServerStats* stats) {
  auto impl = std::make_unique<Impl>();
  impl->opt = options;
  impl->protocol = protocol;
  impl->stats = stats;
  uv_loop_init(&impl->loop);
  impl->loop.data = impl.get();
  impl->server.data = impl.get();
  int port = 0;
  Status st =
      Listen(&impl->loop, &impl->server, options.what, options.listen, Impl::OnConnection, &port);
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
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] {
    SetThreadName(raw->opt.thread_name);
    uv_run(&raw->loop, UV_RUN_DEFAULT);
  });
  return std::unique_ptr<FrameServer>(new FrameServer(std::move(impl), port));
}

std::function<void()> FrameServer::Waker() const {
  return [signal = impl_->signal] { signal->Send(); };
}

int FrameServer::Stop() {
  if (!impl_ || !impl_->thread.joinable()) return stop_result_;
  {
    std::lock_guard<std::mutex> lock(impl_->signal->mu);
    impl_->signal->async = nullptr;
  }
  uv_async_send(&impl_->stop);
  impl_->thread.join();
  stop_result_ = uv_loop_close(&impl_->loop);
  return stop_result_;
}

FrameServer::~FrameServer() { Stop(); }

}  // namespace sluice::net
