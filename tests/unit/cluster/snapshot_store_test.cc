// Metadata snapshots on disk: Kafka's checkpoint format (header batch with
// SnapshotHeaderRecord, KRaftVersionRecord, VotersRecord; data batches;
// footer batch) and the file store (names, atomic commit, corrupt and
// partial files, crashes); the image written as records and read back.
#include "cluster/snapshot_store.h"

#include <gtest/gtest.h>

#include "cluster/image_records.h"
#include "cluster/snapshot_format.h"
#include "protocol/codec.h"
#include "protocol/messages.h"
#include "protocol/record_framing.h"
#include "record/batch.h"
#include "record/record_reader.h"
#include "storage/memory_file_system.h"

namespace sluice::cluster {
namespace {

namespace md = protocol::metadata;

const std::string dir = "/meta/__cluster_metadata-0";

Bytes bytes_of(const std::string& text) {
  return Bytes(reinterpret_cast<const uint8_t*>(text.data()), text.size());
}

std::vector<std::vector<uint8_t>> topic_records(int count) {
  std::vector<std::vector<uint8_t>> out;
  for (int i = 0; i < count; ++i) {
    Uuid id;
    id.bytes[0] = static_cast<uint8_t>(i + 1);
    out.push_back(md::encode_framed(md::TopicRecord{"t" + std::to_string(i), id, {}}, 0));
  }
  return out;
}

std::string checkpoint(int records, int64_t end = 100, int32_t epoch = 3) {
  SnapshotFormatOptions options;
  options.end_offset = end;
  options.epoch = epoch;
  options.last_contained_log_timestamp_ms = 1234;
  options.now_ms = 5678;
  return encode_checkpoint(options, voter_set(std::set<int32_t>{1, 2, 3}),
                           snapshot_data_batches(topic_records(records), 5678));
}

struct Batch {
  record::BatchHeader header;
  std::vector<int16_t> control_types;  // of a control batch's records
  int records = 0;
};

std::vector<Batch> batches_of(const std::string& bytes) {
  std::vector<Batch> out;
  Bytes rest = bytes_of(bytes);
  while (!rest.empty()) {
    auto header = record::read_batch_header(rest);
    EXPECT_TRUE(header.is_ok());
    if (!header) break;
    Bytes batch = rest.first(header->size_bytes());
    rest = rest.subspan(header->size_bytes());
    EXPECT_TRUE(record::validate_batch(batch)) << "CRC and lengths hold";
    Batch entry{*header, {}, 0};
    auto reader = record::RecordReader::open(batch);
    record::Record record;
    while (reader->next(record)) {
      ++entry.records;
      if (header->is_control())
        entry.control_types.push_back(
            static_cast<int16_t>(((*record.key)[2] << 8) | (*record.key)[3]));
    }
    out.push_back(entry);
  }
  return out;
}

TEST(SnapshotFormat, KafkasLayoutHeaderVotersRecordsFooter) {
  const std::string bytes = checkpoint(5);
  std::vector<Batch> batches = batches_of(bytes);
  ASSERT_EQ(batches.size(), 3u);
  // The header batch: SnapshotHeader (3), KRaftVersion (5), Voters (6) at offsets 0..2.
  EXPECT_TRUE(batches[0].header.is_control());
  EXPECT_EQ(batches[0].control_types, (std::vector<int16_t>{3, 5, 6}));
  EXPECT_EQ(batches[0].header.base_offset, 0);
  EXPECT_EQ(batches[0].header.partition_leader_epoch, 3);
  // The data: one batch of 5 records right after.
  EXPECT_FALSE(batches[1].header.is_control());
  EXPECT_EQ(batches[1].header.base_offset, 3);
  EXPECT_EQ(batches[1].records, 5);
  EXPECT_EQ(batches[1].header.partition_leader_epoch, 3);
  // The footer (4) last.
  EXPECT_TRUE(batches[2].header.is_control());
  EXPECT_EQ(batches[2].control_types, (std::vector<int16_t>{4}));
  EXPECT_EQ(batches[2].header.base_offset, 8);

  auto content = decode_checkpoint(bytes_of(bytes));
  ASSERT_TRUE(content.is_ok()) << content.status().to_string();
  EXPECT_EQ(content->last_contained_log_timestamp_ms, 1234);
  EXPECT_EQ(content->kraft_version, 1);
  ASSERT_TRUE(content->voters.has_value());
  EXPECT_EQ(voter_ids(*content->voters), (std::set<int32_t>{1, 2, 3}));
  EXPECT_EQ(content->record_count, 5);
  std::vector<std::vector<uint8_t>> values;
  ASSERT_TRUE(for_each_snapshot_record(bytes_of(content->data_batches), [&](Bytes value) {
    values.emplace_back(value.begin(), value.end());
    return Status::ok();
  }));
  EXPECT_EQ(values, topic_records(5));
}

TEST(SnapshotFormat, HeaderValuesDecodeAsKafkasRecords) {
  const std::string bytes = checkpoint(1);
  Bytes rest = bytes_of(bytes);
  auto header = record::read_batch_header(rest);
  auto reader = record::RecordReader::open(rest.first(header->size_bytes()));
  record::Record record;
  ASSERT_TRUE(reader->next(record));
  protocol::SnapshotHeaderRecord snapshot_header;
  ASSERT_TRUE(protocol::decode_exact(*record.value, 0, snapshot_header));
  EXPECT_EQ(snapshot_header.version_, 0);
  EXPECT_EQ(snapshot_header.last_contained_log_timestamp, 1234);
  ASSERT_TRUE(reader->next(record));
  protocol::KRaftVersionRecord version;
  ASSERT_TRUE(protocol::decode_exact(*record.value, 0, version));
  EXPECT_EQ(version.kraft_version, 1);
  ASSERT_TRUE(reader->next(record));
  protocol::VotersRecord voters;
  ASSERT_TRUE(protocol::decode_exact(*record.value, 0, voters));
  ASSERT_EQ(voters.voters.size(), 3u);
  EXPECT_EQ(voters.voters[2].voter_id, 3);
}

TEST(SnapshotFormat, ManyRecordsSplitIntoBatchesWithContinuousOffsets) {
  auto records = topic_records(200);
  SnapshotFormatOptions options;
  options.end_offset = 500;
  options.epoch = 2;
  std::string bytes = encode_checkpoint(options, voter_set(std::set<int32_t>{1}),
                                        snapshot_data_batches(records, 0, 512));
  std::vector<Batch> batches = batches_of(bytes);
  ASSERT_GT(batches.size(), 4u);
  int64_t next = 0;
  for (const Batch& batch : batches) {
    EXPECT_EQ(batch.header.base_offset, next);
    next = batch.header.next_offset();
  }
  auto content = decode_checkpoint(bytes_of(bytes));
  ASSERT_TRUE(content.is_ok());
  EXPECT_EQ(content->record_count, 200);
}

TEST(SnapshotFormat, BadInputIsAnErrorNeverACrash) {
  const std::string good = checkpoint(20);
  // Every truncation point.
  for (size_t size = 0; size < good.size(); ++size)
    EXPECT_FALSE(decode_checkpoint(bytes_of(good.substr(0, size))).is_ok()) << "cut at " << size;
  // A flipped byte anywhere is caught (CRC, lengths, header checks).
  for (size_t at = 0; at < good.size(); at += 7) {
    std::string bad = good;
    bad[at] = static_cast<char>(bad[at] ^ 0x5a);
    auto content = decode_checkpoint(bytes_of(bad));
    // Base offsets and the leader epoch are outside the CRC (as in Kafka):
    // a flip there may still decode, but then the records are intact.
    if (content) {
      EXPECT_EQ(content->record_count, 20) << "flip at " << at;
    }
  }
  // Bytes after the footer, and a missing header.
  EXPECT_FALSE(decode_checkpoint(bytes_of(good + good)).is_ok());
  std::string data_only = snapshot_data_batches(topic_records(2), 0);
  EXPECT_FALSE(decode_checkpoint(bytes_of(data_only)).is_ok());
  EXPECT_FALSE(decode_checkpoint(bytes_of(std::string(100, '\xff'))).is_ok());
}

TEST(SnapshotStoreNames, KafkasFileNames) {
  EXPECT_EQ(FileSnapshotStore::file_name({1234, 7}), "00000000000000001234-0000000007.checkpoint");
  auto id = FileSnapshotStore::parse_file_name("00000000000000001234-0000000007.checkpoint");
  ASSERT_TRUE(id.has_value());
  EXPECT_EQ(*id, (raft::SnapshotId{1234, 7}));
  EXPECT_FALSE(
      FileSnapshotStore::parse_file_name("00000000000000001234-0000000007.checkpoint.part"));
  EXPECT_FALSE(FileSnapshotStore::parse_file_name("1234-7.checkpoint"));
  EXPECT_FALSE(FileSnapshotStore::parse_file_name("00000000000000000000.log"));
}

class SnapshotStoreTest : public ::testing::Test {
 protected:
  // The metadata log made the dir durable before (its own open).
  SnapshotStoreTest() {
    EXPECT_TRUE(fs_.make_dirs(dir));
    for (const char* path : {"/", "/meta", dir.c_str()}) EXPECT_TRUE(fs_.sync_dir(path));
  }
  std::unique_ptr<FileSnapshotStore> open() {
    auto store = FileSnapshotStore::open(fs_, dir);
    EXPECT_TRUE(store.is_ok()) << store.status().to_string();
    return store ? std::move(store.value()) : nullptr;
  }
  void write(FileSnapshotStore& store, raft::SnapshotId id, int records) {
    store.begin_write(id);
    std::string bytes = store.encode(id, {1, 2}, snapshot_data_batches(topic_records(records), 0));
    // In two chunks, as a follower downloads it.
    store.append(std::string_view(bytes).substr(0, bytes.size() / 2));
    store.append(std::string_view(bytes).substr(bytes.size() / 2));
    store.commit();
  }
  void put_file(const std::string& name, const std::string& bytes) {
    auto file = fs_.open(dir + "/" + name, storage::OpenMode::create_truncate);
    ASSERT_TRUE(file.is_ok());
    ASSERT_TRUE((*file)->append(bytes_of(bytes)));
    ASSERT_TRUE((*file)->sync());
    ASSERT_TRUE(fs_.sync_dir(dir));
  }
  std::vector<std::string> files() { return fs_.list_dir(dir).value(); }

  storage::MemoryFileSystem fs_;
};

TEST_F(SnapshotStoreTest, TheVotersRecordCarriesWhatTheQuorumKnowsOfEachVoter) {
  auto store = open();
  Uuid directory;
  directory.bytes[0] = 7;
  store->set_voter_details([directory](const std::set<raft::NodeId>& ids) {
    VoterSet voters = voter_set(ids);
    voters[2].endpoints = {{"CONTROLLER", "127.0.0.2", 9093}};
    voters[2].directory_id = directory;
    return voters;
  });
  write(*store, {10, 1}, 1);
  std::optional<VoterSet> voters = store->voter_set({10, 1});
  ASSERT_TRUE(voters.has_value());
  EXPECT_EQ(voter_ids(*voters), (std::set<int32_t>{1, 2}));
  EXPECT_TRUE(voters->at(1).endpoints.empty());
  EXPECT_EQ(voters->at(2).endpoints,
            (std::vector<VoterEndpoint>{{"CONTROLLER", "127.0.0.2", 9093}}));
  EXPECT_EQ(voters->at(2).directory_id, directory);
  EXPECT_EQ(store->voters({10, 1}), (std::set<int32_t>{1, 2}));
}

TEST_F(SnapshotStoreTest, WriteReadAndReopen) {
  auto store = open();
  EXPECT_FALSE(store->latest().has_value());
  write(*store, {10, 1}, 3);
  ASSERT_EQ(store->latest(), (raft::SnapshotId{10, 1}));
  EXPECT_EQ(files(), (std::vector<std::string>{"00000000000000000010-0000000001.checkpoint"}));
  const int64_t size = store->size({10, 1});
  EXPECT_GT(size, 0);
  EXPECT_EQ(store->size({11, 1}), -1);
  EXPECT_EQ(store->read({10, 1}, size - 5, 100).size(), 5u);
  EXPECT_EQ(store->voters({10, 1}), (std::set<int32_t>{1, 2}));
  auto content = store->load({10, 1});
  ASSERT_TRUE(content.is_ok());
  EXPECT_EQ(content->record_count, 3);

  fs_.simulate_crash();  // a committed snapshot is durable
  store = open();
  EXPECT_EQ(store->latest(), (raft::SnapshotId{10, 1}));
}

TEST_F(SnapshotStoreTest, NewerDeletesOlderAndAPartialWriteIsGone) {
  auto store = open();
  write(*store, {10, 1}, 3);
  write(*store, {20, 2}, 4);
  store->delete_before({20, 2});
  EXPECT_EQ(files(), (std::vector<std::string>{"00000000000000000020-0000000002.checkpoint"}));
  // A write never committed: a .part left behind, removed at the next open.
  store->begin_write({30, 2});
  store->append("half of a snapshot");
  EXPECT_EQ(files().size(), 2u);
  store = open();
  EXPECT_EQ(files(), (std::vector<std::string>{"00000000000000000020-0000000002.checkpoint"}));
  EXPECT_EQ(store->latest(), (raft::SnapshotId{20, 2}));
}

TEST_F(SnapshotStoreTest, CrashBeforeCommitKeepsThePreviousSnapshot) {
  auto store = open();
  write(*store, {10, 1}, 3);
  store->begin_write({20, 1});
  std::string bytes = store->encode({20, 1}, {1}, snapshot_data_batches(topic_records(2), 0));
  store->append(bytes);
  fs_.simulate_crash();
  store = open();
  EXPECT_EQ(store->latest(), (raft::SnapshotId{10, 1}));
  EXPECT_EQ(files(), (std::vector<std::string>{"00000000000000000010-0000000001.checkpoint"}));
}

TEST_F(SnapshotStoreTest, ACorruptOrTruncatedNewestFallsBackToTheOlderOne) {
  auto store = open();
  write(*store, {10, 1}, 3);
  store.reset();
  const std::string good = checkpoint(4, 20, 2);
  put_file("00000000000000000020-0000000002.checkpoint", good.substr(0, good.size() - 10));
  std::string flipped = checkpoint(4, 30, 2);
  flipped[flipped.size() / 2] ^= 0x01;
  put_file("00000000000000000030-0000000002.checkpoint", flipped);
  store = open();
  EXPECT_EQ(store->latest(), (raft::SnapshotId{10, 1}));
  // Both are kept aside for the operator, never read again.
  EXPECT_EQ(files(), (std::vector<std::string>{
                         "00000000000000000010-0000000001.checkpoint",
                         "00000000000000000020-0000000002.checkpoint.corrupt",
                         "00000000000000000030-0000000002.checkpoint.corrupt",
                     }));
}

TEST_F(SnapshotStoreTest, OnlyCorruptSnapshotsMeansNone) {
  put_file("00000000000000000020-0000000002.checkpoint", "not a snapshot");
  put_file("00000000000000000000-0000000000.checkpoint", "");
  auto store = open();
  EXPECT_FALSE(store->latest().has_value());
}

TEST_F(SnapshotStoreTest, AFailingDiskCallsTheFatalHook) {
  auto store = open();
  std::string fatal;
  store->set_fatal_hook([&](const std::string& message) { fatal = message; });
  fs_.fail_writes(true);
  write(*store, {10, 1}, 3);
  EXPECT_NE(fatal.find("metadata snapshot"), std::string::npos) << fatal;
  EXPECT_FALSE(store->latest().has_value());
}

// --- the image as records ---

MetadataImagePtr rich_image() {
  auto image = std::make_shared<MetadataImage>();
  image->cluster_id = "c";
  image->controller_id = 1;
  image->offset = 41;
  image->features["metadata.version"] = 21;
  BrokerImage broker;
  broker.node_id = 1;
  broker.epoch = 7;
  broker.registration_offset = 41;
  broker.incarnation_id.bytes[3] = 9;
  broker.rack = "r1";
  broker.endpoints = {{"PLAINTEXT", "127.0.0.1", 9092, 0}, {"SSL", "h", 9093, 1}};
  broker.features = {{"metadata.version", 1, 21}};
  image->brokers[1] = broker;
  BrokerImage fenced = broker;
  fenced.node_id = 2;
  fenced.epoch = 12;
  fenced.rack.reset();
  fenced.fenced = true;
  image->brokers[2] = fenced;
  BrokerImage leaving = broker;
  leaving.node_id = 3;
  leaving.in_controlled_shutdown = true;
  image->brokers[3] = leaving;
  image->broker_configs[""]["log.retention.ms"] = "1000";
  image->broker_configs["2"]["log.cleaner.threads"] = "2";
  // SCRAM credentials and ACLs (issue 18) are part of the image too.
  image->scram_credentials["alice"][1] = {
      {1, 2, 3}, std::vector<uint8_t>(32, 4), std::vector<uint8_t>(32, 5), 4096};
  image->scram_credentials["alice"][2] = {
      {6}, std::vector<uint8_t>(64, 7), std::vector<uint8_t>(64, 8), 8192};
  Uuid acl_id;
  acl_id.bytes[5] = 1;
  image->acls[acl_id] = {security::ResourceType::TOPIC,
                         "topic-",
                         security::PatternType::PREFIXED,
                         "User:alice",
                         "*",
                         security::AclOperation::READ,
                         security::AclPermissionType::ALLOW};
  image->client_quotas[{{"user", "alice"}, {"client-id", std::nullopt}}]["producer_byte_rate"] =
      1048576;
  image->client_quotas[{{"user", std::nullopt}}]["request_percentage"] = 12.5;
  for (int t = 0; t < 3; ++t) {
    TopicImage topic;
    topic.name = "topic-" + std::to_string(t);
    topic.id.bytes[0] = static_cast<uint8_t>(t + 1);
    for (int p = 0; p < 4; ++p) {
      PartitionImage partition;
      partition.partition = p;
      partition.replicas = {1, 2, 3};
      partition.isr = p == 0 ? std::vector<int32_t>{1} : std::vector<int32_t>{1, 3};
      partition.leader = p == 3 ? -1 : 1;
      partition.leader_epoch = p * 2;
      partition.partition_epoch = p * 3;
      topic.partitions.push_back(partition);
    }
    if (t == 1) topic.configs = {{"cleanup.policy", "compact"}, {"retention.ms", "5"}};
    image->put_topic(std::move(topic));
  }
  return image;
}

void expect_equal_images(const MetadataImage& a, const MetadataImage& b) {
  EXPECT_EQ(a.cluster_id, b.cluster_id);
  EXPECT_EQ(a.controller_id, b.controller_id);
  EXPECT_EQ(a.offset, b.offset);
  EXPECT_EQ(a.brokers, b.brokers);
  EXPECT_EQ(a.broker_configs, b.broker_configs);
  EXPECT_EQ(a.features, b.features);
  EXPECT_EQ(a.scram_credentials, b.scram_credentials);
  EXPECT_EQ(a.acls, b.acls);
  EXPECT_EQ(a.client_quotas, b.client_quotas);
  EXPECT_EQ(a.topic_names, b.topic_names);
  ASSERT_EQ(a.topics.size(), b.topics.size());
  for (const auto& [name, topic] : a.topics) {
    const TopicImage* other = b.topic(name);
    ASSERT_NE(other, nullptr) << name;
    EXPECT_EQ(topic->id, other->id);
    EXPECT_EQ(topic->partitions, other->partitions) << name;
    EXPECT_EQ(topic->configs, other->configs) << name;
  }
}

TEST(ImageRecords, ImageToRecordsToReplayGivesTheSameImage) {
  MetadataImagePtr image = rich_image();
  auto records = image_records(*image);
  auto rebuilt = image_from_records(records, "c", 1, 41);
  ASSERT_TRUE(rebuilt.is_ok()) << rebuilt.status().to_string();
  expect_equal_images(*image, **rebuilt);
  // Deterministic: the same image, the same records.
  EXPECT_EQ(image_records(**rebuilt), records);
}

TEST(ImageRecords, ThroughAWholeCheckpoint) {
  MetadataImagePtr image = rich_image();
  SnapshotFormatOptions options;
  options.end_offset = 42;
  options.epoch = 5;
  std::string bytes = encode_checkpoint(options, voter_set(std::set<int32_t>{1}),
                                        snapshot_data_batches(image_records(*image), 0, 256));
  auto content = decode_checkpoint(bytes_of(bytes));
  ASSERT_TRUE(content.is_ok());
  std::vector<std::vector<uint8_t>> records;
  ASSERT_TRUE(for_each_snapshot_record(bytes_of(content->data_batches), [&](Bytes value) {
    records.emplace_back(value.begin(), value.end());
    return Status::ok();
  }));
  auto rebuilt = image_from_records(records, "c", 1, 41);
  ASSERT_TRUE(rebuilt.is_ok());
  expect_equal_images(*image, **rebuilt);
}

TEST(ImageRecords, AnEmptyImageIsNoRecords) {
  MetadataImage empty;
  EXPECT_TRUE(image_records(empty).empty());
  auto rebuilt = image_from_records({}, "c", 1, 9);
  ASSERT_TRUE(rebuilt.is_ok());
  EXPECT_EQ((*rebuilt)->offset, 9);
}

}  // namespace
}  // namespace sluice::cluster
