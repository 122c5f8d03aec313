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
  write("txn_end_with_checkpoint", h,
        "\x0a\x0d"
        "binlog.000001\x10\x04",
        {"a", "", std::string(200, 'x')});
  // Version 2: an LZ4 block of 40 records, then a stored one of 2.
  std::string framed, blocks, scratch;
  for (int i = 0; i < 40; ++i) {
    std::string r = "\x10\x01\x1a\x04shop\x22\x06orders row " + std::to_string(i);
    sluice::coding::PutFixed32(&framed, static_cast<uint32_t>(r.size()));
    framed += r;
  }
  AppendBlock(framed, 40, true, &blocks, &scratch);
  const size_t first = blocks.size();
  AppendBlock(std::string("\x01\0\0\0"
                          "a"
                          "\x02\0\0\0"
                          "bc",
                          11),
              2, false, &blocks, &scratch);
  h.base_offset = sluice::Offset(2000);
  h.record_count = 42;
  h.txn_records_before = 7;
  std::vector<std::string_view> parts = {std::string_view(blocks).substr(0, first),
                                         std::string_view(blocks).substr(first)};
  std::string out = BatchKey(h.base_offset);
  EncodeBlockBatch(h,
                   "\x0a\x0d"
                   "binlog.000001\x10\x04",
                   parts, &out);
  std::ofstream(std::string(argv[1]) + "/blocks_lz4_and_stored", std::ios::binary) << out;
  return 0;
}
