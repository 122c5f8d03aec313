// sluiced's configuration: a TOML file (conf/*.toml documents every key).
// Unknown keys and values of the wrong type or range are errors that name
// the key ("destination[1].server_id: expected an integer in 1..4294967295").
//
// Sections of design.md that later issues implement ([ha]) are parsed and
// checked already, so a config written for the whole design loads today;
// Config::inactive lists what is not in effect yet.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace sluice::daemon {

struct DestinationConfig {
  std::string name;
  std::string source;                 // mysql://... or file:///...
  uint32_t server_id = 0;             // required for mysql:// sources
  std::string start = "earliest";     // earliest | latest | FILE:POS | GTID set
  std::vector<std::string> include;   // regexes over db.table
  std::vector<std::string> exclude;
  uint32_t ring_size = 1024;
  uint32_t parse_threads = 2;
  uint32_t chunk_records = 10000;
  std::string wait = "blocking";      // blocking | yield | spin
};

// [server]: the consumer protocol (docs/protocol.md).
struct ServerConfig {
  std::string listen;                 // "" = no consumer server
  bool anonymous = false;             // unauthenticated read-only access
  uint32_t max_connections = 1024;
  uint32_t idle_timeout_ms = 300000;
  uint32_t frame_deadline_ms = 10000;
  uint32_t max_frame = 1u << 20;
  uint32_t max_output_bytes = 8u << 20;
};

// [[user]]: a consumer account; the password is the file's contents
// (trailing whitespace dropped), read at start.
struct UserConfig {
  std::string name;
  std::string password_file;          // relative paths: from the working directory
};

struct Config {
  std::string node_id;
  std::string data_dir;
  std::string role = "primary";       // primary | standby
  std::string admin_listen;           // "" = no admin listener
  ServerConfig server;
  std::vector<UserConfig> users;
  std::string durability = "group";   // group | fsync (every commit)
  std::vector<DestinationConfig> destinations;
  std::vector<std::string> inactive;  // configured sections not in effect yet
};

Result<Config> ParseConfig(std::string_view toml_text, std::string_view source_name);
Result<Config> LoadConfig(const std::string& path);

}  // namespace sluice::daemon
