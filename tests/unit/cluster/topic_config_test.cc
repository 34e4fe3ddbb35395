// Topic configs: defaults from the broker's log.* synonyms, precedence of
// overrides, sources, and the LogConfig the data path gets.
#include <gtest/gtest.h>

#include "broker/broker_config.h"
#include "cluster/topic_config.h"

namespace sluice::cluster {
namespace {

Config broker_config(std::map<std::string, std::string> values = {}) {
  auto config = Config::parse(broker::broker_config_defs(), values);
  EXPECT_TRUE(config) << config.status().to_string();
  return std::move(config.value());
}

ResolvedConfig resolve(const std::string& name, const std::map<std::string, std::string>& overrides,
                       const MetadataImage& image, const Config& broker) {
  auto resolved = resolve_topic_config(name, overrides, image, broker, 1);
  EXPECT_TRUE(resolved.has_value()) << name;
  return resolved.value_or(ResolvedConfig{});
}

TEST(TopicConfig, KafkaDefaultsComeFromTheBrokerSynonyms) {
  MetadataImage image;
  Config broker = broker_config();
  ResolvedConfig retention = resolve("retention.ms", {}, image, broker);
  EXPECT_EQ(retention.value, "604800000");  // log.retention.hours=168
  EXPECT_EQ(retention.source, ConfigSource::default_config);
  ASSERT_FALSE(retention.synonyms.empty());
  EXPECT_EQ(retention.synonyms.back().name, "log.retention.hours");
  EXPECT_EQ(resolve("segment.bytes", {}, image, broker).value, "1073741824");
  EXPECT_EQ(resolve("max.message.bytes", {}, image, broker).value, "1048588");
  EXPECT_EQ(resolve("cleanup.policy", {}, image, broker).value, "delete");
  EXPECT_EQ(resolve("segment.ms", {}, image, broker).value, "604800000");
  EXPECT_EQ(resolve("message.timestamp.type", {}, image, broker).value, "CreateTime");
  EXPECT_FALSE(resolve_topic_config("no.such", {}, image, broker, 1).has_value());
}

TEST(TopicConfig, StaticBrokerSettingsAreConvertedAndWinInOrder) {
  MetadataImage image;
  Config minutes = broker_config({{"log.retention.minutes", "2"}});
  ResolvedConfig from_minutes = resolve("retention.ms", {}, image, minutes);
  EXPECT_EQ(from_minutes.value, "120000");
  EXPECT_EQ(from_minutes.source, ConfigSource::static_broker);
  Config both = broker_config({{"log.retention.minutes", "2"}, {"log.retention.ms", "5"}});
  EXPECT_EQ(resolve("retention.ms", {}, image, both).value, "5");
  Config unlimited = broker_config({{"log.retention.hours", "-1"}});
  EXPECT_EQ(resolve("retention.ms", {}, image, unlimited).value, "-1");
}

TEST(TopicConfig, PrecedenceTopicThenDynamicBrokerThenDefaultThenStatic) {
  MetadataImage image;
  Config broker = broker_config({{"log.retention.ms", "1"}});
  image.broker_configs[""]["log.retention.ms"] = "2";
  EXPECT_EQ(resolve("retention.ms", {}, image, broker).source,
            ConfigSource::dynamic_default_broker);
  image.broker_configs["1"]["log.retention.ms"] = "3";
  ResolvedConfig per_broker = resolve("retention.ms", {}, image, broker);
  EXPECT_EQ(per_broker.value, "3");
  EXPECT_EQ(per_broker.source, ConfigSource::dynamic_broker);
  ResolvedConfig topic = resolve("retention.ms", {{"retention.ms", "4"}}, image, broker);
  EXPECT_EQ(topic.value, "4");
  EXPECT_EQ(topic.source, ConfigSource::dynamic_topic);
  // Synonyms: every level that has a value, highest first.
  std::vector<ConfigSource> sources;
  for (const ConfigSynonym& synonym : topic.synonyms) sources.push_back(synonym.source);
  EXPECT_EQ(sources, (std::vector<ConfigSource>{ConfigSource::dynamic_topic,
                                                ConfigSource::dynamic_broker,
                                                ConfigSource::dynamic_default_broker,
                                                ConfigSource::static_broker,
                                                ConfigSource::default_config}));
}

TEST(TopicConfig, Validation) {
  EXPECT_TRUE(validate_topic_configs({{"retention.ms", "-1"}, {"cleanup.policy", "compact,delete"}}));
  EXPECT_FALSE(validate_topic_configs({{"retention.ms", "-2"}}));
  EXPECT_FALSE(validate_topic_configs({{"cleanup.policy", "shred"}}));
  EXPECT_FALSE(validate_topic_configs({{"min.cleanable.dirty.ratio", "1.5"}}));
  EXPECT_FALSE(validate_topic_configs({{"preallocate", "maybe"}}));
  Status unknown = validate_topic_configs({{"retention.days", "1"}});
  EXPECT_NE(unknown.message().find("retention.days"), std::string::npos);
}

TEST(TopicConfig, LogConfigOfATopic) {
  MetadataImage image;
  Config broker = broker_config({{"log.segment.bytes", "1048576"}, {"log.retention.bytes", "500"}});
  TopicImage topic;
  topic.name = "t";
  topic.configs = {{"retention.ms", "1000"}, {"cleanup.policy", "compact"},
                   {"min.cleanable.dirty.ratio", "0.25"}};
  storage::LogConfig config = topic_log_config(&topic, image, broker, 1);
  EXPECT_EQ(config.segment_bytes, 1048576u);
  EXPECT_EQ(config.retention_bytes, 500);
  EXPECT_EQ(config.retention_ms, 1000);
  EXPECT_TRUE(config.cleanup_policy_compact);
  EXPECT_FALSE(config.cleanup_policy_delete);
  EXPECT_DOUBLE_EQ(config.min_cleanable_dirty_ratio, 0.25);
  storage::LogConfig defaults = topic_log_config(nullptr, image, broker, 1);
  EXPECT_EQ(defaults.retention_ms, 604800000);
  EXPECT_TRUE(defaults.cleanup_policy_delete);
  image.broker_configs[""]["log.retention.ms"] = "77";
  EXPECT_EQ(topic_log_config(nullptr, image, broker, 1).retention_ms, 77);
  // preallocate: false by default, log.preallocate for the broker, the topic's own.
  EXPECT_FALSE(defaults.preallocate);
  image.broker_configs[""]["log.preallocate"] = "true";
  EXPECT_TRUE(topic_log_config(nullptr, image, broker, 1).preallocate);
  topic.configs["preallocate"] = "FALSE";
  EXPECT_FALSE(topic_log_config(&topic, image, broker, 1).preallocate);
}

TEST(BrokerConfigs, LogCleanerSettingsForTheLogManager) {
  // Kafka's defaults are the cleaner's own.
  storage::CleanerConfig defaults = log_cleaner_config(broker_config());
  storage::CleanerConfig expected;
  EXPECT_EQ(defaults.enable, expected.enable);
  EXPECT_EQ(defaults.threads, expected.threads);
  EXPECT_EQ(defaults.backoff_ms, expected.backoff_ms);
  EXPECT_EQ(defaults.dedupe_buffer_bytes, expected.dedupe_buffer_bytes);
  EXPECT_EQ(defaults.io_buffer_bytes, expected.io_buffer_bytes);
  EXPECT_DOUBLE_EQ(defaults.io_buffer_load_factor, expected.io_buffer_load_factor);
  storage::CleanerConfig set = log_cleaner_config(broker_config({{"log.cleaner.enable", "false"},
                                                                 {"log.cleaner.threads", "3"},
                                                                 {"log.cleaner.backoff.ms", "250"},
                                                                 {"log.cleaner.dedupe.buffer.size", "8388608"},
                                                                 {"log.cleaner.io.buffer.size", "65536"},
                                                                 {"log.cleaner.io.buffer.load.factor", "0.75"}}));
  EXPECT_FALSE(set.enable);
  EXPECT_EQ(set.threads, 3);
  EXPECT_EQ(set.backoff_ms, 250);
  EXPECT_EQ(set.dedupe_buffer_bytes, 8388608u);
  EXPECT_EQ(set.io_buffer_bytes, 65536u);
  EXPECT_DOUBLE_EQ(set.io_buffer_load_factor, 0.75);
}

TEST(BrokerConfigs, SourcesAndPasswords) {
  MetadataImage image;
  Config broker = broker_config({{"num.partitions", "6"}});
  image.broker_configs[""]["log.retention.ms"] = "9";
  std::map<std::string, ResolvedConfig> by_name;
  for (ResolvedConfig& config : resolve_broker_configs(image, broker, 1))
    by_name.emplace(config.name, std::move(config));
  EXPECT_EQ(by_name.at("num.partitions").source, ConfigSource::static_broker);
  EXPECT_EQ(by_name.at("num.partitions").value, "6");
  EXPECT_EQ(by_name.at("log.retention.ms").source, ConfigSource::dynamic_default_broker);
  EXPECT_EQ(by_name.at("log.retention.hours").source, ConfigSource::default_config);
  EXPECT_EQ(by_name.at("log.retention.hours").value, "168");
}

}  // namespace
}  // namespace sluice::cluster
