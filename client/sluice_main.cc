// `sluice`: the command-line tool. Subcommands grow with the broker:
//   sluice log info --path DIR          state of a commit log directory
//   sluice log dump --path DIR [--from N] [--max N]   records as JSON lines
//   sluice decode [--from POS] [--column-keys=names|positions] [--stats] FILE...
#include <iostream>

#include <CLI/CLI.hpp>

#include "client/decode.h"
#include "client/log_inspect.h"

int main(int argc, char** argv) {
  CLI::App app{"sluice: change-data-capture broker tool"};
  app.require_subcommand(1);
  auto* log_cmd = app.add_subcommand("log", "inspect a commit log directory offline");
  log_cmd->require_subcommand(1);

  std::string path;
  uint64_t from = 0, max = UINT64_MAX;
  auto* info = log_cmd->add_subcommand("info", "print offsets, size, checkpoint, groups");
  info->add_option("--path", path, "the destination's log directory")->required();
  auto* dump = log_cmd->add_subcommand("dump", "print records as JSON lines");
  dump->add_option("--path", path, "the destination's log directory")->required();
  dump->add_option("--from", from, "first offset to print");
  dump->add_option("--max", max, "how many records to print");

  sluice::DecodeOptions dec;
  std::string keys = "names";
  auto* decode = app.add_subcommand(
      "decode", "print the row changes and DDL of binlog files as JSON lines, in binlog order");
  decode->add_option("--from", dec.from, "start at POS of the first file, or at FILE:POS");
  decode->add_option("--column-keys", keys, "key columns by their names (when known) or @N")
      ->check(CLI::IsMember({"names", "positions"}));
  decode->add_flag("--stats", dec.stats, "print counts per event type and table to stderr");
  decode->add_option("FILE", dec.files, "binlog files, in order")->required()->check(CLI::ExistingFile);

  CLI11_PARSE(app, argc, argv);
  sluice::Status st;
  if (decode->parsed()) {
    std::ios::sync_with_stdio(false);
    dec.column_names = keys == "names";
    st = sluice::DecodeBinlogFiles(dec, std::cout, std::cerr);
  } else if (info->parsed()) {
    st = sluice::PrintLogInfo(path, std::cout);
  } else {
    st = sluice::DumpLog(path, from, max, std::cout);
  }
  if (!st.ok()) {
    std::cerr << "sluice: " << st.ToString() << "\n";
    return 1;
  }
  return 0;
}
