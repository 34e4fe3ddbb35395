// MirrorSourceConnector's plain logic (src/connect/connectors/mirror.h):
// replication policy names, the topic filter with Kafka's default
// exclusions and cycle detection, the division of partitions over tasks,
// the settings' checks and messages, and the client settings drawn from the
// connector's. The clients themselves are tested end to end
// (tests/integration/connect/test_mirror.py).

#include "connect/connectors/mirror.h"

#include <gtest/gtest.h>

#include <map>

#include "connect/connector.h"

namespace sluice::connect {
namespace {

ReplicationPolicy mirror_default_policy(std::string separator = ".") {
  ReplicationPolicy policy;
  policy.separator = std::move(separator);
  return policy;
}

ReplicationPolicy mirror_identity_policy(std::string source_alias) {
  ReplicationPolicy policy;
  policy.identity = true;
  policy.source_alias = std::move(source_alias);
  return policy;
}

TEST(MirrorReplicationPolicy, DefaultPrefixesTheSourceAlias) {
  const ReplicationPolicy policy = mirror_default_policy();
  EXPECT_EQ(policy.format_remote_topic("us-west", "orders"), "us-west.orders");
  EXPECT_EQ(policy.topic_source("us-west.orders"), "us-west");
  EXPECT_EQ(policy.upstream_topic("us-west.orders"), "orders");
  EXPECT_EQ(policy.topic_source("us-west.eu.orders"), "us-west");
  EXPECT_EQ(policy.upstream_topic("us-west.eu.orders"), "eu.orders");
  EXPECT_EQ(policy.topic_source("orders"), std::nullopt);
  EXPECT_EQ(policy.upstream_topic("orders"), std::nullopt);
}

TEST(MirrorReplicationPolicy, DefaultFollowsJavasSplitOnTrailingSeparators) {
  const ReplicationPolicy policy = mirror_default_policy();
  EXPECT_EQ(policy.topic_source("us."), std::nullopt);   // split drops the empty tail
  EXPECT_EQ(policy.topic_source("us.."), std::nullopt);  // two empty tails
  EXPECT_EQ(policy.topic_source("us..a"), "us");
  EXPECT_EQ(policy.upstream_topic("us..a"), ".a");
  EXPECT_EQ(policy.topic_source(".a"), "");  // an empty leading part is kept
}

TEST(MirrorReplicationPolicy, CustomSeparator) {
  const ReplicationPolicy policy = mirror_default_policy("__");
  EXPECT_EQ(policy.format_remote_topic("dc1", "a.b"), "dc1__a.b");
  EXPECT_EQ(policy.topic_source("dc1__a.b"), "dc1");
  EXPECT_EQ(policy.upstream_topic("dc1__a.b"), "a.b");
  EXPECT_EQ(policy.topic_source("dc1.a"), std::nullopt);
}

TEST(MirrorReplicationPolicy, IdentityKeepsNames) {
  const ReplicationPolicy policy = mirror_identity_policy("src");
  EXPECT_EQ(policy.format_remote_topic("src", "orders"), "orders");
  EXPECT_EQ(policy.topic_source("orders"), "src");
  EXPECT_EQ(policy.upstream_topic("orders"), "orders");
}

TEST(MirrorReplicationPolicy, InternalTopics) {
  const ReplicationPolicy policy = mirror_default_policy();
  for (const char* topic : {"__consumer_offsets", ".hidden", "connect-offsets.internal",
                            "mm2-offset-syncs.src.internal", "connect-configs-internal"}) {
    EXPECT_TRUE(policy.is_internal_topic(topic)) << topic;
  }
  for (const char* topic : {"orders", "src.orders", "internal", "_one_underscore"}) {
    EXPECT_FALSE(policy.is_internal_topic(topic)) << topic;
  }
}

TEST(MirrorCycles, TopicsFromTheTargetAreCycles) {
  const ReplicationPolicy policy = mirror_default_policy();
  EXPECT_TRUE(is_cycle(policy, "tgt", "tgt.orders"));
  EXPECT_TRUE(is_cycle(policy, "tgt", "other.tgt.orders"));  // came from tgt two hops up
  EXPECT_FALSE(is_cycle(policy, "tgt", "other.orders"));
  EXPECT_FALSE(is_cycle(policy, "tgt", "orders"));
  EXPECT_FALSE(is_cycle(policy, "tgt", "tgtx.orders"));
  // Identity names carry no history: only a source alias equal to the
  // target's is a cycle (Kafka's extra check stops the walk at once).
  EXPECT_FALSE(is_cycle(mirror_identity_policy("src"), "tgt", "orders"));
  EXPECT_TRUE(is_cycle(mirror_identity_policy("tgt"), "tgt", "orders"));
}

std::vector<std::string> mirror_default_exclude() {
  return {".*[\\-\\.]internal", ".*\\.replica", "__.*"};
}

TEST(MirrorTopicFilter, IncludeAndKafkasDefaultExclude) {
  auto filter = TopicFilter::make({".*"}, mirror_default_exclude());
  ASSERT_TRUE(filter.has_value());
  EXPECT_TRUE(filter->matches("orders"));
  EXPECT_TRUE(filter->matches("src.orders"));
  EXPECT_FALSE(filter->matches("app.internal"));
  EXPECT_FALSE(filter->matches("app-internal"));
  EXPECT_FALSE(filter->matches("orders.replica"));
  EXPECT_FALSE(filter->matches("__consumer_offsets"));
}

TEST(MirrorTopicFilter, WholeNameMatchesOfEveryPattern) {
  auto filter = TopicFilter::make({"orders", "pay.*"}, {"payments-test"});
  ASSERT_TRUE(filter.has_value());
  EXPECT_TRUE(filter->matches("orders"));
  EXPECT_FALSE(filter->matches("orders2"));  // Pattern.matches: the whole name
  EXPECT_FALSE(filter->matches("my-orders"));
  EXPECT_TRUE(filter->matches("payments"));
  EXPECT_FALSE(filter->matches("payments-test"));
  // No include pattern: nothing is mirrored; no exclude: nothing is held back.
  auto none = TopicFilter::make({}, {});
  ASSERT_TRUE(none.has_value());
  EXPECT_FALSE(none->matches("orders"));
  auto all = TopicFilter::make({".*"}, {});
  ASSERT_TRUE(all.has_value());
  EXPECT_TRUE(all->matches("__consumer_offsets"));
  EXPECT_FALSE(TopicFilter::make({"("}, {}).has_value());
}

TEST(MirrorTopicFilter, ShouldMirrorCombinesFilterInternalAndCycles) {
  auto filter = TopicFilter::make({".*"}, {"skip.*"});
  ASSERT_TRUE(filter.has_value());
  const ReplicationPolicy policy = mirror_default_policy();
  EXPECT_TRUE(should_mirror_topic(*filter, policy, "tgt", "orders"));
  EXPECT_TRUE(should_mirror_topic(*filter, policy, "tgt", "third.orders"));
  EXPECT_FALSE(should_mirror_topic(*filter, policy, "tgt", "skipped"));
  EXPECT_FALSE(should_mirror_topic(*filter, policy, "tgt", "tgt.orders"));
  EXPECT_FALSE(should_mirror_topic(*filter, policy, "tgt", "__consumer_offsets"));
  EXPECT_FALSE(should_mirror_topic(*filter, policy, "tgt", "x.internal"));
}

TEST(MirrorTasks, PartitionsGoRoundRobinFromAStableStart) {
  for (int tasks : {1, 2, 3, 7}) {
    std::map<int, int> per_task;
    for (int32_t partition = 0; partition < 84; ++partition) {
      const int task = mirror_task_for("orders", partition, tasks);
      ASSERT_GE(task, 0);
      ASSERT_LT(task, tasks);
      ++per_task[task];
      // Neighbouring partitions go to the next task.
      EXPECT_EQ(mirror_task_for("orders", partition + 1, tasks), (task + 1) % tasks);
    }
    for (const auto& [task, count] : per_task) EXPECT_EQ(count, 84 / tasks) << tasks;
  }
  EXPECT_EQ(mirror_task_for("orders", 5, 0), 0);  // no division by zero
  // The same answer every time: tasks agree without talking.
  EXPECT_EQ(mirror_task_for("a-topic", 3, 4), mirror_task_for("a-topic", 3, 4));
}

TEST(MirrorTasks, SinglePartitionTopicsSpreadOverTasks) {
  std::map<int, int> per_task;
  for (int i = 0; i < 400; ++i) ++per_task[mirror_task_for("topic-" + std::to_string(i), 0, 4)];
  ASSERT_EQ(per_task.size(), 4u);
  for (const auto& [task, count] : per_task) {
    EXPECT_GT(count, 60) << task;  // 100 each on average
  }
}

Status parse_mirror_config(const Properties& properties) {
  auto parsed = SimpleConfig::parse(mirror_source_config_keys(), properties);
  return parsed.is_ok() ? Status::ok() : parsed.status();
}

Properties minimal_mirror_config() {
  return {{"source.cluster.bootstrap.servers", "a:9092"},
          {"target.cluster.bootstrap.servers", "b:9092"}};
}

TEST(MirrorConfig, DefaultsAreKafkas) {
  auto parsed = SimpleConfig::parse(mirror_source_config_keys(), minimal_mirror_config());
  ASSERT_TRUE(parsed.is_ok()) << parsed.status().message();
  EXPECT_EQ(parsed->get_string("source.cluster.alias"), "source");
  EXPECT_EQ(parsed->get_string("target.cluster.alias"), "target");
  EXPECT_EQ(parsed->get_list("topics"), std::vector<std::string>{".*"});
  EXPECT_EQ(parsed->get_list("topics.exclude"), mirror_default_exclude());
  EXPECT_EQ(parsed->get_string("replication.policy.class"), kDefaultReplicationPolicyClass);
  EXPECT_EQ(parsed->get_string("replication.policy.separator"), ".");
  EXPECT_TRUE(parsed->get_bool("refresh.topics.enabled"));
  EXPECT_EQ(parsed->get_int("refresh.topics.interval.seconds"), 600);
  EXPECT_TRUE(parsed->get_bool("sync.topic.configs.enabled"));
  EXPECT_EQ(parsed->get_int("replication.factor"), 2);
  EXPECT_TRUE(parsed->get_bool("emit.offset-syncs.enabled"));
  EXPECT_EQ(parsed->get_string("offset-syncs.topic.location"), "source");
  EXPECT_EQ(parsed->get_int("offset-syncs.topic.replication.factor"), 3);
  EXPECT_EQ(parsed->get_int("offset.lag.max"), 100);
}

TEST(MirrorConfig, MessagesForBadSettings) {
  Properties config = minimal_mirror_config();
  config.erase("source.cluster.bootstrap.servers");
  EXPECT_EQ(parse_mirror_config(config).message(),
            "Missing required configuration \"source.cluster.bootstrap.servers\" which has no "
            "default value.");

  config = minimal_mirror_config();
  config["replication.policy.class"] = "com.example.MyPolicy";
  EXPECT_EQ(parse_mirror_config(config).message(),
            "Invalid value com.example.MyPolicy for configuration replication.policy.class: "
            "Class com.example.MyPolicy could not be found.");

  config = minimal_mirror_config();
  config["replication.policy.class"] = kIdentityReplicationPolicyClass;
  EXPECT_TRUE(parse_mirror_config(config).is_ok());

  config = minimal_mirror_config();
  config["topics"] = "orders, (unclosed";
  const Status bad_regex = parse_mirror_config(config);
  EXPECT_FALSE(bad_regex.is_ok());
  EXPECT_NE(bad_regex.message().find("for configuration topics: Invalid regex (unclosed"),
            std::string::npos)
      << bad_regex.message();

  config = minimal_mirror_config();
  config["replication.factor"] = "two";
  EXPECT_EQ(parse_mirror_config(config).message(),
            "Invalid value two for configuration replication.factor: Not a number of type INT");

  config = minimal_mirror_config();
  config["replication.policy.separator"] = "";
  EXPECT_EQ(parse_mirror_config(config).message(),
            "Invalid value  for configuration replication.policy.separator: String must be "
            "non-empty");
}

TEST(MirrorConfig, ClientSettingsComeFromTheirPrefixes) {
  const Properties config = {
      {"source.cluster.alias", "src"},
      {"source.cluster.bootstrap.servers", "a:9092"},
      {"source.cluster.security.protocol", "plaintext"},
      {"source.consumer.fetch.max.bytes", "1000"},
      {"source.consumer.security.protocol", "ssl"},  // the consumer's own wins
      {"target.cluster.alias", "tgt"},
      {"target.cluster.bootstrap.servers", "b:9092"},
      {"target.admin.client.id", "admin"},
      {"topics", "x"},
  };
  EXPECT_EQ(mirror_consumer_settings(config), (Properties{{"bootstrap.servers", "a:9092"},
                                                          {"fetch.max.bytes", "1000"},
                                                          {"security.protocol", "ssl"}}));
  EXPECT_EQ(mirror_target_admin_settings(config),
            (Properties{{"bootstrap.servers", "b:9092"}, {"client.id", "admin"}}));
}

TEST(MirrorConfig, TopicConfigsKafkaKeepsBack) {
  EXPECT_TRUE(is_excluded_topic_config("min.insync.replicas"));
  EXPECT_TRUE(is_excluded_topic_config("message.timestamp.type"));
  EXPECT_TRUE(is_excluded_topic_config("leader.replication.throttled.replicas"));
  EXPECT_FALSE(is_excluded_topic_config("retention.ms"));
  EXPECT_FALSE(is_excluded_topic_config("cleanup.policy"));
  EXPECT_FALSE(is_excluded_topic_config("min_insync_replicas"));  // dots are literal
}

TEST(MirrorOffsetSyncs, KafkasRecordBytesAndTopicName) {
  EXPECT_EQ(offset_sync_key("ab", 258), std::string("\x00\x02"
                                                    "ab\x00\x00\x01\x02",
                                                    8));
  EXPECT_EQ(offset_sync_value(1, 0x0102030405060708),
            std::string("\x00\x00\x00\x00\x00\x00\x00\x01\x01\x02\x03\x04\x05\x06\x07\x08", 16));
  EXPECT_EQ(mirror_default_policy().offset_syncs_topic("tgt"), "mm2-offset-syncs.tgt.internal");
  EXPECT_EQ(mirror_default_policy("__").offset_syncs_topic("tgt"),
            "mm2-offset-syncs__tgt__internal");
  // Never mirrored itself.
  EXPECT_TRUE(mirror_default_policy("__").is_internal_topic("mm2-offset-syncs__tgt__internal"));
}

TEST(MirrorOffsetSyncs, SyncedWhenFirstSkippedTruncatedOrStale) {
  OffsetSyncState state(100);
  EXPECT_TRUE(state.update(0, 0));   // the first of this task's life
  EXPECT_FALSE(state.update(1, 1));  // consecutive: waits for the commit
  EXPECT_TRUE(state.update(5, 2));   // upstream skipped offsets (compaction, markers)
  EXPECT_FALSE(state.update(6, 3));
  EXPECT_TRUE(state.update(7, 1));  // downstream went back (truncated)
  for (int64_t i = 1; i < 101; ++i) {
    EXPECT_FALSE(state.update(7 + i, 1 + i)) << i;
  }
  EXPECT_TRUE(state.update(108, 102));  // 102 - (1 + 1) >= 100: stale
}

TEST(MirrorOffsetSyncs, ProducerSettingsFromTheLocation) {
  const Properties config = {
      {"source.cluster.bootstrap.servers", "a:9092"},
      {"source.producer.linger.ms", "5"},
      {"source.consumer.fetch.max.bytes", "1"},
      {"target.cluster.bootstrap.servers", "b:9092"},
      {"target.producer.acks", "1"},
  };
  EXPECT_EQ(mirror_offset_syncs_producer_settings(config, "source"),
            (Properties{{"bootstrap.servers", "a:9092"}, {"linger.ms", "5"}}));
  EXPECT_EQ(mirror_offset_syncs_producer_settings(config, "target"),
            (Properties{{"acks", "1"}, {"bootstrap.servers", "b:9092"}}));
}

TEST(MirrorConnector, RegisteredUnderKafkasNames) {
  const ConnectorPlugin* plugin =
      find_connector_plugin("org.apache.kafka.connect.mirror.MirrorSourceConnector");
  ASSERT_NE(plugin, nullptr);
  EXPECT_EQ(plugin->type, ConnectorType::source);
  EXPECT_EQ(find_connector_plugin("MirrorSourceConnector"), plugin);
  EXPECT_EQ(find_connector_plugin("MirrorSource"), plugin);
}

TEST(MirrorConnector, OneTaskConfigPerTaskWithItsShare) {
  const ConnectorPlugin* plugin = find_connector_plugin("MirrorSource");
  ASSERT_NE(plugin, nullptr);
  auto connector = plugin->make();
  Properties config = minimal_mirror_config();
  config["name"] = "m";
  ASSERT_TRUE(connector->start(config).is_ok());
  auto tasks = connector->task_configs(3);
  ASSERT_EQ(tasks.size(), 3u);
  for (size_t i = 0; i < tasks.size(); ++i) {
    EXPECT_EQ(tasks[i].at("mirror.task.index"), std::to_string(i));
    EXPECT_EQ(tasks[i].at("mirror.task.count"), "3");
    EXPECT_EQ(tasks[i].at("source.cluster.bootstrap.servers"), "a:9092");
  }
  config.erase("target.cluster.bootstrap.servers");
  EXPECT_FALSE(plugin->make()->start(config).is_ok());
}

}  // namespace
}  // namespace sluice::connect
