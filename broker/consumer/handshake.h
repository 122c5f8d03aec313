// Handshake: who a consumer-protocol connection is and what it may send
// (docs/protocol.md, "Authentication"). Pure logic, no sockets: the
// session (broker/consumer/session.h) feeds it Hello, Auth and the role
// requests' proofs, and asks it before serving anything else.
//
//   Hello{user}      -> nonce; the connection awaits the proof
//   Auth{proof}      -> the user's rights (or AUTH_FAILED: close)
//   Hello{}          -> anonymous read-only, if the server allows it
//   Hello{ha_admin}  -> an HA admin connection: role requests only
//   Promote / Demote / Status{proof}: on any connection past Hello, each
//   proven with the HA secret and this connection's nonce
//
// An AUTH_FAILED answer means the connection must be closed after it.
//
// Thread safety: one Handshake per connection; AuthConfig is read-only
// once the server starts and shared.
#pragma once

#include <map>
#include <string>

#include "proto/protocol.pb.h"

namespace sluice::consumer {

struct AuthConfig {
  // User name -> auth::PasswordKey(password).
  std::map<std::string, std::string> users;
  bool anonymous = false;  // a Hello without a user gets read-only access
  std::string ha_key;      // auth::PasswordKey(the [ha] secret); "" refuses role changes
};

class Handshake {
 public:
  enum class Access { kNone, kAwaitProof, kUser, kAnonymous, kAdmin };

  // `config` is not owned and must outlive the handshake.
  explicit Handshake(const AuthConfig* config);

  // Answers a Hello: sets the nonce and auth_required of *out and what the
  // connection may do next. UNSUPPORTED_VERSION leaves the connection as
  // it was; AUTH_FAILED (anonymous access off) closes it.
  proto::Error Hello(const proto::Hello& hello, uint32_t protocol_version,
                     proto::HelloResponse* out);
  // Checks the proof of the password; AUTH_FAILED closes the connection.
  proto::Error Authenticate(const proto::Auth& auth);

  // Promote, Demote and a Status with a proof: requests served by the
  // node's RoleAdmin once ProveRole accepts them.
  static bool IsRoleRequest(const proto::Request& req);
  // OK when a role request's proof matches the HA secret and this
  // connection's nonce; AUTH_FAILED (close) when it does not.
  proto::Error ProveRole(const proto::Request& req) const;
  // OK when the connection may send `req`, which is neither Hello, Auth
  // nor a role request.
  proto::Error Admit(const proto::Request& req) const;

  Access access() const { return access_; }
  const std::string& user() const { return user_; }

 private:
  const AuthConfig* config_;
  Access access_ = Access::kNone;
  std::string user_;
  std::string nonce_;
};

}  // namespace sluice::consumer
