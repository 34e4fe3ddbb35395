// The image is a pure function of the records applied in order.
#include <gtest/gtest.h>

#include "cluster/metadata_image.h"
#include "protocol/record_framing.h"

namespace sluice::cluster {
namespace {

namespace md = protocol::metadata;

Uuid first_byte_id(uint8_t n) {
  Uuid id;
  id.bytes[0] = n;
  return id;
}

md::PartitionRecord partition(const Uuid& topic, int32_t index, std::vector<int32_t> replicas) {
  md::PartitionRecord record;
  record.topic_id = topic;
  record.partition_id = index;
  record.replicas = replicas;
  record.isr = replicas;
  record.leader = replicas.front();
  record.leader_epoch = 0;
  record.partition_epoch = 0;
  return record;
}

class ImageTest : public ::testing::Test {
 protected:
  template <class Record>
  Status apply(const Record& record, int16_t version = 0) {
    return apply_record(image_, md::encode_framed(record, version), ++offset_);
  }
  MetadataImage image_;
  int64_t offset_ = -1;
};

TEST(RecordFraming, FrameIsVersionTypeVersionThenFlexibleBody) {
  md::TopicRecord record{"t", first_byte_id(7), {}};
  std::vector<uint8_t> framed = md::encode_framed(record, 0);
  ASSERT_GE(framed.size(), 3u);
  EXPECT_EQ(framed[0], 1);  // frame version
  EXPECT_EQ(framed[1], 2);  // TopicRecord's type
  EXPECT_EQ(framed[2], 0);  // record version
  EXPECT_EQ(framed[3], 2);  // compact string length + 1 of "t"
  EXPECT_EQ(framed[4], 't');
  EXPECT_EQ(framed.size(), 3u + 2 + 16 + 1);  // name, uuid, empty tagged fields
  int calls = 0;
  Status decoded = md::decode_framed(framed, [&](const auto& decoded, int16_t version) {
    using T = std::decay_t<decltype(decoded)>;
    if constexpr (std::is_same_v<T, md::TopicRecord>) {
      EXPECT_EQ(decoded, record);
      EXPECT_EQ(version, 0);
      ++calls;
    }
  });
  EXPECT_TRUE(decoded) << decoded.to_string();
  EXPECT_EQ(calls, 1);
}

TEST(RecordFraming, RejectsUnknownTypeTrailingBytesAndNewerFrames) {
  std::vector<uint8_t> framed = md::encode_framed(md::TopicRecord{"t", first_byte_id(7), {}}, 0);
  auto ignore = [](const auto&, int16_t) {};
  std::vector<uint8_t> trailing = framed;
  trailing.push_back(0);
  EXPECT_EQ(md::decode_framed(trailing, ignore).code(), Errc::invalid_length);
  std::vector<uint8_t> unknown = framed;
  unknown[1] = 99;
  EXPECT_FALSE(md::decode_framed(unknown, ignore));
  std::vector<uint8_t> newer = framed;
  newer[0] = 2;
  EXPECT_EQ(md::decode_framed(newer, ignore).code(), Errc::unsupported_version);
  std::vector<uint8_t> truncated(framed.begin(), framed.end() - 3);
  EXPECT_FALSE(md::decode_framed(truncated, ignore));
}

TEST_F(ImageTest, TopicsPartitionsAndLeaderChanges) {
  const Uuid id = first_byte_id(1);
  ASSERT_TRUE(apply(md::TopicRecord{"orders", id, {}}));
  ASSERT_TRUE(apply(partition(id, 0, {1})));
  ASSERT_TRUE(apply(partition(id, 1, {1})));
  const TopicImage* topic = image_.topic("orders");
  ASSERT_NE(topic, nullptr);
  EXPECT_EQ(image_.topic(id), topic);
  ASSERT_EQ(topic->partitions.size(), 2u);
  EXPECT_EQ(topic->partitions[1].partition, 1);
  EXPECT_EQ(topic->partitions[1].leader, 1);
  EXPECT_EQ(image_.offset, 2);

  md::PartitionChangeRecord change;
  change.topic_id = id;
  change.partition_id = 1;
  change.leader = 2;
  change.isr = std::vector<int32_t>{2};
  ASSERT_TRUE(apply(change));
  const PartitionImage& changed = image_.topic("orders")->partitions[1];
  EXPECT_EQ(changed.leader, 2);
  EXPECT_EQ(changed.leader_epoch, 1);
  EXPECT_EQ(changed.partition_epoch, 1);
  EXPECT_EQ(changed.isr, std::vector<int32_t>{2});

  md::PartitionChangeRecord isr_only;  // leader -2: unchanged, same leader epoch
  isr_only.topic_id = id;
  isr_only.partition_id = 1;
  isr_only.isr = std::vector<int32_t>{1, 2};
  ASSERT_TRUE(apply(isr_only));
  EXPECT_EQ(image_.topic("orders")->partitions[1].leader_epoch, 1);
  EXPECT_EQ(image_.topic("orders")->partitions[1].partition_epoch, 2);
}

TEST_F(ImageTest, ConfigsSetAndDeleteForTopicsAndBrokers) {
  const Uuid id = first_byte_id(2);
  ASSERT_TRUE(apply(md::TopicRecord{"logs", id, {}}));
  ASSERT_TRUE(apply(md::ConfigRecord{config_resource_topic, "logs", "retention.ms", "1000", {}}));
  ASSERT_TRUE(apply(md::ConfigRecord{config_resource_broker, "", "log.retention.ms", "5", {}}));
  ASSERT_TRUE(apply(md::ConfigRecord{config_resource_broker, "1", "log.retention.ms", "7", {}}));
  EXPECT_EQ(image_.topic("logs")->configs.at("retention.ms"), "1000");
  EXPECT_EQ(image_.dynamic_broker_config(1, "log.retention.ms"), "7");
  EXPECT_EQ(image_.dynamic_broker_config(2, "log.retention.ms"), "5");
  ASSERT_TRUE(apply(md::ConfigRecord{config_resource_topic, "logs", "retention.ms", std::nullopt, {}}));
  ASSERT_TRUE(apply(md::ConfigRecord{config_resource_broker, "1", "log.retention.ms", std::nullopt, {}}));
  EXPECT_TRUE(image_.topic("logs")->configs.empty());
  EXPECT_EQ(image_.dynamic_broker_config(1, "log.retention.ms"), "5");
  EXPECT_EQ(image_.broker_configs.count("1"), 0u);
}

TEST_F(ImageTest, RemoveTopicForgetsNameIdAndConfigs) {
  const Uuid id = first_byte_id(3);
  ASSERT_TRUE(apply(md::TopicRecord{"gone", id, {}}));
  ASSERT_TRUE(apply(partition(id, 0, {1})));
  ASSERT_TRUE(apply(md::ConfigRecord{config_resource_topic, "gone", "retention.ms", "1", {}}));
  ASSERT_TRUE(apply(md::RemoveTopicRecord{id, {}}));
  EXPECT_EQ(image_.topic("gone"), nullptr);
  EXPECT_EQ(image_.topic(id), nullptr);
  // The name can be reused with a new id.
  ASSERT_TRUE(apply(md::TopicRecord{"gone", first_byte_id(4), {}}));
  EXPECT_TRUE(image_.topic("gone")->configs.empty());
}

TEST_F(ImageTest, BrokerRegistrationAndFencing) {
  md::RegisterBrokerRecord record;
  record.broker_id = 1;
  record.broker_epoch = 10;
  record.end_points.push_back({"PLAINTEXT", "localhost", 9092, 0, {}});
  record.fenced = false;
  ASSERT_TRUE(apply(record, md::RegisterBrokerRecord::max_version));
  ASSERT_EQ(image_.brokers.count(1), 1u);
  EXPECT_EQ(image_.brokers[1].endpoints.at(0).port, 9092);
  EXPECT_FALSE(image_.brokers[1].fenced);
  ASSERT_TRUE(apply(md::FenceBrokerRecord{1, 10, {}}));
  EXPECT_TRUE(image_.brokers[1].fenced);
  ASSERT_TRUE(apply(md::UnregisterBrokerRecord{1, 10, {}}));
  EXPECT_EQ(image_.brokers.count(1), 0u);
}

TEST_F(ImageTest, BrokerLifecycleRecordsNeedTheRegisteredEpoch) {
  md::RegisterBrokerRecord record;
  record.broker_id = 2;
  record.broker_epoch = 7;
  record.incarnation_id = first_byte_id(8);
  record.rack = "r1";
  record.features.push_back({"metadata.version", 1, 20, {}});
  ASSERT_TRUE(apply(record, md::RegisterBrokerRecord::max_version));  // fenced by default
  const BrokerImage& broker = image_.brokers.at(2);
  EXPECT_TRUE(broker.fenced);
  EXPECT_EQ(broker.epoch, 7);
  EXPECT_EQ(broker.incarnation_id, first_byte_id(8));
  EXPECT_EQ(broker.registration_offset, image_.offset);
  ASSERT_EQ(broker.features.size(), 1u);
  EXPECT_EQ(broker.features[0].max_version, 20);
  // Another incarnation's epoch, or an unknown broker: refused, as Kafka
  // refuses to replay them.
  EXPECT_FALSE(apply(md::UnfenceBrokerRecord{2, 6, {}}));
  EXPECT_FALSE(apply(md::FenceBrokerRecord{3, 7, {}}));
  EXPECT_FALSE(apply(md::UnregisterBrokerRecord{2, 8, {}}));
  EXPECT_FALSE(apply(md::UnregisterBrokerRecord{3, 7, {}}));
  ASSERT_TRUE(apply(md::UnfenceBrokerRecord{2, 7, {}}));
  EXPECT_FALSE(image_.brokers.at(2).fenced);

  md::BrokerRegistrationChangeRecord change;
  change.broker_id = 2;
  change.broker_epoch = 7;
  change.in_controlled_shutdown = 1;
  ASSERT_TRUE(apply(change, 1));
  EXPECT_TRUE(image_.brokers.at(2).in_controlled_shutdown);
  EXPECT_FALSE(image_.brokers.at(2).active());
  change.in_controlled_shutdown = 0;
  change.fenced = 1;
  ASSERT_TRUE(apply(change, 1));
  EXPECT_TRUE(image_.brokers.at(2).fenced);
  change.fenced = -1;
  ASSERT_TRUE(apply(change, 1));
  EXPECT_FALSE(image_.brokers.at(2).fenced);
  change.fenced = 2;  // no such change
  EXPECT_FALSE(apply(change, 1));
  change.fenced = 1;
  change.broker_epoch = 6;
  EXPECT_FALSE(apply(change, 1));
}

TEST_F(ImageTest, RecordsContradictingTheImageAreErrors) {
  EXPECT_FALSE(apply(partition(first_byte_id(9), 0, {1})));  // unknown topic
  EXPECT_FALSE(apply(md::RemoveTopicRecord{first_byte_id(9), {}}));
  EXPECT_FALSE(apply(md::ConfigRecord{config_resource_topic, "nope", "retention.ms", "1", {}}));
  ASSERT_TRUE(apply(md::TopicRecord{"x", first_byte_id(5), {}}));
  EXPECT_FALSE(apply(md::TopicRecord{"x", first_byte_id(6), {}}));  // name taken
  EXPECT_FALSE(apply(md::TopicRecord{"y", first_byte_id(5), {}}));  // id taken
  // Records the image does not track are accepted and skipped.
  EXPECT_TRUE(apply(md::NoOpRecord{}));
}

}  // namespace
}  // namespace sluice::cluster
