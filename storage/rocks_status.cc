#include "storage/rocks_status.h"

#include <string>

namespace sluice {

Status FromRocks(const rocksdb::Status& s, std::string_view what) {
  if (s.ok()) return Status::Ok();
  std::string msg(what);
  msg += ": ";
  msg += s.ToString();
  if (s.IsNoSpace() || s.ToString().find("No space left") != std::string::npos) {
    return Status::NoSpace(
        msg + " (the disk is full: free space on it; a running sluiced resumes by itself)");
  }
  if (s.ToString().find("lock file") != std::string::npos ||
      s.ToString().find("LOCK") != std::string::npos) {
    return Status::Busy(msg +
                        " (the directory is locked by another process: is another sluiced "
                        "running with the same data_dir?)");
  }
  if (s.IsCorruption()) return Status::Corruption(msg);
  if (s.IsNotFound()) return Status::NotFound(msg);
  if (s.IsInvalidArgument()) return Status::InvalidArgument(msg);
  if (s.IsBusy() || s.IsTryAgain()) return Status::Busy(msg);
  if (s.IsTimedOut()) return Status::TimedOut(msg);
  return Status::IoError(msg);
}

}  // namespace sluice
