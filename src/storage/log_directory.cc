#include "storage/log_directory.h"

namespace sluice::storage {

Result<std::unique_ptr<LogDirectory>> LogDirectory::open(FileSystem& fs, LogDirectoryOptions options) {
  std::unique_ptr<LogDirectory> dir(new LogDirectory(fs, std::move(options)));
  if (Status s = dir->load(); !s) return s;
  return dir;
}

Status LogDirectory::load() {
  auto existed = fs_.exists(options_.path);
  if (!existed) return existed.status();
  if (Status s = fs_.make_dirs(options_.path); !s) return s;
  // A new log dir must survive a crash like the partitions created in it.
  if (!*existed)
    if (Status s = fs_.sync_dir(parent_path(options_.path)); !s) return s;
  auto marker = fs_.exists(at(clean_shutdown_file));
  if (!marker) return marker.status();
  had_clean_shutdown_ = *marker;
  for (auto [name, target] : {std::pair{recovery_point_checkpoint_file, &recovery_points_},
                              std::pair{log_start_offset_checkpoint_file, &log_start_offsets_},
                              std::pair{replication_offset_checkpoint_file, &replication_offsets_}}) {
    auto offsets = read_offset_checkpoint(fs_, at(name));
    if (!offsets) {
      // A damaged checkpoint costs a full recovery scan, not the broker.
      options_.logger(offsets.status().message() + "; ignoring it and recovering every log");
      had_clean_shutdown_ = false;
      continue;
    }
    *target = std::move(*offsets);
  }
  if (had_clean_shutdown_) {
    if (Status s = fs_.remove(at(clean_shutdown_file)); !s) return s;
    if (Status s = fs_.sync_dir(options_.path); !s) return s;
  }
  auto names = fs_.list_dir(options_.path);
  if (!names) return names.status();
  std::vector<TopicPartition> partitions;
  for (const auto& name : *names) {
    auto tp = parse_partition_dir_name(name);
    if (!tp) continue;  // checkpoints, the marker, foreign files
    // The metadata log (cluster/metadata_log.h) may share the first log dir,
    // as in Kafka; the controller owns it, not the partition logs.
    if (tp->topic == "__cluster_metadata") continue;
    partitions.push_back(std::move(*tp));
  }
  return open_existing_logs(partitions);
}

void LogDirectory::for_each_index(size_t count, const std::function<void(size_t)>& job) const {
  if (options_.pool != nullptr) return options_.pool->for_each_index(count, job);
  for (size_t i = 0; i < count; ++i) job(i);
}

// All logs are opened (concurrently) before the first failure is returned,
// in dir order, so the error reported does not depend on the timing.
Status LogDirectory::open_existing_logs(const std::vector<TopicPartition>& partitions) {
  std::vector<std::unique_ptr<Log>> opened(partitions.size());
  std::vector<Status> failures(partitions.size());
  for_each_index(partitions.size(), [&](size_t i) {
    auto log = load_log(partitions[i], Uuid{});
    if (log)
      opened[i] = std::move(*log);
    else
      failures[i] = log.status();
  });
  for (size_t i = 0; i < partitions.size(); ++i) {
    if (!failures[i]) return failures[i];
    logs_[partitions[i]] = std::move(opened[i]);
  }
  return Status::ok();
}

Result<Log*> LogDirectory::open_log(const TopicPartition& tp, const Uuid& topic_id) {
  auto log = load_log(tp, topic_id);
  if (!log) return log.status();
  Log* raw = log->get();
  logs_[tp] = std::move(*log);
  return raw;
}

Result<std::unique_ptr<Log>> LogDirectory::load_log(const TopicPartition& tp,
                                                    const Uuid& topic_id) const {
  LogOptions options;
  options.dir = join_path(options_.path, tp.dir_name());
  options.config = options_.config_for(tp);
  options.topic_id = topic_id;
  auto recovery_point = recovery_points_.find(tp);
  options.recovery_point = recovery_point == recovery_points_.end() ? 0 : recovery_point->second;
  auto start = log_start_offsets_.find(tp);
  options.log_start_offset = start == log_start_offsets_.end() ? 0 : start->second;
  // Without a recovery point the log was never checkpointed: scan it.
  options.clean_shutdown = had_clean_shutdown_ && recovery_point != recovery_points_.end();
  options.clock = options_.clock;
  options.logger = options_.logger;
  options.background = options_.background;
  options.producer_id_expiration_ms = options_.producer_id_expiration_ms;
  return Log::open(fs_, std::move(options));
}

Log* LogDirectory::find(const TopicPartition& tp) const {
  auto it = logs_.find(tp);
  return it == logs_.end() ? nullptr : it->second.get();
}

Result<Log*> LogDirectory::create_log(const TopicPartition& tp, const Uuid& topic_id) {
  if (Log* existing = find(tp)) return existing;
  return open_log(tp, topic_id);
}

std::unique_ptr<Log> LogDirectory::release_log(const TopicPartition& tp) {
  auto it = logs_.find(tp);
  if (it == logs_.end()) return nullptr;
  std::unique_ptr<Log> log = std::move(it->second);
  logs_.erase(it);
  recovery_points_.erase(tp);
  log_start_offsets_.erase(tp);
  replication_offsets_.erase(tp);
  return log;
}

Status LogDirectory::write_checkpoints() {
  OffsetCheckpoint recovery_points, log_start_offsets;
  for (const auto& [tp, log] : logs_) {
    recovery_points[tp] = log->recovery_point();
    log_start_offsets[tp] = log->log_start_offset();
  }
  if (Status s = write_offset_checkpoint(fs_, at(recovery_point_checkpoint_file), recovery_points); !s) return s;
  if (Status s = write_offset_checkpoint(fs_, at(log_start_offset_checkpoint_file), log_start_offsets); !s) return s;
  return write_offset_checkpoint(fs_, at(replication_offset_checkpoint_file), replication_offsets_);
}

// Every log is closed (flushed and synced, concurrently) even if one fails;
// the first failure in dir order is returned.
Status LogDirectory::close_logs() {
  std::vector<Log*> logs;
  logs.reserve(logs_.size());
  for (const auto& [tp, log] : logs_) logs.push_back(log.get());
  std::vector<Status> closed(logs.size());
  for_each_index(logs.size(), [&](size_t i) { closed[i] = logs[i]->close(); });
  for (const Status& status : closed)
    if (!status) return status;
  return Status::ok();
}

Status LogDirectory::close() {
  if (Status s = close_logs(); !s) return s;
  if (Status s = write_checkpoints(); !s) return s;
  // Kafka's marker body (KIP-966); its presence is what matters.
  std::string body = "{\"version\":0,\"brokerEpoch\":-1}";
  return write_file_atomically(fs_, at(clean_shutdown_file),
                               Bytes(reinterpret_cast<const uint8_t*>(body.data()), body.size()));
}

}  // namespace sluice::storage
