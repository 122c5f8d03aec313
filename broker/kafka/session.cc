#include "broker/kafka/session.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <optional>

#include "broker/kafka/fetch.h"
#include "broker/kafka/wire.h"
#include "proto/auth.h"
#include "proto/record.pb.h"

namespace sluice::kafka {

// Produce is listed (librdkafka enables RecordBatch v2 only for a broker
// that lists Produce 3 with Fetch 4) and refused per partition.
const ApiRange kApis[] = {
    {kProduce, 3, 7},         {kFetch, 4, 11},           {kListOffsets, 0, 5},
    {kMetadata, 0, 8},        {kOffsetCommit, 0, 7},     {kOffsetFetch, 0, 5},
    {kFindCoordinator, 0, 2}, {kJoinGroup, 0, 5},        {kHeartbeat, 0, 3},
    {kLeaveGroup, 0, 3},      {kSyncGroup, 0, 3},        {kSaslHandshake, 0, 1},
    {kApiVersions, 0, 2},     {kSaslAuthenticate, 0, 1},
};
const size_t kApiCount = sizeof(kApis) / sizeof(kApis[0]);

namespace {

// Error codes (the protocol guide's table) besides groups.h's and fetch.h's.
constexpr int16_t kNotCoordinator = 16;
constexpr int16_t kTopicAuthorizationFailed = 29;
constexpr int16_t kGroupAuthorizationFailed = 30;
constexpr int16_t kUnsupportedSaslMechanism = 33;
constexpr int16_t kIllegalSaslState = 34;
constexpr int16_t kUnsupportedVersion = 35;
constexpr int16_t kSaslAuthenticationFailed = 58;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

const ApiRange* FindApi(int16_t key) {
  for (size_t i = 0; i < kApiCount; ++i) {
    if (kApis[i].key == key) return &kApis[i];
  }
  return nullptr;
}

// "host:port" split at its last colon.
void SplitHostPort(const std::string& s, std::string* host, int32_t* port) {
  const size_t colon = s.rfind(':');
  *host = colon == std::string::npos ? s : s.substr(0, colon);
  *port = colon == std::string::npos ? 0 : std::atoi(s.c_str() + colon + 1);
}

}  // namespace

KafkaProtocol::KafkaProtocol(const KafkaOptions& options, consumer::ConsumerService* service,
                             KafkaStats* stats)
    : options_(options), service_(service), stats_(stats), groups_(options.groups, [this] {
        MutexLock lock(&wake_mu_);
        if (wake_) wake_();
      }) {
  int32_t port = 0;
  SplitHostPort(options.advertised.empty() ? options.listen : options.advertised, &host_, &port);
  port_ = port;
}

void KafkaProtocol::SetWaker(std::function<void()> wake) {
  MutexLock lock(&wake_mu_);
  wake_ = std::move(wake);
}

void KafkaProtocol::NoteClose(const std::string& client, const std::string& why) {
  const auto now = std::chrono::steady_clock::now();
  ++closes_unlogged_;
  if (now - last_close_log_ < std::chrono::seconds(10)) return;
  spdlog::warn(
      "kafka: closed a connection of client '{}': {} ({} such closes since the last "
      "message; sluice_kafka_protocol_errors_total counts them)",
      client, why, closes_unlogged_);
  last_close_log_ = now;
  closes_unlogged_ = 0;
}

void KafkaProtocol::SetBoundPort(int port) {
  if (options_.advertised.empty()) port_ = port;
}

class KafkaSession final : public net::Session {
 public:
  KafkaSession(KafkaProtocol* p, net::ServerConnection* conn) : p_(p), conn_(conn) {}

  void OnFrame(std::string_view body) override {
    if (sasl_ == Sasl::kRawToken) return RawSaslToken(body);
    Reader r(body);
    Header h;
    h.key = r.Int16();
    h.version = r.Int16();
    h.correlation = r.Int32();
    if (!r.ok()) return Close("a request shorter than its header (" + r.error() + ")");
    const ApiRange* api = FindApi(h.key);
    if (h.key == kApiVersions && api != nullptr && h.version > api->max) {
      // How clients learn which versions to use (KIP-511): an answer in
      // version 0 with UNSUPPORTED_VERSION and the list.
      return ApiVersions(h, kUnsupportedVersion);
    }
    if (api == nullptr || h.version < api->min || h.version > api->max) {
      p_->stats_->unsupported_requests.fetch_add(1, std::memory_order_relaxed);
      return Close("API key " + std::to_string(h.key) + " version " + std::to_string(h.version) +
                   " is not served here (docs/kafka.md lists what is)");
    }
    const auto client = r.NullableString("client_id");
    if (!r.ok()) return Close(r.error());
    if (client) client_id_ = std::string(*client);
    Serve(h, body.substr(r.position()), /*retry=*/false, /*expired=*/false);
  }

  bool Retry(bool expired) override {
    if (!parked_) return true;
    if (!expired && parked_->key == kFetch && !FetchHasRecords(p_->service_, parked_fetch_)) {
      return false;
    }
    const Header h = *parked_;
    const std::string body = parked_body_;
    if (!Serve(h, body, /*retry=*/true, expired)) return false;
    parked_.reset();
    return true;
  }

  std::string Farewell(net::Refusal, const std::string&) override {
    // Kafka has no error frame outside a response: the connection closes,
    // and the client reconnects (a parked Fetch or JoinGroup is retried).
    return "";
  }

 private:
  struct Header {
    int16_t key = 0;
    int16_t version = 0;
    int32_t correlation = 0;
  };
  enum class Sasl { kNone, kRawToken, kAuthenticate, kDone };

  bool primary() const { return p_->service_->role() == Role::kPrimary; }

  struct Broker {
    int32_t id;
    std::string host;
    int32_t port;
  };
  // On a standby, the primary as its replication named it.
  std::optional<Broker> PrimaryBroker() const {
    if (primary() || !p_->options_.primary) return std::nullopt;
    auto known = p_->options_.primary();
    if (!known || known->first == p_->options_.broker_id) return std::nullopt;
    Broker b{known->first, "", 0};
    SplitHostPort(known->second, &b.host, &b.port);
    return b;
  }
  bool may_read() const { return sasl_ == Sasl::kDone || p_->options_.anonymous; }
  bool may_group() const { return sasl_ == Sasl::kDone; }

  // Serves one request; false only on a retry that stays parked.
  bool Serve(const Header& h, std::string_view body, bool retry, bool expired) {
    Reader r(body);
    if (h.key != kApiVersions && h.key != kSaslHandshake && h.key != kSaslAuthenticate &&
        !may_read()) {
      Close("this listener needs SASL/PLAIN first (docs/kafka.md)");
      return true;
    }
    switch (h.key) {
      case kApiVersions: ApiVersions(h, 0); return true;
      case kMetadata: return Metadata(h, &r);
      case kListOffsets: return ListOffsets(h, &r);
      case kFetch: return Fetch(h, &r, body, retry, expired);
      case kProduce: return Produce(h, &r);
      case kFindCoordinator: return FindCoordinator(h, &r);
      case kJoinGroup: return JoinGroup(h, &r, body, retry, expired);
      case kSyncGroup: return SyncGroup(h, &r, body, retry, expired);
      case kHeartbeat: return Heartbeat(h, &r);
      case kLeaveGroup: return LeaveGroup(h, &r);
      case kOffsetCommit: return OffsetCommit(h, &r);
      case kOffsetFetch: return OffsetFetch(h, &r);
      case kSaslHandshake: return SaslHandshake(h, &r);
      case kSaslAuthenticate: return SaslAuthenticate(h, &r);
      default: Close("unreachable API key"); return true;
    }
  }

  // --- framing -------------------------------------------------------------

  // A response in the making: the length (patched by Send) and header v0.
  struct Out {
    std::string buf;
    Writer w{&buf};
  };
  std::unique_ptr<Out> Begin(const Header& h) {
    auto o = std::make_unique<Out>();
    o->buf = conn_->TakeBuffer();
    o->w.Int32(0);
    o->w.Int32(h.correlation);
    return o;
  }
  void Send(std::unique_ptr<Out> o) {
    o->w.Patch32(0, static_cast<uint32_t>(o->buf.size() - 4));
    conn_->Send(std::move(o->buf));
  }
  // A request that breaks the protocol: Kafka's answer is a closed
  // connection (counted as a protocol error); the reason goes to the log.
  void Close(const std::string& why) {
    p_->NoteClose(client_id_, why);
    conn_->Refuse("");
  }
  // Decoding failed: close, naming the field.
  bool Malformed(const Reader& r) {
    Close(r.error());
    return true;
  }
  void Park(const Header& h, std::string_view body, uint32_t wait_ms) {
    parked_ = h;
    parked_body_ = std::string(body);
    conn_->Park(std::min(wait_ms, p_->options_.max_wait_ms));
  }

  // --- ApiVersions, Metadata, ListOffsets ----------------------------------

  // An unsupported version gets version 0's shape with only ApiVersions'
  // own range, as Kafka answers (KIP-511); the client asks again in one
  // it can use.
  void ApiVersions(const Header& h, int16_t error) {
    auto o = Begin(h);
    Writer& w = o->w;
    w.Int16(error);
    w.ArrayCount(error == 0 ? kApiCount : 1);
    for (size_t i = 0; i < kApiCount; ++i) {
      if (error != 0 && kApis[i].key != kApiVersions) continue;
      w.Int16(kApis[i].key);
      w.Int16(kApis[i].min);
      w.Int16(kApis[i].max);
    }
    if (error == 0 && h.version >= 1) w.Int32(0);  // throttle_time_ms
    Send(std::move(o));
  }

  bool Metadata(const Header& h, Reader* r) {
    std::optional<std::vector<std::string>> topics;  // nullopt: every topic
    const int32_t n = r->ArrayCount(2, "Metadata topics", /*nullable=*/h.version >= 1);
    if (n >= 0 && !(n == 0 && h.version == 0)) {
      topics.emplace();
      for (int32_t i = 0; i < n && r->ok(); ++i) topics->emplace_back(r->String("a topic name"));
    }
    if (h.version >= 4) r->Bool();  // allow_auto_topic_creation: never
    if (h.version >= 8) {
      r->Bool();  // include_cluster_authorized_operations
      r->Bool();  // include_topic_authorized_operations
    }
    if (!r->ok()) return Malformed(*r);
    if (!topics) topics = p_->service_->Destinations();
    const int32_t self = p_->options_.broker_id;
    const bool is_primary = primary();
    const std::optional<Broker> other = PrimaryBroker();
    // The partitions' leader: this node on the primary; on a standby the
    // primary when known (clients move there), else none.
    const int32_t leader = is_primary ? self : other ? other->id : -1;
    auto o = Begin(h);
    Writer& w = o->w;
    if (h.version >= 3) w.Int32(0);  // throttle_time_ms
    // Brokers: this node; on a standby the primary, on a primary its
    // standbys (a client must know the node it moves to at a failover).
    std::vector<Broker> brokers = {{self, p_->host_, p_->port_.load()}};
    if (other) brokers.push_back(*other);
    if (is_primary && p_->options_.standbys) {
      for (const auto& [id, address] : p_->options_.standbys()) {
        Broker b{id, "", 0};
        SplitHostPort(address, &b.host, &b.port);
        const bool seen = std::any_of(brokers.begin(), brokers.end(),
                                      [&](const Broker& x) { return x.id == b.id; });
        if (!seen) brokers.push_back(b);
      }
    }
    w.ArrayCount(brokers.size());
    for (const Broker& b : brokers) {
      w.Int32(b.id);
      w.String(b.host);
      w.Int32(b.port);
      if (h.version >= 1) w.NullableString(std::nullopt);  // rack
    }
    if (h.version >= 2) w.NullableString(p_->options_.cluster_id);
    if (h.version >= 1) w.Int32(self);  // controller_id
    w.ArrayCount(topics->size());
    for (const auto& name : *topics) {
      consumer::ConsumerService::PartitionState st;
      const bool known = p_->service_->Partition(name, &st).code() == proto::OK;
      w.Int16(known ? 0 : kUnknownTopicOrPartition);
      w.String(name);
      if (h.version >= 1) w.Bool(false);  // is_internal
      w.ArrayCount(known ? 1 : 0);
      if (known) {
        w.Int16(leader >= 0 ? 0 : kLeaderNotAvailable);
        w.Int32(0);                                                   // partition_index
        w.Int32(leader);                                              // leader_id
        if (h.version >= 7) w.Int32(static_cast<int32_t>(st.epoch));  // leader_epoch
        for (int list = 0; list < 2; ++list) {                        // replica_nodes, isr_nodes
          w.ArrayCount(other ? 2 : 1);
          if (other) w.Int32(other->id);
          w.Int32(self);
        }
        if (h.version >= 5) w.ArrayCount(0);  // offline_replicas
      }
      if (h.version >= 8) w.Int32(INT32_MIN);  // topic_authorized_operations: not asked
    }
    if (h.version >= 8) w.Int32(INT32_MIN);  // cluster_authorized_operations
    Send(std::move(o));
    return true;
  }

  bool ListOffsets(const Header& h, Reader* r) {
    std::string body;
    if (!AppendListOffsetsResponse(r, h.version, p_->service_, primary(), &body)) {
      return Malformed(*r);
    }
    auto o = Begin(h);
    o->buf += body;
    Send(std::move(o));
    return true;
  }

  // --- Fetch -----------------------------------------------------------------

  bool Fetch(const Header& h, Reader* r, std::string_view body, bool retry, bool expired) {
    FetchRequest req;
    if (!ParseFetch(r, h.version, &req)) return Malformed(*r);
    std::string frame = conn_->TakeBuffer();
    Writer w(&frame);
    w.Int32(0);
    w.Int32(h.correlation);
    const FetchResult got =
        AppendFetchResponse(p_->service_, primary(), req, h.version, p_->options_.max_fetch_bytes,
                            p_->options_.value_format, &frame);
    const bool enough =
        got.records > 0 && got.record_bytes >= static_cast<uint64_t>(std::max(req.min_bytes, 0));
    if (!enough && req.max_wait_ms > 0 && !expired && primary()) {
      if (retry) return false;
      const auto wait_ms = static_cast<uint32_t>(req.max_wait_ms);
      parked_fetch_ = std::move(req);
      Park(h, body, wait_ms);
      return true;
    }
    w.Patch32(0, static_cast<uint32_t>(frame.size() - 4));
    p_->stats_->records_out.fetch_add(got.records, std::memory_order_relaxed);
    conn_->Send(std::move(frame));
    return true;
  }

  // A destination is written by its source only: every partition of a
  // Produce is refused with TOPIC_AUTHORIZATION_FAILED, a permanent error
  // the producer reports at once. acks = 0 gets no answer, as in Kafka.
  bool Produce(const Header& h, Reader* r) {
    r->NullableString("transactional_id");
    const int16_t acks = r->Int16();
    r->Int32();  // timeout_ms
    std::vector<std::pair<std::string, std::vector<int32_t>>> topics;
    const int32_t nt = r->ArrayCount(2 + 4, "Produce topics");
    for (int32_t t = 0; t < nt && r->ok(); ++t) {
      auto& topic =
          topics.emplace_back(std::string(r->String("a topic name")), std::vector<int32_t>{});
      const int32_t np = r->ArrayCount(4 + 4, "Produce partitions");
      for (int32_t i = 0; i < np && r->ok(); ++i) {
        topic.second.push_back(r->Int32());
        r->NullableBytes("records");
      }
    }
    if (!r->ok()) return Malformed(*r);
    if (acks == 0) return true;
    auto o = Begin(h);
    Writer& w = o->w;
    w.ArrayCount(topics.size());
    for (const auto& [name, parts] : topics) {
      w.String(name);
      w.ArrayCount(parts.size());
      for (int32_t part : parts) {
        w.Int32(part);
        w.Int16(kTopicAuthorizationFailed);
        w.Int64(-1);                      // base_offset
        w.Int64(-1);                      // log_append_time_ms
        if (h.version >= 5) w.Int64(-1);  // log_start_offset
      }
    }
    w.Int32(0);  // throttle_time_ms
    Send(std::move(o));
    return true;
  }

  // --- groups ----------------------------------------------------------------

  // The group error every group API answers before its own work: not
  // signed in, or not the primary.
  int16_t GroupAccess() const {
    if (!may_group()) return kGroupAuthorizationFailed;
    if (!primary()) return kNotCoordinator;
    return 0;
  }

  bool FindCoordinator(const Header& h, Reader* r) {
    r->String("key");
    int8_t key_type = 0;
    if (h.version >= 1) key_type = r->Int8();
    if (!r->ok()) return Malformed(*r);
    // A standby names the primary, so that a client that asked it moves.
    const std::optional<Broker> other = PrimaryBroker();
    int16_t error = may_group() ? 0 : kGroupAuthorizationFailed;
    if (error == 0 && !primary() && !other) error = kCoordinatorNotAvailable;
    if (error == 0 && key_type != 0) error = kCoordinatorNotAvailable;  // transactions
    Broker at{p_->options_.broker_id, p_->host_, p_->port_.load()};
    if (other) at = *other;
    auto o = Begin(h);
    Writer& w = o->w;
    if (h.version >= 1) w.Int32(0);
    w.Int16(error);
    if (h.version >= 1) {
      w.NullableString(error == 0 ? std::nullopt
                                  : std::optional<std::string_view>(
                                        key_type != 0 ? "sluice has no transaction coordinator"
                                                      : "no group coordinator here"));
    }
    w.Int32(error == 0 ? at.id : -1);
    w.String(error == 0 ? at.host : "");
    w.Int32(error == 0 ? at.port : -1);
    Send(std::move(o));
    return true;
  }

  bool JoinGroup(const Header& h, Reader* r, std::string_view body, bool retry, bool expired) {
    JoinRequest req;
    req.group = std::string(r->String("group_id"));
    req.session_timeout_ms = r->Int32();
    if (h.version >= 1) req.rebalance_timeout_ms = r->Int32();
    req.member_id = std::string(r->String("member_id"));
    if (h.version >= 5) r->NullableString("group_instance_id");  // static membership: dynamic here
    req.protocol_type = std::string(r->String("protocol_type"));
    const int32_t n = r->ArrayCount(2 + 4, "JoinGroup protocols");
    for (int32_t i = 0; i < n && r->ok(); ++i) {
      std::string name(r->String("a protocol name"));
      std::string meta(r->Bytes("protocol metadata"));
      req.protocols.emplace_back(std::move(name), std::move(meta));
    }
    if (!r->ok()) return Malformed(*r);
    req.client_id = client_id_;
    std::optional<JoinResult> res;
    if (int16_t e = GroupAccess(); e != 0) {
      res = JoinResult{};
      res->error = e;
      res->member_id = req.member_id;
    } else if (!retry) {
      res = p_->groups_.Join(req, NowMs(), &parked_member_);
    } else {
      res = p_->groups_.PollJoin(req.group, parked_member_, expired, NowMs());
    }
    if (!res) {
      if (retry) return false;
      Park(h, body, static_cast<uint32_t>(std::max(req.rebalance_timeout_ms, 1)));
      return true;
    }
    auto o = Begin(h);
    Writer& w = o->w;
    if (h.version >= 2) w.Int32(0);
    w.Int16(res->error);
    w.Int32(res->generation);
    w.String(res->protocol);
    w.String(res->leader);
    w.String(res->member_id);
    w.ArrayCount(res->members.size());
    for (const auto& [id, meta] : res->members) {
      w.String(id);
      if (h.version >= 5) w.NullableString(std::nullopt);
      w.Bytes(meta);
    }
    Send(std::move(o));
    return true;
  }

  bool SyncGroup(const Header& h, Reader* r, std::string_view body, bool retry, bool expired) {
    const std::string group(r->String("group_id"));
    const int32_t generation = r->Int32();
    const std::string member(r->String("member_id"));
    if (h.version >= 3) r->NullableString("group_instance_id");
    std::vector<std::pair<std::string, std::string>> assignments;
    const int32_t n = r->ArrayCount(2 + 4, "SyncGroup assignments");
    for (int32_t i = 0; i < n && r->ok(); ++i) {
      std::string id(r->String("a member id"));
      std::string a(r->Bytes("an assignment"));
      assignments.emplace_back(std::move(id), std::move(a));
    }
    if (!r->ok()) return Malformed(*r);
    std::optional<SyncResult> res;
    if (int16_t e = GroupAccess(); e != 0) {
      res = SyncResult{e, {}};
    } else if (!retry) {
      res = p_->groups_.Sync(group, generation, member, assignments, NowMs());
    } else {
      res = p_->groups_.PollSync(group, member, expired, NowMs());
    }
    if (!res) {
      if (retry) return false;
      Park(h, body, p_->options_.max_wait_ms);
      return true;
    }
    auto o = Begin(h);
    if (h.version >= 1) o->w.Int32(0);
    o->w.Int16(res->error);
    o->w.Bytes(res->assignment);
    Send(std::move(o));
    return true;
  }

  bool Heartbeat(const Header& h, Reader* r) {
    const std::string group(r->String("group_id"));
    const int32_t generation = r->Int32();
    const std::string member(r->String("member_id"));
    if (h.version >= 3) r->NullableString("group_instance_id");
    if (!r->ok()) return Malformed(*r);
    int16_t error = GroupAccess();
    if (error == 0) error = p_->groups_.Heartbeat(group, generation, member, NowMs());
    auto o = Begin(h);
    if (h.version >= 1) o->w.Int32(0);
    o->w.Int16(error);
    Send(std::move(o));
    return true;
  }

  bool LeaveGroup(const Header& h, Reader* r) {
    const std::string group(r->String("group_id"));
    std::vector<std::string> members;
    if (h.version >= 3) {
      const int32_t n = r->ArrayCount(2 + 2, "LeaveGroup members");
      for (int32_t i = 0; i < n && r->ok(); ++i) {
        members.emplace_back(r->String("member_id"));
        r->NullableString("group_instance_id");
      }
    } else {
      members.emplace_back(r->String("member_id"));
    }
    if (!r->ok()) return Malformed(*r);
    const int16_t access = GroupAccess();
    std::vector<int16_t> errors;
    errors.reserve(members.size());
    for (const auto& m : members) {
      errors.push_back(access != 0 ? access : p_->groups_.Leave(group, m, NowMs()));
    }
    auto o = Begin(h);
    Writer& w = o->w;
    if (h.version >= 1) w.Int32(0);
    if (h.version >= 3) {
      w.Int16(access);
      w.ArrayCount(members.size());
      for (size_t i = 0; i < members.size(); ++i) {
        w.String(members[i]);
        w.NullableString(std::nullopt);
        w.Int16(errors[i]);
      }
    } else {
      w.Int16(errors.empty() ? access : errors[0]);
    }
    Send(std::move(o));
    return true;
  }

  bool OffsetCommit(const Header& h, Reader* r) {
    const std::string group(r->String("group_id"));
    int32_t generation = -1;
    std::string member;
    if (h.version >= 1) {
      generation = r->Int32();
      member = std::string(r->String("member_id"));
    }
    if (h.version >= 2 && h.version <= 4) r->Int64();  // retention_time_ms
    if (h.version >= 7) r->NullableString("group_instance_id");
    struct Part {
      int32_t partition;
      int64_t offset;
    };
    std::vector<std::pair<std::string, std::vector<Part>>> topics;
    const int32_t nt = r->ArrayCount(2 + 4, "OffsetCommit topics");
    for (int32_t t = 0; t < nt && r->ok(); ++t) {
      auto& topic =
          topics.emplace_back(std::string(r->String("a topic name")), std::vector<Part>{});
      const int32_t np = r->ArrayCount(4 + 8 + 2, "OffsetCommit partitions");
      for (int32_t i = 0; i < np && r->ok(); ++i) {
        Part p{r->Int32(), r->Int64()};
        if (h.version >= 6) r->Int32();           // committed_leader_epoch
        if (h.version == 1) r->Int64();           // commit_timestamp
        r->NullableString("committed_metadata");  // not kept
        topic.second.push_back(p);
      }
    }
    if (!r->ok()) return Malformed(*r);
    int16_t check = GroupAccess();
    if (check == 0) check = p_->groups_.CheckCommit(group, generation, member, NowMs());
    auto o = Begin(h);
    Writer& w = o->w;
    if (h.version >= 3) w.Int32(0);
    w.ArrayCount(topics.size());
    for (const auto& [name, parts] : topics) {
      w.String(name);
      w.ArrayCount(parts.size());
      for (const auto& p : parts) {
        int16_t error = check;
        if (error == 0) {
          if (p.partition != 0) {
            error = kUnknownTopicOrPartition;
          } else {
            const proto::Error e = p_->service_->CommitOffset(
                name, group, static_cast<uint64_t>(std::max<int64_t>(p.offset, 0)));
            error = CommitError(e);
          }
        }
        w.Int32(p.partition);
        w.Int16(error);
      }
    }
    Send(std::move(o));
    return true;
  }

  static int16_t CommitError(const proto::Error& e) {
    switch (e.code()) {
      case proto::OK: return 0;
      case proto::UNKNOWN_DESTINATION: return kUnknownTopicOrPartition;
      case proto::OFFSET_OUT_OF_RANGE: return kOffsetOutOfRange;
      case proto::NOT_PRIMARY: return kNotCoordinator;
      case proto::BAD_REQUEST: return kInvalidGroupId;
      default: return -1;  // UNKNOWN_SERVER_ERROR
    }
  }

  bool OffsetFetch(const Header& h, Reader* r) {
    const std::string group(r->String("group_id"));
    std::optional<std::vector<std::pair<std::string, std::vector<int32_t>>>> topics;
    const int32_t nt = r->ArrayCount(2 + 4, "OffsetFetch topics", /*nullable=*/h.version >= 2);
    if (nt >= 0) {
      topics.emplace();
      for (int32_t t = 0; t < nt && r->ok(); ++t) {
        auto& topic =
            topics->emplace_back(std::string(r->String("a topic name")), std::vector<int32_t>{});
        const int32_t np = r->ArrayCount(4, "OffsetFetch partitions");
        for (int32_t i = 0; i < np && r->ok(); ++i) topic.second.push_back(r->Int32());
      }
    }
    if (!r->ok()) return Malformed(*r);
    const int16_t access = GroupAccess();
    if (!topics) {
      // Every topic the group has an offset for.
      topics.emplace();
      if (access == 0) {
        for (const auto& name : p_->service_->Destinations()) {
          std::optional<uint64_t> off;
          if (p_->service_->CommittedOffset(name, group, &off).code() == proto::OK && off) {
            topics->emplace_back(name, std::vector<int32_t>{0});
          }
        }
      }
    }
    auto o = Begin(h);
    Writer& w = o->w;
    if (h.version >= 3) w.Int32(0);
    w.ArrayCount(topics->size());
    for (const auto& [name, parts] : *topics) {
      w.String(name);
      w.ArrayCount(parts.size());
      for (int32_t part : parts) {
        int16_t error = access;
        std::optional<uint64_t> off;
        if (error == 0 && part != 0) error = kUnknownTopicOrPartition;
        if (error == 0) error = CommitError(p_->service_->CommittedOffset(name, group, &off));
        w.Int32(part);
        w.Int64(off ? static_cast<int64_t>(*off) : -1);
        if (h.version >= 5) w.Int32(-1);       // committed_leader_epoch
        w.NullableString(std::string_view());  // metadata
        // Version 0 and 1 report a group-level failure per partition.
        w.Int16(h.version >= 2 && error == access ? 0 : error);
      }
    }
    if (h.version >= 2) w.Int16(access);
    Send(std::move(o));
    return true;
  }

  // --- SASL/PLAIN ----------------------------------------------------------

  bool SaslHandshake(const Header& h, Reader* r) {
    const std::string mechanism(r->String("mechanism"));
    if (!r->ok()) return Malformed(*r);
    int16_t error = 0;
    if (sasl_ == Sasl::kDone || p_->options_.users.empty()) {
      error = kIllegalSaslState;
    } else if (mechanism != "PLAIN") {
      error = kUnsupportedSaslMechanism;
    }
    auto o = Begin(h);
    o->w.Int16(error);
    o->w.ArrayCount(p_->options_.users.empty() ? 0 : 1);
    if (!p_->options_.users.empty()) o->w.String("PLAIN");
    Send(std::move(o));
    // Version 0: the token follows as a bare frame; version 1: in
    // SaslAuthenticate requests.
    if (error == 0) sasl_ = h.version == 0 ? Sasl::kRawToken : Sasl::kAuthenticate;
    return true;
  }

  bool SaslAuthenticate(const Header& h, Reader* r) {
    const std::string token(r->Bytes("auth_bytes"));
    if (!r->ok()) return Malformed(*r);
    std::string why;
    if (sasl_ != Sasl::kAuthenticate) {
      why = "SaslAuthenticate before SaslHandshake";
    } else if (!CheckPlain(token)) {
      why = "authentication failed: unknown user or wrong password";
    }
    auto o = Begin(h);
    o->w.Int16(why.empty() ? 0
                           : (sasl_ != Sasl::kAuthenticate ? kIllegalSaslState
                                                           : kSaslAuthenticationFailed));
    o->w.NullableString(why.empty() ? std::nullopt : std::optional<std::string_view>(why));
    o->w.Bytes("");
    if (h.version >= 1) o->w.Int64(0);  // session_lifetime_ms: no re-authentication
    if (why.empty()) {
      sasl_ = Sasl::kDone;
      Send(std::move(o));
    } else {
      p_->stats_->auth_failures.fetch_add(1, std::memory_order_relaxed);
      o->w.Patch32(0, static_cast<uint32_t>(o->buf.size() - 4));
      conn_->Refuse(std::move(o->buf));
    }
    return true;
  }

  void RawSaslToken(std::string_view token) {
    if (!CheckPlain(token)) {
      p_->stats_->auth_failures.fetch_add(1, std::memory_order_relaxed);
      return conn_->Refuse("");
    }
    sasl_ = Sasl::kDone;
    conn_->Send(std::string(4, '\0'));  // an empty token: done
  }

  // PLAIN (RFC 4616): [authzid] NUL authcid NUL passwd.
  bool CheckPlain(std::string_view token) const {
    const size_t a = token.find('\0');
    if (a == std::string_view::npos) return false;
    const size_t b = token.find('\0', a + 1);
    if (b == std::string_view::npos) return false;
    const std::string_view authz = token.substr(0, a), user = token.substr(a + 1, b - a - 1),
                           password = token.substr(b + 1);
    if (!authz.empty() && authz != user) return false;
    auto it = p_->options_.users.find(std::string(user));
    if (it == p_->options_.users.end()) return false;
    return auth::ProofMatches(it->second, auth::PasswordKey(password));
  }

  KafkaProtocol* const p_;
  net::ServerConnection* const conn_;
  std::string client_id_;
  Sasl sasl_ = Sasl::kNone;
  std::optional<Header> parked_;
  std::string parked_body_;
  FetchRequest parked_fetch_;
  std::string parked_member_;
};

std::unique_ptr<net::Session> KafkaProtocol::Open(net::ServerConnection* conn) {
  return std::make_unique<KafkaSession>(this, conn);
}

}  // namespace sluice::kafka
