// The challenge-response primitives against published test vectors.
#include "proto/auth.h"
#include "tests/support/hex.h"

#include <gtest/gtest.h>

#include <set>

namespace sluice::auth {
namespace {

std::string Hex(const std::string& s) { return testing::HexLower(s); }

// FIPS 180-2, appendix B.1.
TEST(Auth, PasswordKeyIsSha256) {
  EXPECT_EQ(Hex(PasswordKey("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

// RFC 4231, test case 2 (key "Jefe"), with the message split between the
// two nonces: the proof is the HMAC of their concatenation.
TEST(Auth, ProofIsHmacSha256OfBothNonces) {
  EXPECT_EQ(Hex(Proof("Jefe", "what do ya want ", "for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(Auth, ProofMatchesComparesWholeProofs) {
  const std::string p = Proof(PasswordKey("pw"), "n", "c");
  EXPECT_TRUE(ProofMatches(p, p));
  std::string flipped = p;
  flipped[31] ^= 1;
  EXPECT_FALSE(ProofMatches(p, flipped));
  EXPECT_FALSE(ProofMatches(p, p.substr(0, 31)));
  EXPECT_FALSE(ProofMatches(p, ""));
}

TEST(Auth, RandomBytesDiffer) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    std::string r = RandomBytes(kNonceBytes);
    ASSERT_EQ(r.size(), kNonceBytes);
    seen.insert(r);
  }
  EXPECT_EQ(seen.size(), 100u);
}

}  // namespace
}  // namespace sluice::auth
