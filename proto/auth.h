// The consumer protocol's challenge-response (docs/protocol.md,
// "Authentication"): no password crosses the wire.
//
//   key   = SHA256(password)            (what the server keeps per user)
//   proof = HMAC-SHA256(key, nonce || client_nonce)
//
// The server's nonce is fresh per connection, so a recorded proof is
// useless on the next one. OpenSSL's libcrypto does the hashing.
#pragma once

#include <string>
#include <string_view>

namespace sluice::auth {

constexpr size_t kNonceBytes = 32;  // the server's
constexpr size_t kMinClientNonceBytes = 16;
constexpr size_t kMaxClientNonceBytes = 64;
constexpr size_t kProofBytes = 32;

// SHA256(password): 32 bytes.
std::string PasswordKey(std::string_view password);

// HMAC-SHA256(key, nonce || client_nonce): 32 bytes.
std::string Proof(std::string_view key, std::string_view nonce, std::string_view client_nonce);

// Compares in constant time (for equal sizes).
bool ProofMatches(std::string_view want, std::string_view got);

// `n` bytes from the system's CSPRNG (getrandom).
std::string RandomBytes(size_t n);

// What a snapshot request's proof covers after the client nonce
// (proto/protocol.proto, "snapshots"): "|snapshot|" dest "|" tables joined by ",".
template <typename Tables>
std::string SnapshotAction(std::string_view dest, const Tables& tables) {
  std::string action = "|snapshot|" + std::string(dest) + "|";
  bool first = true;
  for (const auto& t : tables) {
    if (!first) action += ",";
    action += t;
    first = false;
  }
  return action;
}

}  // namespace sluice::auth
