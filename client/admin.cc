#include "client/admin.h"

#include <unistd.h>
#include <chrono>
#include <thread>

#include <cstdio>

#include "proto/auth.h"
#include "proto/connection.h"
#include "proto/record_json.h"
#include "proto/status_json.h"

namespace sluice::admin_client {
namespace {

using Clock = std::chrono::steady_clock;

// Never readable: these calls are not interrupted.
struct NoInterrupt {
  int fds[2] = {-1, -1};
  NoInterrupt() { (void)!::pipe(fds); }
  ~NoInterrupt() {
    ::close(fds[0]);
    ::close(fds[1]);
  }
};

// Connects, says Hello as an HA admin, lets `fill` put the request (with
// proof over the node's nonce) into *req, and returns the answer.
template <typename Fill>
Result<proto::Response> Call(const AdminOptions& o, Fill fill) {
  NoInterrupt never;
  const auto deadline = Clock::now() + std::chrono::milliseconds(o.timeout_ms);
  SLUICE_ASSIGN_OR_RETURN(
      auto conn, net::Connection::Dial(o.broker, o.timeout_ms, never.fds[0], 64u << 20, "node"));
  proto::Request hello;
  hello.set_id(1);
  hello.mutable_hello()->set_protocol_version(1);
  hello.mutable_hello()->set_client("sluice-admin");
  hello.mutable_hello()->set_ha_admin(true);
  std::string out;
  SLUICE_RETURN_IF_ERROR(frame::Append(hello, &out));
  SLUICE_RETURN_IF_ERROR(conn->Send(out, deadline));
  proto::Response resp;
  SLUICE_RETURN_IF_ERROR(conn->Receive(&resp, deadline));
  if (resp.has_error() && resp.error().code() != proto::OK) {
    return Status::FailedPrecondition(o.broker + ": " + resp.error().message());
  }
  const std::string nonce = resp.hello().nonce();
  const std::string client_nonce = auth::RandomBytes(32);
  const std::string key = auth::PasswordKey(o.secret);
  proto::Request req;
  req.set_id(2);
  fill(
      &req,
      [&](const std::string& action) { return auth::Proof(key, nonce, client_nonce + action); },
      client_nonce);
  out.clear();
  SLUICE_RETURN_IF_ERROR(frame::Append(req, &out));
  SLUICE_RETURN_IF_ERROR(conn->Send(out, deadline));
  resp.Clear();
  SLUICE_RETURN_IF_ERROR(conn->Receive(&resp, deadline));
  if (resp.has_error() && resp.error().code() != proto::OK) {
    const auto code = resp.error().code();
    std::string msg = o.broker + ": " + resp.error().message();
    if (code == proto::AUTH_FAILED || code == proto::PERMISSION_DENIED) {
      return Status::FailedPrecondition(msg);
    }
    return Status::Unavailable(msg);
  }
  return resp;
}

void Append(std::string* out, const char* key, const std::string& v) {
  *out += std::string(",\"") + key + "\":";
  AppendJsonString(v, out);
}
template <typename T>
void AppendNum(std::string* out, const char* key, T v) {
  *out += std::string(",\"") + key + "\":" + std::to_string(v);
}
void AppendBool(std::string* out, const char* key, bool v) {
  *out += std::string(",\"") + key + "\":" + (v ? "true" : "false");
}

void PrintSnapshots(const proto::DestinationStatus& d, std::ostream& out) {
  for (const auto& s : d.snapshots()) {
    out << "    snapshot " << s.id() << ": "
        << (!s.error().empty() ? "REFUSED: " + s.error()
            : s.done()         ? "done"
                               : "running")
        << "\n";
    for (const auto& t : s.tables()) {
      char buf[512];
      std::snprintf(buf, sizeof buf,
                    "      %s.%s: %s, %llu rows (%llu replaced by newer changes), %llu chunks, "
                    "%.0f rows/s%s%s%s%s\n",
                    t.db().c_str(), t.table().c_str(), t.state().c_str(),
                    static_cast<unsigned long long>(t.rows()),
                    static_cast<unsigned long long>(t.dropped()),
                    static_cast<unsigned long long>(t.chunks()), t.rows_per_second(),
                    t.last_key().empty() ? "" : ", key reached ", t.last_key().c_str(),
                    t.error().empty() ? "" : ": ", t.error().c_str());
      out << buf;
    }
  }
}

}  // namespace

Result<std::string> StartSnapshot(const AdminOptions& o, const std::string& dest,
                                  const std::vector<std::string>& tables) {
  proto::SnapshotRequest sr;
  sr.set_dest(dest);
  for (const auto& t : tables) sr.add_tables(t);
  SLUICE_ASSIGN_OR_RETURN(
      auto resp, Call(o, [&](proto::Request* r, auto proof, const std::string& cn) {
        *r->mutable_snapshot() = sr;
        r->mutable_snapshot()->set_client_nonce(cn);
        r->mutable_snapshot()->set_proof(proof(auth::SnapshotAction(dest, tables)));
      }));
  return resp.snapshot().id();
}

Status RunSnapshot(const AdminOptions& o, const std::string& dest,
                   const std::vector<std::string>& tables, bool wait, int timeout_s,
                   std::ostream& out) {
  SLUICE_ASSIGN_OR_RETURN(std::string id, StartSnapshot(o, dest, tables));
  out << "snapshot " << id << " asked for" << std::endl;
  const auto deadline = Clock::now() + std::chrono::seconds(timeout_s);
  std::string last;
  for (bool started = false;;) {
    SLUICE_ASSIGN_OR_RETURN(auto st, NodeStatus(o));
    const proto::SnapshotStatus* found = nullptr;
    for (const auto& d : st.destinations()) {
      if (d.name() != dest) continue;
      for (const auto& s : d.snapshots()) {
        if (s.id() == id) found = &s;
      }
    }
    if (found != nullptr && !found->error().empty()) {
      return Status::FailedPrecondition("snapshot " + id + " refused: " + found->error());
    }
    if (found != nullptr && !started) {
      started = true;
      out << "snapshot " << id << " started" << std::endl;
      if (!wait) return Status::Ok();
    }
    if (found != nullptr) {
      std::string now;
      for (const auto& t : found->tables()) {
        now += "  " + t.db() + "." + t.table() + ": " + t.state() + ", " +
               std::to_string(t.rows()) + " rows\n";
      }
      if (now != last) out << now << std::flush;
      last = now;
      if (found->done()) {
        out << "snapshot " << id << " done" << std::endl;
        return Status::Ok();
      }
    } else if (Clock::now() > deadline) {
      return Status::TimedOut("snapshot " + id + " did not start within " +
                              std::to_string(timeout_s) + " s (is ingest running on the node?)");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(found ? 1000 : 100));
  }
}

Result<proto::StatusResponse> NodeStatus(const AdminOptions& o) {
  SLUICE_ASSIGN_OR_RETURN(auto resp,
                          Call(o, [](proto::Request* r, auto proof, const std::string& cn) {
                            r->mutable_status()->set_client_nonce(cn);
                            r->mutable_status()->set_proof(proof("|status"));
                          }));
  return resp.status();
}

Result<proto::RoleResponse> Promote(const AdminOptions& o, uint64_t epoch) {
  SLUICE_ASSIGN_OR_RETURN(auto resp,
                          Call(o, [&](proto::Request* r, auto proof, const std::string& cn) {
                            r->mutable_promote()->set_epoch(epoch);
                            r->mutable_promote()->set_client_nonce(cn);
                            r->mutable_promote()->set_proof(proof("|promote"));
                          }));
  return resp.promote();
}

Result<proto::RoleResponse> Demote(const AdminOptions& o, const std::string& primary) {
  SLUICE_ASSIGN_OR_RETURN(auto resp,
                          Call(o, [&](proto::Request* r, auto proof, const std::string& cn) {
                            r->mutable_demote()->set_primary(primary);
                            r->mutable_demote()->set_client_nonce(cn);
                            r->mutable_demote()->set_proof(proof("|demote|" + primary));
                          }));
  return resp.demote();
}

void PrintStatus(const proto::StatusResponse& s, bool json, std::ostream& out) {
  if (json) {
    std::string j = "{\"node\":";
    AppendJsonString(s.node_id(), &j);
    Append(&j, "role", s.role());
    AppendNum(&j, "epoch", s.epoch());
    Append(&j, "ha_mode", s.ha_mode());
    Append(&j, "primary", s.primary());
    Append(&j, "fenced", s.fenced());
    Append(&j, "ha_listen", s.ha_listen());
    j += ",\"destinations\":[";
    for (int i = 0; i < s.destinations_size(); ++i) {
      const auto& d = s.destinations(i);
      if (i > 0) j += ',';
      j += "{\"name\":";
      AppendJsonString(d.name(), &j);
      AppendNum(&j, "first_offset", d.first_offset());
      AppendNum(&j, "high_watermark", d.high_watermark());
      AppendNum(&j, "committed_end", d.committed_end());
      Append(&j, "checkpoint", d.checkpoint());
      Append(&j, "gtid_set", d.gtid_set());
      char lag[32];
      std::snprintf(lag, sizeof lag, "%.3f", d.source_lag_seconds());
      j += std::string(",\"source_lag_seconds\":") + lag;
      AppendNum(&j, "source_lag_bytes", d.source_lag_bytes());
      AppendNum(&j, "xa_pending", d.xa_pending());
      std::snprintf(lag, sizeof lag, "%.0f", d.xa_oldest_seconds());
      j += std::string(",\"xa_oldest_seconds\":") + lag;
      AppendBool(&j, "in_sync", d.in_sync());
      AppendBool(&j, "degraded", d.degraded());
      AppendBool(&j, "replicating", d.replicating());
      AppendNum(&j, "primary_high_watermark", d.primary_high_watermark());
      Append(&j, "replication_error", d.replication_error());
      AppendStandbysJson(d, &j);
      AppendSnapshotsJson(d, &j);
      j += "}";
    }
    j += "]}";
    out << j << "\n";
    return;
  }
  out << "node " << s.node_id() << ": " << s.role() << ", epoch " << s.epoch();
  if (!s.ha_mode().empty()) out << ", ha " << s.ha_mode();
  if (!s.primary().empty()) out << ", primary " << s.primary();
  out << "\n";
  if (!s.fenced().empty()) out << "  FENCED: " << s.fenced() << "\n";
  for (const auto& d : s.destinations()) {
    out << "  " << d.name() << ": offsets [" << d.first_offset() << ", " << d.high_watermark()
        << ") visible, log end " << d.committed_end() << ", source position " << d.checkpoint();
    if (!d.gtid_set().empty()) out << " (" << d.gtid_set() << ")";
    out << "\n";
    if (s.role() == "primary") {
      char lag[64];
      std::snprintf(lag, sizeof lag, "%.1f s", d.source_lag_seconds());
      out << "    behind the source: " << lag << ", "
          << (d.source_lag_bytes() < 0 ? std::string("? bytes")
                                       : std::to_string(d.source_lag_bytes()) + " bytes")
          << "\n";
      if (d.xa_pending() > 0) {
        char xa[96];
        std::snprintf(xa, sizeof xa,
                      "    XA: %llu prepared, waiting for COMMIT/ROLLBACK; oldest %.0f s\n",
                      static_cast<unsigned long long>(d.xa_pending()), d.xa_oldest_seconds());
        out << xa;
      }
      if (s.ha_mode() == "sync") {
        out << "    sync: "
            << (d.degraded()  ? "DEGRADED to async"
                : d.in_sync() ? "in sync"
                              : "NOT IN SYNC (holding the high watermark)")
            << "\n";
      }
      for (const auto& sb : d.standbys()) {
        char buf[256];
        std::snprintf(
            buf, sizeof buf,
            "    standby %s: %s, durable %llu, lag %llu records, %llu bytes, %.1f s, %s\n",
            sb.node_id().c_str(), sb.connected() ? "connected" : "disconnected",
            static_cast<unsigned long long>(sb.durable_offset()),
            static_cast<unsigned long long>(sb.lag_records()),
            static_cast<unsigned long long>(sb.lag_bytes()), sb.lag_seconds(),
            sb.in_sync() ? "in sync" : "not in sync");
        out << buf;
      }
      if (d.standbys().empty() && !s.ha_mode().empty()) out << "    no standby has connected\n";
      PrintSnapshots(d, out);
    } else {
      out << "    replication: " << (d.replicating() ? "connected" : "NOT connected")
          << ", primary's high watermark " << d.primary_high_watermark();
      if (!d.replication_error().empty()) out << " (last error: " << d.replication_error() << ")";
      out << "\n";
    }
  }
}

void PrintRole(const proto::RoleResponse& r, std::ostream& out) {
  out << "role " << r.role() << ", epoch " << r.epoch() << "\n";
  for (const auto& d : r.destinations()) {
    out << "  " << d.name() << ": log end " << d.committed_end() << ", source position "
        << d.checkpoint() << "\n";
  }
}

}  // namespace sluice::admin_client
