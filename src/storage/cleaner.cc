#include "storage/cleaner.h"

#include <algorithm>
#include <chrono>

#include "base/thread_name.h"

namespace sluice::storage {

struct LogCleaner::LogState {
  CleanableLog log;
  bool in_progress = false;
  bool removed = false;
  bool failed = false;  // a clean failed: left alone until re-registered
  // The earliest delete horizon of a tombstone kept by the last clean;
  // INT64_MIN until the first clean (unknown after a restart).
  int64_t tombstone_due_ms = INT64_MIN;
};

struct LogCleaner::Candidate {
  std::shared_ptr<LogState> state;
  CompactionPlan plan;
  double ratio = 0;
  bool eligible_by_dirt = false;  // ratio above the minimum, or max.compaction.lag.ms passed
};

namespace {

// The time of the oldest record in a segment: its first batch's
// baseTimestamp (maxTimestamp when baseTimestamp holds a delete horizon).
std::optional<int64_t> first_batch_timestamp(const SegmentSnapshot& segment) {
  uint8_t raw[record::batch_header_bytes];
  if (segment.size_bytes < sizeof raw) return std::nullopt;
  auto read = segment.log_file->pread(0, raw);
  if (!read) return std::nullopt;
  auto header = record::read_batch_header(Bytes(raw, *read));
  if (!header) return std::nullopt;
  return header->has_delete_horizon() ? header->max_timestamp : header->base_timestamp;
}

}  // namespace

LogCleaner::LogCleaner(FileSystem& fs, CleanerOptions options) : fs_(fs), options_(std::move(options)) {}

LogCleaner::~LogCleaner() { stop(); }

Status LogCleaner::register_log(CleanableLog log) {
  bool loaded;
  {
    std::lock_guard lock(mutex_);
    loaded = checkpoints_.count(log.log_dir) != 0;
  }
  if (!loaded) {
    auto checkpoint = read_offset_checkpoint(fs_, join_path(log.log_dir, cleaner_offset_checkpoint_file));
    if (!checkpoint) return checkpoint.status();
    std::lock_guard lock(mutex_);
    checkpoints_.emplace(log.log_dir, std::move(*checkpoint));
  }
  std::lock_guard lock(mutex_);
  Key key{log.log_dir, log.topic_partition};
  auto state = std::make_shared<LogState>();
  state->log = std::move(log);
  logs_[key] = std::move(state);
  return Status::ok();
}

Status LogCleaner::unregister_log(const std::string& log_dir, const TopicPartition& tp, bool forget_checkpoint) {
  {
    std::unique_lock lock(mutex_);
    auto it = logs_.find(Key{log_dir, tp});
    if (it != logs_.end()) {
      auto state = it->second;
      state->removed = true;
      changed_.wait(lock, [&] { return !state->in_progress; });
      logs_.erase(Key{log_dir, tp});
    }
    if (!forget_checkpoint || checkpoints_[log_dir].erase(tp) == 0) return Status::ok();
  }
  return write_checkpoint(log_dir);
}

Status LogCleaner::on_truncation(const std::string& log_dir, const TopicPartition& tp, int64_t offset) {
  {
    std::lock_guard lock(mutex_);
    auto& checkpoint = checkpoints_[log_dir];
    auto it = checkpoint.find(tp);
    if (it == checkpoint.end() || it->second <= offset) return Status::ok();
    it->second = offset;
  }
  return write_checkpoint(log_dir);
}

std::optional<int64_t> LogCleaner::checkpoint(const std::string& log_dir, const TopicPartition& tp) const {
  std::lock_guard lock(mutex_);
  auto dir = checkpoints_.find(log_dir);
  if (dir == checkpoints_.end()) return std::nullopt;
  auto it = dir->second.find(tp);
  if (it == dir->second.end()) return std::nullopt;
  return it->second;
}

Status LogCleaner::write_checkpoint(const std::string& log_dir) {
  std::lock_guard writing(checkpoint_write_mutex_);
  OffsetCheckpoint copy;
  {
    std::lock_guard lock(mutex_);
    copy = checkpoints_[log_dir];
  }
  return write_offset_checkpoint(fs_, join_path(log_dir, cleaner_offset_checkpoint_file), copy);
}

// Takes a snapshot of one log under its lock and measures its dirt.
std::optional<LogCleaner::Candidate> LogCleaner::assess(const std::shared_ptr<LogState>& state, int64_t now_ms) {
  Candidate candidate;
  candidate.state = state;
  bool compact = false;
  int64_t active_base = 0, log_start = 0, log_end = 0, limit = INT64_MAX;
  state->log.with_lock([&](Log& log) {
    compact = log.config().cleanup_policy_compact;
    if (!compact) return;
    candidate.plan.partition_dir = log.dir();
    candidate.plan.config = log.config();
    candidate.plan.segments = log.segment_snapshots();
    candidate.plan.truncation_generation = log.truncation_generation();
    log_start = log.log_start_offset();
    log_end = log.log_end_offset();
    if (state->log.cleanable_end_offset) limit = state->log.cleanable_end_offset(log);
  });
  if (!compact) return std::nullopt;
  CompactionPlan& plan = candidate.plan;
  active_base = plan.segments.back().base_offset;
  plan.segments.pop_back();  // the active segment is never cleaned
  if (plan.segments.empty()) return std::nullopt;

  int64_t first_dirty = log_start;
  if (auto saved = checkpoint(state->log.log_dir, state->log.topic_partition)) {
    if (*saved > log_end)
      options_.logger("cleaner checkpoint " + std::to_string(*saved) + " of " + plan.partition_dir +
                      " is past the log end " + std::to_string(log_end) + ": cleaning from the log start");
    else
      first_dirty = std::max(*saved, log_start);
  }
  int64_t uncleanable = std::min(active_base, limit);
  const LogConfig& config = plan.config;
  for (const auto& segment : plan.segments) {
    if (config.min_compaction_lag_ms <= 0) break;
    if (segment.next_offset <= first_dirty) continue;
    if (segment.max_timestamp_ms > now_ms - config.min_compaction_lag_ms) {
      uncleanable = std::min(uncleanable, segment.base_offset);
      break;
    }
  }
  uncleanable = std::max(uncleanable, first_dirty);
  plan.first_dirty_offset = first_dirty;
  plan.first_uncleanable_offset = uncleanable;

  uint64_t clean_bytes = 0, dirty_bytes = 0;
  const SegmentSnapshot* first_dirty_segment = nullptr;
  for (const auto& segment : plan.segments) {
    if (segment.next_offset <= first_dirty) {
      clean_bytes += segment.size_bytes;
    } else if (segment.base_offset < uncleanable && segment.size_bytes > 0) {
      dirty_bytes += segment.size_bytes;
      if (!first_dirty_segment) first_dirty_segment = &segment;
    }
  }
  uint64_t total = clean_bytes + dirty_bytes;
  candidate.ratio = total == 0 ? 0 : static_cast<double>(dirty_bytes) / static_cast<double>(total);
  bool overdue = false;
  if (first_dirty_segment && config.max_compaction_lag_ms < INT64_MAX) {
    auto oldest = first_batch_timestamp(*first_dirty_segment);
    overdue = oldest && *oldest >= 0 && now_ms - *oldest > config.max_compaction_lag_ms;
  }
  candidate.eligible_by_dirt = dirty_bytes > 0 && (candidate.ratio > config.min_cleanable_dirty_ratio || overdue);
  if (candidate.eligible_by_dirt) return candidate;
  // Tombstones past their horizon in the clean section: a pass over the
  // clean section only (nothing new enters the offset map).
  if (clean_bytes > 0 && state->tombstone_due_ms <= now_ms) {
    plan.first_uncleanable_offset = first_dirty;
    return candidate;
  }
  return std::nullopt;
}

// The dirtiest cleanable log (highest ratio first; tombstone-only passes
// last), marked in progress.
std::optional<LogCleaner::Candidate> LogCleaner::grab_filthiest() {
  std::vector<std::shared_ptr<LogState>> states;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [key, state] : logs_)
      if (!state->in_progress && !state->removed && !state->failed) states.push_back(state);
  }
  int64_t now_ms = options_.clock->now_ms();
  std::optional<Candidate> best;
  for (const auto& state : states) {
    auto candidate = assess(state, now_ms);
    if (!candidate) continue;
    auto rank = [](const Candidate& c) { return std::make_pair(c.eligible_by_dirt, c.ratio); };
    if (!best || rank(*candidate) > rank(*best)) best = std::move(candidate);
  }
  if (!best) return std::nullopt;
  std::lock_guard lock(mutex_);
  if (best->state->in_progress || best->state->removed) return std::nullopt;  // another thread took it
  best->state->in_progress = true;
  return best;
}

// The swap's three steps (Log::begin_segment_swap) under the partition lock,
// each short (renames, memory); the directory fsyncs that order them run
// between, with no lock held, so appends and reads are never held up by them.
Result<bool> LogCleaner::swap_in(LogState& state, std::unique_ptr<Segment> cleaned,
                                 const std::vector<SegmentSnapshot>& replaced,
                                 uint64_t truncation_generation) {
  Result<bool> begun = false;
  std::string dir;
  state.log.with_lock([&](Log& log) {
    begun = log.begin_segment_swap(std::move(cleaned), replaced, truncation_generation);
    dir = log.dir();
  });
  if (!begun || !*begun) return begun;
  if (Status s = fs_.sync_dir(dir); !s) return s;
  Status retired;
  state.log.with_lock([&](Log& log) { retired = log.retire_replaced_segments(); });
  if (!retired) return retired;
  if (Status s = fs_.sync_dir(dir); !s) return s;
  Status finished;
  state.log.with_lock([&](Log& log) { finished = log.finish_segment_swap(); });
  if (!finished) return finished;
  return true;
}

Result<CleanStats> LogCleaner::clean(Compactor& compactor, Candidate& candidate) {
  const auto& state = candidate.state;
  const CompactionPlan& plan = candidate.plan;
  SwapSegments swap = [&](std::unique_ptr<Segment> cleaned,
                          const std::vector<SegmentSnapshot>& replaced) {
    return swap_in(*state, std::move(cleaned), replaced, plan.truncation_generation);
  };
  auto aborted = [&] {
    std::lock_guard lock(mutex_);
    return state->removed || stopping_;
  };
  auto stats = compactor.compact(plan, options_.clock->now_ms(), swap, aborted);
  if (!stats) return stats.status();
  stats->topic_partition = state->log.topic_partition;
  stats->log_dir = state->log.log_dir;
  stats->dirty_ratio = candidate.ratio;
  if (stats->aborted) return stats;
  {
    std::lock_guard lock(mutex_);
    state->tombstone_due_ms = stats->tombstone_due_ms;
  }
  // The checkpoint moves under the partition lock, and only if the log was
  // not truncated since the snapshot: a truncation (whose on_truncation()
  // runs under the same lock) can then never be overtaken by a stale clean.
  bool advanced = false;
  state->log.with_lock([&](Log& log) {
    if (log.truncation_generation() != plan.truncation_generation) return;
    std::lock_guard lock(mutex_);
    if (state->removed) return;
    checkpoints_[state->log.log_dir][state->log.topic_partition] = stats->end_offset;
    advanced = true;
  });
  if (!advanced) return stats;
  if (Status s = write_checkpoint(state->log.log_dir); !s) return s;
  return stats;
}

Result<std::optional<CleanStats>> LogCleaner::clean_with(Compactor& compactor) {
  auto candidate = grab_filthiest();
  if (!candidate) return std::optional<CleanStats>();
  auto stats = clean(compactor, *candidate);
  {
    std::lock_guard lock(mutex_);
    candidate->state->in_progress = false;
    if (!stats) candidate->state->failed = true;
  }
  changed_.notify_all();
  const std::string where = candidate->state->log.topic_partition.dir_name() + " in " + candidate->state->log.log_dir;
  if (!stats) {
    options_.logger("log cleaner: cleaning " + where + " failed; leaving it uncleaned: " + stats.status().to_string());
    return stats.status();
  }
  options_.logger("log cleaner: " + std::string(stats->aborted ? "stopped (log changed, removed or cleaner stopping) " : "cleaned ") + where +
                  ": offsets [" + std::to_string(stats->first_dirty_offset) + ", " +
                  std::to_string(stats->end_offset) + "), " + std::to_string(stats->segments_replaced) +
                  " segments into " + std::to_string(stats->segments_written) + ", removed " +
                  std::to_string(stats->records_removed) + " of " + std::to_string(stats->records_read) +
                  " records (" + std::to_string(stats->tombstones_removed) + " tombstones)");
  return std::optional<CleanStats>(std::move(*stats));
}

Result<std::optional<CleanStats>> LogCleaner::clean_once() {
  std::lock_guard lock(manual_mutex_);
  const CleanerConfig& config = options_.config;
  if (!manual_compactor_)
    manual_compactor_ = std::make_unique<Compactor>(fs_, config.dedupe_buffer_bytes / std::max(config.threads, 1),
                                                    config.io_buffer_load_factor, config.io_buffer_bytes);
  return clean_with(*manual_compactor_);
}

void LogCleaner::run_thread(size_t index) {
  const CleanerConfig& config = options_.config;
  Compactor compactor(fs_, config.dedupe_buffer_bytes / std::max(config.threads, 1), config.io_buffer_load_factor,
                      config.io_buffer_bytes);
  (void)index;
  while (true) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
    }
    auto cleaned = clean_with(compactor);
    if (cleaned && *cleaned) continue;  // there may be more: look again at once
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, std::chrono::milliseconds(config.backoff_ms),
                      [&] { return stopping_ || wake_requested_; });
    wake_requested_ = false;
  }
}

void LogCleaner::start() {
  std::lock_guard lock(mutex_);
  if (!options_.config.enable || !threads_.empty()) return;
  stopping_ = false;
  for (int i = 0; i < std::max(options_.config.threads, 1); ++i)
    threads_.emplace_back([this, i] {
      set_current_thread_name("cleaner-" + std::to_string(i));
      run_thread(static_cast<size_t>(i));
    });
}

void LogCleaner::wake() {
  {
    std::lock_guard lock(mutex_);
    wake_requested_ = true;
  }
  changed_.notify_all();
}

void LogCleaner::stop() {
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    threads.swap(threads_);
  }
  changed_.notify_all();
  for (auto& thread : threads) thread.join();
  std::lock_guard lock(mutex_);
  stopping_ = false;
}

}  // namespace sluice::storage
