// What sluiced's admin listener serves: /metrics in Prometheus text format
// and /status as JSON, rendered from the destinations' counters.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "broker/admin/admin_server.h"
#include "broker/consumer/server.h"
#include "broker/daemon/config.h"
#include "broker/daemon/destination.h"
#include "broker/daemon/node.h"
#include "broker/kafka/server.h"

namespace sluice::daemon {

// REQUIRES: config, dests, server (null: no consumer server) and kafka
// (null: no Kafka listener) outlive the handler; dests are started.
// `node` (may be null) adds the role and replication.
admin::Handler MakeAdminHandler(const Config* config,
                                const std::vector<std::unique_ptr<Destination>>* dests,
                                const consumer::ServerStats* server = nullptr,
                                const Node* node = nullptr,
                                const kafka::KafkaStats* kafka = nullptr);

std::string RenderMetrics(const std::vector<std::unique_ptr<Destination>>& dests,
                          const consumer::ServerStats* server = nullptr,
                          const proto::StatusResponse* ha = nullptr,
                          const kafka::KafkaStats* kafka = nullptr);
std::string RenderStatus(const Config& config,
                         const std::vector<std::unique_ptr<Destination>>& dests,
                         const proto::StatusResponse* ha = nullptr);

}  // namespace sluice::daemon
