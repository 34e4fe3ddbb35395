// Partition and ReplicaManager over the in-memory file system: appends as
// leader, reads below the high watermark, leader-epoch checks, list offsets,
// delete records, waiters, and the image-driven creation and deletion of
// logs.
#include "cluster/replica_manager.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "protocol/record_framing.h"
#include "record/batch_builder.h"
#include "storage/memory_file_system.h"

namespace sluice::cluster {
namespace {

constexpr int32_t local_node = 1;

std::vector<uint8_t> batch_of(int records, int64_t timestamp_ms = 1'700'000'000'000) {
  record::BatchBuilder builder;
  for (int i = 0; i < records; ++i) {
    std::string value = "value-" + std::to_string(i);
    builder.append(timestamp_ms + i, std::nullopt,
                   Bytes(reinterpret_cast<const uint8_t*>(value.data()), value.size()));
  }
  auto built = builder.build();
  EXPECT_TRUE(built.is_ok());
  return std::move(built).value();
}

Uuid id_of(uint8_t n) {
  Uuid id;
  id.bytes[15] = n;
  return id;
}

MetadataImagePtr image_with(std::vector<std::pair<std::string, int>> topics,
                            int32_t leader = local_node, int32_t leader_epoch = 0) {
  auto image = std::make_shared<MetadataImage>();
  uint8_t n = 1;
  for (const auto& [name, partitions] : topics) {
    TopicImage topic;
    topic.name = name;
    topic.id = id_of(n++);
    for (int p = 0; p < partitions; ++p)
      topic.partitions.push_back(
          PartitionImage{p, {local_node}, {local_node}, leader, leader_epoch, 0});
    image->put_topic(std::move(topic));
  }
  return image;
}

class ReplicaManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    storage::LogManagerOptions options;
    options.log_dirs = {"/data"};
    options.background_threads = false;
    options.logger = [](std::string_view) {};
    auto manager = storage::LogManager::open(fs_, std::move(options));
    ASSERT_TRUE(manager.is_ok()) << manager.status().to_string();
    logs_ = std::move(manager).value();
    ReplicaManagerOptions replica_options;
    replica_options.node_id = BrokerId{local_node};
    replica_options.log_manager = logs_.get();
    replica_options.logger = [](std::string_view) {};
    replica_options.append_policy_for = [this](const TopicImage& topic, const MetadataImage&) {
      followed_.push_back(topic.name);
      return policy_;
    };
    replicas_ = std::make_unique<ReplicaManager>(std::move(replica_options));
  }

  PartitionAppendResult append(Partition& partition, int records, int16_t acks = 1) {
    auto batch = batch_of(records);
    return partition.append_as_leader(batch, acks, now_ms_);
  }

  storage::MemoryFileSystem fs_;
  std::unique_ptr<storage::LogManager> logs_;
  std::unique_ptr<ReplicaManager> replicas_;
  AppendPolicy policy_;
  std::vector<std::string> followed_;  // topics whose settings were resolved, in order
  int64_t now_ms_ = 1'700'000'000'000;
};

// A delta's topics only: the others' settings are not resolved again and
// their Partition objects are kept as they are.
TEST_F(ReplicaManagerTest, ADeltaFollowsOnlyTheTopicsItNames) {
  MetadataImagePtr first = image_with({{"a", 2}, {"b", 1}, {"c", 1}});
  ASSERT_TRUE(replicas_->apply_image(first).is_ok());
  auto kept = replicas_->partition("a", 0);
  followed_.clear();

  namespace md = protocol::metadata;
  MetadataDelta delta(first);
  md::PartitionRecord grown;
  grown.topic_id = id_of(2);  // "b"
  grown.partition_id = 1;
  grown.replicas = grown.isr = {local_node};
  grown.leader = local_node;
  ASSERT_TRUE(delta.replay(md::encode_framed(grown, 0), 1).is_ok());
  ASSERT_TRUE(delta.replay(md::encode_framed(md::RemoveTopicRecord{id_of(3), {}}, 0), 2).is_ok());
  MetadataImagePtr next = delta.apply();
  ASSERT_TRUE(replicas_->apply_delta(delta, next).is_ok());

  EXPECT_EQ(followed_, std::vector<std::string>{"b"});
  EXPECT_NE(replicas_->partition("b", 1), nullptr);
  EXPECT_EQ(replicas_->partition("c", 0), nullptr);
  EXPECT_EQ(replicas_->partition("a", 0), kept);
  EXPECT_EQ(replicas_->image(), next);
  EXPECT_EQ(logs_->logs().size(), 4u);  // a-0, a-1, b-0, b-1
}

TEST_F(ReplicaManagerTest, CreatesLogsForTheImageAndDeletesThemWithTheTopic) {
  ASSERT_TRUE(replicas_->apply_image(image_with({{"a", 2}, {"b", 1}})).is_ok());
  EXPECT_NE(replicas_->partition("a", 0), nullptr);
  EXPECT_NE(replicas_->partition("a", 1), nullptr);
  EXPECT_NE(replicas_->partition("b", 0), nullptr);
  EXPECT_EQ(replicas_->partition("a", 2), nullptr);
  EXPECT_EQ(logs_->logs().size(), 3u);

  auto kept = replicas_->partition("a", 0);
  ASSERT_TRUE(replicas_->apply_image(image_with({{"a", 2}})).is_ok());
  EXPECT_EQ(replicas_->partition("a", 0), kept) << "an unchanged partition keeps its object";
  EXPECT_EQ(replicas_->partition("b", 0), nullptr);
  EXPECT_EQ(logs_->find({"b", 0}), nullptr) << "the deleted topic's log is gone";
  EXPECT_EQ(logs_->logs().size(), 2u);
}

TEST_F(ReplicaManagerTest, PartitionsLedElsewhereAnswerNotLeader) {
  ASSERT_TRUE(replicas_->apply_image(image_with({{"a", 1}}, /*leader=*/2)).is_ok());
  auto partition = replicas_->partition("a", 0);
  ASSERT_NE(partition, nullptr);
  EXPECT_EQ(append(*partition, 1).error, ErrorCode::NOT_LEADER_OR_FOLLOWER);
  EXPECT_EQ(partition->read(Offset{0}, LeaderEpoch{-1}, 1 << 20, true).error,
            ErrorCode::NOT_LEADER_OR_FOLLOWER);
}

TEST_F(ReplicaManagerTest, AppendAssignsOffsetsAndMovesTheHighWatermark) {
  ASSERT_TRUE(replicas_->apply_image(image_with({{"a", 1}}, local_node, 3)).is_ok());
  auto partition = replicas_->partition("a", 0);
  auto first = append(*partition, 5);
  ASSERT_EQ(first.error, ErrorCode::NONE) << first.error_message;
  EXPECT_EQ(first.base_offset, 0);
  EXPECT_EQ(first.next_offset, 5);
  EXPECT_EQ(first.log_append_time_ms, -1);
  auto second = append(*partition, 3);
  EXPECT_EQ(second.base_offset, 5);
  EXPECT_EQ(partition->high_watermark(), 8);
  EXPECT_EQ(partition->managed_log()->high_watermark(), 8);

  auto read = partition->read(Offset{5}, LeaderEpoch{3}, 1 << 20, true);
  ASSERT_EQ(read.error, ErrorCode::NONE);
  EXPECT_EQ(read.high_watermark, 8);
  EXPECT_EQ(read.last_stable_offset, 8);
  EXPECT_EQ(read.log_start_offset, 0);
  EXPECT_GT(read.range.length, 0u);
  EXPECT_EQ(partition->read(Offset{8}, LeaderEpoch{-1}, 1 << 20, true).range.length, 0u)
      << "nothing at the high watermark";
  EXPECT_EQ(partition->read(Offset{9}, LeaderEpoch{-1}, 1 << 20, true).error,
            ErrorCode::OFFSET_OUT_OF_RANGE);
}

TEST_F(ReplicaManagerTest, LeaderEpochChecks) {
  ASSERT_TRUE(replicas_->apply_image(image_with({{"a", 1}}, local_node, 5)).is_ok());
  auto partition = replicas_->partition("a", 0);
  EXPECT_EQ(partition->check_leader(LeaderEpoch{-1}), ErrorCode::NONE);
  EXPECT_EQ(partition->check_leader(LeaderEpoch{5}), ErrorCode::NONE);
  EXPECT_EQ(partition->check_leader(LeaderEpoch{4}), ErrorCode::FENCED_LEADER_EPOCH);
  EXPECT_EQ(partition->check_leader(LeaderEpoch{6}), ErrorCode::UNKNOWN_LEADER_EPOCH);
  EXPECT_EQ(partition->read(Offset{0}, LeaderEpoch{4}, 100, true).error,
            ErrorCode::FENCED_LEADER_EPOCH);
}

TEST_F(ReplicaManagerTest, AppendErrors) {
  ASSERT_TRUE(replicas_->apply_image(image_with({{"a", 1}})).is_ok());
  auto partition = replicas_->partition("a", 0);
  auto batch = batch_of(2);
  batch.back() ^= 0xff;  // CRC no longer matches
  EXPECT_EQ(partition->append_as_leader(batch, 1, now_ms_).error, ErrorCode::CORRUPT_MESSAGE);

  policy_.min_insync_replicas = 2;
  ASSERT_TRUE(replicas_->apply_image(image_with({{"a", 1}})).is_ok());
  EXPECT_EQ(append(*partition, 1, -1).error, ErrorCode::NOT_ENOUGH_REPLICAS);
  EXPECT_EQ(append(*partition, 1, 1).error, ErrorCode::NONE)
      << "acks=1 ignores min.insync.replicas";

  policy_ = AppendPolicy{};
  policy_.timestamp_after_max_ms = 1000;
  ASSERT_TRUE(replicas_->apply_image(image_with({{"a", 1}})).is_ok());
  auto future = batch_of(1, now_ms_ + 60'000);
  auto rejected = partition->append_as_leader(future, 1, now_ms_);
  EXPECT_EQ(rejected.error, ErrorCode::INVALID_TIMESTAMP);
  EXPECT_TRUE(rejected.record_error_index.has_value());
}

TEST_F(ReplicaManagerTest, LogAppendTimeRewritesTheBatch) {
  policy_.log_append_time = true;
  ASSERT_TRUE(replicas_->apply_image(image_with({{"a", 1}})).is_ok());
  auto partition = replicas_->partition("a", 0);
  auto batch = batch_of(2, 5);
  auto appended = partition->append_as_leader(batch, 1, now_ms_);
  ASSERT_EQ(appended.error, ErrorCode::NONE);
  EXPECT_EQ(appended.log_append_time_ms, now_ms_);
  auto listed = partition->list_offset(storage::max_timestamp, LeaderEpoch{-1});
  EXPECT_EQ(listed.timestamp_ms, now_ms_);
}

TEST_F(ReplicaManagerTest, ListOffsetsAndDeleteRecords) {
  ASSERT_TRUE(replicas_->apply_image(image_with({{"a", 1}}, local_node, 2)).is_ok());
  auto partition = replicas_->partition("a", 0);
  for (int i = 0; i < 4; ++i) ASSERT_EQ(append(*partition, 10).error, ErrorCode::NONE);
  EXPECT_EQ(partition->list_offset(storage::earliest_timestamp, LeaderEpoch{-1}).offset, 0);
  auto latest = partition->list_offset(storage::latest_timestamp, LeaderEpoch{-1});
  EXPECT_EQ(latest.offset, 40);
  EXPECT_EQ(latest.leader_epoch, 2);

  EXPECT_EQ(partition->delete_records_before(Offset{41}).error, ErrorCode::OFFSET_OUT_OF_RANGE);
  auto deleted = partition->delete_records_before(Offset{25});
  ASSERT_EQ(deleted.error, ErrorCode::NONE);
  EXPECT_EQ(deleted.low_watermark, 25);
  EXPECT_EQ(partition->list_offset(storage::earliest_timestamp, LeaderEpoch{-1}).offset, 25);
  EXPECT_EQ(partition->read(Offset{10}, LeaderEpoch{-1}, 100, true).error,
            ErrorCode::OFFSET_OUT_OF_RANGE);
  auto to_end = partition->delete_records_before(Offset{-1});
  EXPECT_EQ(to_end.low_watermark, 40) << "-1 deletes up to the high watermark";

  auto epoch_end = partition->end_offset_for_epoch(LeaderEpoch{2}, LeaderEpoch{-1});
  EXPECT_EQ(epoch_end.error, ErrorCode::NONE);
  EXPECT_EQ(epoch_end.leader_epoch, 2);
  EXPECT_EQ(epoch_end.end_offset, 40);
}

struct CountingWaiter : AppendWaiter {
  int woken = 0;
  void on_new_data() override { ++woken; }
};

TEST_F(ReplicaManagerTest, AppendsWakeWaitersAndDropGoneOnes) {
  ASSERT_TRUE(replicas_->apply_image(image_with({{"a", 1}})).is_ok());
  auto partition = replicas_->partition("a", 0);
  auto waiter = std::make_shared<CountingWaiter>();
  auto gone = std::make_shared<CountingWaiter>();
  partition->add_waiter(waiter);
  partition->add_waiter(gone);
  gone.reset();
  append(*partition, 1);
  append(*partition, 1);
  EXPECT_EQ(waiter->woken, 2);
  EXPECT_EQ(partition->waiter_count(), 1u);
  auto batch = batch_of(1);
  batch.back() ^= 1;
  partition->append_as_leader(batch, 1, now_ms_);
  EXPECT_EQ(waiter->woken, 2) << "a failed append wakes nobody";
}

TEST_F(ReplicaManagerTest, DeletedPartitionAnswersUnknown) {
  ASSERT_TRUE(replicas_->apply_image(image_with({{"a", 1}})).is_ok());
  auto partition = replicas_->partition("a", 0);
  ASSERT_TRUE(replicas_->apply_image(image_with({})).is_ok());
  EXPECT_EQ(append(*partition, 1).error, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
}

TEST_F(ReplicaManagerTest, HighWatermarkStartsAtTheLogEndAfterReopen) {
  ASSERT_TRUE(replicas_->apply_image(image_with({{"a", 1}})).is_ok());
  append(*replicas_->partition("a", 0), 7);
  // A fresh ReplicaManager over the same LogManager (a restart of the broker
  // side): a single replica's log is all committed.
  ReplicaManagerOptions options;
  options.log_manager = logs_.get();
  options.node_id = BrokerId{local_node};
  ReplicaManager again(std::move(options));
  ASSERT_TRUE(again.apply_image(image_with({{"a", 1}})).is_ok());
  EXPECT_EQ(again.partition("a", 0)->high_watermark(), 7);
}

// A partition dir a crash lost entirely (its creation not yet durable) is
// created again at the next start: the metadata image, not the log dir, says
// which partitions exist. And a crash right after creation leaves a log that
// opens, whatever became of its unsynced partition.metadata.
TEST_F(ReplicaManagerTest, APartitionDirLostInACrashIsCreatedAgainAtTheNextStart) {
  ASSERT_TRUE(replicas_->apply_image(image_with({{"a", 2}})).is_ok());
  replicas_.reset();
  logs_.reset();
  fs_.simulate_crash();
  auto names = fs_.list_dir("/data/a-1");
  ASSERT_TRUE(names.is_ok());
  for (const std::string& name : *names) ASSERT_TRUE(fs_.remove("/data/a-1/" + name));
  ASSERT_TRUE(fs_.remove_dir("/data/a-1"));

  storage::LogManagerOptions options;
  options.log_dirs = {"/data"};
  options.background_threads = false;
  options.logger = [](std::string_view) {};
  auto reopened = storage::LogManager::open(fs_, std::move(options));
  ASSERT_TRUE(reopened.is_ok()) << reopened.status().to_string();
  logs_ = std::move(reopened).value();
  EXPECT_EQ(logs_->logs().size(), 1u) << "only a-0 is on disk";
  ReplicaManagerOptions replica_options;
  replica_options.log_manager = logs_.get();
  replica_options.node_id = BrokerId{local_node};
  replicas_ = std::make_unique<ReplicaManager>(std::move(replica_options));
  ASSERT_TRUE(replicas_->apply_image(image_with({{"a", 2}})).is_ok());
  ASSERT_NE(replicas_->partition("a", 1), nullptr);
  EXPECT_EQ(logs_->logs().size(), 2u);
  EXPECT_EQ(append(*replicas_->partition("a", 1), 3).error, ErrorCode::NONE);
}

// Shutdown: an image with many new partitions must not hold the controller
// while each log is created; the logs skipped are created by the next
// apply of the (durable) image, as at the next start.
TEST_F(ReplicaManagerTest, StopCreatingLogsLeavesNewLogsToTheNextStart) {
  ASSERT_TRUE(replicas_->apply_image(image_with({{"a", 1}})).is_ok());
  replicas_->stop_creating_logs();
  ASSERT_TRUE(replicas_->apply_image(image_with({{"a", 1}, {"b", 3}})).is_ok());
  EXPECT_NE(replicas_->partition("a", 0), nullptr) << "existing partitions stay";
  EXPECT_EQ(replicas_->partition("b", 0), nullptr);
  EXPECT_EQ(logs_->logs().size(), 1u);

  ReplicaManagerOptions options;
  options.log_manager = logs_.get();
  options.node_id = BrokerId{local_node};
  ReplicaManager next_start(std::move(options));
  ASSERT_TRUE(next_start.apply_image(image_with({{"a", 1}, {"b", 3}})).is_ok());
  for (int32_t p = 0; p < 3; ++p) EXPECT_NE(next_start.partition("b", p), nullptr);
  EXPECT_EQ(logs_->logs().size(), 4u);
}

// Topic config changes in the metadata image reach the partition's log
// through LogManager::update_config, which wakes the cleaner when the topic
// becomes compacted: a cleaner thread that would otherwise sleep
// log.cleaner.backoff.ms (an hour here) cleans it at once.
TEST(ReplicaManagerConfigs, TopicConfigChangesReachTheLogAndWakeTheCleaner) {
  storage::MemoryFileSystem fs;
  storage::LogManagerOptions options;
  options.log_dirs = {"/data"};
  options.background_threads = true;
  options.cleaner.backoff_ms = 3'600'000;
  options.cleaner.dedupe_buffer_bytes = 1 << 20;
  options.logger = [](std::string_view) {};
  auto logs = storage::LogManager::open(fs, std::move(options));
  ASSERT_TRUE(logs.is_ok()) << logs.status().to_string();
  ReplicaManagerOptions replica_options;
  replica_options.node_id = BrokerId{local_node};
  replica_options.log_manager = logs->get();
  replica_options.logger = [](std::string_view) {};
  replica_options.log_config_for = [](const TopicImage& topic, const MetadataImage&) {
    storage::LogConfig config;
    config.segment_bytes = 2048;
    auto policy = topic.configs.find("cleanup.policy");
    config.cleanup_policy_compact = policy != topic.configs.end() && policy->second == "compact";
    config.cleanup_policy_delete = !config.cleanup_policy_compact;
    if (auto retention = topic.configs.find("retention.ms"); retention != topic.configs.end())
      config.retention_ms = std::stoll(retention->second);
    return config;
  };
  ReplicaManager replicas(std::move(replica_options));

  auto image = image_with({{"events", 1}});
  ASSERT_TRUE(replicas.apply_image(image).is_ok());
  auto partition = replicas.partition("events", 0);
  ASSERT_NE(partition, nullptr);
  // 60 batches of 3 updates to 4 keys: several 2 KiB segments, mostly
  // superseded values.
  for (int b = 0; b < 60; ++b) {
    record::BatchBuilder builder;
    for (int i = 0; i < 3; ++i) {
      std::string key = "key-" + std::to_string((b * 3 + i) % 4),
                  value = "value-" + std::to_string(b * 3 + i);
      builder.append(1'700'000'000'000,
                     Bytes(reinterpret_cast<const uint8_t*>(key.data()), key.size()),
                     Bytes(reinterpret_cast<const uint8_t*>(value.data()), value.size()));
    }
    auto batch = builder.build();
    ASSERT_TRUE(batch.is_ok());
    ASSERT_EQ(partition->append_as_leader(*batch, 1, 1'700'000'000'000).error, ErrorCode::NONE);
  }
  const storage::TopicPartition tp{"events", 0};
  auto managed = partition->managed_log();
  auto log_config = [&] {
    std::lock_guard lock(managed->mutex());
    return managed->log().config();
  };
  EXPECT_EQ(log_config().retention_ms, storage::LogConfig{}.retention_ms);
  EXPECT_FALSE(logs->get()->cleaner().checkpoint(managed->log_dir(), tp).has_value());

  // The same topic, now compacted and with a retention.ms override.
  auto changed = std::make_shared<MetadataImage>(*image);
  TopicImage events = *changed->topic("events");
  events.configs = {{"cleanup.policy", "compact"}, {"retention.ms", "1234"}};
  changed->put_topic(std::move(events));
  ASSERT_TRUE(replicas.apply_image(changed).is_ok());
  EXPECT_EQ(replicas.partition("events", 0), partition);
  EXPECT_EQ(log_config().retention_ms, 1234);
  EXPECT_TRUE(log_config().cleanup_policy_compact);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!logs->get()->cleaner().checkpoint(managed->log_dir(), tp) &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  auto cleaned_up_to = logs->get()->cleaner().checkpoint(managed->log_dir(), tp);
  ASSERT_TRUE(cleaned_up_to.has_value()) << "the cleaner was not woken by the config change";
  EXPECT_GT(*cleaned_up_to, 0);
  EXPECT_TRUE(logs->get()->close().is_ok());
}

}  // namespace
}  // namespace sluice::cluster
