#include "broker/binlog/gtid_state.h"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace sluice::binlog {
namespace {

template <typename T>
bool Num(std::string_view s, T* v) {
  auto r = std::from_chars(s.data(), s.data() + s.size(), *v);
  return r.ec == std::errc() && r.ptr == s.data() + s.size() && !s.empty();
}

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  for (;;) {
    size_t i = s.find(sep);
    out.push_back(s.substr(0, i));
    if (i == std::string_view::npos) return out;
    s.remove_prefix(i + 1);
  }
}

// MySQL's GNOs are below 2^63 (Gtid_event); intervals stay far from
// uint64 overflow.
constexpr uint64_t kMaxGno = (uint64_t{1} << 63) - 1;

// UUIDs and tags compare in lower case (the servers print them so; a user
// may not).
std::string Key(std::string_view s) {
  std::string k(s);
  for (char& c : k) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return k;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\n')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n')) s.remove_suffix(1);
  return s;
}

// Adds [lo, hi] to sorted disjoint intervals, merging neighbours.
void AddInterval(std::vector<std::pair<uint64_t, uint64_t>>* v, uint64_t lo, uint64_t hi) {
  auto it = v->begin();
  while (it != v->end() && it->second + 1 < lo) ++it;
  if (it == v->end() || hi + 1 < it->first) {
    v->insert(it, {lo, hi});
    return;
  }
  it->first = std::min(it->first, lo);
  it->second = std::max(it->second, hi);
  auto next = it + 1;
  while (next != v->end() && next->first <= it->second + 1) {
    it->second = std::max(it->second, next->second);
    next = v->erase(next);
  }
}

}  // namespace

Status GtidState::Add(std::string_view gtid) {
  if (gtid.empty()) return Status::Ok();
  size_t colon = gtid.rfind(':');
  if (colon == std::string_view::npos) {
    auto parts = Split(gtid, '-');
    uint32_t domain, server;
    uint64_t seq;
    if (parts.size() != 3 || !Num(parts[0], &domain) || !Num(parts[1], &server) ||
        !Num(parts[2], &seq)) {
      return Status::InvalidArgument("GTID " + std::string(gtid) + " is not domain-server-seq");
    }
    maria_[domain] = {server, seq};
    return Status::Ok();
  }
  uint64_t gno;
  if (!Num(gtid.substr(colon + 1), &gno) || gno == 0 || gno > kMaxGno) {
    return Status::InvalidArgument("GTID " + std::string(gtid) +
                                   " is not uuid[:tag]:number (number in 1..2^63-1)");
  }
  AddInterval(&mysql_[Key(gtid.substr(0, colon))], gno, gno);
  return Status::Ok();
}

Result<GtidState> GtidState::Parse(std::string_view text) {
  GtidState g;
  text = Trim(text);
  if (text.empty()) return g;
  for (std::string_view item : Split(text, ',')) {
    item = Trim(item);
    if (item.find(':') == std::string_view::npos) {
      SLUICE_RETURN_IF_ERROR(g.Add(item));
      continue;
    }
    // "uuid:1-5:7:tag:1-3" (MySQL 8.4 tags: a part that is not a number
    // starts the intervals of uuid:tag).
    auto parts = Split(item, ':');
    const std::string uuid = Key(parts[0]);
    std::string key = uuid;
    for (size_t i = 1; i < parts.size(); ++i) {
      if (!parts[i].empty() && !std::isdigit(static_cast<unsigned char>(parts[i][0]))) {
        key = uuid + ":" + Key(parts[i]);
        continue;
      }
      auto range = Split(parts[i], '-');
      uint64_t lo, hi;
      if (range.size() > 2 || !Num(range[0], &lo) || !Num(range.back(), &hi) || lo == 0 ||
          hi < lo || hi > kMaxGno) {
        return Status::InvalidArgument("GTID set " + std::string(text) + ": bad interval " +
                                       std::string(parts[i]));
      }
      AddInterval(&g.mysql_[key], lo, hi);
    }
  }
  return g;
}

Result<std::string> GtidState::MissingFrom(std::string_view server_state,
                                           std::string_view server_position) const {
  // The server's binlog state: every domain-server pair's last sequence
  // number (MariaDB) or its executed set (MySQL, as a GtidState).
  std::map<std::pair<uint32_t, uint32_t>, uint64_t> pairs;
  std::map<uint32_t, std::pair<uint32_t, uint64_t>> domain_end;  // domain -> highest (server, seq)
  GtidState server;
  server_state = Trim(server_state);
  if (!server_state.empty()) {
    for (std::string_view item : Split(server_state, ',')) {
      item = Trim(item);
      if (item.find(':') != std::string_view::npos) {
        SLUICE_ASSIGN_OR_RETURN(GtidState one, Parse(item));
        for (auto& [uuid, iv] : one.mysql_) {
          for (auto [lo, hi] : iv) AddInterval(&server.mysql_[uuid], lo, hi);
        }
        continue;
      }
      auto parts = Split(item, '-');
      uint32_t domain, id;
      uint64_t seq;
      if (parts.size() != 3 || !Num(parts[0], &domain) || !Num(parts[1], &id) ||
          !Num(parts[2], &seq)) {
        return Status::InvalidArgument("server GTID state '" + std::string(server_state) + "': '" +
                                       std::string(item) + "' is not domain-server-seq");
      }
      uint64_t& at = pairs[{domain, id}];
      at = std::max(at, seq);
      auto& end = domain_end[domain];
      if (seq >= end.second) end = {id, seq};
    }
  }
  // MariaDB: the server's own replication position (@@gtid_slave_pos): a
  // GTID equal to its entry for a domain is one it executed, and MariaDB
  // serves a dump from it (START_OWN_SLAVE_POS) even when its binlog lacks
  // it (a replica without log_slave_updates).
  std::map<uint32_t, std::pair<uint32_t, uint64_t>> own;
  if (auto pos = Trim(server_position); !pos.empty() && pos.find(':') == std::string_view::npos) {
    SLUICE_ASSIGN_OR_RETURN(GtidState p, Parse(pos));
    own = std::move(p.maria_);
  }
  std::string out;
  auto say = [&out](const std::string& s) { out += (out.empty() ? "" : "; ") + s; };
  for (const auto& [domain, last] : maria_) {
    const auto [id, seq] = last;
    auto pair = pairs.find({domain, id});
    if (pair != pairs.end() && pair->second >= seq) continue;
    if (auto o = own.find(domain); o != own.end() && o->second == last) continue;
    const std::string ours =
        std::to_string(domain) + "-" + std::to_string(id) + "-" + std::to_string(seq);
    auto end = domain_end.find(domain);
    if (end == domain_end.end()) {
      say("domain " + std::to_string(domain) + " up to " + ours +
          " (the server has no transaction of domain " + std::to_string(domain) + ")");
    } else if (end->second.second < seq) {
      const uint64_t have = end->second.second;
      say(std::to_string(domain) + "-" + std::to_string(id) + "-" + std::to_string(have + 1) +
          (have + 1 < seq ? " .. " + ours : "") + " (" + std::to_string(seq - have) +
          " transaction(s): the server's domain " + std::to_string(domain) + " ends at " +
          std::to_string(domain) + "-" + std::to_string(end->second.first) + "-" +
          std::to_string(have) + ", it is behind)");
    } else {
      say(ours + " (the server's domain " + std::to_string(domain) + " went on to " +
          std::to_string(domain) + "-" + std::to_string(end->second.first) + "-" +
          std::to_string(end->second.second) + " without it: it has diverged)");
    }
  }
  // MySQL: ours minus the server's, interval by interval.
  GtidState lacking;
  for (const auto& [uuid, ours] : mysql_) {
    auto it = server.mysql_.find(uuid);
    for (auto [lo, hi] : ours) {
      uint64_t from = lo;
      if (it != server.mysql_.end()) {
        for (auto [slo, shi] : it->second) {
          if (shi < from || slo > hi) continue;
          if (slo > from) AddInterval(&lacking.mysql_[uuid], from, slo - 1);
          from = shi + 1;
          if (from > hi || shi == UINT64_MAX) break;
        }
      }
      if (from <= hi && from >= lo) AddInterval(&lacking.mysql_[uuid], from, hi);
    }
  }
  if (!lacking.mysql_.empty()) say(lacking.ToString());
  return out;
}

std::string GtidState::ToString() const {
  std::string out;
  for (const auto& [domain, last] : maria_) {
    if (!out.empty()) out += ',';
    out += std::to_string(domain) + "-" + std::to_string(last.first) + "-" +
           std::to_string(last.second);
  }
  for (const auto& [uuid, intervals] : mysql_) {
    if (!out.empty()) out += ',';
    out += uuid;
    for (const auto& [lo, hi] : intervals) {
      out += ':' + std::to_string(lo);
      if (hi != lo) out += '-' + std::to_string(hi);
    }
  }
  return out;
}

}  // namespace sluice::binlog
