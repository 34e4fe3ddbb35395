// Kafka's MirrorSourceConnector and MirrorSourceTask (MirrorMaker 2 on
// Connect): the records of another cluster's topics, copied into
// `<source alias>.<topic>` (DefaultReplicationPolicy) on the cluster the
// worker produces to, with the same partition, key and value bytes, headers
// and timestamp. Source partition {"cluster", "partition", "topic"} and
// offset {"offset": the record's offset} as Kafka writes them, so a
// restarted task resumes after the last committed record.
//
// Unlike Kafka's, where the connector lists the source partitions and hands
// each task a fixed set (asking the runtime for new task configurations when
// topics appear), each task here finds the source topics itself, every
// refresh.topics.interval.seconds, and mirrors the partitions that
// mirror_task_for gives it: the plugin API has no way for a connector to ask
// for a reconfiguration. A task creates the mirrored topic on the target
// (the source's partition count, its topic configs) before its consumer is
// assigned any partition of it, so no record is produced before the topic
// exists.

#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <memory>
#include <set>

#include "connect/connectors/connectors.h"
#include "connect/connectors/mirror.h"
#include "connect/connectors/stop_signal.h"

namespace sluice::connect {
namespace {

constexpr const char* kTaskIndexKey = "mirror.task.index";
constexpr const char* kTaskCountKey = "mirror.task.count";
// Most records one poll hands out: the runtime's batch, large enough that
// per-poll costs vanish, small enough to keep poll's latency low.
constexpr size_t kMirrorPollRecords = 2000;
// How long a poll waits on the consumer at a time, so stop() is seen soon.
constexpr std::chrono::milliseconds kMirrorWaitStep{100};
// How soon a refresh that could not finish (a cluster unreachable, a topic
// without a leader yet, the target topic not created) is tried again.
constexpr std::chrono::seconds kMirrorRetryInterval{1};
constexpr std::chrono::milliseconds kMirrorRequestTimeout{30000};
// A metadata request cannot be cut short by stop(): kept short (a failed one
// is tried again a second later).
constexpr std::chrono::milliseconds kMirrorMetadataTimeout{5000};
// A consumer error (a topic deleted on the source) repeats at every fetch:
// logged at most this often.
constexpr std::chrono::seconds kMirrorErrorLogInterval{10};

struct MirrorClientDeleter {
  void operator()(rd_kafka_t* handle) const { rd_kafka_destroy(handle); }
};
using MirrorClient = std::unique_ptr<rd_kafka_t, MirrorClientDeleter>;

struct MirrorQueueDeleter {
  void operator()(rd_kafka_queue_t* queue) const { rd_kafka_queue_destroy(queue); }
};
struct MirrorEventDeleter {
  void operator()(rd_kafka_event_t* event) const { rd_kafka_event_destroy(event); }
};
using MirrorEvent = std::unique_ptr<rd_kafka_event_t, MirrorEventDeleter>;

struct MirrorSettings {
  std::string source_alias;
  std::string target_alias;
  ReplicationPolicy policy;
  TopicFilter filter;
  bool refresh_enabled = true;
  std::chrono::seconds refresh_interval{600};
  bool sync_topic_configs = true;
  int replication_factor = 2;
  Properties consumer;
  Properties target_admin;
  bool emit_offset_syncs = true;
  std::string offset_syncs_location = "source";
  int offset_syncs_replication_factor = 3;
  int64_t max_offset_lag = 100;
  Properties offset_syncs_producer;
};

Result<MirrorSettings> parse_mirror_settings(const Properties& config) {
  auto parsed = SimpleConfig::parse(mirror_source_config_keys(), config);
  if (!parsed.is_ok()) return parsed.status();
  MirrorSettings settings;
  settings.source_alias = parsed->get_string("source.cluster.alias").value_or("source");
  settings.target_alias = parsed->get_string("target.cluster.alias").value_or("target");
  settings.policy.identity =
      parsed->get_string("replication.policy.class") == kIdentityReplicationPolicyClass;
  settings.policy.separator = parsed->get_string("replication.policy.separator").value_or(".");
  settings.policy.source_alias = settings.source_alias;
  auto filter = TopicFilter::make(parsed->get_list("topics"), parsed->get_list("topics.exclude"));
  if (!filter) return Status(Errc::invalid_value, "topics or topics.exclude: invalid regex");
  settings.filter = std::move(*filter);
  settings.refresh_enabled = parsed->get_bool("refresh.topics.enabled");
  settings.refresh_interval =
      std::chrono::seconds(std::max(1, parsed->get_int("refresh.topics.interval.seconds")));
  settings.sync_topic_configs = parsed->get_bool("sync.topic.configs.enabled");
  settings.replication_factor = parsed->get_int("replication.factor");
  settings.consumer = mirror_consumer_settings(config);
  settings.target_admin = mirror_target_admin_settings(config);
  settings.emit_offset_syncs = parsed->get_bool("emit.offset-syncs.enabled");
  settings.offset_syncs_location =
      parsed->get_string("offset-syncs.topic.location").value_or("source");
  settings.offset_syncs_replication_factor =
      parsed->get_int("offset-syncs.topic.replication.factor");
  settings.max_offset_lag = parsed->get_int("offset.lag.max");
  settings.offset_syncs_producer =
      mirror_offset_syncs_producer_settings(config, settings.offset_syncs_location);
  return settings;
}

// A librdkafka handle from settings; a setting librdkafka does not know (a
// Java client's) is skipped with a warning, as the runtime's clients do.
Result<MirrorClient> make_mirror_client(rd_kafka_type_t type, const Properties& settings,
                                        const std::string& role) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char error[512];
  for (const auto& [key, value] : settings) {
    const rd_kafka_conf_res_t result =
        rd_kafka_conf_set(conf, key.c_str(), value.c_str(), error, sizeof error);
    if (result == RD_KAFKA_CONF_UNKNOWN) {
      spdlog::warn("connect: mirror {} setting {} is not one librdkafka knows; ignored", role, key);
    } else if (result != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return Status(Errc::invalid_value, "the mirror " + role + " setting " + key + ": " + error);
    }
  }
  rd_kafka_t* handle = rd_kafka_new(type, conf, error, sizeof error);
  if (handle == nullptr) {
    rd_kafka_conf_destroy(conf);
    return Status(Errc::invalid_value, "the mirror " + role + ": " + error);
  }
  return MirrorClient(handle);
}

// The task's place among the connector's tasks (task_configs sets it).
int task_setting(const Properties& config, const char* key, int fallback) {
  auto found = config.find(key);
  if (found == config.end()) return fallback;
  int value = fallback;
  const char* end = found->second.data() + found->second.size();
  auto [at, error] = std::from_chars(found->second.data(), end, value);
  return error == std::errc() && at == end ? value : fallback;
}

std::optional<int64_t> mirror_integer(const Value& value) {
  if (value.is<int64_t>()) return value.as<int64_t>();
  if (value.is<int32_t>()) return value.as<int32_t>();
  if (value.is<int16_t>()) return value.as<int16_t>();
  if (value.is<int8_t>()) return value.as<int8_t>();
  return std::nullopt;
}

SchemaPtr mirror_bytes_schema() { return primitive_schema(SchemaType::bytes, true); }

using MirrorTopics = std::map<std::string, int32_t>;  // topic -> partition count

class MirrorSourceTask final : public SourceTask {
 public:
  ~MirrorSourceTask() override {
    if (consumer_) rd_kafka_consumer_close(consumer_.get());
    if (syncs_) rd_kafka_flush(syncs_.get(), static_cast<int>(kMirrorMetadataTimeout.count()));
  }

  Status start(const Properties& config, OffsetReader& offsets) override {
    auto settings = parse_mirror_settings(config);
    if (!settings.is_ok()) return settings.status();
    settings_ = std::move(*settings);
    task_count_ = std::max(1, task_setting(config, kTaskCountKey, 1));
    task_index_ = task_setting(config, kTaskIndexKey, 0);
    if (task_index_ < 0 || task_index_ >= task_count_) {
      return Status(Errc::invalid_value, "the mirror task's index " + std::to_string(task_index_) +
                                             " is outside 0.." + std::to_string(task_count_ - 1));
    }
    offsets_ = &offsets;
    if (Status made = make_clients(config); !made) return made;
    // The stored offsets are applied as the partitions are found: now, and
    // for topics that appear later.
    refresh();
    return Status::ok();
  }

  Result<std::vector<ConnectRecord>> poll(std::chrono::milliseconds max_wait) override {
    if (std::chrono::steady_clock::now() >= next_refresh_) refresh();
    const auto deadline = std::chrono::steady_clock::now() + max_wait;
    std::vector<ConnectRecord> records;
    while (!stop_.requested() && records.size() < kMirrorPollRecords) {
      std::chrono::milliseconds wait{0};
      if (records.empty()) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) break;
        wait = std::min(left, kMirrorWaitStep);
      }
      if (assigned_.empty()) {
        stop_.sleep_until(std::chrono::steady_clock::now() + wait);
        if (!records.empty() || std::chrono::steady_clock::now() >= deadline) break;
        continue;
      }
      rd_kafka_message_t* message =
          rd_kafka_consumer_poll(consumer_.get(), static_cast<int>(wait.count()));
      if (message == nullptr) {
        if (!records.empty()) break;
        continue;
      }
      take(message, records);
      rd_kafka_message_destroy(message);
    }
    return records;
  }

  // May be called from another thread than poll's: only wakes it.
  void stop() override { stop_.request(); }

  bool wants_record_commits() const override { return syncs_ != nullptr; }

  // MirrorSourceTask.commitRecord: the record's offsets on both sides, for
  // an offset sync now or at the next commit.
  void record_committed(const Map& source_partition, const Map& source_offset,
                        int32_t /*kafka_partition*/, int64_t kafka_offset) override {
    const Value* topic = map_find(source_partition, "topic");
    const Value* partition = map_find(source_partition, "partition");
    const Value* offset = map_find(source_offset, "offset");
    if (topic == nullptr || !topic->is<std::string>() || partition == nullptr ||
        offset == nullptr) {
      return;
    }
    std::optional<int64_t> partition_number = mirror_integer(*partition);
    std::optional<int64_t> upstream = mirror_integer(*offset);
    if (!partition_number || !upstream) return;
    const auto key =
        std::make_pair(topic->as<std::string>(), static_cast<int32_t>(*partition_number));
    auto state = sync_states_.try_emplace(key, settings_.max_offset_lag).first;
    if (state->second.update(*upstream, kafka_offset)) {
      delayed_syncs_.erase(key);
      send_offset_sync(key.first, key.second, *upstream, kafka_offset);
    } else {
      delayed_syncs_[key] = {*upstream, kafka_offset};
    }
  }

  // OffsetSyncWriter.promoteDelayedOffsetSyncs at each offset commit: every
  // partition's latest offsets are published.
  void committed() override {
    if (!syncs_) return;
    for (const auto& [key, offsets] : delayed_syncs_) {
      send_offset_sync(key.first, key.second, offsets.first, offsets.second);
    }
    delayed_syncs_.clear();
    rd_kafka_poll(syncs_.get(), 0);
  }

 private:
  Status make_clients(const Properties& config) {
    const std::string name = config.count("name") ? config.at("name") : "mirror";
    Properties consumer = {
        {"client.id", "mirror-" + name + "-" + std::to_string(task_index_)},
        // No offsets are committed to the source: the connector's own
        // offsets say where to resume. librdkafka's assign() needs a group.
        {"group.id", "sluice-mirror-" + name},
        {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},
        {"auto.offset.reset", "earliest"},  // MirrorSourceConfig's default
    };
    for (const auto& [key, value] : settings_.consumer) consumer[key] = value;
    auto made = make_mirror_client(RD_KAFKA_CONSUMER, consumer, "source consumer");
    if (!made.is_ok()) return made.status();
    consumer_ = std::move(*made);
    start_at_end_ = consumer["auto.offset.reset"] == "latest" ||
                    consumer["auto.offset.reset"] == "largest" ||
                    consumer["auto.offset.reset"] == "end";
    auto admin = make_mirror_client(RD_KAFKA_PRODUCER, settings_.target_admin, "target admin");
    if (!admin.is_ok()) return admin.status();
    target_ = std::move(*admin);
    if (settings_.emit_offset_syncs) start_offset_syncs();
    return Status::ok();
  }

  // The producer of offset syncs and its topic (compacted, one partition),
  // on the cluster offset-syncs.topic.location names. Mirroring goes on
  // without syncs when the topic cannot be made.
  void start_offset_syncs() {
    Properties producer = {{"acks", "all"}};
    for (const auto& [key, value] : settings_.offset_syncs_producer) producer[key] = value;
    auto made = make_mirror_client(RD_KAFKA_PRODUCER, producer, "offset-syncs producer");
    if (!made.is_ok()) {
      spdlog::error("connect: mirror task {}: no offset syncs: {}", task_index_,
                    made.status().message());
      return;
    }
    syncs_ = std::move(*made);
    syncs_topic_ = settings_.policy.offset_syncs_topic(settings_.target_alias);
    if (Status created = create_offset_syncs_topic(); !created) {
      spdlog::error(
          "connect: mirror task {}: no offset syncs ({}); set "
          "offset-syncs.topic.replication.factor or emit.offset-syncs.enabled=false",
          task_index_, created.message());
      syncs_.reset();
    }
  }

  Status create_offset_syncs_topic() {
    char error[512];
    rd_kafka_NewTopic_t* request = rd_kafka_NewTopic_new(
        syncs_topic_.c_str(), 1, settings_.offset_syncs_replication_factor, error, sizeof error);
    if (request == nullptr) {
      return Status(Errc::invalid_value, "creating the topic " + syncs_topic_ + ": " + error);
    }
    rd_kafka_NewTopic_set_config(request, "cleanup.policy", "compact");
    auto event = call_admin(syncs_.get(), [&](rd_kafka_queue_t* queue) {
      rd_kafka_CreateTopics(syncs_.get(), &request, 1, nullptr, queue);
    });
    rd_kafka_NewTopic_destroy(request);
    if (!event.is_ok()) return event.status();
    size_t count = 0;
    const rd_kafka_topic_result_t** results = rd_kafka_CreateTopics_result_topics(
        rd_kafka_event_CreateTopics_result(event->get()), &count);
    for (size_t i = 0; i < count; ++i) {
      const rd_kafka_resp_err_t err = rd_kafka_topic_result_error(results[i]);
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
        const char* reason = rd_kafka_topic_result_error_string(results[i]);
        return Status(Errc::io_error,
                      "creating the topic " + syncs_topic_ + ": " + rd_kafka_err2str(err) +
                          (reason != nullptr ? std::string(" (") + reason + ")" : std::string()));
      }
    }
    return Status::ok();
  }

  // A lost sync costs only translation precision (the next one replaces
  // it), so a full queue drops it with a warning.
  void send_offset_sync(const std::string& topic, int32_t partition, int64_t upstream,
                        int64_t downstream) {
    const std::string key = offset_sync_key(topic, partition);
    std::string value = offset_sync_value(upstream, downstream);
    const rd_kafka_resp_err_t err = rd_kafka_producev(
        syncs_.get(), RD_KAFKA_V_TOPIC(syncs_topic_.c_str()), RD_KAFKA_V_PARTITION(0),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(key.data(), key.size()),
        RD_KAFKA_V_VALUE(value.data(), value.size()), RD_KAFKA_V_END);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      spdlog::warn("connect: mirror task {}: offset sync for {}-{} dropped: {}", task_index_, topic,
                   partition, rd_kafka_err2str(err));
    }
  }

  // Finds the source topics this task mirrors, creates what the target
  // lacks, and assigns the consumer the partitions not yet assigned.
  void refresh() {
    next_refresh_ = std::chrono::steady_clock::now() + settings_.refresh_interval;
    auto topics = source_topics();
    if (!topics.is_ok()) {
      spdlog::warn("connect: mirror task {} could not list the source topics: {}", task_index_,
                   topics.status().message());
      next_refresh_ = std::chrono::steady_clock::now() + kMirrorRetryInterval;
      return;
    }
    bool complete = true;
    std::vector<std::pair<std::string, int32_t>> added;
    for (const auto& [topic, partitions] : *topics) {
      std::vector<int32_t> mine;
      for (int32_t partition = 0; partition < partitions; ++partition) {
        if (mirror_task_for(topic, partition, task_count_) == task_index_ &&
            !assigned_.contains({topic, partition})) {
          mine.push_back(partition);
        }
      }
      if (mine.empty()) continue;
      if (Status ready = ensure_target_topic(topic, partitions); !ready) {
        spdlog::warn("connect: mirror task {}: {}", task_index_, ready.message());
        complete = false;
        continue;
      }
      for (int32_t partition : mine) added.emplace_back(topic, partition);
    }
    if (!added.empty()) assign(added);
    if (!complete || !topics_complete_) {
      next_refresh_ = std::chrono::steady_clock::now() + kMirrorRetryInterval;
    } else if (!settings_.refresh_enabled) {
      next_refresh_ = std::chrono::steady_clock::time_point::max();
    }
  }

  // The source's topics that pass the filter, with their partition counts.
  // A topic the metadata reports an error for (no leader yet) is left for
  // the next try.
  Result<MirrorTopics> source_topics() {
    const rd_kafka_metadata_t* metadata = nullptr;
    const rd_kafka_resp_err_t err = rd_kafka_metadata(
        consumer_.get(), 1, nullptr, &metadata, static_cast<int>(kMirrorMetadataTimeout.count()));
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return Status(Errc::io_error, rd_kafka_err2str(err));
    MirrorTopics topics;
    topics_complete_ = true;
    for (int i = 0; i < metadata->topic_cnt; ++i) {
      const rd_kafka_metadata_topic_t& topic = metadata->topics[i];
      const std::string name = topic.topic;
      if (!should_mirror_topic(settings_.filter, settings_.policy, settings_.target_alias, name)) {
        continue;
      }
      if (topic.err != RD_KAFKA_RESP_ERR_NO_ERROR || topic.partition_cnt <= 0) {
        topics_complete_ = false;
        continue;
      }
      topics[name] = topic.partition_cnt;
    }
    rd_kafka_metadata_destroy(metadata);
    return topics;
  }

  // The mirrored topic with at least the source's partition count.
  Status ensure_target_topic(const std::string& topic, int32_t partitions) {
    const std::string remote = settings_.policy.format_remote_topic(settings_.source_alias, topic);
    auto target_count = known_target_partitions_.find(remote);
    if (target_count != known_target_partitions_.end() && target_count->second >= partitions) {
      return Status::ok();
    }
    auto created = create_topic(topic, remote, partitions);
    if (!created.is_ok()) return created.status();
    if (!*created) {  // it existed: it may have fewer partitions than the source now
      auto existing = target_partition_count(remote);
      if (!existing.is_ok()) return existing.status();
      if (*existing < partitions) {
        if (Status grown = create_partitions(remote, partitions); !grown) return grown;
      }
    }
    known_target_partitions_[remote] = partitions;
    return Status::ok();
  }

  // True when created, false when it already existed.
  Result<bool> create_topic(const std::string& topic, const std::string& remote,
                            int32_t partitions) {
    char error[512];
    rd_kafka_NewTopic_t* request = rd_kafka_NewTopic_new(
        remote.c_str(), partitions, settings_.replication_factor, error, sizeof error);
    if (request == nullptr) {
      return Status(Errc::invalid_value, "creating the topic " + remote + ": " + error);
    }
    if (settings_.sync_topic_configs) {
      for (const auto& [name, value] : source_topic_configs(topic)) {
        rd_kafka_NewTopic_set_config(request, name.c_str(), value.c_str());
      }
    }
    auto event = call_admin(target_.get(), [&](rd_kafka_queue_t* queue) {
      rd_kafka_CreateTopics(target_.get(), &request, 1, nullptr, queue);
    });
    rd_kafka_NewTopic_destroy(request);
    if (!event.is_ok()) return event.status();
    size_t count = 0;
    const rd_kafka_topic_result_t** results = rd_kafka_CreateTopics_result_topics(
        rd_kafka_event_CreateTopics_result(event->get()), &count);
    for (size_t i = 0; i < count; ++i) {
      const rd_kafka_resp_err_t err = rd_kafka_topic_result_error(results[i]);
      if (err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) return false;
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char* reason = rd_kafka_topic_result_error_string(results[i]);
        return Status(Errc::io_error,
                      "creating the topic " + remote + " on the target: " + rd_kafka_err2str(err) +
                          (reason != nullptr ? std::string(" (") + reason + ")" : std::string()));
      }
    }
    spdlog::info("connect: mirror task {} created {} ({} partitions) on the target", task_index_,
                 remote, partitions);
    return true;
  }

  Status create_partitions(const std::string& remote, int32_t partitions) {
    char error[512];
    rd_kafka_NewPartitions_t* request = rd_kafka_NewPartitions_new(
        remote.c_str(), static_cast<size_t>(partitions), error, sizeof error);
    if (request == nullptr) {
      return Status(Errc::invalid_value, "adding partitions to " + remote + ": " + error);
    }
    auto event = call_admin(target_.get(), [&](rd_kafka_queue_t* queue) {
      rd_kafka_CreatePartitions(target_.get(), &request, 1, nullptr, queue);
    });
    rd_kafka_NewPartitions_destroy(request);
    if (!event.is_ok()) return event.status();
    size_t count = 0;
    const rd_kafka_topic_result_t** results = rd_kafka_CreatePartitions_result_topics(
        rd_kafka_event_CreatePartitions_result(event->get()), &count);
    for (size_t i = 0; i < count; ++i) {
      const rd_kafka_resp_err_t err = rd_kafka_topic_result_error(results[i]);
      // Another task may have grown it first.
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR_INVALID_PARTITIONS) {
        return Status(Errc::io_error,
                      "adding partitions to " + remote + ": " + rd_kafka_err2str(err));
      }
    }
    return Status::ok();
  }

  Result<int32_t> target_partition_count(const std::string& remote) {
    rd_kafka_topic_t* handle = rd_kafka_topic_new(target_.get(), remote.c_str(), nullptr);
    const rd_kafka_metadata_t* metadata = nullptr;
    const rd_kafka_resp_err_t err = rd_kafka_metadata(
        target_.get(), 0, handle, &metadata, static_cast<int>(kMirrorMetadataTimeout.count()));
    rd_kafka_topic_destroy(handle);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return Status(Errc::io_error,
                    "reading " + remote + " on the target: " + rd_kafka_err2str(err));
    }
    int32_t count = 0;
    if (metadata->topic_cnt == 1 && metadata->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      count = metadata->topics[0].partition_cnt;
    }
    rd_kafka_metadata_destroy(metadata);
    return count;
  }

  // The source topic's own settings (not defaults, read-only or secret
  // ones, nor those Kafka's DefaultConfigPropertyFilter keeps back). None
  // when they cannot be read: the topic is created with the target's
  // defaults rather than not at all.
  std::vector<std::pair<std::string, std::string>> source_topic_configs(const std::string& topic) {
    std::vector<std::pair<std::string, std::string>> configs;
    rd_kafka_ConfigResource_t* resource =
        rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic.c_str());
    auto event = call_admin(consumer_.get(), [&](rd_kafka_queue_t* queue) {
      rd_kafka_DescribeConfigs(consumer_.get(), &resource, 1, nullptr, queue);
    });
    rd_kafka_ConfigResource_destroy(resource);
    if (!event.is_ok()) {
      spdlog::warn("connect: mirror task {} could not read the configs of {}: {}", task_index_,
                   topic, event.status().message());
      return configs;
    }
    size_t count = 0;
    const rd_kafka_ConfigResource_t** resources = rd_kafka_DescribeConfigs_result_resources(
        rd_kafka_event_DescribeConfigs_result(event->get()), &count);
    if (count != 1 || rd_kafka_ConfigResource_error(resources[0]) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return configs;
    }
    size_t entry_count = 0;
    const rd_kafka_ConfigEntry_t** entries =
        rd_kafka_ConfigResource_configs(resources[0], &entry_count);
    for (size_t i = 0; i < entry_count; ++i) {
      const rd_kafka_ConfigEntry_t* entry = entries[i];
      const char* value = rd_kafka_ConfigEntry_value(entry);
      if (value == nullptr || rd_kafka_ConfigEntry_is_read_only(entry) ||
          rd_kafka_ConfigEntry_is_sensitive(entry) ||
          rd_kafka_ConfigEntry_source(entry) != RD_KAFKA_CONFIG_SOURCE_DYNAMIC_TOPIC_CONFIG) {
        continue;
      }
      const std::string name = rd_kafka_ConfigEntry_name(entry);
      if (!is_excluded_topic_config(name)) configs.emplace_back(name, value);
    }
    return configs;
  }

  // Runs one admin request and waits for its result, in short steps so a
  // stop cuts the wait short.
  template <typename Request>
  Result<MirrorEvent> call_admin(rd_kafka_t* client, Request request) {
    std::unique_ptr<rd_kafka_queue_t, MirrorQueueDeleter> queue(rd_kafka_queue_new(client));
    request(queue.get());
    const auto deadline = std::chrono::steady_clock::now() + kMirrorRequestTimeout;
    while (std::chrono::steady_clock::now() < deadline && !stop_.requested()) {
      MirrorEvent event(
          rd_kafka_queue_poll(queue.get(), static_cast<int>(kMirrorWaitStep.count())));
      if (!event) continue;
      if (rd_kafka_event_error(event.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return Status(Errc::io_error, rd_kafka_event_error_string(event.get()));
      }
      return event;
    }
    return Status(Errc::io_error, "no answer from the cluster in time");
  }

  // Adds partitions to the consumer's assignment. librdkafka's assign()
  // replaces the whole assignment, so the partitions already assigned are
  // given again at the offset after the last record handed out.
  void assign(const std::vector<std::pair<std::string, int32_t>>& added) {
    for (const auto& [topic, partition] : added) {
      assigned_[{topic, partition}] = stored_next_offset(topic, partition);
    }
    rd_kafka_topic_partition_list_t* list =
        rd_kafka_topic_partition_list_new(static_cast<int>(assigned_.size()));
    for (const auto& [key, next] : assigned_) {
      rd_kafka_topic_partition_list_add(list, key.first.c_str(), key.second)->offset = next;
    }
    const rd_kafka_resp_err_t err = rd_kafka_assign(consumer_.get(), list);
    rd_kafka_topic_partition_list_destroy(list);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      spdlog::error("connect: mirror task {} could not assign its partitions: {}", task_index_,
                    rd_kafka_err2str(err));
      for (const auto& [topic, partition] : added) assigned_.erase({topic, partition});
      next_refresh_ = std::chrono::steady_clock::now() + kMirrorRetryInterval;
      return;
    }
    spdlog::info("connect: mirror task {} mirrors {} source partitions", task_index_,
                 assigned_.size());
  }

  // MirrorSourceTask.loadOffset: the committed offset is the last record's,
  // so reading resumes after it; none: the consumer's auto.offset.reset.
  int64_t stored_next_offset(const std::string& topic, int32_t partition) {
    const int64_t none = start_at_end_ ? RD_KAFKA_OFFSET_END : RD_KAFKA_OFFSET_BEGINNING;
    std::optional<Map> stored = offsets_->offset(source_partition(topic, partition));
    if (!stored) return none;
    const Value* offset = map_find(*stored, "offset");
    if (offset == nullptr) return none;
    std::optional<int64_t> last = mirror_integer(*offset);
    if (!last || *last < 0) return none;
    return *last + 1;
  }

  // MirrorUtils.wrapPartition, its keys in the order Java's HashMap gives
  // them (so the stored key's bytes are Kafka's).
  Map source_partition(const std::string& topic, int32_t partition) const {
    return Map{MapEntry{Value("cluster"), Value(settings_.source_alias)},
               MapEntry{Value("partition"), Value(partition)},
               MapEntry{Value("topic"), Value(topic)}};
  }

  void take(const rd_kafka_message_t* message, std::vector<ConnectRecord>& records) {
    if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      const auto now = std::chrono::steady_clock::now();
      if (message->err != RD_KAFKA_RESP_ERR__PARTITION_EOF && now >= next_error_log_) {
        next_error_log_ = now + kMirrorErrorLogInterval;
        spdlog::warn("connect: mirror task {} consumer: {}", task_index_,
                     rd_kafka_message_errstr(message));
      }
      return;
    }
    const std::string topic = rd_kafka_topic_name(message->rkt);
    auto slot = assigned_.find({topic, message->partition});
    // Not ours, or fetched before a reassignment moved the position on.
    if (slot == assigned_.end() || (slot->second >= 0 && message->offset < slot->second)) return;
    slot->second = message->offset + 1;
    Value key;
    if (message->key != nullptr) {
      key = Value(Bytes{std::string(static_cast<const char*>(message->key), message->key_len)});
    }
    Value value;
    if (message->payload != nullptr) {
      value = Value(Bytes{std::string(static_cast<const char*>(message->payload), message->len)});
    }
    rd_kafka_timestamp_type_t type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
    const int64_t timestamp = rd_kafka_message_timestamp(message, &type);
    ConnectRecord record = make_source_record(
        source_partition(topic, message->partition),
        Map{MapEntry{Value("offset"), Value(static_cast<int64_t>(message->offset))}},
        settings_.policy.format_remote_topic(settings_.source_alias, topic), message->partition,
        mirror_bytes_schema(), std::move(key), mirror_bytes_schema(), std::move(value),
        type == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? std::nullopt : std::optional(timestamp));
    add_headers(message, record);
    records.push_back(std::move(record));
  }

  static void add_headers(const rd_kafka_message_t* message, ConnectRecord& record) {
    rd_kafka_headers_t* headers = nullptr;
    if (rd_kafka_message_headers(message, &headers) != RD_KAFKA_RESP_ERR_NO_ERROR) return;
    const char* name = nullptr;
    const void* bytes = nullptr;
    size_t size = 0;
    for (size_t i = 0;
         rd_kafka_header_get_all(headers, i, &name, &bytes, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
         ++i) {
      Value value;
      if (bytes != nullptr)
        value = Value(Bytes{std::string(static_cast<const char*>(bytes), size)});
      record.headers.push_back(Header{name, mirror_bytes_schema(), std::move(value)});
    }
  }

  MirrorSettings settings_;
  int task_index_ = 0;
  int task_count_ = 1;
  OffsetReader* offsets_ = nullptr;  // the runtime's, valid until the task stops
  MirrorClient consumer_;
  MirrorClient target_;
  bool start_at_end_ = false;
  bool topics_complete_ = true;
  // The partitions the consumer is assigned, with the offset to read next.
  std::map<std::pair<std::string, int32_t>, int64_t> assigned_;
  std::map<std::string, int32_t> known_target_partitions_;
  std::chrono::steady_clock::time_point next_refresh_;
  std::chrono::steady_clock::time_point next_error_log_;
  // Offset syncs (emit.offset-syncs.enabled): null when off.
  MirrorClient syncs_;
  std::string syncs_topic_;
  std::map<std::pair<std::string, int32_t>, OffsetSyncState> sync_states_;
  // Per source partition: the latest upstream and downstream offsets not
  // yet published.
  std::map<std::pair<std::string, int32_t>, std::pair<int64_t, int64_t>> delayed_syncs_;
  StopSignal stop_;
};

class MirrorSourceConnector final : public Connector {
 public:
  ConnectorType type() const override { return ConnectorType::source; }
  std::vector<ConfigKey> config_keys() const override { return mirror_source_config_keys(); }

  Status start(const Properties& config) override {
    auto settings = parse_mirror_settings(config);
    if (!settings.is_ok()) return settings.status();
    warn_of_converters(config);
    config_ = config;
    return Status::ok();
  }

  // The records are bytes; another converter re-encodes them (the runtime
  // gives a plugin no say in its converters, so this is only a warning).
  static void warn_of_converters(const Properties& config) {
    for (const char* key : {"key.converter", "value.converter", "header.converter"}) {
      auto found = config.find(key);
      if (found != config.end() && !found->second.ends_with("ByteArrayConverter")) {
        spdlog::warn(
            "connect: MirrorSourceConnector {}: {} re-encodes the mirrored bytes; "
            "org.apache.kafka.connect.converters.ByteArrayConverter copies them unchanged",
            key, found->second);
      }
    }
  }

  // tasks.max tasks, each finding its share of the source partitions
  // (mirror_task_for). Kafka runs min(tasks.max, partitions) tasks.
  std::vector<Properties> task_configs(int max_tasks) override {
    const int count = std::max(1, max_tasks);
    std::vector<Properties> configs;
    for (int index = 0; index < count; ++index) {
      Properties task = config_;
      task[kTaskIndexKey] = std::to_string(index);
      task[kTaskCountKey] = std::to_string(count);
      configs.push_back(std::move(task));
    }
    return configs;
  }

  std::unique_ptr<SourceTask> make_source_task() override {
    return std::make_unique<MirrorSourceTask>();
  }

 private:
  Properties config_;
};

}  // namespace

std::unique_ptr<Connector> make_mirror_source_connector() {
  return std::make_unique<MirrorSourceConnector>();
}

}  // namespace sluice::connect
