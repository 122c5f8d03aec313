#include "broker/kafka/server.h"

#include "broker/kafka/session.h"

namespace sluice::kafka {

Result<std::unique_ptr<KafkaServer>> KafkaServer::Start(const KafkaOptions& options,
                                                        consumer::ConsumerService* service) {
  std::unique_ptr<KafkaServer> server(new KafkaServer());
  auto protocol = std::make_unique<KafkaProtocol>(options, service, &server->stats_);
  KafkaProtocol* kafka = protocol.get();
  server->protocol_ = std::move(protocol);
  net::FrameServerOptions fo;
  fo.listen = options.listen;
  fo.what = "kafka.listen";
  fo.thread_name = "sl-kafka";
  fo.max_frame = options.max_frame;
  fo.max_connections = options.max_connections;
  fo.idle_timeout_ms = options.idle_timeout_ms;
  fo.frame_deadline_ms = options.frame_deadline_ms;
  fo.max_output_bytes = options.max_output_bytes;
  fo.max_wait_ms = options.max_wait_ms;
  auto frames = net::FrameServer::Start(fo, server->protocol_.get(), &server->stats_);
  if (!frames.ok()) return frames.status();
  server->frames_ = std::move(*frames);
  kafka->SetBoundPort(server->frames_->port());
  kafka->SetWaker(server->frames_->Waker());
  service->AddCommitHook(server->frames_->Waker());
  return server;
}

int KafkaServer::Stop() { return frames_ ? frames_->Stop() : 0; }

KafkaServer::~KafkaServer() { Stop(); }

}  // namespace sluice::kafka
