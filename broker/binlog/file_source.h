// Reads binlog files from disk: a list of files, or a directory (in the
// order of its .index file when there is one, else of the numbered names
// `base.000001`, `base.000002`, ...). Files are memory-mapped; an event's
// bytes point into the mapping.
//
// Starting in the middle of a file, the source first hands over that file's
// FORMAT_DESCRIPTION event (at offset 4), which the decoder needs, then the
// event at the start position.
//
// At the end of the last file Next() returns NotFound, or with `follow`
// TimedOut after half a second without growth: the file may still grow (a
// live server's active binlog) and Next() looks again when called. A partial event at the end of a
// file that is not the last is Corruption.
//
// Thread safety: one thread uses a FileSource.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "broker/binlog/binlog_source.h"

namespace sluice::binlog {

struct FileSourceOptions {
  std::string dir;                 // a directory of binlog files, or
  std::vector<std::string> files;  // the files themselves, in order
  BinlogPosition start;            // file name (no directory) and offset
  bool follow = false;             // TimedOut instead of NotFound at the end
};

class FileSource : public BinlogSource {
 public:
  static Result<std::unique_ptr<FileSource>> Open(const FileSourceOptions& options);
  ~FileSource() override;
  FileSource(const FileSource&) = delete;
  FileSource& operator=(const FileSource&) = delete;

  Status Next(RawEvent* event) override;
  BinlogPosition position() const override;

  // The files this source reads, in order (full paths).
  const std::vector<std::string>& files() const { return paths_; }

 private:
  FileSource() = default;
  Status OpenFile(size_t index, uint64_t pos);
  Status Remap();
  void Unmap();
  Status RefreshFileList();

  FileSourceOptions options_;
  std::vector<std::string> paths_;
  size_t index_ = 0;  // into paths_
  std::string name_;  // file name of paths_[index_], without directory
  int fd_ = -1;
  const char* map_ = nullptr;
  size_t map_size_ = 0;
  uint64_t pos_ = 0;          // offset of the next event
  uint64_t pending_fde_ = 0;  // offset to jump to after handing over the FDE; 0: none
  int idle_polls_ = 0;        // follow mode: polls since the last event
};

// Lists the binlog files of a directory in order: from its `*.index` file
// when present (relative entries resolved against the directory), else the
// names ending in a numeric extension, sorted.
Result<std::vector<std::string>> ListBinlogFiles(const std::string& dir);

}  // namespace sluice::binlog
