// Metadata answers from topic parts encoded once per image
// (broker/metadata_answer.h): the bytes equal those of the generated
// MetadataResponse built afresh in every version; a new image (leader
// change, partition added, topic deleted) is answered from its own parts at
// once; the operations of who asks are never part of what is cached.
#include "broker/metadata_answer.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "broker/admin_common.h"
#include "cluster/metadata_image.h"
#include "protocol/protocol.h"

// Its own namespace: the target is a unity build with other tests.
namespace sluice::broker::metadata_answer {
namespace {

using protocol::MetadataResponse;
using Topic = MetadataResponse::MetadataResponseTopic;

cluster::TopicImage topic_of(const std::string& name, uint8_t id_byte, int32_t partitions) {
  cluster::TopicImage topic;
  topic.name = name;
  topic.id.bytes[15] = id_byte;
  for (int32_t p = 0; p < partitions; ++p) {
    cluster::PartitionImage partition;
    partition.partition = p;
    partition.replicas = {1 + p % 3, 1 + (p + 1) % 3, 1 + (p + 2) % 3};
    partition.isr = {1 + p % 3};
    partition.leader = p % 5 == 4 ? -1 : 1 + p % 3;  // some offline
    partition.leader_epoch = p % 7;
    topic.partitions.push_back(partition);
  }
  return topic;
}

// Brokers 1 and 2 (2 fenced; 3 unknown: offline replicas), three topics
// (one internal, one of 9,999 partitions: its part is referenced, not copied).
cluster::MetadataImagePtr base_image() {
  auto image = std::make_shared<cluster::MetadataImage>();
  image->cluster_id = "cluster";
  image->controller_id = 1;
  image->offset = 10;
  image->brokers[1].node_id = 1;
  image->brokers[1].endpoints = {{"PLAINTEXT", "h1", 9092, 0}};
  image->brokers[2].node_id = 2;
  image->brokers[2].fenced = true;
  image->put_topic(topic_of("t", 1, 6));
  image->put_topic(topic_of("__consumer_offsets", 2, 3));
  image->put_topic(topic_of("big", 3, 9999));
  return image;
}

// The next image: `change` applied to a copy (topics shared, as in
// MetadataDelta::apply).
template <class Change>
cluster::MetadataImagePtr next_image(const cluster::MetadataImagePtr& image, Change change) {
  auto next = std::make_shared<cluster::MetadataImage>(*image);
  next->offset = image->offset + 1;
  change(*next);
  return next;
}

void fill_head(MetadataResponse& head) {
  head.brokers.push_back({1, "h1", 9092, std::string("rack"), {}});
  head.brokers.push_back({3, "h3", 9093, std::nullopt, {}});
  head.cluster_id = "cluster";
  head.controller_id = 1;
  head.cluster_authorized_operations = 0x1234;
}

std::vector<uint8_t> encoded(const MetadataAnswer& answer, int16_t version) {
  WireWriter writer;
  answer.encode(writer, version);
  EXPECT_EQ(writer.size(), answer.size(version));
  return writer.to_vector();
}

std::vector<uint8_t> encoded(const MetadataResponse& response, int16_t version) {
  WireWriter writer;
  response.encode(writer, version);
  return writer.to_vector();
}

Topic error_topic() {
  Topic error;
  error.error_code = 3;
  error.name = "missing";
  return error;
}

// The answer from cached parts and the generated response built afresh, for
// `topics` of `image` with `operations` each.
void expect_same_bytes(TopicPartCache& cache, const cluster::MetadataImagePtr& image,
                       const std::vector<std::string>& topics, int32_t operations) {
  for (int16_t version = MetadataResponse::min_version; version <= MetadataResponse::max_version;
       ++version) {
    SCOPED_TRACE("version " + std::to_string(version));
    MetadataAnswer answer;
    answer.throttle_time_ms = 7;
    fill_head(answer.head);
    MetadataResponse fresh;
    fresh.throttle_time_ms = 7;
    fill_head(fresh);
    for (const std::string& name : topics) {
      const cluster::TopicImage& topic = *image->topic(name);
      answer.add_topic(cache.part(image, topic, version), operations);
      fresh.topics.push_back(describe_topic(*image, topic));
      fresh.topics.back().topic_authorized_operations = operations;
    }
    answer.add_error(error_topic());
    fresh.topics.push_back(error_topic());
    EXPECT_EQ(encoded(answer, version), encoded(fresh, version));
  }
}

TEST(MetadataAnswerTest, CachedAnswerIsTheFreshOneInEveryVersion) {
  TopicPartCache cache;
  cluster::MetadataImagePtr image = base_image();
  const std::vector<std::string> topics = {"t", "__consumer_offsets", "big"};
  expect_same_bytes(cache, image, topics, authorized_operations_omitted);
  // Second time from the cache (13 versions x 3 topics), with operations.
  EXPECT_EQ(cache.size(), 13U * 3U);
  expect_same_bytes(cache, image, topics, topic_authorized_operations_all);
  EXPECT_EQ(cache.size(), 13U * 3U);
}

TEST(MetadataAnswerTest, OnePartPerImageTopicAndVersion) {
  TopicPartCache cache;
  cluster::MetadataImagePtr image = base_image();
  const cluster::TopicImage& big = *image->topic("big");
  EncodedTopicPart first = cache.part(image, big, 12);
  EXPECT_EQ(cache.part(image, big, 12), first);  // the same bytes, not re-encoded
  EXPECT_NE(cache.part(image, big, 4), first);
  EXPECT_EQ(cache.size(), 2U);
  // Large parts are referenced by the writer: the answer keeps them alive.
  MetadataAnswer answer;
  answer.add_topic(first, 0);
  ASSERT_EQ(answer.keep_alive().size(), 1U);
  EXPECT_EQ(answer.keep_alive()[0], first);
}

std::vector<uint8_t> fresh_part(const cluster::MetadataImagePtr& image, const std::string& name,
                                int16_t version) {
  return *encode_topic_part(*image, *image->topic(name), version);
}

TEST(MetadataAnswerTest, ALeaderChangeIsSeenAtOnce) {
  TopicPartCache cache;
  cluster::MetadataImagePtr image = base_image();
  const std::vector<uint8_t> before = *cache.part(image, *image->topic("t"), 12);
  cluster::MetadataImagePtr next = next_image(image, [](cluster::MetadataImage& next) {
    cluster::TopicImage topic = *next.topic("t");
    topic.partitions[0].leader = 2;
    topic.partitions[0].leader_epoch += 1;
    topic.partitions[0].isr = {2};
    next.put_topic(std::move(topic));
  });
  const std::vector<uint8_t> after = *cache.part(next, *next->topic("t"), 12);
  EXPECT_NE(after, before);
  EXPECT_EQ(after, fresh_part(next, "t", 12));
  EXPECT_EQ(cache.size(), 1U);  // the old image's part dropped
}

TEST(MetadataAnswerTest, ABrokerFencedChangesOfflineReplicasOfUntouchedTopics) {
  TopicPartCache cache;
  cluster::MetadataImagePtr image = base_image();
  const std::vector<uint8_t> before = *cache.part(image, *image->topic("t"), 12);
  // The topic object is the same in both images; the broker's state is not.
  cluster::MetadataImagePtr next =
      next_image(image, [](cluster::MetadataImage& next) { next.brokers[2].fenced = false; });
  ASSERT_EQ(next->topic("t"), image->topic("t"));
  const std::vector<uint8_t> after = *cache.part(next, *next->topic("t"), 12);
  EXPECT_NE(after, before);
  EXPECT_EQ(after, fresh_part(next, "t", 12));
}

TEST(MetadataAnswerTest, APartitionAddedIsSeenAtOnce) {
  TopicPartCache cache;
  cluster::MetadataImagePtr image = base_image();
  (void)cache.part(image, *image->topic("t"), 9);
  cluster::MetadataImagePtr next =
      next_image(image, [](cluster::MetadataImage& next) { next.put_topic(topic_of("t", 1, 7)); });
  EXPECT_EQ(*cache.part(next, *next->topic("t"), 9), fresh_part(next, "t", 9));
  MetadataResponse decoded;
  MetadataAnswer answer;
  answer.add_topic(cache.part(next, *next->topic("t"), 9), 0);
  std::vector<uint8_t> bytes = encoded(answer, 9);
  WireReader reader(Bytes(bytes.data(), bytes.size()));
  ASSERT_TRUE(decoded.decode(reader, 9).ok());
  ASSERT_EQ(decoded.topics.size(), 1U);
  EXPECT_EQ(decoded.topics[0].partitions.size(), 7U);
}

TEST(MetadataAnswerTest, ADeletedTopicsPartsAreDropped) {
  TopicPartCache cache;
  cluster::MetadataImagePtr image = base_image();
  for (const std::string name : {"t", "big"}) (void)cache.part(image, *image->topic(name), 12);
  EXPECT_EQ(cache.size(), 2U);
  cluster::MetadataImagePtr next = next_image(image, [](cluster::MetadataImage& next) {
    next.topic_names.erase(next.topic("big")->id);
    next.topics.erase("big");
  });
  (void)cache.part(next, *next->topic("t"), 12);
  EXPECT_EQ(cache.size(), 1U);
}

TEST(MetadataAnswerTest, ALateRequestOnAnOlderImageNeitherEvictsNorIsCached) {
  TopicPartCache cache;
  cluster::MetadataImagePtr old_image = base_image();
  cluster::MetadataImagePtr image = next_image(old_image, [](cluster::MetadataImage& next) {
    cluster::TopicImage topic = *next.topic("t");
    topic.partitions[1].leader = -1;
    next.put_topic(std::move(topic));
  });
  (void)cache.part(image, *image->topic("t"), 12);
  EXPECT_EQ(*cache.part(old_image, *old_image->topic("t"), 12), fresh_part(old_image, "t", 12));
  EXPECT_EQ(cache.size(), 1U);
  EXPECT_EQ(*cache.part(image, *image->topic("t"), 12), fresh_part(image, "t", 12));
}

// The cached part holds nothing of who asks: two principals' answers share
// it and each carries its own operations (computed per request by the
// handler from the ACLs).
TEST(MetadataAnswerTest, EachAskerGetsItsOwnOperations) {
  TopicPartCache cache;
  cluster::MetadataImagePtr image = base_image();
  for (int16_t version = 8; version <= MetadataResponse::max_version; ++version) {
    EncodedTopicPart part = cache.part(image, *image->topic("t"), version);
    MetadataAnswer alice;
    alice.add_topic(part, 1 << 3);  // READ
    MetadataAnswer bob;
    bob.add_topic(cache.part(image, *image->topic("t"), version), 1 << 8);  // DESCRIBE
    for (auto [answer, operations] : {std::pair<MetadataAnswer*, int32_t>(&alice, 1 << 3),
                                      std::pair<MetadataAnswer*, int32_t>(&bob, 1 << 8)}) {
      std::vector<uint8_t> bytes = encoded(*answer, version);
      WireReader reader(Bytes(bytes.data(), bytes.size()));
      MetadataResponse decoded;
      ASSERT_TRUE(decoded.decode(reader, version).ok());
      EXPECT_EQ(decoded.topics.at(0).topic_authorized_operations, operations);
    }
  }
}

}  // namespace
}  // namespace sluice::broker::metadata_answer
