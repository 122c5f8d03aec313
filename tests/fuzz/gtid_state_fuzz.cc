// libFuzzer target for the GTID texts a source server sends and a config or
// a checkpoint holds (broker/binlog/gtid_state.h), and for the source URL
// parser (several hosts). Input: text; up to the first NUL it is "ours",
// after it the server's state. Damage must give InvalidArgument, never a
// crash or a hang; what parses must print and parse back to itself, and a
// state never lacks anything of itself.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "broker/binlog/gtid_state.h"
#include "broker/binlog/mysql_source.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using sluice::Code;
  using sluice::binlog::GtidState;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const size_t nul = in.find('\0');
  const std::string_view ours = in.substr(0, nul);
  const std::string_view theirs = nul == std::string_view::npos ? "" : in.substr(nul + 1);

  auto g = GtidState::Parse(ours);
  if (!g.ok() && g.status().code() != Code::kInvalidArgument) __builtin_trap();
  if (g.ok()) {
    const std::string text = g->ToString();
    auto again = GtidState::Parse(text);
    if (!again.ok() || again->ToString() != text) __builtin_trap();
    auto self = g->MissingFrom(text);
    if (!self.ok() || !self->empty()) __builtin_trap();
    auto missing = g->MissingFrom(theirs);
    if (!missing.ok() && missing.status().code() != Code::kInvalidArgument) __builtin_trap();
  }
  GtidState one;
  (void)one.Add(ours);
  auto url = sluice::binlog::ParseMysqlUrl(in);
  if (!url.ok() && url.status().code() != Code::kInvalidArgument) __builtin_trap();
  if (url.ok() && (url->hosts.empty() || url->host != url->hosts[0].host)) __builtin_trap();
  return 0;
}
