// Writes seed inputs for ha_frame_fuzz into the directory argv[1]: a step
// byte, then frames a primary sends (a data frame of two real batches, one
// ending its transaction; a heartbeat; groups) or a standby sends (a report).
#include <fstream>
#include <string>
#include <vector>

#include "proto/frame.h"
#include "proto/ha.pb.h"
#include "storage/log_format.h"

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  using namespace sluice;
  auto write = [&](const std::string& name,
                   const std::vector<const google::protobuf::MessageLite*>& msgs) {
    std::string out = "\x07";
    for (const auto* m : msgs) (void)frame::Append(*m, &out);
    std::ofstream(std::string(argv[1]) + "/" + name, std::ios::binary) << out;
  };
  proto::ToStandby data;
  auto* d = data.mutable_data();
  log_format::BatchHeader h;
  h.base_offset = Offset(0);
  h.record_count = 2;
  std::string b1, b2;
  log_format::EncodeBatch(h, "", std::vector<std::string>{"r0", "r1"}, &b1);
  h.base_offset = Offset(2);
  h.record_count = 1;
  h.txn_records_before = 2;
  h.flags = log_format::kTxnEnd;
  h.bytes_before = b1.size();
  proto::SourceCheckpoint cp;
  cp.set_file("binlog.000001");
  cp.set_pos(4);
  log_format::EncodeBatch(h, cp.SerializeAsString(), std::vector<std::string>{"r2"}, &b2);
  d->set_base_offset(0);
  d->set_size(b1.size() + b2.size());
  d->add_batches(b1);
  d->add_batches(b2);
  d->set_high_watermark(3);
  d->set_committed_end(3);
  proto::ToStandby beat;
  beat.mutable_heartbeat()->set_high_watermark(3);
  proto::ToStandby groups;
  auto* g = groups.mutable_groups()->add_groups();
  g->set_name("billing");
  g->mutable_cursor()->set_acked_offset(2);
  proto::ToPrimary report;
  report.mutable_report()->set_durable_offset(3);
  write("data_two_batches", {&data});
  write("heartbeat_groups_data", {&beat, &groups, &data});
  write("report", {&report});
  return 0;
}
