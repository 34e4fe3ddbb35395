// A metadata-log write or fsync that fails at any step of a commit (issue
// 12, finding 6): the commit reports the failure and is undone (the log cut
// back, so a retry writes the record once), or, when even the undo fails,
// the controller calls its fatal hook (Kafka halts); either way the next
// start loads a log that agrees with what was acknowledged.
#include <gtest/gtest.h>

#include "broker/broker_config.h"
#include "cluster/controller.h"
#include "cluster/metadata_log.h"
#include "storage/memory_file_system.h"

namespace sluice::cluster {
namespace {

// Counts the mutating calls (writes, syncs, creations, renames) made while
// armed and fails the one at `step` (once), or every one from `step` on (a
// disk that died: then truncates fail too).
class FaultyFileSystem final : public storage::FileSystem {
 public:
  explicit FaultyFileSystem(storage::FileSystem& inner) : inner_(inner) {}

  void arm(int64_t step, bool persistent, Errc code) {
    step_ = step, persistent_ = persistent, code_ = code, calls_ = 0, injected_ = 0;
  }
  void disarm() { step_ = -1; }
  int64_t injected() const { return injected_; }

  Status fault(const char* what, const std::string& path, bool is_cut = false) {
    if (step_ < 0 || (is_cut && !persistent_)) return Status::ok();
    ++calls_;
    if (calls_ == step_ || (persistent_ && calls_ > step_)) {
      ++injected_;
      return Status(code_, std::string(what) + " " + path + ": injected at step " + std::to_string(calls_));
    }
    return Status::ok();
  }

  Result<storage::FileHandle> open(const std::string& path, storage::OpenMode mode) override;
  Status rename(const std::string& from, const std::string& to) override {
    if (Status s = fault("rename", from); !s) return s;
    return inner_.rename(from, to);
  }
  Status remove(const std::string& path) override { return inner_.remove(path); }
  Status remove_dir(const std::string& path) override { return inner_.remove_dir(path); }
  Result<std::vector<std::string>> list_dir(const std::string& path) override { return inner_.list_dir(path); }
  Status make_dirs(const std::string& path) override {
    if (Status s = fault("mkdir", path); !s) return s;
    return inner_.make_dirs(path);
  }
  Status sync_dir(const std::string& path) override {
    if (Status s = fault("fsync directory", path); !s) return s;
    return inner_.sync_dir(path);
  }
  Result<bool> exists(const std::string& path) override { return inner_.exists(path); }
  Result<uint64_t> file_size(const std::string& path) override { return inner_.file_size(path); }

 private:
  storage::FileSystem& inner_;
  int64_t step_ = -1;
  bool persistent_ = false;
  Errc code_ = Errc::io_error;
  int64_t calls_ = 0;
  int64_t injected_ = 0;
};

class FaultyFile final : public storage::File {
 public:
  FaultyFile(FaultyFileSystem& fs, storage::FileHandle inner) : fs_(fs), inner_(std::move(inner)) {}
  Result<size_t> pread(uint64_t position, std::span<uint8_t> out) override { return inner_->pread(position, out); }
  Status append(Bytes data) override {
    if (Status s = fs_.fault("write", path()); !s) return s;
    return inner_->append(data);
  }
  Status pwrite(uint64_t position, Bytes data) override {
    if (Status s = fs_.fault("pwrite", path()); !s) return s;
    return inner_->pwrite(position, data);
  }
  Status truncate(uint64_t size_bytes) override {
    if (Status s = fs_.fault("ftruncate", path(), /*is_cut=*/true); !s) return s;
    return inner_->truncate(size_bytes);
  }
  Status sync() override {
    if (Status s = fs_.fault("fdatasync", path()); !s) return s;
    return inner_->sync();
  }
  Result<uint64_t> size() override { return inner_->size(); }
  const std::string& path() const override { return inner_->path(); }
  void reserve(uint64_t bytes) override { inner_->reserve(bytes); }

 private:
  FaultyFileSystem& fs_;
  storage::FileHandle inner_;
};

Result<storage::FileHandle> FaultyFileSystem::open(const std::string& path, storage::OpenMode mode) {
  bool creates = mode == storage::OpenMode::create || mode == storage::OpenMode::create_truncate;
  if (creates)
    if (Status s = fault("open", path); !s) return s;
  auto file = inner_.open(path, mode);
  if (!file) return file.status();
  return storage::FileHandle(std::make_shared<FaultyFile>(*this, std::move(*file)));
}

Config one_partition_config() {
  auto config = Config::parse(broker::broker_config_defs(), {{"num.partitions", "1"}});
  EXPECT_TRUE(config) << config.status().to_string();
  return std::move(config.value());
}

class MetadataLogFaultTest : public ::testing::Test {
 protected:
  void SetUp() override { fresh_disk(); }
  void fresh_disk() {
    memory_ = std::make_unique<storage::MemoryFileSystem>();
    fs_ = std::make_unique<FaultyFileSystem>(*memory_);
    ASSERT_TRUE(memory_->make_dirs("/data"));
    ASSERT_TRUE(memory_->sync_dir("/"));
    fatal_.clear();
  }
  std::unique_ptr<Controller> open() {
    ControllerOptions options;
    options.metadata_log_dir = "/data";
    options.log_dirs = {"/data"};
    options.broker_config = &config_;
    options.on_fatal = [this](const std::string& message) { fatal_.push_back(message); };
    auto controller = Controller::open(*fs_, options);
    EXPECT_TRUE(controller) << controller.status().to_string();
    if (!controller) return nullptr;
    EXPECT_TRUE((*controller)->register_broker({{"PLAINTEXT", "localhost", 9092, 0}}, std::nullopt).ok());
    return std::move(controller.value());
  }
  ApiError create(Controller& controller, const std::string& name) {
    NewTopic topic;
    topic.name = name;
    return controller.create_topics({topic}, false).front().error;
  }
  // The names of the topics a fresh start (after losing every unsynced
  // write) loads; a log the image cannot replay fails the test.
  std::set<std::string> topics_after_crash() {
    fs_->disarm();
    memory_->simulate_crash();
    auto controller = open();
    if (!controller) return {};
    std::set<std::string> names;
    for (const auto& [name, topic] : controller->image()->topics) names.insert(name);
    controller->stop();
    return names;
  }

  std::unique_ptr<storage::MemoryFileSystem> memory_;
  std::unique_ptr<FaultyFileSystem> fs_;
  Config config_ = one_partition_config();
  std::vector<std::string> fatal_;
};

// One write or sync fails, at each step of a CreateTopics commit in turn:
// the commit fails and is undone, a retry creates the topic once, and a
// restart agrees.
TEST_F(MetadataLogFaultTest, AFailureAtAnyStepIsUndoneAndARetryWritesTheRecordOnce) {
  for (Errc code : {Errc::io_error, Errc::no_space}) {
    int64_t failed_commits = 0;
    for (int64_t step = 1;; ++step) {
      SCOPED_TRACE(std::string(errc_name(code)) + " at step " + std::to_string(step));
      fresh_disk();
      auto controller = open();
      ASSERT_NE(controller, nullptr);
      ASSERT_TRUE(create(*controller, "first").ok());
      fs_->arm(step, /*persistent=*/false, code);
      ApiError error = create(*controller, "second");
      fs_->disarm();
      if (fs_->injected() == 0) break;  // the commit has fewer steps: all covered
      EXPECT_TRUE(fatal_.empty()) << fatal_.front();
      if (!error.ok()) {
        ++failed_commits;
        EXPECT_EQ(error.code, ErrorCode::KAFKA_STORAGE_ERROR);
        EXPECT_EQ(controller->image()->topic("second"), nullptr);
        ApiError retried = create(*controller, "second");
        EXPECT_TRUE(retried.ok()) << retried.message;
      }
      ASSERT_TRUE(create(*controller, "third").ok());
      controller->stop();
      controller.reset();
      EXPECT_EQ(topics_after_crash(), (std::set<std::string>{"first", "second", "third"}));
    }
    // A small commit's I/O is the .log's write and its sync (its index
    // entries stay buffered below index_write_batch_bytes): the loop above
    // covers every step there is, and both must have failed the commit.
    EXPECT_GE(failed_commits, 2);
  }
}

// The disk dies at each step: every write, sync and truncate fails from
// there on. The commit fails; if its batch was written, the undo cannot cut
// it and the fatal hook is called (the broker halts). A restart on the
// disk as it was left loads either image, never a broken one.
TEST_F(MetadataLogFaultTest, ADiskThatDiesMidCommitIsFatalOrUndoneAndTheRestartLoads) {
  int64_t fatal_commits = 0;
  for (int64_t step = 1;; ++step) {
    SCOPED_TRACE("dies at step " + std::to_string(step));
    fresh_disk();
    auto controller = open();
    ASSERT_NE(controller, nullptr);
    ASSERT_TRUE(create(*controller, "first").ok());
    fs_->arm(step, /*persistent=*/true, Errc::io_error);
    ApiError error = create(*controller, "second");
    if (fs_->injected() == 0) {
      controller->stop();
      break;
    }
    EXPECT_FALSE(error.ok());
    if (!fatal_.empty()) {
      ++fatal_commits;
      EXPECT_NE(fatal_.front().find("could not be undone"), std::string::npos) << fatal_.front();
      // After the hook (in the broker it does not return) nothing more is written.
      EXPECT_FALSE(create(*controller, "third").ok());
    }
    controller->stop();
    controller.reset();
    std::set<std::string> topics = topics_after_crash();
    EXPECT_TRUE(topics == std::set<std::string>{"first"} || topics == (std::set<std::string>{"first", "second"}));
  }
  EXPECT_GT(fatal_commits, 0);
}

// The data partitions fill the disk the metadata log shares: deleting a
// topic (and other admin changes) still commits, into the space the log
// keeps reserved past its end.
TEST_F(MetadataLogFaultTest, AdminChangesStillCommitWhenDataHasFilledTheSharedDisk) {
  memory_->set_capacity_bytes(4 << 20);
  auto controller = open();
  ASSERT_NE(controller, nullptr);
  ASSERT_TRUE(create(*controller, "big").ok());
  auto filler = memory_->open("/data/filler", storage::OpenMode::create);
  ASSERT_TRUE(filler);
  std::vector<uint8_t> chunk(4096, 'x');
  Status filled;
  while ((filled = (*filler)->append(chunk))) {
  }
  ASSERT_EQ(filled.code(), Errc::no_space);

  EXPECT_TRUE(controller->delete_topics({{"big", Uuid{}}})[0].error.ok());
  EXPECT_TRUE(create(*controller, "after").ok());
  EXPECT_TRUE(fatal_.empty());
  controller->stop();
  controller.reset();
  memory_->set_capacity_bytes(UINT64_MAX);
  EXPECT_EQ(topics_after_crash(), std::set<std::string>{"after"});
}

// The first append to a new metadata log also writes the leader-epoch
// checkpoint (create, write, sync, rename, dir sync): one failure at each
// of those steps too is undone, and a reopen replays each value once.
TEST_F(MetadataLogFaultTest, TheFirstAppendOfANewLogIsUndoneAtEveryStep) {
  auto values = [](const std::string& text) {
    return std::vector<std::vector<uint8_t>>{std::vector<uint8_t>(text.begin(), text.end())};
  };
  int64_t failed_appends = 0;
  for (int64_t step = 1;; ++step) {
    SCOPED_TRACE("step " + std::to_string(step));
    fresh_disk();
    auto log = MetadataLog::open(*fs_, "/data");
    ASSERT_TRUE(log) << log.status().to_string();
    fs_->arm(step, /*persistent=*/false, Errc::io_error);
    auto first = (*log)->append(values("one"), 1);
    fs_->disarm();
    if (fs_->injected() == 0) break;
    EXPECT_FALSE((*log)->failed()) << (*log)->failure();
    if (!first) {
      ++failed_appends;
      EXPECT_EQ((*log)->end_offset(), 0);
      auto retried = (*log)->append(values("one"), 1);
      ASSERT_TRUE(retried) << retried.status().to_string();
      EXPECT_EQ(*retried, 0);
    }
    ASSERT_TRUE((*log)->append(values("two"), 1));
    log->reset();  // no close: what the appends synced is all there is
    memory_->simulate_crash();
    auto reopened = MetadataLog::open(*fs_, "/data");
    ASSERT_TRUE(reopened) << reopened.status().to_string();
    std::vector<std::string> replayed;
    ASSERT_TRUE((*reopened)->replay([&](int64_t, Bytes value) {
      replayed.emplace_back(value.begin(), value.end());
      return Status::ok();
    }));
    EXPECT_EQ(replayed, (std::vector<std::string>{"one", "two"}));
  }
  EXPECT_GE(failed_appends, 8);
}

}  // namespace
}  // namespace sluice::cluster
