#include "proto/auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/random.h>

#include <cerrno>
#include <cstdlib>

namespace sluice::auth {

std::string PasswordKey(std::string_view password) {
  std::string out(EVP_MAX_MD_SIZE, '\0');
  unsigned len = 0;
  if (EVP_Digest(password.data(), password.size(), reinterpret_cast<unsigned char*>(out.data()),
                 &len, EVP_sha256(), nullptr) != 1) {
    std::abort();  // only fails when libcrypto is broken
  }
  out.resize(len);
  return out;
}

std::string Proof(std::string_view key, std::string_view nonce, std::string_view client_nonce) {
  std::string msg;
  msg.reserve(nonce.size() + client_nonce.size());
  msg.append(nonce).append(client_nonce);
  std::string out(EVP_MAX_MD_SIZE, '\0');
  unsigned len = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(msg.data()), msg.size(),
           reinterpret_cast<unsigned char*>(out.data()), &len) == nullptr) {
    std::abort();
  }
  out.resize(len);
  return out;
}

bool ProofMatches(std::string_view want, std::string_view got) {
  return want.size() == got.size() && CRYPTO_memcmp(want.data(), got.data(), want.size()) == 0;
}

std::string RandomBytes(size_t n) {
  std::string out(n, '\0');
  size_t done = 0;
  while (done < n) {
    ssize_t r = ::getrandom(out.data() + done, n - done, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) std::abort();  // no entropy source: nothing safe to do
    done += static_cast<size_t>(r);
  }
  return out;
}

}  // namespace sluice::auth
