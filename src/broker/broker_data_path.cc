// The broker's data path: the file system, the LogManager (partition logs,
// group-commit flusher, background jobs), the ReplicaManager following the
// metadata image, fetch sessions and the timer of delayed operations; and
// the topic settings they apply (topic overrides over broker defaults).
#include <spdlog/spdlog.h>

#include <charconv>
#include <cstdlib>

#include "broker/broker.h"
#include "cluster/topic_config.h"
#include "storage/posix_file_system.h"

namespace sluice::broker {
namespace {

// Fetch reads of pages not in the page cache (fetch.cc): the work waits on
// the device, not a CPU, so a few threads beyond the cores pay off; rare
// when the consumers keep up (their pages are still cached).
constexpr size_t fetch_read_threads = 4;

int64_t resolved_int(const std::string& name, const cluster::TopicImage& topic,
                     const cluster::MetadataImage& image, const BrokerConfig& config,
                     int64_t fallback) {
  auto resolved =
      cluster::resolve_topic_config(name, topic.configs, image, config.values, config.node_id);
  if (!resolved || !resolved->value) return fallback;
  int64_t value = 0;
  const std::string& text = *resolved->value;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  return error == std::errc() && end == text.data() + text.size() ? value : fallback;
}

std::optional<std::string> resolved_text(const std::string& name, const cluster::TopicImage& topic,
                                         const cluster::MetadataImage& image,
                                         const BrokerConfig& config) {
  auto resolved =
      cluster::resolve_topic_config(name, topic.configs, image, config.values, config.node_id);
  return resolved ? resolved->value : std::nullopt;
}

// Kafka's compression.type names; `producer` (or nothing) keeps the client's codec.
std::optional<record::Compression> topic_compression(const std::optional<std::string>& name) {
  if (!name) return std::nullopt;
  if (*name == "uncompressed") return record::Compression::none;
  if (*name == "gzip") return record::Compression::gzip;
  if (*name == "snappy") return record::Compression::snappy;
  if (*name == "lz4") return record::Compression::lz4;
  if (*name == "zstd") return record::Compression::zstd;
  return std::nullopt;
}

}  // namespace

storage::LogConfig Broker::topic_log_config(const cluster::TopicImage* topic,
                                            const cluster::MetadataImage& image) const {
  return cluster::topic_log_config(topic, image, config_.values, config_.node_id);
}

cluster::AppendPolicy Broker::topic_append_policy(const cluster::TopicImage& topic,
                                                  const cluster::MetadataImage& image) const {
  cluster::AppendPolicy policy;
  auto type = cluster::resolve_topic_config("message.timestamp.type", topic.configs, image,
                                            config_.values, config_.node_id);
  policy.log_append_time = type && type->value == "LogAppendTime";
  policy.min_insync_replicas =
      static_cast<int32_t>(resolved_int("min.insync.replicas", topic, image, config_, 1));
  policy.timestamp_before_max_ms = cluster::timestamp_bound(
      "message.timestamp.before.max.ms", topic.configs, image, config_.values, config_.node_id);
  policy.timestamp_after_max_ms = cluster::timestamp_bound(
      "message.timestamp.after.max.ms", topic.configs, image, config_.values, config_.node_id);
  policy.compression_type =
      topic_compression(resolved_text("compression.type", topic, image, config_));
  policy.message_downconversion_enable =
      resolved_text("message.downconversion.enable", topic, image, config_).value_or("true") ==
      "true";
  return policy;
}

Status Broker::open_data_path() {
  if (environment_.data_file_system == nullptr)
    file_system_ = std::make_unique<storage::PosixFileSystem>();
  storage::FileSystem& file_system =
      environment_.data_file_system ? *environment_.data_file_system : *file_system_;
  storage::LogManagerOptions options;
  options.log_dirs = config_.log_dirs;
  options.clock = environment_.clock;
  options.random = environment_.random;
  // Logs found on disk at start get their topic's settings once the image is
  // applied (ReplicaManager::apply_image); until then the broker defaults.
  options.config_for = [this](const storage::TopicPartition& tp) {
    auto image = replica_manager_ ? replica_manager_->image()
                                  : std::make_shared<const cluster::MetadataImage>();
    return topic_log_config(image->topic(tp.topic), *image);
  };
  options.logger = [](std::string_view line) { spdlog::warn("storage: {}", line); };
  options.retention_check_interval_ms = config_.get_int("log.retention.check.interval.ms");
  options.producer_id_expiration_ms = config_.get_int("producer.id.expiration.ms");
  options.producer_id_expiration_check_interval_ms =
      config_.get_int("producer.id.expiration.check.interval.ms");
  options.flush_offset_checkpoint_interval_ms =
      config_.get_int("log.flush.offset.checkpoint.interval.ms");
  options.flush_start_offset_checkpoint_interval_ms =
      config_.get_int("log.flush.start.offset.checkpoint.interval.ms");
  options.high_watermark_checkpoint_interval_ms =
      config_.get_int("replica.high.watermark.checkpoint.interval.ms");
  options.segment_delete_delay_ms = config_.get_int("log.segment.delete.delay.ms");
  options.flush_threads = static_cast<size_t>(config_.get_int("sluice.log.flush.threads"));
  options.recovery_threads =
      static_cast<size_t>(config_.get_int("num.recovery.threads.per.data.dir"));
  options.cleaner = cluster::log_cleaner_config(config_.values);
  // Kafka's LogManager halts the same way: with no log dir left the broker
  // could only answer KAFKA_STORAGE_ERROR, and a restart (after the operator
  // fixes the disks) recovers the logs.
  options.on_all_dirs_offline = [](const std::string& reason) {
    spdlog::critical("Shutdown broker because {}", reason);
    spdlog::default_logger()->flush();
    std::_Exit(1);
  };
  auto log_manager = storage::LogManager::open(file_system, std::move(options));
  if (!log_manager) return log_manager.status();
  log_manager_ = std::move(*log_manager);

  cluster::ReplicaManagerOptions replicas;
  replicas.node_id = BrokerId{config_.node_id};
  replicas.log_manager = log_manager_.get();
  replicas.append_policy_for = [this](const cluster::TopicImage& topic,
                                      const cluster::MetadataImage& image) {
    return topic_append_policy(topic, image);
  };
  replicas.log_config_for = [this](const cluster::TopicImage& topic,
                                   const cluster::MetadataImage& image) {
    return topic_log_config(&topic, image);
  };
  replicas.logger = [](std::string_view line) { spdlog::warn("replicas: {}", line); };
  replica_manager_ = std::make_unique<cluster::ReplicaManager>(std::move(replicas));

  fetch_sessions_ = std::make_unique<FetchSessionCache>(
      static_cast<size_t>(config_.get_int("max.incremental.fetch.session.cache.slots")));
  delayed_operations_ = std::make_unique<DelayedOperationTimer>();
  delayed_operations_->start();
  fetch_reads_ = std::make_unique<TaskPool>(fetch_read_threads, "fetch-read");
  appends_ = std::make_unique<LanePool>(static_cast<size_t>(config_.append_threads), "append");
  return Status::ok();
}

// Any hash that spreads a topic's partitions over the lanes and never moves
// a partition: the topic name's, mixed with the partition id.
size_t Broker::append_lane(const std::string& topic, int32_t partition) const {
  size_t key = std::hash<std::string_view>{}(topic) ^
               (static_cast<size_t>(static_cast<uint32_t>(partition)) * 0x9e3779b97f4a7c15ULL);
  return appends_->lane_for(key);
}

// After the server has drained: answers parked fetches, then flushes and
// closes every log (checkpoints, clean-shutdown marker).
void Broker::close_data_path() {
  // Appends still queued run now (the server has stopped: their answers are
  // dropped), before the logs close; their wake-ups find the timer stopped.
  if (appends_) appends_->stop();
  if (delayed_operations_) delayed_operations_->stop();
  if (fetch_reads_) fetch_reads_->stop();  // runs what parked fetches handed over
  if (log_manager_) {
    if (Status status = log_manager_->close(); !status)
      spdlog::error("closing the logs: {}", status.message());
  }
}

}  // namespace sluice::broker
