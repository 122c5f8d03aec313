// Writes seed inputs for record_view_fuzz into the directory argv[1]:
// stored records as sluice writes them (tests/support/random_records.h).
#include <fstream>
#include <random>
#include <string>

#include "tests/support/random_records.h"

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  std::mt19937_64 rng(1);
  for (int i = 0; i < 24; ++i) {
    const std::string bytes = sluice::testing::RandomRowRecord(&rng).SerializeAsString();
    std::ofstream(std::string(argv[1]) + "/row_" + std::to_string(i), std::ios::binary) << bytes;
  }
  return 0;
}
