// What one admin request may cost the controller (issue 12): at most
// records_per_operation_max records per operation, answered with Kafka's
// POLICY_VIOLATION; absurd counts refused before anything is assigned;
// internal topics kept; queued work cancelled at shutdown.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <limits>
#include <mutex>
#include <thread>

#include "broker/broker_config.h"
#include "cluster/controller.h"
#include "storage/memory_file_system.h"

namespace sluice::cluster {
namespace {

constexpr int32_t int32_max = std::numeric_limits<int32_t>::max();

class ControllerLimitsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto config = Config::parse(broker::broker_config_defs(), {});
    ASSERT_TRUE(config) << config.status().to_string();
    config_ = std::make_unique<Config>(std::move(config.value()));
    ASSERT_TRUE(fs_.make_dirs("/data"));
    ControllerOptions options;
    options.metadata_log_dir = "/data";
    options.log_dirs = {"/data"};
    options.broker_config = config_.get();
    auto controller = Controller::open(fs_, options);
    ASSERT_TRUE(controller) << controller.status().to_string();
    controller_ = std::move(controller.value());
    ASSERT_TRUE(
        controller_->register_broker({{"PLAINTEXT", "localhost", 9092, 0}}, std::nullopt).ok());
  }

  static NewTopic topic(std::string name, int32_t partitions, int16_t replication = 1) {
    NewTopic out;
    out.name = std::move(name);
    out.num_partitions = partitions;
    out.replication_factor = replication;
    return out;
  }
  std::vector<ErrorCode> create(std::vector<NewTopic> topics, bool validate_only = false) {
    std::vector<ErrorCode> codes;
    for (const auto& result : controller_->create_topics(topics, validate_only))
      codes.push_back(result.error.code);
    return codes;
  }
  ErrorCode grow(const std::string& name, int32_t count,
                 std::vector<std::vector<int32_t>> assignments = {}, bool validate_only = false) {
    return controller_->create_partitions(name, count, assignments, validate_only).code;
  }

  storage::MemoryFileSystem fs_;
  std::unique_ptr<Config> config_;
  std::unique_ptr<Controller> controller_;
};

constexpr auto policy_violation = ErrorCode::POLICY_VIOLATION;

TEST_F(ControllerLimitsTest, CreateTopicsOfMoreRecordsThanTheBoundIsAPolicyViolation) {
  // A TopicRecord and 9,999 PartitionRecords: exactly the bound.
  EXPECT_EQ(create({topic("at", 9999)}, true), std::vector<ErrorCode>{ErrorCode::NONE});
  EXPECT_EQ(create({topic("over", 10'000)}, true), std::vector<ErrorCode>{policy_violation});
  // Configs count too.
  NewTopic configured = topic("configured", 9999);
  configured.configs["retention.ms"] = "1000";
  EXPECT_EQ(create({configured}, true), std::vector<ErrorCode>{policy_violation});
  // The whole request fails, also the topics that came first or were invalid.
  EXPECT_EQ(create({topic("a", 6000), topic("bad name", 1), topic("b", 6000)}),
            std::vector<ErrorCode>(3, policy_violation));
  EXPECT_EQ(create({topic("absurd", int32_max)}), std::vector<ErrorCode>{policy_violation});
  auto result = controller_->create_topics({topic("huge", 100'000)}, false).front();
  EXPECT_EQ(result.error.message, "Unable to perform excessively large batch operation.");
  EXPECT_TRUE(controller_->image()->topics.empty());
}

TEST_F(ControllerLimitsTest, ManualAssignmentsAreBoundedAndChecked) {
  NewTopic wide = topic("wide", -1, -1);
  for (int32_t p = 0; p < 32514; ++p) wide.assignments[p] = {1};
  EXPECT_EQ(create({wide}), std::vector<ErrorCode>{policy_violation});
  NewTopic far = topic("far", -1, -1);
  far.assignments[int32_max] = {1};
  EXPECT_EQ(create({far}), std::vector<ErrorCode>{ErrorCode::INVALID_REPLICA_ASSIGNMENT});
  NewTopic many_replicas = topic("many", -1, -1);
  for (int32_t broker = 0; broker < 20'000; ++broker)
    many_replicas.assignments[0].push_back(broker);
  EXPECT_EQ(create({many_replicas}), std::vector<ErrorCode>{ErrorCode::INVALID_REPLICA_ASSIGNMENT});
  EXPECT_TRUE(controller_->image()->topics.empty());
}

TEST_F(ControllerLimitsTest, ATopicOfThousandsOfPartitionsIsNumberedInOrder) {
  ASSERT_EQ(create({topic("big", 9999)}), std::vector<ErrorCode>{ErrorCode::NONE});
  const TopicImage* big = controller_->image()->topic("big");
  ASSERT_NE(big, nullptr);
  ASSERT_EQ(big->partitions.size(), 9999u);
  for (size_t p = 0; p < big->partitions.size(); ++p)
    ASSERT_EQ(big->partitions[p].partition, static_cast<int32_t>(p));
}

TEST_F(ControllerLimitsTest, CreatePartitionsIsBoundedPerTopic) {
  ASSERT_EQ(create({topic("g", 1), topic("h", 1)}), std::vector<ErrorCode>(2, ErrorCode::NONE));
  EXPECT_EQ(grow("g", int32_max), ErrorCode::INVALID_PARTITIONS);
  EXPECT_EQ(grow("g", partitions_per_topic_max + 1), ErrorCode::INVALID_PARTITIONS);
  EXPECT_EQ(grow("g", 50'000), policy_violation);
  EXPECT_EQ(grow("g", 20'001, std::vector<std::vector<int32_t>>(20'000, {1})), policy_violation);
  EXPECT_EQ(grow("g", 3, {{1}, {int32_max}}), ErrorCode::INVALID_REPLICA_ASSIGNMENT);
  EXPECT_EQ(grow("g", 2, {{1, 2}}), ErrorCode::INVALID_REPLICA_ASSIGNMENT);  // replication factor
  EXPECT_EQ(grow("g", 10'001), ErrorCode::NONE) << "10,000 new partitions: exactly the bound";
  // One request is one operation: 9,000 new partitions of h leave 1,000; g's
  // 1,001 do not fit.
  auto results =
      controller_->create_partitions({{"h", 9001, {}}, {"h2", 2, {}}, {"g", 11'002, {}}}, false);
  ASSERT_EQ(results.size(), 3u);
  EXPECT_TRUE(results[0].ok());
  EXPECT_EQ(results[1].code, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
  EXPECT_EQ(results[2].code, policy_violation);
  EXPECT_EQ(controller_->image()->topic("h")->partitions.size(), 9001u);
  EXPECT_EQ(controller_->image()->topic("g")->partitions.size(), 10'001u);
}

TEST_F(ControllerLimitsTest, InternalTopicsCannotBeDeleted) {
  CreateTopicResult offsets = controller_->ensure_internal_topic("__consumer_offsets", 3, 1, {});
  ASSERT_TRUE(offsets.error.ok());
  auto by_name = controller_->delete_topics({{"__consumer_offsets", Uuid{}}});
  auto by_id = controller_->delete_topics({{"", offsets.topic_id}});
  EXPECT_EQ(by_name[0].error.code, ErrorCode::INVALID_TOPIC_EXCEPTION);
  EXPECT_EQ(by_id[0].error.code, ErrorCode::INVALID_TOPIC_EXCEPTION);
  EXPECT_EQ(by_id[0].name, "__consumer_offsets");
  EXPECT_NE(controller_->image()->topic("__consumer_offsets"), nullptr);
}

TEST_F(ControllerLimitsTest, StopWorkCancelsQueuedWorkAndWhatComesAfter) {
  std::mutex mutex;
  std::condition_variable changed;
  bool running = false, release = false;
  int ran = 0, cancelled = 0;
  controller_->submit([&] {
    std::unique_lock lock(mutex);
    running = true;
    changed.notify_all();
    changed.wait(lock, [&] { return release; });
    ++ran;
  });
  {
    std::unique_lock lock(mutex);
    changed.wait(lock, [&] { return running; });
  }
  for (int i = 0; i < 3; ++i) controller_->submit([&] { ++ran; }, [&] { ++cancelled; });
  std::thread stopper([&] { controller_->stop_work(); });
  // Release the running work only once stop_work() has taken the queue: a
  // probe cancelled on this thread, inside submit(), says so.
  const auto this_thread = std::this_thread::get_id();
  std::atomic<bool> stopping = false;
  while (!stopping) {
    controller_->submit([] {},
                        [&] {
                          if (std::this_thread::get_id() == this_thread) stopping = true;
                        });
    std::this_thread::yield();
  }
  {
    std::lock_guard lock(mutex);
    release = true;
  }
  changed.notify_all();
  stopper.join();
  EXPECT_EQ(ran, 1) << "the running work finishes; the queued work does not run";
  EXPECT_EQ(cancelled, 3);
  controller_->submit([&] { ++ran; }, [&] { ++cancelled; });
  EXPECT_EQ(cancelled, 4) << "work submitted after stop_work() is cancelled at once";
  // The mutating calls still work (the broker registers and reads until it closes).
  EXPECT_EQ(create({topic("after", 1)}), std::vector<ErrorCode>{ErrorCode::NONE});
}

}  // namespace
}  // namespace sluice::cluster
