// The broker's data path: the file system, the LogManager (partition logs,
// group-commit flusher, background jobs), the ReplicaManager following the
// metadata image, fetch sessions and the timer of delayed operations; and
// the topic settings they apply (topic overrides over broker defaults).
#include <spdlog/spdlog.h>

#include <charconv>

#include "broker/broker.h"
#include "storage/posix_file_system.h"

namespace sluice::broker {
namespace {

std::optional<int64_t> int_setting(const std::map<std::string, std::string>& overrides, const char* name) {
  auto found = overrides.find(name);
  if (found == overrides.end()) return std::nullopt;
  int64_t value = 0;
  const std::string& text = found->second;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<int64_t> broker_int(const BrokerConfig& config, const char* name) {
  if (!config.values.text(name)) return std::nullopt;
  return config.get_int(name);
}

void apply_cleanup_policy(storage::LogConfig& log_config, const std::string& policy) {
  log_config.cleanup_policy_delete = policy.find("delete") != std::string::npos;
  log_config.cleanup_policy_compact = policy.find("compact") != std::string::npos;
}

}  // namespace

// The broker-wide defaults of every topic setting (Kafka's log.* keys).
storage::LogConfig Broker::default_log_config() const {
  storage::LogConfig log_config;
  const BrokerConfig& c = config_;
  log_config.segment_bytes = static_cast<uint64_t>(c.get_int("log.segment.bytes"));
  if (auto ms = broker_int(c, "log.roll.ms")) log_config.segment_ms = *ms;
  else log_config.segment_ms = c.get_int("log.roll.hours") * 3600000;
  if (auto ms = broker_int(c, "log.retention.ms")) log_config.retention_ms = *ms;
  else if (auto minutes = broker_int(c, "log.retention.minutes")) log_config.retention_ms = *minutes * 60000;
  else log_config.retention_ms = c.get_int("log.retention.hours") * 3600000;
  if (log_config.retention_ms < 0) log_config.retention_ms = -1;
  log_config.retention_bytes = c.get_int("log.retention.bytes");
  log_config.index_interval_bytes = static_cast<uint32_t>(c.get_int("log.index.interval.bytes"));
  log_config.segment_index_bytes = static_cast<uint64_t>(c.get_int("log.index.size.max.bytes"));
  log_config.max_message_bytes = static_cast<uint32_t>(c.get_int("message.max.bytes"));
  log_config.flush_messages = c.get_int("log.flush.interval.messages");
  if (auto ms = broker_int(c, "log.flush.interval.ms")) log_config.flush_ms = *ms;
  apply_cleanup_policy(log_config, c.get_string("log.cleanup.policy"));
  log_config.delete_retention_ms = c.get_int("log.cleaner.delete.retention.ms");
  log_config.min_cleanable_dirty_ratio = c.values.get_double("log.cleaner.min.cleanable.ratio");
  log_config.min_compaction_lag_ms = c.get_int("log.cleaner.min.compaction.lag.ms");
  log_config.max_compaction_lag_ms = c.get_int("log.cleaner.max.compaction.lag.ms");
  return log_config;
}

// A topic's LogConfig: its overrides (topic config names) over the defaults.
storage::LogConfig Broker::topic_log_config(const std::map<std::string, std::string>& overrides) const {
  storage::LogConfig log_config = default_log_config();
  if (auto v = int_setting(overrides, "segment.bytes")) log_config.segment_bytes = static_cast<uint64_t>(*v);
  if (auto v = int_setting(overrides, "segment.ms")) log_config.segment_ms = *v;
  if (auto v = int_setting(overrides, "segment.index.bytes")) log_config.segment_index_bytes = static_cast<uint64_t>(*v);
  if (auto v = int_setting(overrides, "index.interval.bytes")) log_config.index_interval_bytes = static_cast<uint32_t>(*v);
  if (auto v = int_setting(overrides, "max.message.bytes")) log_config.max_message_bytes = static_cast<uint32_t>(*v);
  if (auto v = int_setting(overrides, "retention.ms")) log_config.retention_ms = *v < 0 ? -1 : *v;
  if (auto v = int_setting(overrides, "retention.bytes")) log_config.retention_bytes = *v;
  if (auto v = int_setting(overrides, "file.delete.delay.ms")) log_config.file_delete_delay_ms = *v;
  if (auto v = int_setting(overrides, "flush.messages")) log_config.flush_messages = *v;
  if (auto v = int_setting(overrides, "flush.ms")) log_config.flush_ms = *v;
  if (auto v = int_setting(overrides, "delete.retention.ms")) log_config.delete_retention_ms = *v;
  if (auto v = int_setting(overrides, "min.compaction.lag.ms")) log_config.min_compaction_lag_ms = *v;
  if (auto v = int_setting(overrides, "max.compaction.lag.ms")) log_config.max_compaction_lag_ms = *v;
  if (auto found = overrides.find("cleanup.policy"); found != overrides.end())
    apply_cleanup_policy(log_config, found->second);
  return log_config;
}

cluster::AppendPolicy Broker::topic_append_policy(const std::map<std::string, std::string>& overrides) const {
  cluster::AppendPolicy policy;
  std::string type = config_.get_string("log.message.timestamp.type");
  if (auto found = overrides.find("message.timestamp.type"); found != overrides.end()) type = found->second;
  policy.log_append_time = type == "LogAppendTime";
  policy.min_insync_replicas = static_cast<int32_t>(
      int_setting(overrides, "min.insync.replicas").value_or(config_.get_int("min.insync.replicas")));
  // Kafka's defaults: any age in the past, at most one hour in the future.
  policy.timestamp_before_max_ms = int_setting(overrides, "message.timestamp.before.max.ms").value_or(INT64_MAX);
  policy.timestamp_after_max_ms = int_setting(overrides, "message.timestamp.after.max.ms").value_or(3600000);
  return policy;
}

Status Broker::open_data_path() {
  file_system_ = std::make_unique<storage::PosixFileSystem>();
  storage::LogManagerOptions options;
  options.log_dirs = config_.log_dirs;
  // Logs found on disk at start get their topic's settings once the image is
  // applied (ReplicaManager::apply_image); until then the broker defaults.
  options.config_for = [this](const storage::TopicPartition& tp) {
    auto image = replica_manager_ ? replica_manager_->image() : nullptr;
    const cluster::TopicImage* topic = image ? image->topic(tp.topic) : nullptr;
    return topic ? topic_log_config(topic->configs) : default_log_config();
  };
  options.logger = [](std::string_view line) { spdlog::warn("storage: {}", line); };
  options.retention_check_interval_ms = config_.get_int("log.retention.check.interval.ms");
  options.flush_offset_checkpoint_interval_ms = config_.get_int("log.flush.offset.checkpoint.interval.ms");
  options.flush_start_offset_checkpoint_interval_ms = config_.get_int("log.flush.start.offset.checkpoint.interval.ms");
  options.segment_delete_delay_ms = config_.get_int("log.segment.delete.delay.ms");
  auto log_manager = storage::LogManager::open(*file_system_, std::move(options));
  if (!log_manager) return log_manager.status();
  log_manager_ = std::move(*log_manager);

  cluster::ReplicaManagerOptions replicas;
  replicas.node_id = config_.node_id;
  replicas.log_manager = log_manager_.get();
  replicas.append_policy_for = [this](const cluster::TopicImage& topic) { return topic_append_policy(topic.configs); };
  replicas.log_config_for = [this](const cluster::TopicImage& topic) { return topic_log_config(topic.configs); };
  replicas.logger = [](std::string_view line) { spdlog::warn("replicas: {}", line); };
  replica_manager_ = std::make_unique<cluster::ReplicaManager>(std::move(replicas));

  fetch_sessions_ = std::make_unique<FetchSessionCache>(
      static_cast<size_t>(config_.get_int("max.incremental.fetch.session.cache.slots")));
  delayed_operations_ = std::make_unique<DelayedOperationTimer>();
  delayed_operations_->start();
  return Status::ok();
}

// After the server has drained: answers parked fetches, then flushes and
// closes every log (checkpoints, clean-shutdown marker).
void Broker::close_data_path() {
  if (delayed_operations_) delayed_operations_->stop();
  if (log_manager_) {
    if (Status status = log_manager_->close(); !status)
      spdlog::error("closing the logs: {}", status.message());
  }
}

}  // namespace sluice::broker
