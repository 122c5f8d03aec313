// The example configurations in conf/ load as they are.
#include <gtest/gtest.h>

#include "broker/daemon/config.h"

namespace sluice::daemon {
namespace {

TEST(ConfExamples, Load) {
  for (const char* name :
       {"primary.toml", "standby.toml", "quickstart.toml", "quickstart-standby.toml"}) {
    auto c = LoadConfig(std::string(SLUICE_CONF_DIR) + "/" + name);
    EXPECT_TRUE(c.ok()) << name << ": " << c.status().ToString();
  }
}

}  // namespace
}  // namespace sluice::daemon
