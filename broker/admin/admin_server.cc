#include "broker/admin/admin_server.h"

#include <uv.h>

#include <cstring>

#include "base/thread_name.h"
#include "broker/net/listen.h"

namespace sluice::admin {
namespace {

constexpr size_t kMaxHead = 8192;
constexpr uint64_t kReadTimeoutMs = 5000;

const char* Reason(int code) {
  switch (code) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    default: return "Error";
  }
}

}  // namespace

struct AdminServer::Impl {
  uv_loop_t loop{};
  uv_tcp_t server{};
  uv_async_t stop{};
  Handler handler;

  // One connection: its socket, a timer for slow clients, what it sent.
  struct Conn {
    uv_tcp_t tcp{};
    uv_timer_t timer{};
    uv_write_t write{};
    std::string head;
    std::string out;
    Impl* impl = nullptr;
    int open_handles = 0;
    bool responded = false;
  };

  static void CloseConn(Conn* c) {
    if (c->open_handles == 0) return;
    auto done = [](uv_handle_t* h) {
      Conn* c = static_cast<Conn*>(h->data);
      if (--c->open_handles == 0) delete c;
    };
    if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(&c->tcp))) {
      uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), done);
    }
    if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(&c->timer))) {
      uv_close(reinterpret_cast<uv_handle_t*>(&c->timer), done);
    }
  }

  static void Respond(Conn* c, const Response& r) {
    c->responded = true;
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&c->tcp));
    c->out = "HTTP/1.1 " + std::to_string(r.code) + " " + Reason(r.code) +
             "\r\nContent-Type: " + r.content_type +
             "\r\nContent-Length: " + std::to_string(r.body.size()) +
             "\r\nConnection: close\r\n\r\n" + r.body;
    uv_buf_t buf = uv_buf_init(c->out.data(), static_cast<unsigned>(c->out.size()));
    c->write.data = c;
    int rc = uv_write(&c->write, reinterpret_cast<uv_stream_t*>(&c->tcp), &buf, 1,
                      [](uv_write_t* w, int) { CloseConn(static_cast<Conn*>(w->data)); });
    if (rc != 0) CloseConn(c);
  }

  static void OnRead(uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
    Conn* c = static_cast<Conn*>(s->data);
    if (n < 0) {
      delete[] buf->base;
      CloseConn(c);
      return;
    }
    c->head.append(buf->base, static_cast<size_t>(n));
    delete[] buf->base;
    if (c->responded) return;
    size_t end = c->head.find("\r\n\r\n");
    if (end == std::string::npos) {
      if (c->head.size() > kMaxHead) Respond(c, {400, "text/plain", "request head too large\n"});
      return;
    }
    // "GET /path HTTP/1.1"
    size_t sp1 = c->head.find(' ');
    size_t sp2 = sp1 == std::string::npos ? std::string::npos : c->head.find(' ', sp1 + 1);
    if (sp1 == std::string::npos || sp2 == std::string::npos) {
      Respond(c, {400, "text/plain", "bad request line\n"});
      return;
    }
    std::string method = c->head.substr(0, sp1);
    std::string path = c->head.substr(sp1 + 1, sp2 - sp1 - 1);
    if (size_t q = path.find('?'); q != std::string::npos) path.resize(q);
    if (method != "GET") {
      Respond(c, {405, "text/plain", "only GET\n"});
      return;
    }
    Respond(c, c->impl->handler(path));
  }

  static void OnConnection(uv_stream_t* server, int status) {
    Impl* impl = static_cast<Impl*>(server->data);
    if (status < 0) return;
    Conn* c = new Conn();
    c->impl = impl;
    uv_tcp_init(&impl->loop, &c->tcp);
    c->tcp.data = c;
    c->open_handles = 1;
    if (uv_accept(server, reinterpret_cast<uv_stream_t*>(&c->tcp)) != 0) {
      CloseConn(c);
      return;
    }
    uv_timer_init(&impl->loop, &c->timer);
    c->timer.data = c;
    c->open_handles = 2;
    uv_timer_start(
        &c->timer, [](uv_timer_t* t) { CloseConn(static_cast<Conn*>(t->data)); }, kReadTimeoutMs,
        0);
    uv_read_start(
        reinterpret_cast<uv_stream_t*>(&c->tcp),
        [](uv_handle_t*, size_t suggested, uv_buf_t* buf) {
          size_t n = std::min<size_t>(suggested, 4096);
          *buf = uv_buf_init(new char[n], static_cast<unsigned>(n));
        },
        OnRead);
  }
};

Result<std::unique_ptr<AdminServer>> AdminServer::Start(const std::string& listen,
                                                        Handler handler) {
  std::unique_ptr<AdminServer> s(new AdminServer());
  s->impl_ = std::make_unique<Impl>();
  Impl* impl = s->impl_.get();
  impl->handler = std::move(handler);
  uv_loop_init(&impl->loop);
  impl->server.data = impl;
  Status st = net::Listen(&impl->loop, &impl->server, "admin.listen", listen, Impl::OnConnection,
                          &s->port_);
  if (!st.ok()) {
    uv_run(&impl->loop, UV_RUN_DEFAULT);
    uv_loop_close(&impl->loop);
    s->impl_.reset();
    return st;
  }
  uv_async_init(&impl->loop, &impl->stop, [](uv_async_t* a) {
    Impl* impl = static_cast<Impl*>(a->data);
    // Close everything; uv_run returns when the last handle is closed.
    uv_walk(
        &impl->loop,
        [](uv_handle_t* h, void*) {
          if (uv_is_closing(h)) return;
          if (h->type == UV_TCP && h->data != nullptr &&
              h != reinterpret_cast<uv_handle_t*>(&static_cast<Impl*>(h->loop->data)->server)) {
            Impl::CloseConn(static_cast<Impl::Conn*>(h->data));
          } else if (h->type != UV_TIMER) {
            uv_close(h, nullptr);
          }
        },
        nullptr);
  });
  impl->stop.data = impl;
  impl->loop.data = impl;
  s->thread_ = std::thread([impl] {
    SetThreadName("sl-admin");
    uv_run(&impl->loop, UV_RUN_DEFAULT);
  });
  return s;
}

int AdminServer::Stop() {
  if (!impl_) return 0;
  uv_async_send(&impl_->stop);
  if (thread_.joinable()) thread_.join();
  int rc = uv_loop_close(&impl_->loop);
  impl_.reset();
  return rc;
}

AdminServer::~AdminServer() { Stop(); }

}  // namespace sluice::admin
