// Topic configs: defaults from the broker's log.* synonyms, precedence of
// overrides, sources, and the LogConfig the data path gets.
#include "cluster/topic_config.h"

#include <gtest/gtest.h>

#include "broker/broker_config.h"
#include "broker/kafka_broker_configs.h"
#include "test_config.h"

namespace sluice::cluster {
namespace {

using testing::broker_config;

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
  // Kafka lists synonyms from the first one named log.retention.ms: none
  // while it is unset, though the hours default gives the value.
  EXPECT_TRUE(retention.synonyms.empty());
  ResolvedConfig segment = resolve("segment.bytes", {}, image, broker);
  ASSERT_EQ(segment.synonyms.size(), 1u);
  EXPECT_EQ(segment.synonyms[0].name, "log.segment.bytes");
  EXPECT_EQ(segment.synonyms[0].source, ConfigSource::default_config);
  EXPECT_EQ(resolve("segment.bytes", {}, image, broker).value, "1073741824");
  EXPECT_EQ(resolve("max.message.bytes", {}, image, broker).value, "1048588");
  EXPECT_EQ(resolve("cleanup.policy", {}, image, broker).value, "delete");
  EXPECT_EQ(resolve("segment.ms", {}, image, broker).value, "604800000");
  EXPECT_EQ(resolve("message.timestamp.type", {}, image, broker).value, "CreateTime");
  EXPECT_FALSE(resolve_topic_config("no.such", {}, image, broker, 1).has_value());
}

// The broker settings behind topic configs come partly from Kafka's table
// (kafka_broker_configs.cc); Sluice's own topic defaults must still win.
TEST(TopicConfig, UnsetTopicConfigsHaveTheirOwnDefaults) {
  MetadataImage image;
  Config broker = broker_config();
  for (const ConfigDef& def : topic_config_defs().all())
    EXPECT_EQ(resolve(def.name, {}, image, broker).value, def.default_value) << def.name;
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

// ConfigHelper.configSynonyms: every level's synonyms, then the defaults,
// from the first entry naming the topic config's own broker setting.
TEST(TopicConfig, SynonymsAreListedAsKafkaListsThem) {
  MetadataImage image;
  auto names = [](const ResolvedConfig& config) {
    std::vector<std::string> out;
    for (const ConfigSynonym& synonym : config.synonyms)
      out.push_back(synonym.name + "@" + std::to_string(static_cast<int>(synonym.source)));
    return out;
  };
  const int topic = static_cast<int>(ConfigSource::dynamic_topic);
  const int fixed = static_cast<int>(ConfigSource::static_broker);
  const int fallback = static_cast<int>(ConfigSource::default_config);
  Config ms = broker_config({{"log.retention.ms", "5"}});
  EXPECT_EQ(names(resolve("retention.ms", {{"retention.ms", "7"}}, image, ms)),
            (std::vector<std::string>{"retention.ms@" + std::to_string(topic),
                                      "log.retention.ms@" + std::to_string(fixed),
                                      "log.retention.hours@" + std::to_string(fallback)}));
  // Only the hours set: the list would start at log.retention.hours, so it
  // is empty, as in Kafka; the value still honours the hours.
  Config hours = broker_config({{"log.retention.hours", "1"}});
  ResolvedConfig from_hours = resolve("retention.ms", {}, image, hours);
  EXPECT_TRUE(from_hours.synonyms.empty());
  EXPECT_EQ(from_hours.value, "3600000");
}

// KIP-937's transition: the deprecated setting bounds both directions
// where the successors are set nowhere; an explicit successor wins.
TEST(TopicConfig, DeprecatedTimestampDifferenceMapsToItsSuccessors) {
  MetadataImage image;
  Config broker = broker_config();
  auto bound = [&](const char* successor, const std::map<std::string, std::string>& overrides,
                   const Config& config) {
    return timestamp_bound(successor, overrides, image, config, 1);
  };
  EXPECT_EQ(bound("message.timestamp.before.max.ms", {}, broker), INT64_MAX);
  EXPECT_EQ(bound("message.timestamp.after.max.ms", {}, broker), 3600000);
  const std::map<std::string, std::string> difference = {
      {"message.timestamp.difference.max.ms", "1000"}};
  EXPECT_TRUE(validate_topic_configs(difference));
  EXPECT_EQ(bound("message.timestamp.before.max.ms", difference, broker), 1000);
  EXPECT_EQ(bound("message.timestamp.after.max.ms", difference, broker), 1000);
  auto both = difference;
  both["message.timestamp.after.max.ms"] = "50";
  EXPECT_EQ(bound("message.timestamp.after.max.ms", both, broker), 50);
  EXPECT_EQ(bound("message.timestamp.before.max.ms", both, broker), 1000);
  Config broker_level = broker_config({{"log.message.timestamp.difference.max.ms", "2000"}});
  EXPECT_EQ(bound("message.timestamp.before.max.ms", {}, broker_level), 2000);
  EXPECT_EQ(deprecated_topic_config_warnings(difference).size(), 1u);
}

TEST(TopicConfig, DeprecatedMessageFormatVersionIsAcceptedWhenValid) {
  for (const char* version : {"0.10.2", "0.8.0", "2.8-IV1", "3.0", "3.0-IV1", "1.1"})
    EXPECT_TRUE(validate_topic_configs({{"message.format.version", version}})) << version;
  for (const char* version : {"", "3", "4.0", "x.y", "3.0-IV", "3.0.1.2", "3.0-"})
    EXPECT_FALSE(validate_topic_configs({{"message.format.version", version}})) << version;
  EXPECT_EQ(deprecated_topic_config_warnings({{"message.format.version", "2.8"}}).size(), 1u);
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

// A Kafka user's server.properties starts Sluice: every setting Kafka 3.9
// defines is known, typed, with Kafka's update mode; those Sluice ignores
// are named for the start-up log.
TEST(BrokerConfigs, EveryKafkaSettingIsKnown) {
  const ConfigDefs& defs = broker::broker_config_defs();
  for (const broker::KafkaBrokerConfig& kafka : broker::kafka_broker_configs())
    EXPECT_NE(defs.find(std::string(kafka.name)), nullptr) << kafka.name;
  EXPECT_GT(broker::kafka_broker_configs().size(), 300u);
  const ConfigDef* background = defs.find("background.threads");
  ASSERT_NE(background, nullptr);
  EXPECT_FALSE(background->read_only);
  EXPECT_TRUE(background->inert);
  EXPECT_EQ(background->default_value, "10");
  const ConfigDef* io_threads = defs.find("num.io.threads");  // Sluice's own, static
  ASSERT_NE(io_threads, nullptr);
  EXPECT_FALSE(io_threads->read_only);
  EXPECT_TRUE(io_threads->dynamic_inert);
  EXPECT_TRUE(defs.find("sasl.kerberos.min.time.before.relogin")->per_broker_only);
  EXPECT_TRUE(defs.find("log.retention.hours")->read_only);
  EXPECT_FALSE(defs.find("log.retention.ms")->read_only);

  auto config = broker::BrokerConfig::load(
      "zookeeper.connect=localhost:2181\nbackground.threads=4\nlog.retention.ms=5\n", {});
  ASSERT_TRUE(config) << config.status().to_string();
  EXPECT_EQ(config->inert_settings(),
            (std::vector<std::string>{"background.threads", "zookeeper.connect"}));
  EXPECT_FALSE(broker::BrokerConfig::load("background.threads=many\n", {}));
  EXPECT_FALSE(broker::BrokerConfig::load("log.dirz=/tmp\n", {}));
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
