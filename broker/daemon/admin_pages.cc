#include "broker/daemon/admin_pages.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "proto/record_json.h"
#include "proto/status_json.h"

namespace sluice::daemon {
namespace {

class Metrics {
 public:
  void Family(const char* name, const char* type, const char* help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += " ";
    out_ += help;
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += " ";
    out_ += type;
    out_ += "\n";
  }
  void Sample(const std::string& name, const std::string& labels, double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    out_ += labels.empty() ? name + " " + buf + "\n" : name + "{" + labels + "} " + buf + "\n";
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

std::string Dest(const Destination& d) { return "dest=\"" + d.name() + "\""; }

// A listener's connection machinery (net::FrameServer): the consumer
// server's as sluice_server_*, the Kafka one's as sluice_kafka_*.
void RenderListener(const std::string& prefix, const std::string& who, const char* limit_key,
                    const net::FrameServerStats& s, const std::atomic<uint64_t>& auth_failures,
                    Metrics* m) {
  struct Counter {
    const char* name;
    const char* type;
    std::string help;
    const std::atomic<uint64_t>& value;
  };
  const Counter counters[] = {
      {"connections_accepted_total", "counter", who + " connections accepted.",
       s.connections_accepted},
      {"connections_refused_total", "counter", who + " connections refused at " + limit_key + ".",
       s.connections_refused},
      {"connections", "gauge", who + " connections open.", s.connections_open},
      {"requests_total", "counter", who + " requests served.", s.requests},
      {"auth_failures_total", "counter", "Failed " + who + " authentications.", auth_failures},
      {"protocol_errors_total", "counter",
       who + " connections closed for bad frames, missed frame deadlines or idleness.",
       s.protocol_errors},
      {"sent_bytes_total", "counter", "Bytes of responses sent to " + who + " clients.",
       s.bytes_out},
      {"long_polls_parked_total", "counter", who + " long polls that found nothing and waited.",
       s.polls_parked},
      {"long_polls_woken_total", "counter", who + " long polls answered after a wake.",
       s.polls_woken},
      {"long_polls_expired_total", "counter", who + " long polls answered at their wait's end.",
       s.polls_expired},
  };
  for (const auto& c : counters) {
    const std::string name = prefix + c.name;
    m->Family(name.c_str(), c.type, c.help.c_str());
    m->Sample(name, "", static_cast<double>(c.value.load()));
  }
}

}  // namespace

// Role and replication, from the node's status.
void RenderHaMetrics(const proto::StatusResponse& ha, Metrics* mp) {
  Metrics& m = *mp;
  m.Family("sluice_node_primary", "gauge", "1 while this node is the primary, else 0.");
  m.Sample("sluice_node_primary", "", ha.role() == "primary" ? 1 : 0);
  m.Family("sluice_node_epoch", "gauge", "The highest epoch of this node's logs.");
  m.Sample("sluice_node_epoch", "", static_cast<double>(ha.epoch()));
  m.Family("sluice_node_fenced", "gauge",
           "1 when a newer epoch made this node stop acting as primary.");
  m.Sample("sluice_node_fenced", "", ha.fenced().empty() ? 0 : 1);
  m.Family("sluice_ha_in_sync", "gauge",
           "Sync mode: 1 while enough standbys acknowledge the high watermark in time.");
  m.Family("sluice_ha_degraded", "gauge",
           "Sync mode: 1 while degraded to async after sync_timeout_ms (on_sync_timeout = "
           "degrade).");
  m.Family("sluice_ha_standby_lag_records", "gauge",
           "Records of the log a standby has not reported durable.");
  m.Family("sluice_ha_standby_lag_bytes", "gauge", "Log bytes a standby has not received.");
  m.Family("sluice_ha_standby_lag_seconds", "gauge",
           "Seconds since a standby last reported the log's end (0: caught up).");
  m.Family("sluice_ha_standby_connected", "gauge", "1 while a standby is connected.");
  m.Family("sluice_ha_replicating", "gauge", "Standby: 1 while connected to its primary.");
  m.Family("sluice_ha_refused_total", "counter",
           "Primary: connections to the HA port closed before they became a standby session, "
           "by reason (too_many_connections, handshake_timeout, frame_too_large, bad_proof, "
           "...).");
  for (const auto& r : ha.ha_refused()) {
    m.Sample("sluice_ha_refused_total", "reason=\"" + r.reason() + "\"",
             static_cast<double>(r.count()));
  }
  for (const auto& d : ha.destinations()) {
    const std::string dl = "dest=\"" + d.name() + "\"";
    if (ha.role() == "primary") {
      m.Sample("sluice_ha_in_sync", dl, d.in_sync() ? 1 : 0);
      m.Sample("sluice_ha_degraded", dl, d.degraded() ? 1 : 0);
    } else {
      m.Sample("sluice_ha_replicating", dl, d.replicating() ? 1 : 0);
    }
    for (const auto& sb : d.standbys()) {
      const std::string l = dl + ",standby=\"" + sb.node_id() + "\"";
      m.Sample("sluice_ha_standby_lag_records", l, static_cast<double>(sb.lag_records()));
      m.Sample("sluice_ha_standby_lag_bytes", l, static_cast<double>(sb.lag_bytes()));
      m.Sample("sluice_ha_standby_lag_seconds", l, sb.lag_seconds());
      m.Sample("sluice_ha_standby_connected", l, sb.connected() ? 1 : 0);
    }
  }
}

std::string RenderMetrics(const std::vector<std::unique_ptr<Destination>>& dests,
                          const consumer::ServerStats* server, const proto::StatusResponse* ha,
                          const kafka::KafkaStats* kafka) {
  Metrics m;
  if (ha != nullptr) RenderHaMetrics(*ha, &m);
  struct Counter {
    const char* name;
    const char* help;
    std::atomic<uint64_t> ingest::IngestStats::*field;
  };
  static const Counter kCounters[] = {
      {"sluice_ingest_events_total", "Binlog events read from the source.",
       &ingest::IngestStats::events},
      {"sluice_ingest_event_bytes_total", "Bytes of binlog events read.",
       &ingest::IngestStats::event_bytes},
      {"sluice_ingest_rows_total", "Row changes decoded and kept by the filters.",
       &ingest::IngestStats::rows},
      {"sluice_ingest_records_committed_total", "Records committed to the log.",
       &ingest::IngestStats::records_committed},
      {"sluice_ingest_transactions_total", "Source transactions committed.",
       &ingest::IngestStats::transactions},
      {"sluice_ingest_chunks_total", "Chunks of large transactions appended.",
       &ingest::IngestStats::chunks},
      {"sluice_records_without_names_total",
       "Row changes keyed @1, @2, ...: their table map had no column names (binlog written "
       "before binlog_row_metadata=FULL).",
       &ingest::IngestStats::records_without_names},
  };
  for (const auto& c : kCounters) {
    m.Family(c.name, "counter", c.help);
    for (const auto& d : dests) m.Sample(c.name, Dest(*d), (d->stats().*c.field).load());
  }
  m.Family("sluice_capture_errors_total", "counter",
           "Changes stored as error records instead of rows: kind=statement (statement-based "
           "DML), kind=undecodable (events skipped by on_undecodable = \"skip\").");
  for (const auto& d : dests) {
    m.Sample("sluice_capture_errors_total", Dest(*d) + ",kind=\"statement\"",
             d->stats().statement_errors.load());
    m.Sample("sluice_capture_errors_total", Dest(*d) + ",kind=\"undecodable\"",
             d->stats().undecodable_events.load());
  }
  m.Family("sluice_xa_pending", "gauge",
           "Prepared XA transactions whose XA COMMIT or ROLLBACK has not been read; their "
           "records wait beside the log.");
  for (const auto& d : dests) m.Sample("sluice_xa_pending", Dest(*d), d->xa_pending());
  m.Family("sluice_xa_oldest_pending_seconds", "gauge",
           "Age of the oldest pending XA transaction's XA PREPARE (source clock); 0 when none.");
  for (const auto& d : dests) {
    m.Sample("sluice_xa_oldest_pending_seconds", Dest(*d), d->xa_oldest_seconds());
  }
  // Snapshots (docs/snapshots.md): per table of every snapshot the log knows.
  struct SnapshotSeries {
    const char* name;
    const char* type;
    const char* help;
    double (*get)(const snapshot::TableProgress&);
  };
  static const SnapshotSeries kSnapshot[] = {
      {"sluice_snapshot_rows_total", "counter", "Rows a snapshot wrote to the log.",
       [](const snapshot::TableProgress& t) { return static_cast<double>(t.rows); }},
      {"sluice_snapshot_rows_replaced_total", "counter",
       "Rows of a snapshot's chunks left out because a newer change of the row is in the log "
       "(the merge rule).",
       [](const snapshot::TableProgress& t) { return static_cast<double>(t.dropped); }},
      {"sluice_snapshot_chunks_total", "counter", "Chunks a snapshot wrote.",
       [](const snapshot::TableProgress& t) { return static_cast<double>(t.chunks); }},
      {"sluice_snapshot_chunk_retries_total", "counter",
       "Chunks read again (a DDL, an XA COMMIT or an ingest restart inside the chunk's window).",
       [](const snapshot::TableProgress& t) { return static_cast<double>(t.retries); }},
      {"sluice_snapshot_rows_per_second", "gauge", "A table's copy rate (read rows per second).",
       [](const snapshot::TableProgress& t) { return t.rows_per_second; }},
      {"sluice_snapshot_done", "gauge", "1 once the table's copy has ended (END mark), else 0.",
       [](const snapshot::TableProgress& t) {
         return t.state == "done" || t.state == "failed" ? 1.0 : 0.0;
       }},
  };
  std::vector<std::pair<std::string, std::vector<snapshot::JobProgress>>> jobs;
  jobs.reserve(dests.size());
  for (const auto& d : dests) jobs.emplace_back(Dest(*d), d->snapshots());
  for (const auto& series : kSnapshot) {
    m.Family(series.name, series.type, series.help);
    for (const auto& [dest, list] : jobs) {
      for (const auto& j : list) {
        for (const auto& t : j.tables) {
          m.Sample(series.name,
                   dest + ",snapshot=\"" + j.id + "\",table=\"" + t.db + "." + t.table + "\"",
                   series.get(t));
        }
      }
    }
  }
  m.Family("sluice_ring_occupancy", "gauge", "Parse-ring slots published and not yet committed.");
  for (const auto& d : dests)
    m.Sample("sluice_ring_occupancy", Dest(*d), d->stats().ring_occupancy.load());
  m.Family("sluice_source_lag_seconds", "gauge", "How far the log is behind the source's clock.");
  for (const auto& d : dests) m.Sample("sluice_source_lag_seconds", Dest(*d), d->lag_seconds());
  m.Family("sluice_source_lag_bytes", "gauge",
           "Bytes of source binlog after the log's checkpoint (-1: not known yet or the source "
           "cannot be asked).");
  for (const auto& d : dests) m.Sample("sluice_source_lag_bytes", Dest(*d), d->lag_bytes());
  m.Family("sluice_ring_wait_seconds_total", "counter",
           "Time each part of the ingest pipeline waited (threads summed): the fetch thread in "
           "source reads and for a free slot, each stage for the one before it.");
  for (const auto& d : dests) {
    for (int p = 0; p < ingest::IngestStats::kWaitParts; ++p) {
      m.Sample("sluice_ring_wait_seconds_total",
               Dest(*d) + ",part=\"" + ingest::IngestStats::kWaitPartNames[p] + "\"",
               d->stats().wait_ns[p].load() / 1e9);
    }
  }
  m.Family("sluice_log_first_offset", "gauge", "First offset retained in the log.");
  for (const auto& d : dests)
    m.Sample("sluice_log_first_offset", Dest(*d), d->log()->FirstOffset().value());
  m.Family("sluice_log_committed_end", "gauge",
           "One past the last record of the last transaction written to this node's log.");
  m.Family("sluice_log_bytes", "gauge",
           "Bytes of the log's records as stored (what retention_bytes counts; before RocksDB's "
           "own compression).");
  for (const auto& d : dests) m.Sample("sluice_log_bytes", Dest(*d), d->log()->SizeBytes());
  m.Family("sluice_retention_removed_records_total", "counter",
           "Records removed from the front of the log by retention since sluiced started.");
  for (const auto& d : dests) {
    m.Sample("sluice_retention_removed_records_total", Dest(*d), d->retention_records_removed());
  }
  m.Family("sluice_retention_removed_bytes_total", "counter",
           "Bytes (as sluice_log_bytes counts them) removed by retention since sluiced started.");
  for (const auto& d : dests) {
    m.Sample("sluice_retention_removed_bytes_total", Dest(*d), d->retention_bytes_removed());
  }
  m.Family("sluice_retention_runs_total", "counter",
           "Times retention ran on the log (every [storage] retention_interval_ms when a limit is "
           "set).");
  for (const auto& d : dests)
    m.Sample("sluice_retention_runs_total", Dest(*d), d->retention_runs());
  m.Family("sluice_retention_held", "gauge",
           "1 while the log stays above retention_bytes because a consumer group, a standby or "
           "the high watermark holds retention back (/status retention_held_by says which).");
  for (const auto& d : dests) {
    m.Sample("sluice_retention_held", Dest(*d), d->retention_held_by().empty() ? 0 : 1);
  }
  m.Family("sluice_retention_errors_total", "counter",
           "Retention runs that failed (logged; the log keeps its records until the next run).");
  for (const auto& d : dests) {
    m.Sample("sluice_retention_errors_total", Dest(*d), d->retention_errors());
  }
  for (const auto& d : dests)
    m.Sample("sluice_log_committed_end", Dest(*d), d->log()->CommittedEnd().value());
  m.Family(
      "sluice_log_high_watermark", "gauge",
      "One past the last record consumers may read (in sync mode: that enough standbys have).");
  for (const auto& d : dests)
    m.Sample("sluice_log_high_watermark", Dest(*d), d->log()->HighWatermark().value());
  m.Family("sluice_log_durable_offset", "gauge", "Every record below it is fsynced.");
  for (const auto& d : dests)
    m.Sample("sluice_log_durable_offset", Dest(*d), d->log()->DurableOffset().value());
  m.Family("sluice_commit_latency_seconds", "histogram",
           "Time to commit one transaction to the log.");
  for (const auto& d : dests) {
    const auto& s = d->stats();
    uint64_t cum = 0;
    for (size_t b = 0; b < ingest::IngestStats::kCommitBuckets; ++b) {
      cum += s.commit_latency[b].load();
      std::string le = b + 1 < ingest::IngestStats::kCommitBuckets
                           ? std::to_string(ingest::IngestStats::kCommitBucketsMs[b] / 1000.0)
                           : "+Inf";
      m.Sample("sluice_commit_latency_seconds_bucket", Dest(*d) + ",le=\"" + le + "\"", cum);
    }
    m.Sample("sluice_commit_latency_seconds_sum", Dest(*d), s.commit_ns_total.load() / 1e9);
    m.Sample("sluice_commit_latency_seconds_count", Dest(*d), cum);
  }
  m.Family("sluice_ingest_errors_total", "counter",
           "Ingest errors by kind (each restarts ingest).");
  for (const auto& d : dests) {
    for (Code c : {Code::kCorruption, Code::kIoError, Code::kNoSpace, Code::kUnavailable,
                   Code::kFailedPrecondition, Code::kNotFound, Code::kTimedOut, Code::kAborted,
                   Code::kInternal, Code::kInvalidArgument}) {
      m.Sample("sluice_ingest_errors_total",
               Dest(*d) + ",kind=\"" + std::string(CodeName(c)) + "\"", d->errors_by_kind(c));
    }
  }
  m.Family("sluice_disk_free_bytes", "gauge",
           "Free bytes of the file system that holds the log; ingest pauses below "
           "[node] min_free_mb (docs/operations.md, Disk full).");
  for (const auto& d : dests) {
    if (auto free = d->log()->DiskFreeBytes()) {
      m.Sample("sluice_disk_free_bytes", Dest(*d), static_cast<double>(*free));
    }
  }
  m.Family("sluice_ingest_restarts_total", "counter", "Times ingest restarted after an error.");
  for (const auto& d : dests) m.Sample("sluice_ingest_restarts_total", Dest(*d), d->restarts());
  m.Family("sluice_destination_state", "gauge",
           "1 for the state the destination's ingest is in (failed: a permanent error that "
           "needs a fix; retrying: a transient one), 0 for the others.");
  for (const auto& d : dests) {
    for (IngestState st : kAllIngestStates) {
      m.Sample("sluice_destination_state", Dest(*d) + ",state=\"" + IngestStateName(st) + "\"",
               d->state() == st ? 1 : 0);
    }
  }
  if (server != nullptr) {
    RenderListener("sluice_server_", "Consumer", "server.max_connections", *server,
                   server->auth_failures, &m);
  }
  if (kafka != nullptr) {
    RenderListener("sluice_kafka_", "Kafka", "kafka.max_connections", *kafka, kafka->auth_failures,
                   &m);
    m.Family("sluice_kafka_records_sent_total", "counter",
             "Records sent to Kafka clients in Fetch answers.");
    m.Sample("sluice_kafka_records_sent_total", "", static_cast<double>(kafka->records_out.load()));
    m.Family("sluice_kafka_unsupported_requests_total", "counter",
             "Kafka requests of an API or version not served (the connection is closed).");
    m.Sample("sluice_kafka_unsupported_requests_total", "",
             static_cast<double>(kafka->unsupported_requests.load()));
  }
  return m.Take();
}

std::string RenderStatus(const Config& config,
                         const std::vector<std::unique_ptr<Destination>>& dests,
                         const proto::StatusResponse* ha) {
  std::string out = "{\"node\":";
  AppendJsonString(config.node_id, &out);
  out += ",\"role\":";
  AppendJsonString(ha ? ha->role() : std::string(RoleName(config.role)), &out);
  if (ha != nullptr) {
    out += ",\"epoch\":" + std::to_string(ha->epoch()) + ",\"ha_mode\":";
    AppendJsonString(ha->ha_mode(), &out);
    out += ",\"primary\":";
    AppendJsonString(ha->primary(), &out);
    out += ",\"fenced\":";
    AppendJsonString(ha->fenced(), &out);
  }
  out += ",\"destinations\":[";
  for (size_t i = 0; i < dests.size(); ++i) {
    const Destination& d = *dests[i];
    const auto& s = d.stats();
    proto::SourceCheckpoint cp = const_cast<Destination&>(d).log()->Checkpoint();
    CommitLog* log = const_cast<Destination&>(d).log();
    if (i > 0) out += ',';
    out += "{\"name\":";
    AppendJsonString(d.name(), &out);
    out += ",\"first_offset\":" + std::to_string(log->FirstOffset().value());
    out += ",\"high_watermark\":" + std::to_string(log->HighWatermark().value());
    out += ",\"log_bytes\":" + std::to_string(log->SizeBytes());
    out += ",\"retention_removed_records\":" + std::to_string(d.retention_records_removed());
    out += ",\"retention_held_by\":";
    AppendJsonString(d.retention_held_by(), &out);
    out += ",\"checkpoint\":{\"file\":";
    AppendJsonString(cp.file(), &out);
    out += ",\"pos\":" + std::to_string(cp.pos()) + ",\"gtid_set\":";
    AppendJsonString(cp.gtid_set(), &out);
    out += "},\"rows\":" + std::to_string(s.rows.load());
    out += ",\"records_committed\":" + std::to_string(s.records_committed.load());
    out += ",\"capture_errors\":{\"statement\":" + std::to_string(s.statement_errors.load()) +
           ",\"undecodable\":" + std::to_string(s.undecodable_events.load()) + "}";
    out += ",\"records_without_names\":" + std::to_string(s.records_without_names.load());
    out += ",\"xa_pending\":" + std::to_string(d.xa_pending());
    out += ",\"xa_oldest_seconds\":" + std::to_string(static_cast<uint64_t>(d.xa_oldest_seconds()));
    out += ",\"last_warning\":";
    AppendJsonString(d.last_warning(), &out);
    char lag[32];
    std::snprintf(lag, sizeof lag, "%.3f", d.lag_seconds());
    out += ",\"lag_seconds\":";
    out += lag;
    out += ",\"lag_bytes\":" + std::to_string(d.lag_bytes()) + ",\"lag_error\":";
    AppendJsonString(d.last_lag_error(), &out);
    out += ",\"state\":\"" + std::string(IngestStateName(d.state())) + "\"";
    out += ",\"restarts\":" + std::to_string(d.restarts()) + ",\"last_error\":";
    AppendJsonString(d.last_error(), &out);
    if (ha != nullptr && i < static_cast<size_t>(ha->destinations_size())) {
      const proto::DestinationStatus& h = ha->destinations(static_cast<int>(i));
      out += ",\"committed_end\":" + std::to_string(h.committed_end());
      out += std::string(",\"in_sync\":") + (h.in_sync() ? "true" : "false");
      out += std::string(",\"degraded\":") + (h.degraded() ? "true" : "false");
      out += std::string(",\"replicating\":") + (h.replicating() ? "true" : "false");
      out += ",\"replication_error\":";
      AppendJsonString(h.replication_error(), &out);
      AppendStandbysJson(h, &out);
      AppendSnapshotsJson(h, &out);
    }
    out += "}";
  }
  out += "]}\n";
  return out;
}

admin::Handler MakeAdminHandler(const Config* config,
                                const std::vector<std::unique_ptr<Destination>>* dests,
                                const consumer::ServerStats* server, const Node* node,
                                const kafka::KafkaStats* kafka) {
  return [config, dests, server, node, kafka](const std::string& path) {
    proto::StatusResponse ha;
    if (node != nullptr) {
      for (const auto& d : *dests) ha.add_destinations()->set_name(d->name());
      node->FillStatus(&ha);
      for (const auto& d : *dests)
        ha.set_epoch(std::max(ha.epoch(), d->log()->CurrentEpoch().value()));
      for (int i = 0; i < ha.destinations_size(); ++i) {
        ha.mutable_destinations(i)->set_committed_end((*dests)[i]->log()->CommittedEnd().value());
      }
    }
    const proto::StatusResponse* hp = node ? &ha : nullptr;
    if (path == "/metrics") {
      return admin::Response{200, "text/plain; version=0.0.4",
                             RenderMetrics(*dests, server, hp, kafka)};
    }
    if (path == "/status") {
      return admin::Response{200, "application/json", RenderStatus(*config, *dests, hp)};
    }
    return admin::Response{404, "text/plain", "try /metrics or /status\n"};
  };
}

}  // namespace sluice::daemon
