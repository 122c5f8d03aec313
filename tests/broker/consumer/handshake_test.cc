// The consumer protocol's handshake without sockets: what each state of a
// connection may send, checked against docs/protocol.md's rules.
#include "broker/consumer/handshake.h"

#include <gtest/gtest.h>

#include "proto/auth.h"

namespace sluice::consumer {
namespace {

proto::Hello HelloAs(const std::string& user, uint32_t version = 1) {
  proto::Hello h;
  h.set_protocol_version(version);
  h.set_user(user);
  return h;
}

proto::Request Req(proto::Request::BodyCase body) {
  proto::Request r;
  switch (body) {
    case proto::Request::kFetch: r.mutable_fetch(); break;
    case proto::Request::kSubscribe: r.mutable_subscribe(); break;
    case proto::Request::kStatus: r.mutable_status(); break;
    default: break;
  }
  return r;
}

class HandshakeTest : public ::testing::Test {
 protected:
  void SetUp() override { config_.users["ann"] = auth::PasswordKey("pw"); }

  proto::Auth ProofFor(const std::string& password, const std::string& nonce) {
    proto::Auth a;
    a.set_client_nonce(std::string(16, 'c'));
    a.set_proof(auth::Proof(auth::PasswordKey(password), nonce, a.client_nonce()));
    return a;
  }

  AuthConfig config_;
};

TEST_F(HandshakeTest, NothingButHelloBeforeHello) {
  Handshake h(&config_);
  EXPECT_EQ(h.Admit(Req(proto::Request::kFetch)).code(), proto::NOT_AUTHENTICATED);
  EXPECT_EQ(h.Authenticate(ProofFor("pw", "")).code(), proto::BAD_REQUEST);
  proto::Request promote;
  promote.mutable_promote();
  EXPECT_EQ(h.ProveRole(promote).code(), proto::NOT_AUTHENTICATED);
}

TEST_F(HandshakeTest, AnotherVersionIsRefusedAndTheConnectionStaysAsItWas) {
  Handshake h(&config_);
  proto::HelloResponse out;
  EXPECT_EQ(h.Hello(HelloAs("ann", 2), 1, &out).code(), proto::UNSUPPORTED_VERSION);
  EXPECT_EQ(h.access(), Handshake::Access::kNone);
  EXPECT_TRUE(out.nonce().empty());
}

TEST_F(HandshakeTest, AUserIsServedOnlyAfterTheProofOfItsPassword) {
  Handshake h(&config_);
  proto::HelloResponse out;
  ASSERT_EQ(h.Hello(HelloAs("ann"), 1, &out).code(), proto::OK);
  EXPECT_TRUE(out.auth_required());
  ASSERT_EQ(out.nonce().size(), auth::kNonceBytes);
  EXPECT_EQ(h.Admit(Req(proto::Request::kFetch)).code(), proto::NOT_AUTHENTICATED);
  EXPECT_EQ(h.Authenticate(ProofFor("wrong", out.nonce())).code(), proto::AUTH_FAILED);
  EXPECT_EQ(h.access(), Handshake::Access::kAwaitProof);
  proto::Auth short_nonce = ProofFor("pw", out.nonce());
  short_nonce.set_client_nonce("x");
  EXPECT_EQ(h.Authenticate(short_nonce).code(), proto::BAD_REQUEST);
  ASSERT_EQ(h.Authenticate(ProofFor("pw", out.nonce())).code(), proto::OK);
  EXPECT_EQ(h.Admit(Req(proto::Request::kSubscribe)).code(), proto::OK);
  EXPECT_EQ(h.Authenticate(ProofFor("pw", out.nonce())).code(), proto::BAD_REQUEST);
}

TEST_F(HandshakeTest, AnUnknownUserFailsLikeAWrongPassword) {
  Handshake h(&config_);
  proto::HelloResponse out;
  ASSERT_EQ(h.Hello(HelloAs("bob"), 1, &out).code(), proto::OK);
  EXPECT_TRUE(out.auth_required());  // the Hello does not tell
  proto::Error e = h.Authenticate(ProofFor("pw", out.nonce()));
  EXPECT_EQ(e.code(), proto::AUTH_FAILED);
  EXPECT_NE(e.message().find("unknown user or wrong password"), std::string::npos);
}

TEST_F(HandshakeTest, AnonymousIsReadOnlyAndOffByDefault) {
  proto::HelloResponse out;
  Handshake off(&config_);
  EXPECT_EQ(off.Hello(HelloAs(""), 1, &out).code(), proto::AUTH_FAILED);
  config_.anonymous = true;
  Handshake on(&config_);
  ASSERT_EQ(on.Hello(HelloAs(""), 1, &out).code(), proto::OK);
  EXPECT_FALSE(out.auth_required());
  EXPECT_EQ(on.Admit(Req(proto::Request::kFetch)).code(), proto::OK);
  EXPECT_EQ(on.Admit(Req(proto::Request::kStatus)).code(), proto::OK);
  EXPECT_EQ(on.Admit(Req(proto::Request::kSubscribe)).code(), proto::PERMISSION_DENIED);
}

TEST_F(HandshakeTest, RoleRequestsNeedTheHaSecretOverThisNonce) {
  config_.ha_key = auth::PasswordKey("ha");
  Handshake h(&config_);
  proto::Hello hello = HelloAs("");
  hello.set_ha_admin(true);
  proto::HelloResponse out;
  ASSERT_EQ(h.Hello(hello, 1, &out).code(), proto::OK);
  EXPECT_EQ(h.Admit(Req(proto::Request::kFetch)).code(), proto::NOT_AUTHENTICATED);
  proto::Request demote;
  demote.mutable_demote()->set_primary("10.0.0.2:7500");
  demote.mutable_demote()->set_client_nonce(std::string(16, 'd'));
  auto prove = [&](const std::string& key, const std::string& nonce, const std::string& action) {
    demote.mutable_demote()->set_proof(auth::Proof(key, nonce, std::string(16, 'd') + action));
    return h.ProveRole(demote).code();
  };
  EXPECT_TRUE(Handshake::IsRoleRequest(demote));
  EXPECT_EQ(prove(config_.ha_key, out.nonce(), "|demote|10.0.0.2:7500"), proto::OK);
  // The proof covers the new primary's address and this connection's nonce.
  EXPECT_EQ(prove(config_.ha_key, out.nonce(), "|demote|10.0.0.3:7500"), proto::AUTH_FAILED);
  EXPECT_EQ(prove(config_.ha_key, std::string(out.nonce().size(), 'x'), "|demote|10.0.0.2:7500"),
            proto::AUTH_FAILED);
  EXPECT_EQ(prove(auth::PasswordKey("pw"), out.nonce(), "|demote|10.0.0.2:7500"),
            proto::AUTH_FAILED);
  // A Status is a role request only with a proof.
  EXPECT_FALSE(Handshake::IsRoleRequest(Req(proto::Request::kStatus)));
  config_.ha_key.clear();
  EXPECT_EQ(prove("", out.nonce(), "|demote|10.0.0.2:7500"), proto::PERMISSION_DENIED);
}

}  // namespace
}  // namespace sluice::consumer
