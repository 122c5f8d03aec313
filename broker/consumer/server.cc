#include "broker/consumer/server.h"

#include "broker/consumer/session.h"

namespace sluice::consumer {

Result<std::unique_ptr<ConsumerServer>> ConsumerServer::Start(const ServerOptions& options,
                                                              ConsumerService* service) {
  std::unique_ptr<ConsumerServer> server(new ConsumerServer());
  AuthConfig auth;
  auth.users = options.users;
  auth.anonymous = options.anonymous;
  auth.ha_key = options.ha_key;
  server->protocol_ = std::make_unique<ConsumerProtocol>(
      service, options.admin, std::move(auth), options.epoch, &server->stats_.auth_failures);
  net::FrameServerOptions fo;
  fo.listen = options.listen;
  fo.what = "server.listen";
  fo.thread_name = "sl-consumer";
  fo.max_frame = options.max_frame;
  fo.max_connections = options.max_connections;
  fo.idle_timeout_ms = options.idle_timeout_ms;
  fo.frame_deadline_ms = options.frame_deadline_ms;
  fo.max_output_bytes = options.max_output_bytes;
  fo.max_wait_ms = options.max_wait_ms;
  auto frames = net::FrameServer::Start(fo, server->protocol_.get(), &server->stats_);
  if (!frames.ok()) return frames.status();
  server->frames_ = std::move(*frames);
  service->AddCommitHook(server->frames_->Waker());
  return server;
}

int ConsumerServer::Stop() { return frames_ ? frames_->Stop() : 0; }

ConsumerServer::~ConsumerServer() { Stop(); }

}  // namespace sluice::consumer
