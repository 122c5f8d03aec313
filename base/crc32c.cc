#include "base/crc32c.h"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace sluice::crc32c {
namespace {

constexpr uint32_t kPoly = 0x82f63b78;  // reflected Castagnoli polynomial

constexpr std::array<uint32_t, 256> MakeTable() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ kPoly : c >> 1;
    t[i] = c;
  }
  return t;
}
constexpr auto kTable = MakeTable();

uint32_t ExtendPortable(uint32_t crc, const uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; ++i) crc = kTable[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
  return crc;
}

#if defined(__x86_64__)
// One crc32 instruction retires per cycle but each has a 3-cycle latency, so a
// single dependency chain runs at a third of the core's rate. Long inputs are
// therefore cut into three equal stripes whose CRCs run interleaved and are
// joined afterwards (Intel's "Fast CRC Computation for iSCSI Polynomial Using
// CRC32 Instruction", 2011). All states here are raw registers (no pre/post
// inversion), for which CRC is linear:
//   crc(s, A || B) = Shift(crc(s, A), |B|) ^ crc(0, B)
// where Shift(c, n) is the register after n zero bytes starting from c.

__attribute__((target("sse4.2"))) uint64_t ChainHardware(uint64_t c, const uint8_t* p,
                                                         size_t words) {
  for (size_t i = 0; i < words; ++i) {
    uint64_t w;
    std::memcpy(&w, p + 8 * i, 8);
    c = _mm_crc32_u64(c, w);
  }
  return c;
}

// Shift(c, kStripe) as four byte-indexed tables (Shift is linear in c).
template <size_t kStripe>
class StripeShift {
 public:
  StripeShift() {
    static const uint8_t kZeros[kStripe] = {};
    uint32_t basis[32];
    for (int bit = 0; bit < 32; ++bit) {
      basis[bit] = static_cast<uint32_t>(ChainHardware(uint32_t{1} << bit, kZeros, kStripe / 8));
    }
    for (int k = 0; k < 4; ++k) {
      for (uint32_t b = 0; b < 256; ++b) {
        uint32_t v = 0;
        for (int i = 0; i < 8; ++i) {
          if (b & (1u << i)) v ^= basis[8 * k + i];
        }
        table_[k][b] = v;
      }
    }
  }
  uint32_t operator()(uint32_t c) const {
    return table_[0][c & 0xff] ^ table_[1][(c >> 8) & 0xff] ^ table_[2][(c >> 16) & 0xff] ^
           table_[3][c >> 24];
  }

 private:
  uint32_t table_[4][256];
};

// Consumes as many whole 3 * kStripe blocks of [*p, *p + *n) as there are.
template <size_t kStripe>
__attribute__((target("sse4.2"))) uint64_t ExtendStriped(uint64_t c, const uint8_t** p, size_t* n) {
  static_assert(kStripe % 8 == 0);
  static const StripeShift<kStripe> shift;
  while (*n >= 3 * kStripe) {
    const uint8_t* a = *p;
    const uint8_t* b = a + kStripe;
    const uint8_t* d = b + kStripe;
    uint64_t c0 = c, c1 = 0, c2 = 0;
    for (size_t i = 0; i < kStripe; i += 8) {
      uint64_t w0, w1, w2;
      std::memcpy(&w0, a + i, 8);
      std::memcpy(&w1, b + i, 8);
      std::memcpy(&w2, d + i, 8);
      c0 = _mm_crc32_u64(c0, w0);
      c1 = _mm_crc32_u64(c1, w1);
      c2 = _mm_crc32_u64(c2, w2);
    }
    uint32_t ab = shift(static_cast<uint32_t>(c0)) ^ static_cast<uint32_t>(c1);
    c = shift(ab) ^ static_cast<uint32_t>(c2);
    *p += 3 * kStripe;
    *n -= 3 * kStripe;
  }
  return c;
}

__attribute__((target("sse4.2"))) uint32_t ExtendHardware(uint32_t crc, const uint8_t* p,
                                                          size_t n) {
  uint64_t c = crc;
  c = ExtendStriped<4096>(c, &p, &n);  // batch bodies, WAL fragments
  c = ExtendStriped<256>(c, &p, &n);   // records, frames
  c = ChainHardware(c, p, n / 8);
  p += n / 8 * 8;
  n %= 8;
  uint32_t c32 = static_cast<uint32_t>(c);
  while (n-- > 0) c32 = _mm_crc32_u8(c32, *p++);
  return c32;
}

bool HaveSse42() {
  static const bool have = __builtin_cpu_supports("sse4.2");
  return have;
}
#endif

}  // namespace

uint32_t Extend(uint32_t init, const void* data, size_t n) {
  const auto* p = static_cast<const uint8_t*>(data);
  uint32_t crc = ~init;
#if defined(__x86_64__)
  if (HaveSse42()) return ~ExtendHardware(crc, p, n);
#endif
  return ~ExtendPortable(crc, p, n);
}

}  // namespace sluice::crc32c
