// Writes seed inputs for log_batch_fuzz into the directory argv[1]:
// 8-byte key followed by a valid batch value.
#include <fstream>
#include <string>
#include <vector>

#include "storage/log_format.h"

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  using namespace sluice::log_format;
  auto write = [&](const std::string& name, const BatchHeader& h, std::string_view cp,
                   const std::vector<std::string>& recs) {
    std::string out = BatchKey(h.base_offset);
    EncodeBatch(h, cp, recs, &out);
    std::ofstream(std::string(argv[1]) + "/" + name, std::ios::binary) << out;
  };
  BatchHeader h;
  h.base_offset = sluice::Offset(0);
  h.record_count = 1;
  write("one_record", h, "", {"hello"});
  h.base_offset = sluice::Offset(1000);
  h.record_count = 3;
  h.flags = kTxnEnd;
  h.epoch = 2;
  write("txn_end_with_checkpoint", h, "\x0a\x0d" "binlog.000001\x10\x04", {"a", "", std::string(200, 'x')});
  return 0;
}
