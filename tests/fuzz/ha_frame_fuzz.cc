// libFuzzer target for what a standby takes from its primary (proto/ha.proto)
// and a primary from its standbys: frames read in pieces, parsed as
// ToStandby / ToPrimary, and every data frame's batches appended to a real
// commit log the way HaStandby does (AppendReplicated checks each batch's
// checksum, offset, epoch and transaction). Nothing may crash; a refused
// append must leave the log as it was.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "proto/frame.h"
#include "proto/ha.pb.h"
#include "storage/commit_log.h"

namespace {

sluice::CommitLog* Log() {
  static std::unique_ptr<sluice::CommitLog> log = [] {
    const char* tmp = std::getenv("TMPDIR");
    std::string dir =
        std::string(tmp ? tmp : "/tmp") + "/ha_frame_fuzz_" + std::to_string(::getpid());
    std::filesystem::remove_all(dir);
    sluice::CommitLogOptions o;
    o.path = dir;
    auto opened = sluice::CommitLog::Open(o);
    if (!opened.ok()) __builtin_trap();
    return std::move(*opened);
  }();
  return log.get();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t step = 1 + data[0] % 64;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  sluice::frame::FrameReader reader(1 << 20);
  sluice::CommitLog* log = Log();
  for (size_t at = 0; at < in.size(); at += step) {
    reader.Feed(in.substr(at, step));
    for (;;) {
      std::string_view payload;
      auto more = reader.Next(&payload);
      if (!more.ok()) return 0;
      if (!*more) break;
      sluice::proto::ToPrimary up;
      (void)sluice::frame::Parse(payload, &up, "ToPrimary");
      sluice::proto::ToStandby m;
      if (!sluice::frame::Parse(payload, &m, "ToStandby").ok() || !m.has_data()) continue;
      std::vector<std::string> batches(m.data().batches().begin(), m.data().batches().end());
      std::vector<sluice::proto::EpochEntry> epochs;
      const auto before = log->AppendedEnd();
      const auto bytes = log->AppendedBytes();
      sluice::Status st = log->AppendReplicated(batches, epochs);
      if (!st.ok() && (log->AppendedEnd() != before || log->AppendedBytes() != bytes)) {
        __builtin_trap();
      }
      // Keep the log small and at offset 0 for the next input's seeds.
      (void)log->DiscardOpenTransaction();
      if (log->CommittedEnd().value() > 0) (void)log->Truncate(sluice::Offset(0));
    }
  }
  return 0;
}
