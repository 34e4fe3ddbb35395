// A MetadataDelta names exactly what its records changed, and the image it
// builds shares every untouched topic with the image before (pointer-equal
// objects), so a change to one topic of 10,000 copies that topic only.
#include <gtest/gtest.h>

#include "cluster/metadata_image.h"
#include "protocol/record_framing.h"

namespace sluice::cluster {
namespace {

namespace md = protocol::metadata;

Uuid id_of(uint32_t n) {
  Uuid id;
  id.bytes[12] = static_cast<uint8_t>(n >> 24);
  id.bytes[13] = static_cast<uint8_t>(n >> 16);
  id.bytes[14] = static_cast<uint8_t>(n >> 8);
  id.bytes[15] = static_cast<uint8_t>(n);
  return id;
}

std::vector<uint8_t> topic_record(const std::string& name, const Uuid& id) {
  return md::encode_framed(md::TopicRecord{name, id, {}}, 0);
}

std::vector<uint8_t> partition_record(const Uuid& topic, int32_t partition) {
  md::PartitionRecord record;
  record.topic_id = topic;
  record.partition_id = partition;
  record.replicas = {1};
  record.isr = {1};
  record.leader = 1;
  record.leader_epoch = 0;
  record.partition_epoch = 0;
  return md::encode_framed(record, 0);
}

std::vector<uint8_t> leader_change(const Uuid& topic, int32_t partition, int32_t leader) {
  md::PartitionChangeRecord record;
  record.topic_id = topic;
  record.partition_id = partition;
  record.leader = leader;
  return md::encode_framed(record, 0);
}

std::vector<uint8_t> remove_topic(const Uuid& topic) {
  return md::encode_framed(md::RemoveTopicRecord{topic, {}}, 0);
}

std::string name_of(uint32_t n) { return "topic-" + std::to_string(n); }

// `topics` one-partition topics, replayed into one delta.
MetadataImagePtr image_of(uint32_t topics) {
  MetadataDelta delta(std::make_shared<const MetadataImage>());
  int64_t offset = 0;
  for (uint32_t n = 1; n <= topics; ++n) {
    EXPECT_TRUE(delta.replay(topic_record(name_of(n), id_of(n)), offset++));
    EXPECT_TRUE(delta.replay(partition_record(id_of(n), 0), offset++));
  }
  return delta.apply();
}

// Every topic of `before` other than `except` is the same object in `after`.
size_t shared_topics(const MetadataImage& before, const MetadataImage& after,
                     const std::string& except) {
  size_t shared = 0;
  for (const auto& [name, topic] : before.topics)
    if (name != except && after.shared_topic(name) == topic) ++shared;
  return shared;
}

TEST(MetadataDelta, OneTopicChangedOfTenThousandSharesTheOthers) {
  constexpr uint32_t topics = 10'000;
  MetadataImagePtr before = image_of(topics);
  ASSERT_EQ(before->topics.size(), topics);
  const std::string changed = name_of(4242);

  MetadataDelta delta(before);
  ASSERT_TRUE(delta.replay(partition_record(id_of(4242), 1), before->offset + 1));
  MetadataImagePtr after = delta.apply();

  EXPECT_EQ(shared_topics(*before, *after, changed), topics - 1);
  EXPECT_NE(after->shared_topic(changed), before->shared_topic(changed));
  EXPECT_EQ(after->topic(changed)->partitions.size(), 2u);
  EXPECT_EQ(before->topic(changed)->partitions.size(), 1u) << "the image before is not changed";
  EXPECT_EQ(after->offset, before->offset + 1);

  ASSERT_EQ(delta.changed_topics().size(), 1u);
  const auto& [name, change] = *delta.changed_topics().begin();
  EXPECT_EQ(name, changed);
  EXPECT_FALSE(change.created);
  EXPECT_FALSE(change.configs_changed);
  EXPECT_EQ(change.changed_partitions, std::set<int32_t>{1});
  EXPECT_EQ(change.image, after->shared_topic(changed));
  EXPECT_TRUE(delta.deleted_topics().empty());
  EXPECT_FALSE(delta.brokers_changed());
  EXPECT_FALSE(delta.broker_configs_changed());
}

TEST(MetadataDelta, CreatedAndDeletedTopicsAreNamedAndTheRestShared) {
  MetadataImagePtr before = image_of(100);
  MetadataDelta delta(before);
  int64_t offset = before->offset;
  ASSERT_TRUE(delta.replay(topic_record("new", id_of(1000)), ++offset));
  ASSERT_TRUE(delta.replay(partition_record(id_of(1000), 0), ++offset));
  ASSERT_TRUE(delta.replay(remove_topic(id_of(7)), ++offset));
  ASSERT_TRUE(delta.replay(leader_change(id_of(8), 0, 2), ++offset));
  MetadataImagePtr after = delta.apply();

  EXPECT_EQ(delta.deleted_topics(), (std::map<Uuid, std::string>{{id_of(7), name_of(7)}}));
  ASSERT_EQ(delta.changed_topics().size(), 2u);
  EXPECT_TRUE(delta.changed_topics().at("new").created);
  EXPECT_EQ(delta.changed_topics().at(name_of(8)).changed_partitions, std::set<int32_t>{0});
  EXPECT_EQ(after->topic(name_of(7)), nullptr);
  EXPECT_EQ(after->topic(id_of(7)), nullptr);
  EXPECT_EQ(after->topic(name_of(8))->partitions[0].leader_epoch, 1);
  EXPECT_EQ(before->topic(name_of(8))->partitions[0].leader_epoch, 0);
  EXPECT_EQ(after->topic(id_of(1000))->name, "new");
  size_t shared = 0;
  for (const auto& [name, topic] : after->topics)
    if (before->shared_topic(name) == topic) ++shared;
  EXPECT_EQ(shared, 98u);  // 100, less the deleted and the changed one
}

TEST(MetadataDelta, ATopicRecreatedUnderItsNameIsDeletedAndCreated) {
  MetadataImagePtr before = image_of(3);
  MetadataDelta delta(before);
  ASSERT_TRUE(delta.replay(remove_topic(id_of(2)), 10));
  EXPECT_EQ(delta.topic(name_of(2)), nullptr) << "lookups see the records replayed so far";
  ASSERT_TRUE(delta.replay(topic_record(name_of(2), id_of(20)), 11));
  MetadataImagePtr after = delta.apply();
  EXPECT_EQ(delta.deleted_topics().count(id_of(2)), 1u);
  EXPECT_TRUE(delta.changed_topics().at(name_of(2)).created);
  EXPECT_EQ(after->topic(name_of(2))->id, id_of(20));
  EXPECT_EQ(after->topic(id_of(2)), nullptr);
  EXPECT_TRUE(after->topic(name_of(2))->partitions.empty());
}

TEST(MetadataDelta, ARejectedRecordChangesNothing) {
  MetadataImagePtr before = image_of(2);
  MetadataDelta delta(before);
  EXPECT_FALSE(delta.replay(partition_record(id_of(99), 0), 5));
  EXPECT_FALSE(delta.replay(leader_change(id_of(1), 7, 1), 5)) << "unknown partition";
  EXPECT_FALSE(delta.topics_changed());
  EXPECT_EQ(delta.apply()->shared_topic(name_of(1)), before->shared_topic(name_of(1)));
}

// An image handed out is never changed by later records: the delta copies a
// topic again after apply().
TEST(MetadataDelta, ReplayingAfterApplyLeavesThePublishedImageAlone) {
  MetadataImagePtr before = image_of(1);
  MetadataDelta delta(before);
  ASSERT_TRUE(delta.replay(partition_record(id_of(1), 1), 5));
  MetadataImagePtr first = delta.apply();
  ASSERT_TRUE(delta.replay(partition_record(id_of(1), 2), 6));
  MetadataImagePtr second = delta.apply();
  EXPECT_EQ(first->topic(name_of(1))->partitions.size(), 2u);
  EXPECT_EQ(second->topic(name_of(1))->partitions.size(), 3u);
}

TEST(MetadataDelta, BetweenTwoImagesNamesTheDifference) {
  MetadataImagePtr before = image_of(5);
  MetadataDelta delta(before);
  ASSERT_TRUE(delta.replay(leader_change(id_of(3), 0, 2), 20));
  ASSERT_TRUE(delta.replay(remove_topic(id_of(4)), 21));
  MetadataImagePtr after = delta.apply();
  MetadataDelta difference = MetadataDelta::between(before, *after);
  EXPECT_EQ(difference.deleted_topics(), delta.deleted_topics());
  ASSERT_EQ(difference.changed_topics().size(), 1u);
  EXPECT_EQ(difference.changed_topics().at(name_of(3)).changed_partitions, std::set<int32_t>{0});

  MetadataDelta everything =
      MetadataDelta::between(std::make_shared<const MetadataImage>(), *after);
  EXPECT_EQ(everything.changed_topics().size(), 4u);
  for (const auto& [name, change] : everything.changed_topics()) EXPECT_TRUE(change.created);
}

}  // namespace
}  // namespace sluice::cluster
