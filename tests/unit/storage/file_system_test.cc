#include <gtest/gtest.h>

#include "storage/memory_file_system.h"
#include "storage/posix_file_system.h"
#include "test_util.h"

namespace sluice::storage {
namespace {

using testing::as_bytes;
using testing::as_string;

// The behaviour both implementations share, run against each.
class FileSystemContract : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    if (GetParam()) {
      fs_ = std::make_unique<PosixFileSystem>();
      root_ = temp_.path();
    } else {
      fs_ = std::make_unique<MemoryFileSystem>();
      root_ = "/data";
      ASSERT_TRUE(fs_->make_dirs(root_));
    }
  }
  std::string at(const std::string& name) { return join_path(root_, name); }

  testing::TempDir temp_;
  std::unique_ptr<FileSystem> fs_;
  std::string root_;
};

TEST_P(FileSystemContract, AppendPreadTruncateSize) {
  auto file = fs_->open(at("a.log"), OpenMode::create);
  ASSERT_TRUE(file) << file.status().to_string();
  ASSERT_TRUE((*file)->append(as_bytes("hello ")));
  ASSERT_TRUE((*file)->append(as_bytes("world")));
  EXPECT_EQ(*(*file)->size(), 11u);
  std::vector<uint8_t> out(5);
  EXPECT_EQ(*(*file)->pread(6, out), 5u);
  EXPECT_EQ(as_string(out), "world");
  // A read past the end is short, not an error.
  EXPECT_EQ(*(*file)->pread(9, out), 2u);
  EXPECT_EQ(*(*file)->pread(20, out), 0u);
  ASSERT_TRUE((*file)->pwrite(0, as_bytes("J")));
  ASSERT_TRUE((*file)->truncate(5));
  EXPECT_EQ(as_string(*read_whole_file(*fs_, at("a.log"))), "Jello");
  EXPECT_EQ(*fs_->file_size(at("a.log")), 5u);
  ASSERT_TRUE((*file)->sync());
}

TEST_P(FileSystemContract, MissingFileIsAnIoErrorNamingThePath) {
  auto file = fs_->open(at("missing"), OpenMode::read_only);
  ASSERT_FALSE(file);
  EXPECT_EQ(file.status().code(), Errc::io_error);
  EXPECT_NE(file.status().message().find("missing"), std::string::npos);
  EXPECT_NE(file.status().message().find("No such file"), std::string::npos);
  EXPECT_FALSE(*fs_->exists(at("missing")));
}

TEST_P(FileSystemContract, DirectoriesRenameRemoveList) {
  ASSERT_TRUE(fs_->make_dirs(at("t-0/sub")));
  ASSERT_TRUE(fs_->make_dirs(at("t-0")));  // exists: fine
  ASSERT_TRUE(*fs_->open(at("t-0/b"), OpenMode::create));
  ASSERT_TRUE(*fs_->open(at("t-0/a"), OpenMode::create));
  ASSERT_TRUE(fs_->rename(at("t-0/a"), at("t-0/c")));
  EXPECT_EQ(*fs_->list_dir(at("t-0")), (std::vector<std::string>{"b", "c", "sub"}));
  ASSERT_TRUE(fs_->remove(at("t-0/b")));
  ASSERT_TRUE(fs_->remove(at("t-0/c")));
  EXPECT_FALSE(fs_->remove_dir(at("t-0")));  // not empty
  ASSERT_TRUE(fs_->remove_dir(at("t-0/sub")));
  ASSERT_TRUE(fs_->remove_dir(at("t-0")));
  EXPECT_FALSE(*fs_->exists(at("t-0")));
  ASSERT_TRUE(fs_->sync_dir(root_));
}

TEST_P(FileSystemContract, RemovedFileStaysReadableThroughOpenHandle) {
  auto file = *fs_->open(at("seg"), OpenMode::create);
  ASSERT_TRUE(file->append(as_bytes("batch")));
  ASSERT_TRUE(fs_->remove(at("seg")));
  std::vector<uint8_t> out(5);
  EXPECT_EQ(*file->pread(0, out), 5u);
  EXPECT_EQ(as_string(out), "batch");
}

TEST_P(FileSystemContract, AtomicWriteReplacesContents) {
  ASSERT_TRUE(write_file_atomically(*fs_, at("cp"), as_bytes("one")));
  ASSERT_TRUE(write_file_atomically(*fs_, at("cp"), as_bytes("two!")));
  EXPECT_EQ(as_string(*read_whole_file(*fs_, at("cp"))), "two!");
  EXPECT_FALSE(*fs_->exists(at("cp.tmp")));
}

INSTANTIATE_TEST_SUITE_P(Both, FileSystemContract, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "Posix" : "Memory"; });

TEST(MemoryFileSystem, CrashDropsUnsyncedData) {
  MemoryFileSystem fs;
  ASSERT_TRUE(fs.make_dirs("/d"));
  ASSERT_TRUE(fs.sync_dir("/"));
  auto file = *fs.open("/d/f", OpenMode::create);
  ASSERT_TRUE(fs.sync_dir("/d"));
  ASSERT_TRUE(file->append(as_bytes("synced")));
  ASSERT_TRUE(file->sync());
  ASSERT_TRUE(file->append(as_bytes("-lost")));
  fs.simulate_crash();
  EXPECT_EQ(as_string(fs.contents("/d/f")), "synced");
  // A truncation that was not synced is undone too.
  auto reopened = *fs.open("/d/f", OpenMode::read_write);
  ASSERT_TRUE(reopened->truncate(2));
  fs.simulate_crash();
  EXPECT_EQ(as_string(fs.contents("/d/f")), "synced");
}

TEST(MemoryFileSystem, FileNotDirSyncedVanishes) {
  MemoryFileSystem fs;
  ASSERT_TRUE(fs.make_dirs("/d"));
  ASSERT_TRUE(fs.sync_dir("/"));
  auto file = *fs.open("/d/new", OpenMode::create);
  ASSERT_TRUE(file->append(as_bytes("data")));
  ASSERT_TRUE(file->sync());  // data synced, but the entry is not
  fs.simulate_crash();
  EXPECT_FALSE(*fs.exists("/d/new"));
  EXPECT_TRUE(*fs.exists("/d"));
}

TEST(MemoryFileSystem, DirectoryNotSyncedInParentVanishesWithItsFiles) {
  MemoryFileSystem fs;
  ASSERT_TRUE(fs.make_dirs("/d/p"));
  auto file = *fs.open("/d/p/f", OpenMode::create);
  ASSERT_TRUE(file->sync());
  ASSERT_TRUE(fs.sync_dir("/d/p"));
  fs.simulate_crash();  // "/d" was never synced into "/", so all is gone
  EXPECT_FALSE(*fs.exists("/d"));
  EXPECT_FALSE(*fs.exists("/d/p/f"));
}

TEST(MemoryFileSystem, RenameNotDirSyncedIsUndone) {
  MemoryFileSystem fs;
  ASSERT_TRUE(fs.make_dirs("/d"));
  ASSERT_TRUE(fs.sync_dir("/"));
  auto old_file = *fs.open("/d/cp", OpenMode::create);
  ASSERT_TRUE(old_file->append(as_bytes("old")));
  ASSERT_TRUE(old_file->sync());
  ASSERT_TRUE(fs.sync_dir("/d"));
  auto tmp = *fs.open("/d/cp.tmp", OpenMode::create);
  ASSERT_TRUE(tmp->append(as_bytes("new")));
  ASSERT_TRUE(tmp->sync());
  ASSERT_TRUE(fs.rename("/d/cp.tmp", "/d/cp"));
  EXPECT_EQ(as_string(fs.contents("/d/cp")), "new");
  fs.simulate_crash();
  EXPECT_EQ(as_string(fs.contents("/d/cp")), "old");
  EXPECT_FALSE(*fs.exists("/d/cp.tmp"));
}

TEST(MemoryFileSystem, AtomicWriteSurvivesCrash) {
  MemoryFileSystem fs;
  ASSERT_TRUE(fs.make_dirs("/d"));
  ASSERT_TRUE(fs.sync_dir("/"));
  ASSERT_TRUE(write_file_atomically(fs, "/d/cp", as_bytes("v1")));
  fs.simulate_crash();
  EXPECT_EQ(as_string(fs.contents("/d/cp")), "v1");
}

TEST(MemoryFileSystem, KeepRandomPrefixKeepsAPrefixOfTheUnsyncedTail) {
  for (uint64_t seed = 1; seed < 20; ++seed) {
    MemoryFileSystem fs(seed);
    ASSERT_TRUE(fs.make_dirs("/d"));
    ASSERT_TRUE(fs.sync_dir("/"));
    auto file = *fs.open("/d/f", OpenMode::create);
    ASSERT_TRUE(fs.sync_dir("/d"));
    ASSERT_TRUE(file->append(as_bytes("abc")));
    ASSERT_TRUE(file->sync());
    ASSERT_TRUE(file->append(as_bytes("defgh")));
    fs.simulate_crash(CrashMode::keep_random_prefix);
    std::string after = as_string(fs.contents("/d/f"));
    EXPECT_TRUE(std::string("abcdefgh").starts_with(after)) << after;
    EXPECT_GE(after.size(), 3u);
  }
}

TEST(MemoryFileSystem, InjectedFailuresAreIoErrors) {
  MemoryFileSystem fs;
  ASSERT_TRUE(fs.make_dirs("/d"));
  auto file = *fs.open("/d/f", OpenMode::create);
  fs.fail_writes(true);
  Status status = file->append(as_bytes("x"));
  EXPECT_EQ(status.code(), Errc::io_error);
  EXPECT_NE(status.message().find("/d/f"), std::string::npos);
  EXPECT_FALSE(file->sync());
  EXPECT_FALSE(fs.open("/d/g", OpenMode::create));
  fs.fail_writes(false);
  EXPECT_TRUE(file->append(as_bytes("x")));
}

TEST(MemoryFileSystem, ReadOnlyHandleRejectsWrites) {
  MemoryFileSystem fs;
  ASSERT_TRUE(fs.make_dirs("/d"));
  ASSERT_TRUE(*fs.open("/d/f", OpenMode::create));
  auto file = *fs.open("/d/f", OpenMode::read_only);
  EXPECT_FALSE(file->append(as_bytes("x")));
}

}  // namespace
}  // namespace sluice::storage
