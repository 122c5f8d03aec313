// The one place tests assemble a commit log's options.
#pragma once

#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "storage/commit_log.h"

namespace sluice::testing {

// A log at `path` for `node` and `destination`, the library's defaults for
// everything else (a test changes what it is about).
inline CommitLogOptions TestLogOptions(std::string path, std::string node = "a",
                                       std::string destination = "shop") {
  CommitLogOptions o;
  o.path = std::move(path);
  o.node_id = std::move(node);
  o.destination = std::move(destination);
  return o;
}

// Opens a log; a failure fails the calling test and returns null.
inline std::unique_ptr<CommitLog> OpenTestLog(const CommitLogOptions& o) {
  auto log = CommitLog::Open(o);
  EXPECT_TRUE(log.ok()) << log.status().ToString();
  return log.ok() ? std::move(log).value() : nullptr;
}

}  // namespace sluice::testing
