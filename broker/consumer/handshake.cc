#include "broker/consumer/handshake.h"

#include "proto/auth.h"
#include "proto/wire_error.h"

namespace sluice::consumer {
namespace {

// A key no password hashes to: an unknown user's proof is checked against
// it, so the answer does not say whether the user exists.
const std::string& UnknownUserKey() {
  static const std::string key = auth::RandomBytes(32);
  return key;
}

bool IsGroupRequest(proto::Request::BodyCase b) {
  return b == proto::Request::kSubscribe || b == proto::Request::kGet ||
         b == proto::Request::kAck || b == proto::Request::kRollback ||
         b == proto::Request::kUnsubscribe;
}

bool NonceSizeOk(const std::string& nonce) {
  return nonce.size() >= auth::kMinClientNonceBytes && nonce.size() <= auth::kMaxClientNonceBytes;
}

}  // namespace

Handshake::Handshake(const AuthConfig* config) : config_(config) {}

proto::Error Handshake::Hello(const proto::Hello& hello, uint32_t protocol_version,
                              proto::HelloResponse* out) {
  out->set_protocol_version(protocol_version);
  if (hello.protocol_version() != protocol_version) {
    return proto::MakeError(proto::UNSUPPORTED_VERSION,
                            "protocol version " + std::to_string(hello.protocol_version()) +
                                " is not spoken here; this server speaks version " +
                                std::to_string(protocol_version));
  }
  user_ = hello.user();
  nonce_ = auth::RandomBytes(auth::kNonceBytes);
  out->set_nonce(nonce_);
  if (hello.ha_admin()) {
    access_ = Access::kAdmin;
    out->set_auth_required(false);
  } else if (hello.user().empty()) {
    if (!config_->anonymous) {
      return proto::MakeError(
          proto::AUTH_FAILED,
          "anonymous access is off on this server; connect as a user (a [[user]] of the "
          "server's config)");
    }
    access_ = Access::kAnonymous;
    out->set_auth_required(false);
  } else {
    access_ = Access::kAwaitProof;
    out->set_auth_required(true);
  }
  return proto::NoError();
}

proto::Error Handshake::Authenticate(const proto::Auth& a) {
  if (access_ != Access::kAwaitProof) {
    return proto::MakeError(proto::BAD_REQUEST, access_ == Access::kNone
                                                    ? "send Hello with a user before Auth"
                                                    : "this connection is authenticated already");
  }
  if (!NonceSizeOk(a.client_nonce())) {
    return proto::MakeError(proto::BAD_REQUEST, "Auth.client_nonce must be 16 to 64 bytes");
  }
  auto it = config_->users.find(user_);
  const std::string& key = it == config_->users.end() ? UnknownUserKey() : it->second;
  if (it == config_->users.end() ||
      !auth::ProofMatches(auth::Proof(key, nonce_, a.client_nonce()), a.proof())) {
    return proto::MakeError(proto::AUTH_FAILED, "authentication failed for user '" + user_ +
                                                    "': unknown user or wrong password");
  }
  access_ = Access::kUser;
  return proto::NoError();
}

bool Handshake::IsRoleRequest(const proto::Request& req) {
  return req.body_case() == proto::Request::kPromote ||
         req.body_case() == proto::Request::kDemote ||
         req.body_case() == proto::Request::kSnapshot ||
         (req.body_case() == proto::Request::kStatus && !req.status().proof().empty());
}

proto::Error Handshake::ProveRole(const proto::Request& req) const {
  if (access_ == Access::kNone)
    return proto::MakeError(proto::NOT_AUTHENTICATED, "send Hello first");
  std::string client_nonce, proof, action;
  switch (req.body_case()) {
    case proto::Request::kPromote:
      client_nonce = req.promote().client_nonce();
      proof = req.promote().proof();
      action = "|promote";
      break;
    case proto::Request::kDemote:
      client_nonce = req.demote().client_nonce();
      proof = req.demote().proof();
      action = "|demote|" + req.demote().primary();
      break;
    case proto::Request::kSnapshot:
      client_nonce = req.snapshot().client_nonce();
      proof = req.snapshot().proof();
      action = auth::SnapshotAction(req.snapshot().dest(), req.snapshot().tables());
      break;
    default:
      client_nonce = req.status().client_nonce();
      proof = req.status().proof();
      action = "|status";
      break;
  }
  if (config_->ha_key.empty()) {
    return proto::MakeError(proto::PERMISSION_DENIED,
                            "this node has no [ha] secret_file, so it takes no role changes");
  }
  if (!NonceSizeOk(client_nonce) ||
      !auth::ProofMatches(auth::Proof(config_->ha_key, nonce_, client_nonce + action), proof)) {
    return proto::MakeError(
        proto::AUTH_FAILED,
        "the proof does not match this node's HA secret (check --secret-file against the "
        "node's [ha] secret_file)");
  }
  return proto::NoError();
}

proto::Error Handshake::Admit(const proto::Request& req) const {
  switch (access_) {
    case Access::kNone: return proto::MakeError(proto::NOT_AUTHENTICATED, "send Hello first");
    case Access::kAwaitProof:
      return proto::MakeError(proto::NOT_AUTHENTICATED,
                              "send Auth with the proof of the password first");
    case Access::kAdmin:
      return proto::MakeError(
          proto::NOT_AUTHENTICATED,
          "an HA admin connection only sends Status, Promote and Demote, each with a "
          "proof of the HA secret");
    case Access::kAnonymous:
      if (IsGroupRequest(req.body_case())) {
        return proto::MakeError(
            proto::PERMISSION_DENIED,
            "anonymous access is read-only (Fetch, ListOffsets, Status); consumer groups "
            "need a user");
      }
      return proto::NoError();
    case Access::kUser: return proto::NoError();
  }
  return proto::NoError();
}

}  // namespace sluice::consumer
