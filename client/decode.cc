#include "client/decode.h"

#include <charconv>

#include "broker/binlog/decoder.h"
#include "broker/binlog/file_source.h"
#include "proto/record_json.h"

namespace sluice {
namespace {

using binlog::TxnEnd;

// Holds back each record until the next one (or the transaction's end)
// says whether it was the transaction's last.
class JsonSink : public binlog::DecoderSink {
 public:
  JsonSink(std::ostream& out, std::ostream& err) : out_(out), err_(err) {}

  Status OnRow(proto::ChangeRecord* rec) override { return Hold(rec); }
  Status OnDdl(proto::ChangeRecord* rec) override { return Hold(rec); }
  Status OnTxnEnd(const TxnEnd&) override {
    if (has_pending_) {
      pending_.mutable_txn()->set_last(true);
      Flush();
    }
    return Status::Ok();
  }
  void OnWarning(const std::string& message) override {
    err_ << "sluice: warning: " << message << "\n";
  }

  // Prints a record still held at the end of the input.
  void Finish() {
    if (has_pending_) Flush();
    out_ << line_;
    line_.clear();
    out_.flush();
  }

 private:
  Status Hold(proto::ChangeRecord* rec) {
    if (has_pending_) Flush();
    pending_.Swap(rec);  // both records stay warm; no copy
    has_pending_ = true;
    return Status::Ok();
  }
  void Flush() {
    AppendRecordJson(pending_, {}, &line_);
    line_.push_back('\n');
    has_pending_ = false;
    if (line_.size() > (1 << 16)) {
      out_ << line_;
      line_.clear();
    }
  }

  std::ostream& out_;
  std::ostream& err_;
  proto::ChangeRecord pending_;
  bool has_pending_ = false;
  std::string line_;
};

Result<binlog::BinlogPosition> ParseFrom(const std::string& from) {
  binlog::BinlogPosition p;
  std::string_view s = from;
  size_t colon = s.rfind(':');
  if (colon != std::string_view::npos) {
    p.file = std::string(s.substr(0, colon));
    s.remove_prefix(colon + 1);
  }
  auto r = std::from_chars(s.data(), s.data() + s.size(), p.pos);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size() || p.pos < 4) {
    return Status::InvalidArgument("--from " + from + ": expected POS or FILE:POS with POS >= 4");
  }
  return p;
}

void PrintStats(const binlog::DecoderStats& s, std::ostream& err) {
  err << "events by type:\n";
  for (size_t t = 0; t < s.events.size(); ++t) {
    if (s.events[t] != 0) {
      err << "  " << binlog::EventTypeName(static_cast<uint8_t>(t)) << " " << s.events[t] << "\n";
    }
  }
  err << "row changes by table:\n";
  for (const auto& [table, n] : s.table_rows) err << "  " << table << " " << n << "\n";
  err << "transactions: " << s.transactions << "\n";
}

}  // namespace

Status DecodeBinlogFiles(const DecodeOptions& options, std::ostream& out, std::ostream& err) {
  binlog::FileSourceOptions so;
  so.files = options.files;
  if (!options.from.empty()) {
    SLUICE_ASSIGN_OR_RETURN(so.start, ParseFrom(options.from));
    if (so.start.file.empty() && !so.files.empty()) so.start.file = so.files.front();
  }
  SLUICE_ASSIGN_OR_RETURN(auto source, binlog::FileSource::Open(so));
  binlog::DecoderOptions dopt;
  dopt.column_names = options.column_names;
  binlog::Decoder decoder(dopt);
  JsonSink sink(out, err);
  Status st;
  for (;;) {
    binlog::RawEvent ev;
    st = source->Next(&ev);
    if (!st.ok()) break;
    st = decoder.Decode(ev, &sink);
    if (!st.ok()) break;
  }
  sink.Finish();
  if (options.stats) PrintStats(decoder.stats(), err);
  return st.code() == Code::kNotFound ? Status::Ok() : st;
}

}  // namespace sluice
