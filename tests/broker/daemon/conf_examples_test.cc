// The example configurations in conf/ load as they are, and primary.toml
// is the reference its header says it is: every key sluiced knows, each
// with its real default.
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "broker/daemon/config.h"

namespace sluice::daemon {
namespace {

std::string ReadConf(const std::string& name) {
  std::ifstream in(std::string(SLUICE_CONF_DIR) + "/" + name);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(ConfExamples, Load) {
  for (const char* name :
       {"primary.toml", "standby.toml", "quickstart.toml", "quickstart-standby.toml"}) {
    auto c = LoadConfig(std::string(SLUICE_CONF_DIR) + "/" + name);
    EXPECT_TRUE(c.ok()) << name << ": " << c.status().ToString();
  }
}

// One `key = value` line of primary.toml, active or commented out.
struct KeyLine {
  size_t line;
  std::string section;  // "node", "destination", ...
  std::string key;
  bool commented;
};

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

std::string Join(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

std::vector<KeyLine> KeyLines(const std::vector<std::string>& lines) {
  static const std::regex kSection(R"(^\[\[?([a-z_]+)\]\]?.*)");
  static const std::regex kKey(R"(^(#\s*)?([a-z_]+)\s*=\s*\S.*)");
  std::vector<KeyLine> out;
  std::string section;
  for (size_t i = 0; i < lines.size(); ++i) {
    std::smatch m;
    if (std::regex_match(lines[i], m, kSection)) {
      section = m[1];
    } else if (std::regex_match(lines[i], m, kKey)) {
      out.push_back({i, section, m[2], m[1].matched});
    }
  }
  return out;
}

// The lines whose values are examples a user replaces (names, addresses,
// files, the source), not defaults: required keys, or keys whose absence
// means "off" (no listener, no filter), or one mode shown over the default.
const std::set<std::string> kExamples = {
    "node.id",
    "node.data_dir",
    "admin.listen",
    "server.listen",
    "user.name",
    "user.password_file",
    "kafka.broker_id",
    "ha.listen",
    "ha.primary",
    "ha.mode",
    "ha.secret_file",
    "destination.name",
    "destination.source",
    "destination.server_id",
    "destination.include",
    "destination.retention_hours",
    "destination.retention_bytes",
};

TEST(ConfExamples, PrimaryListsEveryKeyWithItsDefault) {
  const std::string text = ReadConf("primary.toml");
  const std::vector<std::string> lines = Lines(text);
  const std::vector<KeyLine> keys = KeyLines(lines);
  auto full = ParseConfig(text, "primary.toml");
  ASSERT_TRUE(full.ok()) << full.status().ToString();

  // Every key the parser asks for is in the file (a new key read by
  // config.cc and not documented here fails this).
  std::set<std::string> listed;
  for (const auto& k : keys) listed.insert(k.section + "." + k.key);
  const std::set<std::string> asked = ConfigKeysAsked(text);
  ASSERT_GT(asked.size(), 40u);
  for (const auto& key : asked) {
    EXPECT_TRUE(listed.count(key)) << key << " is read by sluiced but not in conf/primary.toml";
  }
  for (const auto& key : listed) {
    EXPECT_TRUE(asked.count(key)) << key << " is in conf/primary.toml but sluiced does not read it";
  }

  // Every other line holds the default: removing it (or uncommenting it)
  // parses to the same configuration.
  int checked = 0;
  for (const auto& k : keys) {
    const std::string name = k.section + "." + k.key;
    if (kExamples.count(name)) continue;
    std::vector<std::string> changed = lines;
    if (k.commented) {
      changed[k.line] = std::regex_replace(changed[k.line], std::regex(R"(^#\s*)"), "");
    } else {
      changed[k.line] = "";
    }
    auto other = ParseConfig(Join(changed), "primary.toml (changed)");
    ASSERT_TRUE(other.ok()) << name << ": " << other.status().ToString();
    EXPECT_TRUE(*other == *full) << "conf/primary.toml line " << k.line + 1 << ": " << name
                                 << " is not set to its default";
    ++checked;
  }
  EXPECT_GT(checked, 30);
}

}  // namespace
}  // namespace sluice::daemon
