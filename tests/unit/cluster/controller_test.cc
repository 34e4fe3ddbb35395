// The controller: validation errors with Kafka's codes, records that make
// topics, ids, partitions, configs and leader epochs survive a restart (and
// a crash, since commits fsync), meta.properties, listeners.
#include "cluster/controller.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <random>
#include <thread>

#include "broker/broker_config.h"
#include "cluster/client_quotas.h"
#include "cluster/meta_properties.h"
#include "protocol/record_framing.h"
#include "storage/memory_file_system.h"
#include "storage/posix_file_system.h"
#include "test_config.h"

namespace sluice::cluster {
namespace {

using testing::broker_config;

class RecordingListener : public MetadataListener {
 public:
  void on_metadata_update(const MetadataDelta& delta, const MetadataImagePtr& new_image) override {
    updates.emplace_back(delta.base_ptr(), new_image);
  }
  std::vector<std::pair<MetadataImagePtr, MetadataImagePtr>> updates;
};

class ControllerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs_.make_dirs("/data"));
    ASSERT_TRUE(fs_.sync_dir("/"));
  }
  std::unique_ptr<Controller> open(int32_t node_id = 1) {
    ControllerOptions options;
    options.node_id = node_id;
    options.metadata_log_dir = "/data";
    options.log_dirs = {"/data"};
    options.broker_config = &config_;
    auto controller = Controller::open(fs_, options);
    EXPECT_TRUE(controller) << controller.status().to_string();
    if (!controller) return nullptr;
    EXPECT_TRUE((*controller)->register_broker({{"PLAINTEXT", "localhost", 9092, 0}}, std::nullopt).ok());
    return std::move(controller.value());
  }
  static NewTopic topic(std::string name, int32_t partitions = -1, int16_t replication = -1) {
    NewTopic out;
    out.name = std::move(name);
    out.num_partitions = partitions;
    out.replication_factor = replication;
    return out;
  }
  ErrorCode create_error(Controller& controller, NewTopic new_topic) {
    return controller.create_topics({std::move(new_topic)}, false).front().error.code;
  }

  storage::MemoryFileSystem fs_;
  Config config_ = broker_config({{"num.partitions", "3"}});
};

TEST_F(ControllerTest, CreatesTopicsWithDefaultsAndAssignsThisNode) {
  auto controller = open();
  auto results = controller->create_topics({topic("a"), topic("b", 2, 1)}, false);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_TRUE(results[0].error.ok()) << results[0].error.message;
  EXPECT_EQ(results[0].num_partitions, 3);  // num.partitions
  EXPECT_EQ(results[0].replication_factor, 1);
  EXPECT_FALSE(results[0].topic_id.is_zero());
  EXPECT_NE(results[0].topic_id, results[1].topic_id);
  MetadataImagePtr image = controller->image();
  const TopicImage* a = image->topic("a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->id, results[0].topic_id);
  ASSERT_EQ(a->partitions.size(), 3u);
  for (const PartitionImage& p : a->partitions) {
    EXPECT_EQ(p.leader, 1);
    EXPECT_EQ(p.replicas, std::vector<int32_t>{1});
    EXPECT_EQ(p.isr, std::vector<int32_t>{1});
    EXPECT_EQ(p.leader_epoch, 0);
  }
  EXPECT_EQ(image->topic("b")->partitions.size(), 2u);
}

TEST_F(ControllerTest, ValidationErrorsUseKafkaCodes) {
  auto controller = open();
  ASSERT_TRUE(controller->create_topics({topic("taken")}, false)[0].error.ok());
  EXPECT_EQ(create_error(*controller, topic("taken")), ErrorCode::TOPIC_ALREADY_EXISTS);
  EXPECT_EQ(create_error(*controller, topic("")), ErrorCode::INVALID_TOPIC_EXCEPTION);
  EXPECT_EQ(create_error(*controller, topic(".")), ErrorCode::INVALID_TOPIC_EXCEPTION);
  EXPECT_EQ(create_error(*controller, topic("..")), ErrorCode::INVALID_TOPIC_EXCEPTION);
  EXPECT_EQ(create_error(*controller, topic("a b")), ErrorCode::INVALID_TOPIC_EXCEPTION);
  EXPECT_EQ(create_error(*controller, topic(std::string(250, 'x'))),
            ErrorCode::INVALID_TOPIC_EXCEPTION);
  EXPECT_TRUE(validate_topic_name(std::string(249, 'x')).ok());
  EXPECT_TRUE(validate_topic_name("a.b_c-D9").ok());
  ASSERT_TRUE(controller->create_topics({topic("dot.ted")}, false)[0].error.ok());
  EXPECT_EQ(create_error(*controller, topic("dot_ted")), ErrorCode::INVALID_TOPIC_EXCEPTION);
  EXPECT_EQ(create_error(*controller, topic("p", 0)), ErrorCode::INVALID_PARTITIONS);
  EXPECT_EQ(create_error(*controller, topic("p", -5)), ErrorCode::INVALID_PARTITIONS);
  EXPECT_EQ(create_error(*controller, topic("r", 1, 0)), ErrorCode::INVALID_REPLICATION_FACTOR);
  EXPECT_EQ(create_error(*controller, topic("r", 1, 2)), ErrorCode::INVALID_REPLICATION_FACTOR);
  NewTopic bad_config = topic("c");
  bad_config.configs["retention.ms"] = "soon";
  EXPECT_EQ(create_error(*controller, bad_config), ErrorCode::INVALID_CONFIG);
  NewTopic unknown_config = topic("c");
  unknown_config.configs["no.such.config"] = "1";
  EXPECT_EQ(create_error(*controller, unknown_config), ErrorCode::INVALID_CONFIG);
  NewTopic both = topic("m", 1);
  both.assignments[0] = {1};
  EXPECT_EQ(create_error(*controller, both), ErrorCode::INVALID_REQUEST);
  NewTopic unknown_broker = topic("m");
  unknown_broker.assignments[0] = {7};
  EXPECT_EQ(create_error(*controller, unknown_broker), ErrorCode::INVALID_REPLICA_ASSIGNMENT);
  NewTopic gap = topic("m");
  gap.assignments[1] = {1};
  EXPECT_EQ(create_error(*controller, gap), ErrorCode::INVALID_REPLICA_ASSIGNMENT);
  // None of the failures left anything behind.
  EXPECT_EQ(controller->image()->topics.size(), 2u);
}

TEST_F(ControllerTest, ValidateOnlyCommitsNothing) {
  auto controller = open();
  auto results = controller->create_topics({topic("v", 4)}, true);
  EXPECT_TRUE(results[0].error.ok());
  EXPECT_EQ(results[0].num_partitions, 4);
  EXPECT_EQ(controller->image()->topic("v"), nullptr);
}

TEST_F(ControllerTest, EverythingSurvivesARestart) {
  Uuid id;
  {
    auto controller = open();
    NewTopic with_config = topic("orders", 2);
    with_config.configs["retention.ms"] = "1000";
    auto results = controller->create_topics({with_config, topic("doomed")}, false);
    id = results[0].topic_id;
    ASSERT_TRUE(controller->create_partitions("orders", 5, {}, false).ok());
    ASSERT_TRUE(controller->replace_topic_configs("orders", {{"cleanup.policy", "compact"}}, false).ok());
    ASSERT_TRUE(controller->replace_broker_configs("", {{"log.retention.ms", "99"}}, false).ok());
    ASSERT_TRUE(controller->delete_topics({{"doomed", Uuid{}}})[0].error.ok());
    controller->stop();
  }
  auto controller = open();
  MetadataImagePtr image = controller->image();
  const TopicImage* orders = image->topic("orders");
  ASSERT_NE(orders, nullptr);
  EXPECT_EQ(orders->id, id);
  EXPECT_EQ(orders->partitions.size(), 5u);
  EXPECT_EQ(orders->configs, (std::map<std::string, std::string>{{"cleanup.policy", "compact"}}));
  EXPECT_EQ(image->topic("doomed"), nullptr);
  EXPECT_EQ(image->dynamic_broker_config(1, "log.retention.ms"), "99");
  EXPECT_EQ(image->brokers.count(1), 1u);
  EXPECT_EQ(image->cluster_id, controller->cluster_id());
  EXPECT_EQ(image->cluster_id.size(), 22u);
}

TEST_F(ControllerTest, AcknowledgedCreationSurvivesACrash) {
  std::string cluster_id;
  {
    auto controller = open();
    cluster_id = controller->cluster_id();
    ASSERT_TRUE(controller->create_topics({topic("durable")}, false)[0].error.ok());
    fs_.simulate_crash();  // drops everything not synced; the controller is not closed
    controller->stop();
  }
  auto controller = open();
  EXPECT_NE(controller->image()->topic("durable"), nullptr);
  EXPECT_EQ(controller->cluster_id(), cluster_id);
}

TEST_F(ControllerTest, DeleteByNameAndIdAndUnknowns) {
  auto controller = open();
  auto created = controller->create_topics({topic("x"), topic("y")}, false);
  auto results = controller->delete_topics(
      {{"x", Uuid{}}, {"", created[1].topic_id}, {"missing", Uuid{}}, {"", Uuid{}}});
  EXPECT_TRUE(results[0].error.ok());
  EXPECT_TRUE(results[1].error.ok());
  EXPECT_EQ(results[1].name, "y");
  EXPECT_EQ(results[2].error.code, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
  EXPECT_EQ(results[3].error.code, ErrorCode::UNKNOWN_TOPIC_ID);
  EXPECT_TRUE(controller->image()->topics.empty());
}

TEST_F(ControllerTest, DeletionCanBeDisabled) {
  config_ = broker_config({{"delete.topic.enable", "false"}});
  auto controller = open();
  controller->create_topics({topic("kept")}, false);
  EXPECT_EQ(controller->delete_topics({{"kept", Uuid{}}})[0].error.code,
            ErrorCode::TOPIC_DELETION_DISABLED);
}

TEST_F(ControllerTest, CreatePartitionsOnlyGrows) {
  auto controller = open();
  controller->create_topics({topic("g", 2)}, false);
  EXPECT_EQ(controller->create_partitions("g", 2, {}, false).code, ErrorCode::INVALID_PARTITIONS);
  EXPECT_EQ(controller->create_partitions("g", 1, {}, false).code, ErrorCode::INVALID_PARTITIONS);
  EXPECT_EQ(controller->create_partitions("nope", 3, {}, false).code,
            ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
  EXPECT_EQ(controller->create_partitions("g", 4, {{1}}, false).code,
            ErrorCode::INVALID_REPLICA_ASSIGNMENT);
  EXPECT_TRUE(controller->create_partitions("g", 4, {}, true).ok());
  EXPECT_EQ(controller->image()->topic("g")->partitions.size(), 2u);
  EXPECT_TRUE(controller->create_partitions("g", 4, {{1}, {1}}, false).ok());
  EXPECT_EQ(controller->image()->topic("g")->partitions.size(), 4u);
}

// Kafka's DynamicBrokerConfig.validateConfigs, every failure INVALID_REQUEST.
TEST_F(ControllerTest, BrokerConfigsFollowKafkasUpdateModes) {
  auto controller = open();
  auto alter = [&](const std::string& broker, const std::string& name, const std::string& value) {
    return controller->replace_broker_configs(broker, {{name, value}}, false);
  };
  // Read-only in Kafka and in Sluice.
  EXPECT_EQ(alter("", "node.id", "5").code, ErrorCode::INVALID_REQUEST);
  EXPECT_EQ(alter("1", "zookeeper.connect", "x:2181").message,
            "Cannot update these configs dynamically: Set(zookeeper.connect)");
  // Dynamic in Kafka: accepted, though Sluice does not act on them.
  EXPECT_TRUE(alter("", "background.threads", "4").ok());
  EXPECT_TRUE(alter("1", "sasl.kerberos.min.time.before.relogin", "120000").ok());
  EXPECT_TRUE(alter("1", "num.io.threads", "16").ok());
  // Per-broker settings only for a broker id.
  EXPECT_EQ(alter("", "sasl.kerberos.min.time.before.relogin", "120000").code,
            ErrorCode::INVALID_REQUEST);
  // A known setting of the wrong type.
  EXPECT_EQ(alter("", "background.threads", "many").code, ErrorCode::INVALID_REQUEST);
  // Names Kafka does not know are stored, as Kafka stores them.
  EXPECT_TRUE(alter("1", "what.is.this", "5").ok());
  EXPECT_EQ(controller->image()->dynamic_broker_config(1, "what.is.this"), "5");
  EXPECT_EQ(alter("7", "log.retention.ms", "5").code, ErrorCode::INVALID_REQUEST);
  EXPECT_TRUE(alter("1", "num.partitions", "4").ok());
  // A dynamic num.partitions is the default of new topics.
  EXPECT_EQ(controller->create_topics({topic("four")}, false)[0].num_partitions, 4);
}

// Ids come from the injected source: two fresh clusters with the same seed
// get the same cluster id and topic ids (reproducible runs, no system
// randomness inside the controller).
TEST(ControllerIds, TheSameSeedGivesTheSameIds) {
  Config config = broker_config();
  auto ids_of_a_fresh_cluster = [&] {
    storage::MemoryFileSystem fs;
    EXPECT_TRUE(fs.make_dirs("/data"));
    SeededRandom random(42);
    ControllerOptions options;
    options.metadata_log_dir = "/data";
    options.log_dirs = {"/data"};
    options.broker_config = &config;
    options.random = &random;
    auto controller = std::move(Controller::open(fs, options).value());
    EXPECT_TRUE(
        controller->register_broker({{"PLAINTEXT", "localhost", 9092, 0}}, std::nullopt).ok());
    NewTopic topic;
    topic.name = "a";
    auto created = controller->create_topics({topic}, false);
    return std::make_pair(controller->cluster_id(), created.at(0).topic_id);
  };
  auto first = ids_of_a_fresh_cluster();
  auto second = ids_of_a_fresh_cluster();
  EXPECT_EQ(first.first, second.first);
  EXPECT_EQ(first.second, second.second);
  EXPECT_FALSE(first.second.is_zero());
}

TEST_F(ControllerTest, ListenersSeeTheCurrentImageThenEveryChange) {
  auto controller = open();
  controller->create_topics({topic("before")}, false);
  RecordingListener listener;
  controller->subscribe(&listener);
  ASSERT_EQ(listener.updates.size(), 1u);
  EXPECT_TRUE(listener.updates[0].first->topics.empty());
  EXPECT_NE(listener.updates[0].second->topic("before"), nullptr);
  controller->create_topics({topic("after")}, false);
  ASSERT_EQ(listener.updates.size(), 2u);
  EXPECT_EQ(listener.updates[1].first->topic("after"), nullptr);
  EXPECT_NE(listener.updates[1].second->topic("after"), nullptr);
  EXPECT_EQ(listener.updates[1].second, controller->image());
  controller->unsubscribe(&listener);
  controller->create_topics({topic("unseen")}, false);
  EXPECT_EQ(listener.updates.size(), 2u);
}

TEST_F(ControllerTest, InternalTopicsCapTheReplicationFactor) {
  auto controller = open();
  CreateTopicResult result = controller->ensure_internal_topic("__consumer_offsets", 5, 3, {});
  EXPECT_TRUE(result.error.ok()) << result.error.message;
  EXPECT_EQ(result.replication_factor, 1);
  EXPECT_EQ(controller->image()->topic("__consumer_offsets")->partitions.size(), 5u);
  CreateTopicResult again = controller->ensure_internal_topic("__consumer_offsets", 5, 3, {});
  EXPECT_EQ(again.topic_id, result.topic_id);
}

TEST_F(ControllerTest, SubmittedWorkRunsInOrderOnTheControllerThread) {
  auto controller = open();
  std::vector<int> order;
  std::mutex mutex;
  std::condition_variable done;
  for (int i = 0; i < 5; ++i)
    controller->submit([&, i] {
      std::lock_guard lock(mutex);
      order.push_back(i);
      done.notify_all();
    });
  std::unique_lock lock(mutex);
  done.wait(lock, [&] { return order.size() == 5; });
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
}

TEST_F(ControllerTest, MetaPropertiesBindTheDirsToOneNodeAndCluster) {
  std::string cluster_id;
  {
    auto controller = open(1);
    cluster_id = controller->cluster_id();
  }
  auto text = storage::read_whole_file(fs_, "/data/meta.properties");
  ASSERT_TRUE(text);
  auto parsed = decode_meta_properties(std::string(text->begin(), text->end()));
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->node_id, 1);
  EXPECT_EQ(parsed->cluster_id, cluster_id);
  EXPECT_FALSE(parsed->directory_id.is_zero());

  ControllerOptions options;
  options.node_id = 2;
  options.metadata_log_dir = "/data";
  options.log_dirs = {"/data"};
  options.broker_config = &config_;
  auto other_node = Controller::open(fs_, options);
  ASSERT_FALSE(other_node);
  EXPECT_NE(other_node.status().message().find("belongs to node 1"), std::string::npos);
  options.node_id = 1;
  options.cluster_id = "SomeOtherClusterIdxxxx";
  auto other_cluster = Controller::open(fs_, options);
  ASSERT_FALSE(other_cluster);
  EXPECT_NE(other_cluster.status().message().find("cluster.id"), std::string::npos);
}

TEST(ControllerOnDisk, RestartOnRealFiles) {
  std::random_device device;
  std::filesystem::path dir = std::filesystem::temp_directory_path() /
                              ("sluice-cluster-" + std::to_string(device()));
  storage::PosixFileSystem fs;
  Config config = broker_config();
  ControllerOptions options;
  options.metadata_log_dir = dir / "meta";
  options.log_dirs = {dir / "a", dir / "b"};
  options.broker_config = &config;
  Uuid id;
  {
    auto controller = Controller::open(fs, options);
    ASSERT_TRUE(controller) << controller.status().to_string();
    ASSERT_TRUE((*controller)->register_broker({{"PLAINTEXT", "h", 1, 0}}, std::nullopt).ok());
    NewTopic topic;
    topic.name = "real";
    topic.num_partitions = 2;
    id = (*controller)->create_topics({topic}, false)[0].topic_id;
  }
  EXPECT_TRUE(std::filesystem::exists(dir / "meta" / "__cluster_metadata-0"));
  for (const char* sub : {"a", "b", "meta"})
    EXPECT_TRUE(std::filesystem::exists(dir / sub / "meta.properties")) << sub;
  {
    auto controller = Controller::open(fs, options);
    ASSERT_TRUE(controller) << controller.status().to_string();
    const TopicImage* topic = (*controller)->image()->topic("real");
    ASSERT_NE(topic, nullptr);
    EXPECT_EQ(topic->id, id);
    EXPECT_EQ(topic->partitions.size(), 2u);
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sluice::cluster

namespace sluice::cluster {
namespace {

// Snapshots on real files: a tiny threshold makes the loader snapshot its
// image; a restart loads it and replays only the log after it; the topics
// (ids, partitions, configs) are the same; a corrupt newest snapshot falls
// back to the log.
TEST(ControllerOnDisk, SnapshotThenRestartFromIt) {
  std::random_device device;
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("sluice-snapshot-" + std::to_string(device()));
  storage::PosixFileSystem fs;
  Config config = broker_config();
  ControllerOptions options;
  options.metadata_log_dir = dir / "meta";
  options.log_dirs = {dir / "a"};
  options.broker_config = &config;
  options.snapshot_record_bytes_max = 256;
  const std::filesystem::path metadata = dir / "meta" / "__cluster_metadata-0";
  auto checkpoints = [&] {
    std::vector<std::string> out;
    for (const auto& entry : std::filesystem::directory_iterator(metadata))
      if (entry.path().extension() == ".checkpoint") out.push_back(entry.path().filename());
    return out;
  };
  std::map<std::string, Uuid> ids;
  {
    auto controller = Controller::open(fs, options);
    ASSERT_TRUE(controller) << controller.status().to_string();
    ASSERT_TRUE((*controller)->register_broker({{"PLAINTEXT", "h", 1, 0}}, std::nullopt).ok());
    for (int i = 0; i < 20; ++i) {
      NewTopic topic;
      topic.name = "t" + std::to_string(i);
      topic.num_partitions = 3;
      if (i == 7) topic.configs["cleanup.policy"] = "compact";
      auto result = (*controller)->create_topics({topic}, false)[0];
      ASSERT_TRUE(result.error.ok()) << result.error.message;
      ids[topic.name] = result.topic_id;
    }
    // The snapshot is written on the quorum thread after the loader asks.
    for (int i = 0; i < 100 && checkpoints().empty(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(checkpoints().size(), 1u) << "older snapshots are deleted";
  auto expect_topics = [&](const Controller& controller) {
    MetadataImagePtr image = controller.image();
    ASSERT_EQ(image->topics.size(), ids.size());
    for (const auto& [name, id] : ids) {
      const TopicImage* topic = image->topic(name);
      ASSERT_NE(topic, nullptr) << name;
      EXPECT_EQ(topic->id, id);
      EXPECT_EQ(topic->partitions.size(), 3u);
    }
    EXPECT_EQ(image->topic("t7")->configs.at("cleanup.policy"), "compact");
  };
  {
    auto controller = Controller::open(fs, options);
    ASSERT_TRUE(controller) << controller.status().to_string();
    expect_topics(**controller);
  }
  // A corrupt snapshot: set aside, the image comes from what is left.
  for (const std::string& name : checkpoints()) {
    std::filesystem::resize_file(metadata / name, 40);
  }
  options.snapshot_record_bytes_max = int64_t{1} << 40;
  {
    auto controller = Controller::open(fs, options);
    ASSERT_TRUE(controller) << controller.status().to_string();
    EXPECT_TRUE(checkpoints().empty());
    // The log's one segment is still whole (64 MiB segments): replayed from 0.
    expect_topics(**controller);
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sluice::cluster

namespace sluice::cluster {
namespace {

ScramUpsertion scram_user(const std::string& name, int8_t mechanism, int32_t iterations = 4096) {
  return {
      name, mechanism, iterations, {1, 2, 3, 4}, std::vector<uint8_t>(mechanism == 1 ? 32 : 64, 9)};
}

security::AclBinding read_acl(const std::string& topic, const std::string& principal) {
  return {security::ResourceType::TOPIC,
          topic,
          security::PatternType::LITERAL,
          principal,
          "*",
          security::AclOperation::READ,
          security::AclPermissionType::ALLOW};
}

// Kafka's ScramControlManager: checks per user, a user named twice fails
// alone, and only the stored and server keys are kept.
TEST_F(ControllerTest, ScramCredentialsAreCheckedAsKafkaDoesAndSurviveARestart) {
  {
    auto controller = open();
    auto results = controller->alter_user_scram_credentials(
        {{"ghost", 1}}, {scram_user("alice", 1), scram_user("bob", 2, 100), scram_user("", 1),
                         scram_user("carol", 7), scram_user("dave", 1), scram_user("dave", 2)});
    std::map<std::string, ErrorCode> by_user;
    for (const auto& result : results) by_user[result.user] = result.error.code;
    EXPECT_EQ(by_user["alice"], ErrorCode::NONE);
    EXPECT_EQ(by_user["bob"], ErrorCode::UNACCEPTABLE_CREDENTIAL);  // too few iterations
    EXPECT_EQ(by_user[""], ErrorCode::UNACCEPTABLE_CREDENTIAL);
    EXPECT_EQ(by_user["carol"], ErrorCode::UNSUPPORTED_SASL_MECHANISM);
    EXPECT_EQ(by_user["dave"], ErrorCode::DUPLICATE_RESOURCE);
    EXPECT_EQ(by_user["ghost"], ErrorCode::RESOURCE_NOT_FOUND);
    controller->stop();
  }
  auto controller = open();
  const ScramCredentials& credentials = controller->image()->scram_credentials;
  ASSERT_EQ(credentials.size(), 1u);
  const ScramCredentialImage& alice = credentials.at("alice").at(1);
  EXPECT_EQ(alice.iterations, 4096);
  EXPECT_EQ(alice.stored_key.size(), 32u);
  EXPECT_NE(alice.stored_key, std::vector<uint8_t>(32, 9));  // derived, not the salted password
  auto removed = controller->alter_user_scram_credentials({{"alice", 1}}, {});
  ASSERT_EQ(removed.size(), 1u);
  EXPECT_TRUE(removed[0].error.ok());
  EXPECT_TRUE(controller->image()->scram_credentials.empty());
}

// Kafka's AclControlManager: an existing ACL is a success that writes
// nothing; a filter removes every match once.
TEST_F(ControllerTest, AclsAreCreatedOnceAndDeletedByFilter) {
  auto controller = open();
  auto created =
      controller->create_acls({read_acl("orders", "User:alice"), read_acl("orders", "User:bob"),
                               read_acl("orders", "alice")});
  ASSERT_EQ(created.size(), 3u);
  EXPECT_TRUE(created[0].ok());
  EXPECT_TRUE(created[1].ok());
  EXPECT_EQ(created[2].code, ErrorCode::INVALID_REQUEST);  // no principal type
  const int64_t offset = controller->image()->offset;
  EXPECT_TRUE(controller->create_acls({read_acl("orders", "User:alice")})[0].ok());
  EXPECT_EQ(controller->image()->offset, offset);  // nothing written
  EXPECT_EQ(controller->image()->acls.size(), 2u);
  security::AclBindingFilter alice;
  alice.principal = "User:alice";
  auto deleted = controller->delete_acls({alice, security::AclBindingFilter::any()});
  ASSERT_EQ(deleted.size(), 2u);
  EXPECT_EQ(deleted[0].deleted.size(), 1u);
  EXPECT_EQ(deleted[1].deleted.size(), 1u);  // bob's; alice's is reported under the first filter
  EXPECT_TRUE(controller->image()->acls.empty());
}

ClientQuotaAlteration quota_change(
    std::vector<std::pair<std::string, std::optional<std::string>>> entity,
    std::vector<std::pair<std::string, std::optional<double>>> ops) {
  return {std::move(entity), std::move(ops)};
}

// Kafka's ClientQuotaControlManager: each entity checked alone (types,
// combinations, keys, values), the rest committed; values survive a restart
// and a removal of the last key drops the entity.
TEST_F(ControllerTest, ClientQuotasAreCheckedAsKafkaDoesAndSurviveARestart) {
  const ClientQuotaEntity alice{{"user", "alice"}};
  const ClientQuotaEntity default_client{{"client-id", std::nullopt}};
  {
    auto controller = open();
    auto results = controller->alter_client_quotas(
        {quota_change({{"user", "alice"}}, {{"producer_byte_rate", 1024.0}}),
         quota_change({{"client-id", std::nullopt}}, {{"request_percentage", 12.5}}),
         quota_change({}, {{"producer_byte_rate", 1.0}}),
         quota_change({{"user", "x"}, {"user", "y"}}, {{"producer_byte_rate", 1.0}}),
         quota_change({{"group", "g"}}, {{"producer_byte_rate", 1.0}}),
         quota_change({{"user", ""}}, {{"producer_byte_rate", 1.0}}),
         quota_change({{"ip", "10.0.0.1"}, {"user", "a"}}, {{"connection_creation_rate", 1.0}}),
         quota_change({{"ip", "not an ip"}}, {{"connection_creation_rate", 1.0}}),
         quota_change({{"user", "b"}}, {{"producer_byte_rate", 1.5}}),
         quota_change({{"user", "b"}, {"client-id", "c"}}, {{"consumer_byte_rate", 0.0}}),
         quota_change({{"client-id", "c"}}, {{"bogus", 1.0}}),
         quota_change({{"client-id", "d"}},
                      {{"producer_byte_rate", 1.0}, {"producer_byte_rate", 2.0}}),
         quota_change({{"ip", "10.0.0.1"}}, {{"producer_byte_rate", 1.0}}),
         quota_change({{"user", "alice"}}, {{"consumer_byte_rate", 1.0}})},
        false);
    ASSERT_EQ(results.size(), 14u);
    EXPECT_TRUE(results[0].ok()) << results[0].message;
    EXPECT_TRUE(results[1].ok()) << results[1].message;
    for (size_t i = 2; i < results.size(); ++i)
      EXPECT_EQ(results[i].code, ErrorCode::INVALID_REQUEST) << i << ": " << results[i].message;
    EXPECT_EQ(results[5].message, "Empty user not supported");
    EXPECT_EQ(results[8].message, "producer_byte_rate cannot be a fractional value.");
    EXPECT_EQ(results[9].message, "Quota consumer_byte_rate must be greater than 0");
    EXPECT_EQ(results[10].message, "Invalid configuration key bogus");
    EXPECT_EQ(results[12].message, "Invalid configuration key producer_byte_rate");  // ip keys
    EXPECT_NE(results[13].message.find("Ignoring duplicate entity"), std::string::npos);
    // validate_only writes nothing
    const int64_t offset = controller->image()->offset;
    auto checked = controller->alter_client_quotas(
        {quota_change({{"user", "zed"}}, {{"producer_byte_rate", 5.0}})}, true);
    ASSERT_TRUE(checked[0].ok());
    EXPECT_EQ(controller->image()->offset, offset);
    controller->stop();
  }
  auto controller = open();
  const ClientQuotas& quotas = controller->image()->client_quotas;
  ASSERT_EQ(quotas.size(), 2u);
  EXPECT_EQ(quotas.at(alice).at("producer_byte_rate"), 1024.0);
  EXPECT_EQ(quotas.at(default_client).at("request_percentage"), 12.5);
  const int64_t offset = controller->image()->offset;
  auto same = controller->alter_client_quotas(
      {quota_change({{"user", "alice"}}, {{"producer_byte_rate", 1024.0}})}, false);
  EXPECT_TRUE(same[0].ok());
  EXPECT_EQ(controller->image()->offset, offset);  // an unchanged value writes nothing
  auto removed = controller->alter_client_quotas(
      {quota_change({{"user", "alice"}}, {{"producer_byte_rate", std::nullopt}})}, false);
  EXPECT_TRUE(removed[0].ok());
  EXPECT_EQ(controller->image()->client_quotas.count(alice), 0u);
}

// Kafka's ClientQuotasImage.describe filters.
TEST(ClientQuotaDescriptionTest, FiltersAsKafkaDoes) {
  ClientQuotas quotas;
  quotas[{{"user", "alice"}}]["producer_byte_rate"] = 1;
  quotas[{{"user", std::nullopt}}]["producer_byte_rate"] = 2;
  quotas[{{"user", "alice"}, {"client-id", "app"}}]["consumer_byte_rate"] = 3;
  quotas[{{"client-id", "app"}}]["request_percentage"] = 4;
  auto count = [&](std::vector<QuotaFilterComponent> components, bool strict) {
    QuotaDescription found = describe_client_quotas(quotas, components, strict);
    EXPECT_EQ(found.error, ErrorCode::NONE) << found.message;
    return found.entries.size();
  };
  EXPECT_EQ(count({}, false), 4u);
  EXPECT_EQ(count({}, true), 0u);
  EXPECT_EQ(count({{"user", 0, "alice"}}, false), 2u);
  EXPECT_EQ(count({{"user", 0, "alice"}}, true), 1u);
  EXPECT_EQ(count({{"user", 1, std::nullopt}}, false), 1u);
  EXPECT_EQ(count({{"user", 2, std::nullopt}}, false), 3u);
  EXPECT_EQ(count({{"client-id", 2, std::nullopt}}, true), 1u);
  EXPECT_EQ(describe_client_quotas(quotas, {{"user", 0, std::nullopt}}, false).error,
            ErrorCode::INVALID_REQUEST);
  EXPECT_EQ(describe_client_quotas(quotas, {{"user", 1, "x"}}, false).error,
            ErrorCode::INVALID_REQUEST);
  EXPECT_EQ(describe_client_quotas(quotas, {{"group", 2, std::nullopt}}, false).error,
            ErrorCode::UNSUPPORTED_VERSION);
  EXPECT_EQ(
      describe_client_quotas(quotas, {{"ip", 2, std::nullopt}, {"user", 2, std::nullopt}}, false)
          .error,
      ErrorCode::INVALID_REQUEST);
  EXPECT_EQ(
      describe_client_quotas(quotas, {{"user", 2, std::nullopt}, {"user", 2, std::nullopt}}, false)
          .error,
      ErrorCode::INVALID_REQUEST);
}

}  // namespace
}  // namespace sluice::cluster
