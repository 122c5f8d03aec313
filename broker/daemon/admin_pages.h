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

namespace sluice::daemon {

// REQUIRES: config, dests and server (null: no consumer server) outlive the
// handler; dests are started.
admin::Handler MakeAdminHandler(const Config* config,
                                const std::vector<std::unique_ptr<Destination>>* dests,
                                const consumer::ServerStats* server = nullptr);

std::string RenderMetrics(const std::vector<std::unique_ptr<Destination>>& dests,
                          const consumer::ServerStats* server = nullptr);
std::string RenderStatus(const Config& config,
                         const std::vector<std::unique_ptr<Destination>>& dests);

}  // namespace sluice::daemon
