// A read-only open (what `sluice log info/dump` use) never writes: a log
// with records, a group, epochs and a partial transaction at its tail is
// inspected, and every file of its directory is byte for byte what it was,
// with no file added or removed. A read-write open of the same directory
// does write (it removes the partial tail), so the comparison can fail.
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <gtest/gtest.h>

#include "storage/commit_log.h"
#include "tests/storage/log_test_util.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_log.h"

namespace sluice {
namespace {

using testing::CheckpointAfter;
using testing::MakeTxn;
using testing::ReadAll;
using testing::Txn;

// Every file under `dir`: its relative path -> its bytes.
std::map<std::string, std::string> Snapshot(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    std::ifstream in(e.path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    out[std::filesystem::relative(e.path(), dir).string()] = ss.str();
  }
  return out;
}

TEST(CommitLogReadOnly, InspectingALogLeavesItsDirectoryByteForByte) {
  testing::TempDir dir;
  CommitLogOptions o = testing::TestLogOptions(dir.Sub("log"), "a", "shop");
  std::vector<std::string> all;
  {
    auto log = CommitLog::Open(o);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    for (uint64_t i = 0; i < 30; ++i) {
      Txn t = MakeTxn(i, 20, 200);
      auto views = t.Views();
      ASSERT_TRUE((*log)->CommitTransaction(views, CheckpointAfter(i)).ok());
      all.insert(all.end(), t.records.begin(), t.records.end());
    }
    proto::GroupCursor c;
    c.set_acked_offset(40);
    ASSERT_TRUE((*log)->meta().PutCursor("g", c).ok());
    Txn partial = MakeTxn(99, 8);
    auto views = partial.Views();
    ASSERT_TRUE((*log)->AppendChunk(views, 0).ok());  // never committed
  }
  const auto before = Snapshot(o.path);
  ASSERT_FALSE(before.empty());

  CommitLogOptions ro = o;
  ro.read_only = true;
  for (int round = 0; round < 2; ++round) {
    auto log = CommitLog::Open(ro);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    EXPECT_EQ(ReadAll(**log), all);
    EXPECT_EQ((*log)->Checkpoint().pos(), CheckpointAfter(29).pos());
    auto groups = (*log)->meta().ListGroups();
    ASSERT_TRUE(groups.ok());
    ASSERT_EQ(groups->size(), 1u);
    EXPECT_TRUE((*log)->EpochHistory().ok());
  }
  const auto after = Snapshot(o.path);
  ASSERT_EQ(after.size(), before.size());
  for (const auto& [name, bytes] : before) {
    auto it = after.find(name);
    ASSERT_NE(it, after.end()) << name << " is gone";
    EXPECT_TRUE(it->second == bytes) << name << " changed";
  }

  // The read-write open repairs the tail: the check above would see it.
  { ASSERT_TRUE(CommitLog::Open(o).ok()); }
  EXPECT_NE(Snapshot(o.path), before);
}

}  // namespace
}  // namespace sluice
