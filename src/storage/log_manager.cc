#include "storage/log_manager.h"

#include <algorithm>
#include <random>

namespace sluice::storage {
namespace {

// Kafka's suffix for a partition dir awaiting removal.
constexpr char delete_dir_suffix[] = "-delete";

// Running out of descriptors is the process's limit, not a failing disk: it
// never takes a log dir offline.
bool out_of_descriptors(const Status& status) { return status.code() == Errc::too_many_open_files; }

std::string random_hex32(RandomSource& random) {
  char text[33];
  std::snprintf(text, sizeof text, "%016llx%016llx", static_cast<unsigned long long>(random.next()),
                static_cast<unsigned long long>(random.next()));
  return text;
}

}  // namespace

LogManager::LogManager(FileSystem& fs, LogManagerOptions options)
    : fs_(fs),
      options_(std::move(options)),
      scheduler_(*options_.clock),
      flusher_(options_.flush_threads),
      cleaner_(fs_, CleanerOptions{options_.cleaner, options_.clock, options_.logger}) {}

LogManager::~LogManager() {
  if (Status s = close(); !s) options_.logger("closing the log manager: " + s.to_string());
}

Result<std::unique_ptr<LogManager>> LogManager::open(FileSystem& fs, LogManagerOptions options) {
  if (options.log_dirs.empty()) return Status(Errc::invalid_value, "log.dirs is empty");
  std::unique_ptr<LogManager> manager(new LogManager(fs, std::move(options)));
  if (Status opened = manager->open_dirs(); !opened) return opened;
  bool any_online = false;
  for (const auto& dir : manager->dirs_) any_online = any_online || !dir->health->offline();
  if (!any_online) return Status(Errc::io_error, "no usable log dir among log.dirs (see the log lines above)");
  manager->schedule_jobs();
  if (manager->options_.background_threads) {
    manager->scheduler_.start();
    manager->flusher_.start();
    manager->cleaner_.start();  // no thread if log.cleaner.enable is false
  }
  return manager;
}

// A dir that fails to open goes offline, unless the failure is a shortage
// of descriptors: that fails the whole start, since every dir would run
// into it and an offline dir would hide the reason.
Status LogManager::open_dirs() {
  if (options_.recovery_threads > 1)
    recovery_pool_ = std::make_unique<WorkerPool>(options_.recovery_threads - 1);
  for (const auto& path : options_.log_dirs) {
    auto dir = std::make_unique<Dir>();
    dir->health = std::make_shared<LogDirHealth>(
        path, [this](const std::string& failed, const Status& error) { on_dir_failure(failed, error); });
    Dir& added = *dir;
    dirs_.push_back(std::move(dir));
    LogDirectoryOptions dir_options;
    dir_options.path = path;
    dir_options.config_for = options_.config_for;
    dir_options.clock = options_.clock;
    dir_options.logger = options_.logger;
    dir_options.producer_id_expiration_ms = options_.producer_id_expiration_ms;
    dir_options.pool = recovery_pool_.get();
    // Next segments are prepared on the scheduler thread (next_segment.h).
    dir_options.background = run_on_scheduler("prepare a next segment");
    auto directory = LogDirectory::open(fs_, std::move(dir_options));
    if (!directory && out_of_descriptors(directory.status()))
      return Status(directory.status().code(), "opening log dir " + path + ": " + directory.status().message());
    if (!directory) {
      added.health->fail(directory.status());
      continue;
    }
    added.directory = std::move(*directory);
    if (Status adopted = adopt_logs(added); !adopted) return adopted;
  }
  // From here a dir failing is a runtime loss (on_all_dirs_offline); before,
  // open() reports it.
  dirs_opened_ = true;
  return Status::ok();
}

// Wraps the logs a dir opened with; schedules the removal of partition dirs
// a previous run deleted but did not remove. Fails only when out of
// descriptors (open_dirs).
Status LogManager::adopt_logs(Dir& dir) {
  std::string duplicate;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [tp, log] : dir.directory->logs()) {
      if (auto it = logs_.find(tp); it != logs_.end()) {
        duplicate = "partition " + tp.dir_name() + " is in both " + it->second->log_dir() + " and " + dir.health->path();
        break;
      }
    }
    if (duplicate.empty())
      for (const auto& [tp, log] : dir.directory->logs()) {
        logs_[tp] = managed_log(*log, dir.health);
        restore_high_watermark(*logs_[tp], dir.directory->replication_offsets());
      }
  }
  // Like Kafka, refuse to guess which copy is right.
  if (!duplicate.empty()) {
    dir.health->fail(Status(Errc::invalid_value, duplicate));
    return Status::ok();
  }
  for (const auto& [tp, log] : dir.directory->logs()) register_with_cleaner(find(tp));
  auto names = fs_.list_dir(dir.health->path());
  if (!names && out_of_descriptors(names.status())) return names.status();
  if (!names) {
    dir.health->fail(names.status());
    return Status::ok();
  }
  for (const auto& name : *names)
    if (name.ends_with(delete_dir_suffix))
      schedule_dir_removal(join_path(dir.health->path(), name), options_.segment_delete_delay_ms);
  return Status::ok();
}

void LogManager::on_dir_failure(const std::string& path, const Status& error) {
  if (error.is_ok() || error.code() == Errc::no_space) return on_dir_space_change(path, error);
  std::string partitions;
  size_t count = 0;
  bool all_offline = true;
  {
    std::lock_guard lock(mutex_);
    errors_[path] = error.to_string();
    for (const auto& [tp, log] : logs_)
      if (log->log_dir() == path) partitions += (count++ ? ", " : "") + tp.dir_name();
    for (const auto& dir : dirs_) all_offline = all_offline && dir->health->offline();
  }
  options_.logger("log dir " + path + " is offline: " + error.to_string() + "; its " + std::to_string(count) +
                  " partition(s) [" + partitions + "] answer KAFKA_STORAGE_ERROR until the broker restarts");
  // Kafka halts then: a broker with no log dir can only answer errors.
  if (all_offline && dirs_opened_ && options_.on_all_dirs_offline) {
    std::string all;
    for (const auto& dir : options_.log_dirs) all += (all.empty() ? "" : ", ") + dir;
    options_.on_all_dirs_offline("all log dirs in " + all + " have failed");
  }
}

// A full dir stays online (reads go on); appends fail with no_space until
// one succeeds again.
void LogManager::on_dir_space_change(const std::string& path, const Status& error) {
  {
    std::lock_guard lock(mutex_);
    if (error.is_ok()) full_errors_.erase(path);
    else full_errors_[path] = error.to_string();
  }
  if (error.is_ok()) return options_.logger("log dir " + path + " has space again: appends resume");
  options_.logger("log dir " + path + " is full: " + error.to_string() +
                  "; appends to its partitions are refused (KAFKA_STORAGE_ERROR) until space is freed (delete "
                  "topics or records, or grow the disk); reads go on");
}

// The cleaner reaches the log only through its ManagedLog: under its lock
// and while usable (an offline or deleted log is skipped; a swap into it
// aborts). A malformed cleaner-offset-checkpoint takes the dir offline.
BackgroundRunner LogManager::run_on_scheduler(const char* name) {
  return [this, name](std::function<void()> job) {
    scheduler_.schedule_once(name, std::chrono::milliseconds(0), std::move(job));
  };
}

std::shared_ptr<ManagedLog> LogManager::managed_log(Log& log,
                                                    const std::shared_ptr<LogDirHealth>& health) {
  auto managed = std::make_shared<ManagedLog>(log, fs_, health);
  managed->set_background(run_on_scheduler("remove deleted segment files"));
  // Not shared yet, so no partition lock is needed; registers the log at
  // once if it opened with work (unflushed data under flush.ms).
  log.set_background_work_listener(
      [this, weak = std::weak_ptr<ManagedLog>(managed)] { watch(weak); });
  return managed;
}

void LogManager::watch(const std::weak_ptr<ManagedLog>& managed) {
  auto held = managed.lock();
  if (!held) return;
  std::lock_guard lock(watched_mutex_);
  watched_.insert_or_assign(held.get(), managed);
}

std::vector<std::shared_ptr<ManagedLog>> LogManager::watched_logs() const {
  std::lock_guard lock(watched_mutex_);
  std::vector<std::shared_ptr<ManagedLog>> logs;
  logs.reserve(watched_.size());
  for (const auto& [key, weak] : watched_)
    if (auto held = weak.lock()) logs.push_back(std::move(held));
  return logs;
}

size_t LogManager::watched_log_count() const {
  std::lock_guard lock(watched_mutex_);
  return watched_.size();
}

// The listener fires under the same partition lock, so a log that gains
// work after the check below registers again.
void LogManager::unwatch_if_idle(ManagedLog& managed) {
  if (managed.usable() && !managed.log().release_background_watch()) return;
  std::lock_guard lock(watched_mutex_);
  watched_.erase(&managed);
}

void LogManager::register_with_cleaner(const std::shared_ptr<ManagedLog>& managed) {
  std::weak_ptr<ManagedLog> weak = managed;
  CleanableLog cleanable;
  cleanable.log_dir = managed->log_dir();
  cleanable.topic_partition = managed->topic_partition();
  cleanable.with_lock = [weak](const std::function<void(Log&)>& f) {
    auto held = weak.lock();
    if (!held) return;
    std::lock_guard lock(held->mutex());
    if (held->usable()) f(held->log());
  };
  // Called inside with_lock, so the ManagedLog is alive.
  cleanable.cleanable_end_offset = [weak](const Log& log) {
    auto held = weak.lock();
    int64_t high_watermark = held ? held->high_watermark() : -1;
    return high_watermark >= 0 ? std::min(high_watermark, log.log_end_offset()) : log.log_end_offset();
  };
  Status registered = cleaner_.register_log(std::move(cleanable));
  if (out_of_descriptors(registered))
    options_.logger("cannot load the cleaner checkpoint of " + managed->topic_partition().dir_name() + " yet: " +
                    registered.to_string());
  else if (!registered)
    (void)managed->check(Status(Errc::io_error, "loading the cleaner checkpoint: " + registered.to_string()));
}

std::shared_ptr<ManagedLog> LogManager::find(const TopicPartition& tp) const {
  std::lock_guard lock(mutex_);
  auto it = logs_.find(tp);
  return it == logs_.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<ManagedLog>> LogManager::logs() const {
  std::lock_guard lock(mutex_);
  std::vector<std::shared_ptr<ManagedLog>> all;
  for (const auto& [tp, log] : logs_) all.push_back(log);
  return all;
}

std::vector<LogDirStatus> LogManager::dir_status() const {
  std::lock_guard lock(mutex_);
  std::vector<LogDirStatus> statuses;
  for (const auto& dir : dirs_) {
    LogDirStatus status;
    status.path = dir->health->path();
    status.online = !dir->health->offline();
    status.full = dir->health->full();
    if (auto error = errors_.find(status.path); error != errors_.end()) status.error = error->second;
    else if (auto full = full_errors_.find(status.path); status.full && full != full_errors_.end())
      status.error = full->second;
    for (const auto& [tp, log] : logs_) status.partition_count += log->log_dir() == status.path;
    statuses.push_back(std::move(status));
  }
  return statuses;
}

LogManager::Dir* LogManager::dir_for_new_log() {
  std::lock_guard lock(mutex_);
  std::vector<Dir*> online;
  for (const auto& dir : dirs_)
    if (!dir->health->offline() && dir->directory) online.push_back(dir.get());
  // One dir (the usual case) needs no count: counting walks every log, which
  // made creating each of 10,000 partitions cost milliseconds.
  if (online.size() <= 1) return online.empty() ? nullptr : online.front();
  std::map<std::string, size_t, std::less<>> logs_per_dir;
  for (const auto& [tp, log] : logs_) ++logs_per_dir[log->log_dir()];
  Dir* best = nullptr;
  size_t best_count = 0;
  for (Dir* dir : online) {
    auto found = logs_per_dir.find(dir->health->path());
    const size_t count = found == logs_per_dir.end() ? 0 : found->second;
    if (!best || count < best_count) best = dir, best_count = count;
  }
  return best;
}

LogManager::Dir* LogManager::dir_named(const std::string& path) {
  for (const auto& dir : dirs_)
    if (dir->health->path() == path) return dir.get();
  return nullptr;
}

Result<std::shared_ptr<ManagedLog>> LogManager::create_log(const TopicPartition& tp, const Uuid& topic_id) {
  std::lock_guard create(create_delete_mutex_);
  if (auto existing = find(tp)) return existing;
  Dir* dir = dir_for_new_log();
  if (!dir) return Status(Errc::io_error, "no online log dir to place " + tp.dir_name() + " in");
  Result<Log*> log = Status(Errc::io_error, "log dir " + dir->health->path() + " went offline");
  {
    std::lock_guard lock(dir->mutex);
    if (!dir->health->offline()) log = dir->directory->create_log(tp, topic_id);
  }
  if (!log) {
    if (ManagedLog::is_storage_failure(log.status().code())) dir->health->fail(log.status());
    return log.status();
  }
  auto managed = managed_log(**log, dir->health);
  {
    std::lock_guard lock(mutex_);
    logs_[tp] = managed;
  }
  register_with_cleaner(managed);
  return managed;
}

Status LogManager::delete_log(const TopicPartition& tp) {
  std::lock_guard create(create_delete_mutex_);
  std::shared_ptr<ManagedLog> managed = find(tp);
  if (!managed) return Status(Errc::invalid_value, "no log for " + tp.dir_name() + " to delete");
  if (managed->offline())
    return Status(Errc::io_error, "cannot delete " + tp.dir_name() + ": log dir " + managed->log_dir() + " is offline");
  Dir* dir = dir_named(managed->log_dir());
  // Before the partition lock (it waits for a clean in progress, whose swap
  // takes that lock); create/delete are serialised, so nothing re-registers.
  if (Status s = cleaner_.unregister_log(managed->log_dir(), tp, /*forget_checkpoint=*/true); !s)
    options_.logger("dropping the cleaner checkpoint of " + tp.dir_name() + ": " + s.to_string());
  std::string from;
  {
    std::lock_guard partition(managed->mutex());
    std::unique_ptr<Log> log;
    {
      std::lock_guard lock(dir->mutex);
      log = dir->directory->release_log(tp);
    }
    SLUICE_ASSERT(log != nullptr, "a managed log missing from its log dir");
    log->stop_preparing_segments();
    log->set_background_work_listener(nullptr);
    from = log->dir();
    managed->mark_deleted(std::move(log));
  }
  {
    std::lock_guard lock(mutex_);
    logs_.erase(tp);
  }
  {
    std::lock_guard lock(watched_mutex_);
    watched_.erase(managed.get());
  }
  std::string to =
      join_path(dir->health->path(),
                tp.dir_name() + "." + random_hex32(*options_.random) + delete_dir_suffix);
  Status renamed = fs_.rename(from, to);
  if (renamed) renamed = fs_.sync_dir(dir->health->path());
  if (!renamed) {
    // Out of descriptors for the dir sync: the "-delete" dir is removed at
    // the next start (adopt_logs) if not by then.
    if (!out_of_descriptors(renamed)) dir->health->fail(renamed);
    return renamed;
  }
  // A full dir gets its space back now rather than after the delay: readers
  // keep their open handles either way.
  schedule_dir_removal(to, dir->health->full() ? 0 : options_.segment_delete_delay_ms);
  return Status::ok();
}

Status LogManager::update_config(const TopicPartition& tp, const LogConfig& config) {
  std::shared_ptr<ManagedLog> managed = find(tp);
  if (!managed) return Status(Errc::invalid_value, "no log for " + tp.dir_name());
  {
    std::lock_guard lock(managed->mutex());
    if (!managed->usable() || managed->log().config() == config) return Status::ok();
    managed->log().set_config(config);
  }
  if (config.cleanup_policy_compact) cleaner_.wake();
  return Status::ok();
}

Status LogManager::truncate_to(ManagedLog& managed, Offset offset) {
  if (Status s = managed.check(managed.log().truncate_to(offset)); !s) return s;
  // Whole batches go: the end may now be below `offset`.
  int64_t end = managed.log().log_end_offset();
  return managed.check(cleaner_.on_truncation(managed.log_dir(), managed.topic_partition(), end));
}

Status LogManager::truncate_fully(ManagedLog& managed, Offset new_start_offset) {
  if (Status s = managed.check(managed.log().truncate_fully(new_start_offset)); !s) return s;
  return managed.check(cleaner_.on_truncation(managed.log_dir(), managed.topic_partition(),
                                              new_start_offset.value()));
}

void LogManager::schedule_dir_removal(const std::string& path, int64_t delay_ms) {
  scheduler_.schedule_once("remove " + path, std::chrono::milliseconds(delay_ms), [this, path] {
    Status removed = remove_tree(path);
    if (removed) return;
    options_.logger("removing the deleted partition dir " + path + ": " + removed.to_string());
    if (Dir* dir = dir_named(parent_path(path)); dir && ManagedLog::is_storage_failure(removed.code()))
      dir->health->fail(removed);
  });
}

// A partition dir holds only files.
Status LogManager::remove_tree(const std::string& path) {
  auto names = fs_.list_dir(path);
  if (!names) return names.status();
  for (const auto& name : *names)
    if (Status s = fs_.remove(join_path(path, name)); !s) return s;
  if (Status s = fs_.remove_dir(path); !s) return s;
  return fs_.sync_dir(parent_path(path));
}

void LogManager::for_each_online_log(const std::function<Status(ManagedLog&)>& job) {
  for (const auto& managed : logs()) {
    std::lock_guard lock(managed->mutex());
    if (!managed->usable()) continue;
    Status status = managed->check(job(*managed));
    if (!status && !ManagedLog::is_storage_failure(status.code()))
      options_.logger(managed->topic_partition().dir_name() + ": " + status.to_string());
  }
}

// Retention and the removal of due *.deleted files change the segment
// list (and rename files) under the partition lock; the unlinks, which free
// blocks and may wait on the disk, run after it is released.
void LogManager::run_retention() {
  for (const auto& managed : logs()) {
    std::vector<std::string> due;
    {
      std::lock_guard lock(managed->mutex());
      if (!managed->usable()) continue;
      Log& log = managed->log();
      int64_t high_watermark =
          managed->high_watermark() >= 0 ? managed->high_watermark() : log.log_end_offset();
      auto result = managed->check(log.apply_retention(Offset{high_watermark}));
      if (!result) {
        if (!ManagedLog::is_storage_failure(result.status().code()))
          options_.logger(managed->topic_partition().dir_name() + ": " +
                          result.status().to_string());
        continue;
      }
      due = log.take_deleted_files();
    }
    (void)managed->check(remove_deleted_files(fs_, due));
  }
}

void LogManager::expire_producer_ids() {
  const int64_t now_ms = options_.clock->now_ms();
  for (const auto& managed : logs()) {
    std::lock_guard lock(managed->mutex());
    if (managed->usable()) managed->log().remove_expired_producers(now_ms);
  }
}

// A log requested here stays watched until the flush completes (the
// recovery point reaches the end): a failed flush is retried next time.
size_t LogManager::flush_due_logs() {
  auto watched = watched_logs();
  for (const auto& managed : watched) {
    int64_t end = -1;
    {
      std::lock_guard lock(managed->mutex());
      if (managed->usable() && managed->log().flush_due()) end = managed->log().log_end_offset();
      unwatch_if_idle(*managed);
    }
    if (end >= 0) flusher_.request_flush(managed, end, {});
  }
  return watched.size();
}

size_t LogManager::remove_expired_deleted_files() {
  auto watched = watched_logs();
  for (const auto& managed : watched) {
    std::vector<std::string> due;
    {
      std::lock_guard lock(managed->mutex());
      if (managed->usable()) due = managed->log().take_deleted_files();
      unwatch_if_idle(*managed);
    }
    (void)managed->check(remove_deleted_files(fs_, due));
  }
  return watched.size();
}

void LogManager::write_checkpoint(const char* file_name, const std::function<int64_t(ManagedLog&)>& offset_of) {
  auto all = logs();
  for (const auto& dir : dirs_) {
    if (dir->health->offline()) continue;
    OffsetCheckpoint offsets;
    for (const auto& managed : all) {
      if (managed->log_dir() != dir->health->path()) continue;
      std::lock_guard lock(managed->mutex());
      if (managed->usable()) offsets[managed->topic_partition()] = offset_of(*managed);
    }
    std::lock_guard lock(dir->mutex);
    Status written = write_offset_checkpoint(fs_, join_path(dir->health->path(), file_name), offsets);
    if (!written) on_checkpoint_failure(*dir, file_name, written);
  }
}

// A checkpoint is rewritten whole on every period, so one that could not be
// written for want of a descriptor is simply retried at the next period
// (the previous one stays valid: write_file_atomically).
void LogManager::on_checkpoint_failure(Dir& dir, const char* file_name, const Status& error) {
  if (!out_of_descriptors(error)) return dir.health->fail(error);
  options_.logger("cannot write " + std::string(file_name) + " in " + dir.health->path() + " now (" +
                  error.to_string() + "); retrying at its next interval");
}

void LogManager::write_recovery_point_checkpoints() {
  write_checkpoint(recovery_point_checkpoint_file, [](ManagedLog& m) { return m.log().recovery_point(); });
}

void LogManager::write_log_start_offset_checkpoints() {
  write_checkpoint(log_start_offset_checkpoint_file, [](ManagedLog& m) { return m.log().log_start_offset(); });
}

// Kafka's Partition.createLogIfNotExists: the high watermark of the last
// run, clamped to what the log holds now (recovery may have cut its tail,
// retention raised its start). A log without an entry keeps -1: the replica
// layer starts it at the log start (cluster/partition.h).
void LogManager::restore_high_watermark(ManagedLog& managed, const OffsetCheckpoint& checkpoint) {
  auto found = checkpoint.find(managed.topic_partition());
  if (found == checkpoint.end() || !managed.usable()) return;
  const Log& log = managed.log();
  managed.set_high_watermark(
      std::clamp(found->second, log.log_start_offset(), log.log_end_offset()));
}

// High watermarks never set since start keep the value read at start.
void LogManager::write_replication_offset_checkpoints() {
  auto all = logs();
  for (const auto& dir : dirs_) {
    if (dir->health->offline()) continue;
    std::lock_guard lock(dir->mutex);
    for (const auto& managed : all)
      if (managed->log_dir() == dir->health->path() && managed->high_watermark() >= 0)
        dir->directory->set_replication_offset(managed->topic_partition(), managed->high_watermark());
    Status written = write_offset_checkpoint(fs_, join_path(dir->health->path(), replication_offset_checkpoint_file),
                                             dir->directory->replication_offsets());
    if (!written) on_checkpoint_failure(*dir, replication_offset_checkpoint_file, written);
  }
}

void LogManager::schedule_jobs() {
  auto every = [this](const char* name, int64_t period_ms, std::function<void()> job) {
    if (period_ms <= 0 || period_ms == std::numeric_limits<int64_t>::max()) return;
    std::chrono::milliseconds period(period_ms);
    scheduler_.schedule_periodic(name, period, period, std::move(job));
  };
  every("log-retention", options_.retention_check_interval_ms, [this] { run_retention(); });
  every("producer-id-expiration", options_.producer_id_expiration_check_interval_ms,
        [this] { expire_producer_ids(); });
  every("log-flusher", options_.flush_scheduler_interval_ms, [this] { flush_due_logs(); });
  every("recovery-point-checkpoint", options_.flush_offset_checkpoint_interval_ms,
        [this] { write_recovery_point_checkpoints(); });
  every("log-start-offset-checkpoint", options_.flush_start_offset_checkpoint_interval_ms,
        [this] { write_log_start_offset_checkpoints(); });
  every("high-watermark-checkpoint", options_.high_watermark_checkpoint_interval_ms,
        [this] { write_replication_offset_checkpoints(); });
  every("remove-deleted-files", options_.deleted_files_check_interval_ms, [this] { remove_expired_deleted_files(); });
}

Status LogManager::close() {
  if (closed_) return Status::ok();
  closed_ = true;
  cleaner_.stop();
  scheduler_.stop();
  flusher_.stop();
  Status first = Status::ok();
  auto all = logs();
  for (const auto& dir : dirs_) {
    if (!dir->directory || dir->health->offline()) continue;
    // Hold every partition lock of the dir (map order) while it closes.
    std::vector<std::unique_lock<std::mutex>> locks;
    for (const auto& managed : all) {
      if (managed->log_dir() != dir->health->path()) continue;
      locks.emplace_back(managed->mutex());
      if (managed->high_watermark() >= 0)
        dir->directory->set_replication_offset(managed->topic_partition(), managed->high_watermark());
    }
    std::lock_guard lock(dir->mutex);
    Status closed = dir->directory->close();
    if (closed) continue;
    if (ManagedLog::is_storage_failure(closed.code())) dir->health->fail(closed);
    if (first) first = closed;
  }
  return first;
}

}  // namespace sluice::storage
