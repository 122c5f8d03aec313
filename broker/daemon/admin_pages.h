// What sluiced's admin listener serves: /metrics in Prometheus text format
// and /status as JSON, rendered from the destinations' counters.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "broker/admin/admin_server.h"
#include "broker/daemon/config.h"
#include "broker/daemon/destination.h"

namespace sluice::daemon {

// REQUIRES: config and dests outlive the handler; dests are started.
admin::Handler MakeAdminHandler(const Config* config,
                                const std::vector<std::unique_ptr<Destination>>* dests);

std::string RenderMetrics(const std::vector<std::unique_ptr<Destination>>& dests);
std::string RenderStatus(const Config& config,
                         const std::vector<std::unique_ptr<Destination>>& dests);

}  // namespace sluice::daemon
