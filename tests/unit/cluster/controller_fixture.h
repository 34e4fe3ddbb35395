#pragma once
// A controller of a cluster in memory (MemoryFileSystem, ManualClock, seeded
// ids), this node (1) registered, with helpers to register and heartbeat
// more brokers and create topics: the fixture of the controller's broker
// and partition tests.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "broker/broker_config.h"
#include "cluster/controller.h"
#include "cluster/features.h"
#include "storage/memory_file_system.h"

namespace sluice::cluster {

inline Config broker_config(std::map<std::string, std::string> values = {}) {
  auto config = Config::parse(broker::broker_config_defs(), values);
  EXPECT_TRUE(config) << config.status().to_string();
  return std::move(config.value());
}

inline Uuid incarnation(uint8_t n) {
  std::array<uint8_t, 16> bytes{};
  bytes[15] = n;
  return Uuid{bytes};
}

class ControllerFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs_.make_dirs("/data"));
    ASSERT_TRUE(fs_.sync_dir("/"));
    controller_ = open();
  }
  std::unique_ptr<Controller> open() {
    ControllerOptions options;
    options.node_id = 1;
    options.metadata_log_dir = "/data";
    options.log_dirs = {"/data"};
    options.cluster_id = "test-cluster-id-0000001";
    options.broker_config = &config_;
    options.clock = &clock_;
    options.random = &random_;
    auto controller = Controller::open(fs_, options);
    EXPECT_TRUE(controller) << controller.status().to_string();
    if (!controller) return nullptr;
    EXPECT_TRUE(
        (*controller)->register_broker({{"PLAINTEXT", "localhost", 9092, 0}}, std::nullopt).ok());
    return std::move(controller.value());
  }
  BrokerRegistration registration(int32_t id, uint8_t incarnation_number = 1,
                                  std::optional<std::string> rack = std::nullopt) {
    BrokerRegistration out;
    out.broker_id = id;
    out.cluster_id = controller_->cluster_id();
    out.incarnation_id = incarnation(incarnation_number);
    out.listeners = {{"PLAINTEXT", "localhost", static_cast<uint16_t>(9000 + id), 0}};
    out.rack = std::move(rack);
    out.features = supported_features();
    return out;
  }
  // Registers broker `id` and heartbeats it until unfenced; its epoch.
  int64_t join(int32_t id, std::optional<std::string> rack = std::nullopt) {
    BrokerRegistrationReply reply = controller_->register_broker(registration(id, 1, rack));
    EXPECT_TRUE(reply.error.ok()) << reply.error.message;
    BrokerHeartbeatReply beat = heartbeat(id, reply.broker_epoch);
    EXPECT_TRUE(beat.error.ok()) << beat.error.message;
    EXPECT_FALSE(beat.is_fenced);
    return reply.broker_epoch;
  }
  BrokerHeartbeatReply heartbeat(int32_t id, int64_t epoch, bool want_fence = false,
                                 bool want_shutdown = false) {
    BrokerHeartbeat beat;
    beat.broker_id = id;
    beat.broker_epoch = epoch;
    beat.current_metadata_offset = controller_->image()->offset;  // caught up
    beat.want_fence = want_fence;
    beat.want_shutdown = want_shutdown;
    return controller_->heartbeat(beat);
  }
  const BrokerImage& broker(int32_t id) { return controller_->image()->brokers.at(id); }
  const PartitionImage& partition(const std::string& topic, int32_t id) {
    image_ = controller_->image();  // keeps the returned reference valid
    return image_->topic(topic)->partitions.at(static_cast<size_t>(id));
  }
  ApiError create(const std::string& name, std::map<int32_t, std::vector<int32_t>> assignments) {
    NewTopic topic;
    topic.name = name;
    topic.assignments = std::move(assignments);
    return controller_->create_topics({topic}, false).front().error;
  }
  CreateTopicResult create(const std::string& name, int32_t partitions, int16_t replication) {
    NewTopic topic;
    topic.name = name;
    topic.num_partitions = partitions;
    topic.replication_factor = replication;
    return controller_->create_topics({topic}, false).front();
  }

  storage::MemoryFileSystem fs_;
  Config config_ = broker_config();
  ManualClock clock_;
  SeededRandom random_{42};
  std::unique_ptr<Controller> controller_;
  MetadataImagePtr image_;
};

}  // namespace sluice::cluster
