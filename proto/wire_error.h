// The consumer protocol's error (proto/protocol.proto, `Error`), made in
// one place. Inside sluice, failures are a Status (base/status.h); the
// consumer service speaks the protocol's own messages, so its answers
// carry a proto::Error, and a Status from below (storage, the node) is
// mapped to a wire code here, at that edge, by FromStatus. The Kafka
// dispatch maps proto::Error's codes to Kafka's in its turn.
#pragma once

#include <string>

#include "base/status.h"
#include "proto/protocol.pb.h"

namespace sluice::proto {

inline Error MakeError(ErrorCode code, std::string message) {
  Error e;
  e.set_code(code);
  e.set_message(std::move(message));
  return e;
}

inline Error NoError() { return Error(); }

// A Status from below the protocol (storage, I/O): the client can only
// try again, here or on another broker, so it is UNAVAILABLE; `what`
// prefixes the message ("storage").
inline Error FromStatus(const Status& st, const std::string& what) {
  if (st.ok()) return NoError();
  return MakeError(UNAVAILABLE, what + ": " + st.ToString());
}

}  // namespace sluice::proto
