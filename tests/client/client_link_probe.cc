// A program that embeds the consumer library and nothing else: the
// client_links_lean test reads its dynamic dependencies (tests/CMakeLists.txt).
#include <cstdio>

#include "client/consumer.h"

int main() {
  sluice::ConsumerOptions options;
  auto consumer = sluice::Consumer::Open(options);
  std::printf("%s\n", consumer.ok() ? "opened" : consumer.status().ToString().c_str());
  return 0;
}
