// Driver for fuzz targets when libFuzzer is not linked (gcc builds and
// ctest): runs every corpus file given on the command line, then for each
// one a fixed set of mutations (every truncation, single-bit flips, byte
// stores of 0x00/0xff/0x80) so that ctest exercises the decoder's error
// paths under the sanitizers. `SLUICE_FUZZ=ON` with clang builds the real
// libFuzzer binary instead.
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

void Run(const std::string& s) {
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

}  // namespace

int main(int argc, char** argv) {
  size_t runs = 0;
  for (int a = 1; a < argc; ++a) {
    std::ifstream f(argv[a], std::ios::binary);
    if (!f) {
      std::fprintf(stderr, "cannot read %s\n", argv[a]);
      return 1;
    }
    std::string seed((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    Run(seed);
    for (size_t n = 0; n < seed.size(); ++n, ++runs) Run(seed.substr(0, n));
    for (size_t i = 0; i < seed.size(); ++i) {
      std::string m = seed;
      for (int bit = 0; bit < 8; ++bit, ++runs) {
        m[i] = static_cast<char>(seed[i] ^ (1 << bit));
        Run(m);
      }
      for (char c : {'\0', '\xff', '\x80'}) {
        m[i] = c;
        Run(m);
        ++runs;
      }
    }
  }
  std::printf("%zu inputs from %d seeds: no crash\n", runs, argc - 1);
  return 0;
}
