#include "broker/binlog/file_source.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "broker/binlog/event.h"

namespace sluice::binlog {
namespace {

namespace fs = std::filesystem;

std::string BaseName(const std::string& path) { return fs::path(path).filename().string(); }

bool HasNumericExtension(const std::string& name) {
  size_t dot = name.rfind('.');
  if (dot == std::string::npos || dot + 1 == name.size()) return false;
  return std::all_of(name.begin() + dot + 1, name.end(),
                     [](char c) { return c >= '0' && c <= '9'; });
}

Status Errno(const std::string& what) {
  return Status::IoError(what + ": " + std::strerror(errno));
}

}  // namespace

Result<std::vector<std::string>> ListBinlogFiles(const std::string& dir) {
  std::error_code ec;
  std::vector<std::string> index_files, numbered;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (!e.is_regular_file(ec)) continue;
    std::string name = e.path().filename().string();
    if (name.ends_with(".index"))
      index_files.push_back(e.path().string());
    else if (HasNumericExtension(name))
      numbered.push_back(e.path().string());
  }
  if (ec) return Status::IoError("cannot list binlog directory " + dir + ": " + ec.message());
  if (index_files.size() == 1) {
    std::ifstream in(index_files[0]);
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);) {
      if (line.empty()) continue;
      fs::path p(line);
      // The server writes paths as it was told them; keep the names and
      // look for them beside the index, where the files are.
      out.push_back((fs::path(dir) / p.filename()).string());
    }
    if (!out.empty()) return out;
  }
  std::sort(numbered.begin(), numbered.end());
  if (numbered.empty()) return Status::NotFound("no binlog files in " + dir);
  return numbered;
}

Result<std::unique_ptr<FileSource>> FileSource::Open(const FileSourceOptions& options) {
  std::unique_ptr<FileSource> s(new FileSource());
  s->options_ = options;
  SLUICE_RETURN_IF_ERROR(s->RefreshFileList());
  size_t index = 0;
  if (!options.start.file.empty()) {
    auto it = std::find_if(s->paths_.begin(), s->paths_.end(), [&](const std::string& p) {
      return BaseName(p) == options.start.file || p == options.start.file;
    });
    if (it == s->paths_.end()) {
      return Status::NotFound("start file " + options.start.file +
                              " is not among the binlog files (" + BaseName(s->paths_.front()) +
                              " .. " + BaseName(s->paths_.back()) + ")");
    }
    index = it - s->paths_.begin();
  }
  SLUICE_RETURN_IF_ERROR(s->OpenFile(index, std::max<uint64_t>(options.start.pos, 4)));
  return s;
}

Status FileSource::RefreshFileList() {
  if (!options_.files.empty()) {
    paths_ = options_.files;
    return Status::Ok();
  }
  SLUICE_ASSIGN_OR_RETURN(paths_, ListBinlogFiles(options_.dir));
  return Status::Ok();
}

FileSource::~FileSource() { Unmap(); }

void FileSource::Unmap() {
  if (map_ != nullptr) ::munmap(const_cast<char*>(map_), map_size_);
  map_ = nullptr;
  map_size_ = 0;
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Status FileSource::Remap() {
  struct stat st;
  if (::fstat(fd_, &st) != 0) return Errno("cannot stat " + paths_[index_]);
  auto size = static_cast<size_t>(st.st_size);
  if (size == map_size_) return Status::Ok();
  if (map_ != nullptr) ::munmap(const_cast<char*>(map_), map_size_);
  map_ = nullptr;
  map_size_ = 0;
  if (size == 0) return Status::Ok();
  void* p = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd_, 0);
  if (p == MAP_FAILED) return Errno("cannot map " + paths_[index_]);
  ::madvise(p, size, MADV_SEQUENTIAL);
  map_ = static_cast<const char*>(p);
  map_size_ = size;
  return Status::Ok();
}

Status FileSource::OpenFile(size_t index, uint64_t pos) {
  Unmap();
  index_ = index;
  name_ = BaseName(paths_[index]);
  fd_ = ::open(paths_[index].c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) return Errno("cannot open binlog file " + paths_[index]);
  SLUICE_RETURN_IF_ERROR(Remap());
  if (map_size_ < kBinlogMagic.size() ||
      std::string_view(map_, kBinlogMagic.size()) != kBinlogMagic) {
    return Status::Corruption(paths_[index] + " is not a binlog file (no 0xfe 'bin' magic)");
  }
  if (pos > map_size_) {
    return Status::OutOfRange("start position " + std::to_string(pos) + " is past the end of " +
                              name_ + " (" + std::to_string(map_size_) + " bytes)");
  }
  pos_ = 4;
  pending_fde_ = pos > 4 ? pos : 0;
  return Status::Ok();
}

Status FileSource::Next(RawEvent* event) {
  for (;;) {
    if (pos_ + kHeaderSize > map_size_) SLUICE_RETURN_IF_ERROR(Remap());  // a live file may grow
    size_t left = map_size_ - std::min<size_t>(pos_, map_size_);
    bool last_file = index_ + 1 >= paths_.size();
    if (left == 0 && last_file && options_.dir.size() > 0) {
      SLUICE_RETURN_IF_ERROR(RefreshFileList());  // the server may have rotated
      last_file = index_ + 1 >= paths_.size();
    }
    if (left >= kHeaderSize) {
      Result<EventHeader> h = ParseHeader(std::string_view(map_ + pos_, left));
      if (!h.ok()) return h.status().WithContext(name_ + " at " + std::to_string(pos_));
      if (h->event_size <= left) {
        idle_polls_ = 0;
        event->bytes = std::string_view(map_ + pos_, h->event_size);
        event->file = name_;
        event->pos = pos_;
        if (pending_fde_ != 0) {
          if (h->type != static_cast<uint8_t>(EventType::kFormatDescription)) {
            return Status::Corruption(name_ + " does not start with a FORMAT_DESCRIPTION event");
          }
          pos_ = pending_fde_;
          pending_fde_ = 0;
        } else {
          pos_ += h->event_size;
        }
        return Status::Ok();
      }
      if (!last_file) {
        return Status::Corruption(name_ + " at " + std::to_string(pos_) + ": event of " +
                                  std::to_string(h->event_size) + " bytes is cut off after " +
                                  std::to_string(left) + " (the file is truncated)");
      }
    } else if (left > 0 && !last_file) {
      return Status::Corruption(name_ + " at " + std::to_string(pos_) + ": " +
                                std::to_string(left) + " stray bytes at the end of the file");
    }
    if (!last_file && left == 0) {
      SLUICE_RETURN_IF_ERROR(OpenFile(index_ + 1, 4));
      continue;
    }
    if (options_.follow) {
      // Wait a little for the file to grow before saying "nothing new", so
      // a caller that loops on TimedOut does not spin.
      if (++idle_polls_ < 25) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        continue;
      }
      idle_polls_ = 0;
      return Status::TimedOut("no new event in " + name_);
    }
    if (left > 0) {
      return Status::Corruption(name_ + " at " + std::to_string(pos_) +
                                ": the last event is cut off (" + std::to_string(left) + " bytes)");
    }
    return Status::NotFound("end of " + name_);
  }
}

BinlogPosition FileSource::position() const {
  return {name_, pending_fde_ != 0 ? pending_fde_ : pos_};
}

}  // namespace sluice::binlog
