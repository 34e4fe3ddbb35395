// Model-based property test of the partition log: random sequences of
// appends (random batch sizes and codecs), reads at random offsets and byte
// limits, rolls (small segment.bytes and index sizes), truncate-to-offset,
// truncate-fully, DeleteRecords, retention by bytes and by time (ManualClock),
// flushes, checkpoints, next segments prepared in the background (ready or
// not at a roll, left behind by a crash), clean restarts and simulated crashes on the
// in-memory file system, each checked against a plain model: the list of
// batches appended, with their offsets, epochs, timestamps and bytes.
//
// After a crash the model keeps what was durable at the last flush (or
// clean close): MemoryFileSystem::simulate_crash drops every unsynced write
// and directory entry. In CrashMode::keep_random_prefix the unsynced tail of
// an appended-only file may partly survive, so the model also accepts any
// prefix of the batches appended since that flush.
//
// Cases: RapidCheck's default (100) on seed 1 in ctest, well under a second;
// `make soak-storage` runs 20,000 on random seeds and prints the
// RC_PARAMS="reproduce=..." string of a failure. Counterexamples log each
// step, and after a restart what was recovered and the partition's files.

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <optional>

#include "log_test_util.h"
#include "record/batch_builder.h"
#include "record/record_set.h"
#include "storage/log_directory.h"
#include "storage/memory_file_system.h"
#include "test_util.h"

namespace sluice::storage {

// How RapidCheck prints them in a counterexample (found by ADL).
void showValue(const EpochEntry& entry, std::ostream& os) { os << entry.epoch << "@" << entry.start_offset; }
void showValue(const EpochEndOffset& end, std::ostream& os) { os << end.epoch << "->" << end.end_offset; }

namespace {

const TopicPartition tp{"model", 0};

struct ModelBatch {
  int64_t base_offset = 0;
  int64_t last_offset = 0;
  int32_t epoch = 0;
  std::vector<int64_t> timestamps_ms;  // one per record, offsets base..last
  std::vector<uint8_t> bytes;          // as stored: base offset and epoch assigned
  int64_t max_timestamp_ms() const { return *std::max_element(timestamps_ms.begin(), timestamps_ms.end()); }
};

// What the log should hold. Batches wholly below the log start offset are
// dropped; one straddling it stays (reads from the start return it whole).
// The epochs follow Kafka's LeaderEpochFileCache: an entry where a higher
// epoch first appears, cut at the end on truncation, the first one moved up
// to the log start (it stays when the log is empty: the epoch is still known).
struct LogModel {
  std::vector<ModelBatch> batches;
  std::vector<EpochEntry> epochs;
  int64_t start_offset = 0;
  int64_t end_offset = 0;
  // A crash can leave offsets with no batch: an empty segment whose entry a
  // directory sync made durable while the data before it was not. Where
  // truncation ends then depends on the segments, which the model ignores.
  bool may_have_gaps = false;

  void add(const ModelBatch& batch) {
    batches.push_back(batch);
    if (epochs.empty() || batch.epoch > epochs.back().epoch) {
      // An entry kept at the start of an empty log gives way to a new epoch there.
      std::erase_if(epochs, [&](const EpochEntry& e) { return e.start_offset >= batch.base_offset; });
      epochs.push_back({batch.epoch, batch.base_offset});
    }
    end_offset = batch.last_offset + 1;
  }
  void truncate_to(int64_t offset) {
    // Nothing to cut, but an epoch starting at the log end goes (Kafka's
    // truncateTo: the cache is cut at the end either way).
    if (offset >= end_offset) {
      std::erase_if(epochs, [&](const EpochEntry& e) { return e.start_offset >= end_offset; });
      return;
    }
    std::erase_if(batches, [&](const ModelBatch& b) { return b.last_offset >= offset; });
    int64_t new_end = batches.empty() ? start_offset : batches.back().last_offset + 1;
    end_offset = std::min(end_offset, std::max(new_end, start_offset));
    std::erase_if(epochs, [&](const EpochEntry& e) { return e.start_offset >= end_offset; });
  }
  // At open the cache is cut at the log end, as Kafka's truncateFromEnd
  // (an empty log drops the entry it kept at its start).
  void reopen() {
    std::erase_if(epochs, [&](const EpochEntry& e) { return e.start_offset >= end_offset; });
  }
  void truncate_fully(int64_t new_start) {
    may_have_gaps = false;
    batches.clear();
    epochs.clear();
    start_offset = end_offset = new_start;
  }
  void advance_start(int64_t offset) {
    start_offset = offset;
    std::erase_if(batches, [&](const ModelBatch& b) { return b.last_offset < start_offset; });
    size_t covering = 0;
    while (covering + 1 < epochs.size() && epochs[covering + 1].start_offset <= offset) ++covering;
    if (epochs.empty() || epochs[0].start_offset > offset) return;
    epochs.erase(epochs.begin(), epochs.begin() + static_cast<std::ptrdiff_t>(covering));
    epochs[0].start_offset = offset;
  }
  const ModelBatch* batch_holding(int64_t offset) const {
    for (const auto& batch : batches)
      if (batch.last_offset >= offset) return &batch;
    return nullptr;
  }
};

// OffsetForLeaderEpoch over the model's entries, as Kafka answers it.
EpochEndOffset model_end_offset_for(const std::vector<EpochEntry>& entries, int32_t requested, int64_t end_offset) {
  if (requested == undefined_epoch || entries.empty()) return {};
  if (entries.back().epoch == requested) return {requested, end_offset};
  for (size_t i = 0; i < entries.size(); ++i) {
    if (entries[i].epoch <= requested) continue;
    if (i == 0) return {requested, entries[i].start_offset};
    return {entries[i - 1].epoch, entries[i].start_offset};
  }
  return {};
}

std::vector<uint8_t> read_range(const FileRange& range) {
  std::vector<uint8_t> bytes(range.length);
  auto read = range.file->pread(range.position, bytes);
  RC_ASSERT(read.is_ok());
  RC_ASSERT(*read == range.length);
  return bytes;
}

class ModelRun {
 public:
  ModelRun() : fs_(*rc::gen::arbitrary<uint64_t>()) {
    RC_ASSERT(fs_.make_dirs("/logs").is_ok());
    RC_ASSERT(fs_.sync_dir("/").is_ok());
    config_.segment_bytes = *rc::gen::element<uint64_t>(600, 2000, 8000);
    config_.segment_index_bytes = *rc::gen::element<uint64_t>(24, 96, 10 << 20);
    config_.index_interval_bytes = *rc::gen::element<uint32_t>(1, 300, 4096);
    config_.retention_ms = -1;
    config_.file_delete_delay_ms = *rc::gen::element<int64_t>(0, 1000);
    open_dir();
    log_ = *dir_->create_log(tp, Uuid{});
  }

  void step() {
    switch (*rc::gen::inRange(0, 20)) {
      case 0: case 1: case 2: case 3: case 4: case 5: case 6: append(); break;
      case 7: case 8: case 9: read(); break;
      case 10: find_by_time(); break;
      case 11: truncate_to(); break;
      case 12: if (*rc::gen::inRange(0, 3) == 0) truncate_fully(); break;
      case 13: delete_records(); break;
      case 14: retention(); break;
      case 15: flush(); break;
      case 16: checkpoint(); break;
      case 17: restart(/*clean=*/true); break;
      case 18: restart(/*clean=*/false); break;
      default: ++epoch_; clock_.advance_ms(*rc::gen::inRange(0, 5000));
    }
    check_state();
  }

 private:
  void open_dir() {
    LogDirectoryOptions options;
    options.path = "/logs";
    options.config_for = [this](const TopicPartition&) { return config_; };
    options.clock = &clock_;
    options.logger = [](std::string_view) {};
    // Next segments are prepared when a step says so (or never, before a
    // restart: a stopped or crashed broker runs none of its pending jobs).
    background_jobs_.clear();
    options.background = [this](std::function<void()> job) {
      background_jobs_.push_back(std::move(job));
    };
    auto dir = LogDirectory::open(fs_, options);
    RC_ASSERT(dir.is_ok());
    dir_ = std::move(*dir);
  }

  void run_background_jobs() {
    RC_LOG() << "run " << background_jobs_.size() << " background job(s)\n";
    for (const auto& job : std::exchange(background_jobs_, {})) job();
  }

  void append() {
    // Half the time the background thread got to a preparation first.
    if (!background_jobs_.empty() && *rc::gen::inRange(0, 2) == 0) run_background_jobs();
    const int batch_count = *rc::gen::inRange(1, 4);
    std::vector<uint8_t> set;
    std::vector<ModelBatch> appended;
    int64_t next = model_.end_offset;
    for (int b = 0; b < batch_count; ++b) {
      record::BatchOptions options;
      options.compression = *rc::gen::element(record::Compression::none, record::Compression::none,
                                              record::Compression::lz4, record::Compression::zstd,
                                              record::Compression::snappy, record::Compression::gzip);
      record::BatchBuilder builder(options);
      ModelBatch batch;
      const int count = *rc::gen::inRange(1, 7);
      const auto value_bytes = static_cast<size_t>(*rc::gen::inRange(0, 200));
      for (int i = 0; i < count; ++i) {
        // Timestamps around now, not monotonic: time lookups must scan.
        int64_t timestamp = clock_.now_ms() + *rc::gen::inRange<int64_t>(-3000, 3000);
        std::string value(value_bytes, static_cast<char>('a' + i));
        builder.append(timestamp, std::nullopt, testing::as_bytes(value));
        batch.timestamps_ms.push_back(timestamp);
      }
      auto built = builder.build();
      RC_ASSERT(built.is_ok());
      batch.base_offset = next;
      batch.last_offset = next + count - 1;
      batch.epoch = epoch_;
      next = batch.last_offset + 1;
      set.insert(set.end(), built->begin(), built->end());
      appended.push_back(std::move(batch));
    }
    RC_LOG() << "append " << batch_count << " batches at " << model_.end_offset << ".." << next - 1 << " epoch " << epoch_
             << "\n";
    auto result = log_->append_as_leader(set, LeaderEpoch{epoch_});
    RC_ASSERT(result.is_ok());
    RC_ASSERT(result->first_offset == model_.end_offset);
    RC_ASSERT(result->last_offset == next - 1);
    // append_as_leader rewrote the base offsets and epochs in place.
    record::RecordSetReader reader(set);
    record::BatchView view;
    for (auto& batch : appended) {
      RC_ASSERT(reader.next(view));
      batch.bytes.assign(view.bytes.begin(), view.bytes.end());
      model_.add(batch);
      unsynced_appends_.push_back(batch);
      all_appended_.push_back(batch);
    }
  }

  // Whole batches from the one holding the offset, each byte for byte the
  // model's, in order, within the limits.
  void read() {
    const int64_t offset = *rc::gen::inRange(model_.start_offset, model_.end_offset + 1);
    const auto max_bytes = static_cast<uint64_t>(*rc::gen::inRange(1, 6000));
    const int64_t max_offset = *rc::gen::element<int64_t>(INT64_MAX, model_.end_offset, offset + 3);
    const bool min_one_batch = *rc::gen::inRange(0, 4) != 0;
    RC_LOG() << "read " << offset << " max_bytes " << max_bytes << " max_offset " << max_offset << "\n";
    auto read = log_->read(Offset{offset}, max_bytes, Offset{max_offset}, min_one_batch);
    RC_ASSERT(read.is_ok());
    std::vector<uint8_t> bytes = read_range(read->range);
    record::RecordSetReader reader(bytes);
    record::BatchView view;
    const ModelBatch* expected = model_.batch_holding(offset);
    size_t index = expected ? static_cast<size_t>(expected - model_.batches.data()) : model_.batches.size();
    size_t returned = 0;
    while (reader.next(view)) {
      RC_ASSERT(index < model_.batches.size());
      const ModelBatch& batch = model_.batches[index++];
      RC_ASSERT(view.header.base_offset == batch.base_offset);
      RC_ASSERT(view.header.base_offset < max_offset);
      RC_ASSERT(std::equal(view.bytes.begin(), view.bytes.end(), batch.bytes.begin(), batch.bytes.end()));
      if (returned == 0) RC_ASSERT(read->first_batch_offset == batch.base_offset);
      ++returned;
      RC_ASSERT((read->next_offset == batch.last_offset + 1 || reader.position() < bytes.size()));
    }
    RC_ASSERT(reader.status().is_ok());
    RC_ASSERT(!reader.incomplete());
    RC_ASSERT((bytes.size() <= max_bytes || (returned == 1 && min_one_batch)));
    // The batch holding the offset is always returned when it may be.
    bool first_fits = expected && expected->base_offset < max_offset &&
                      (min_one_batch || expected->bytes.size() <= max_bytes);
    RC_ASSERT((returned > 0) == first_fits);
    if (returned == 0) RC_ASSERT(read->next_offset == offset);
  }

  void find_by_time() {
    const int64_t timestamp = clock_.now_ms() + *rc::gen::inRange<int64_t>(-8000, 4000);
    RC_LOG() << "find_by_time " << timestamp << " (now " << clock_.now_ms() << ")\n";
    auto found = log_->find_offset_for_timestamp(timestamp);
    RC_ASSERT(found.is_ok());
    std::optional<std::pair<int64_t, int64_t>> expected;  // offset, timestamp
    for (const auto& batch : model_.batches) {
      for (size_t i = 0; i < batch.timestamps_ms.size() && !expected; ++i) {
        int64_t offset = batch.base_offset + static_cast<int64_t>(i);
        if (offset >= model_.start_offset && batch.timestamps_ms[i] >= timestamp)
          expected = std::pair{offset, batch.timestamps_ms[i]};
      }
    }
    RC_LOG() << "  found " << (found->has_value() ? std::to_string((*found)->offset) : "none") << ", model "
             << (expected ? std::to_string(expected->first) : "none") << "\n";
    RC_ASSERT(found->has_value() == expected.has_value());
    if (!expected) return;
    RC_ASSERT((*found)->offset == expected->first);
    RC_ASSERT((*found)->timestamp_ms == expected->second);
    RC_ASSERT((*found)->leader_epoch == epoch_at(expected->first));
  }

  void truncate_to() {
    const int64_t offset = *rc::gen::inRange(model_.start_offset, model_.end_offset + 1);
    RC_LOG() << "truncate_to " << offset << " (model " << describe(model_) << ")\n";
    RC_ASSERT(log_->truncate_to(Offset{offset}).is_ok());
    if (offset < model_.end_offset) only_appends_since_flush_ = false;
    const int64_t end_before = model_.end_offset;
    model_.truncate_to(offset);
    if (model_.may_have_gaps && offset < end_before) {
      const int64_t end = log_->log_end_offset();
      RC_ASSERT(end >= log_->log_start_offset());  // where it ends depends on the segments
      model_.end_offset = end;
      model_.epochs = log_->epoch_entries();
    }
  }

  void truncate_fully() {
    const int64_t new_start = *rc::gen::inRange<int64_t>(0, model_.end_offset + 50);
    RC_LOG() << "truncate_fully " << new_start << "\n";
    RC_ASSERT(log_->truncate_fully(Offset{new_start}).is_ok());
    model_.truncate_fully(new_start);
    only_appends_since_flush_ = false;
  }

  void delete_records() {
    const int64_t offset = *rc::gen::inRange(model_.start_offset, model_.end_offset + 1);
    RC_LOG() << "set_log_start_offset " << offset << "\n";
    RC_ASSERT(log_->set_log_start_offset(Offset{offset}).is_ok());
    if (offset > model_.start_offset) only_appends_since_flush_ = false;
    model_.advance_start(offset);
  }

  // Whole segments go: the new start is a batch boundary, everything above it
  // is untouched, and what went breached the configured limit.
  void retention() {
    const bool by_time = *rc::gen::arbitrary<bool>();
    config_.retention_ms = by_time ? *rc::gen::inRange<int64_t>(0, 6000) : -1;
    config_.retention_bytes = by_time ? -1 : *rc::gen::inRange<int64_t>(0, 6000);
    log_->set_config(config_);
    clock_.advance_ms(*rc::gen::inRange(0, 3000));
    RC_LOG() << "retention ms " << config_.retention_ms << " bytes " << config_.retention_bytes << "\n";
    auto result = log_->apply_retention(Offset{model_.end_offset});
    if (!result) RC_LOG() << "  " << result.status().to_string() << "\n";
    RC_ASSERT(result.is_ok());
    const int64_t new_start = log_->log_start_offset();
    RC_ASSERT(new_start >= model_.start_offset);
    if (result->deleted_segments > 0 && new_start > model_.start_offset) {
      const bool at_batch = std::any_of(model_.batches.begin(), model_.batches.end(),
                                        [&](const ModelBatch& b) { return b.base_offset == new_start; });
      RC_ASSERT((at_batch || new_start == model_.end_offset || model_.may_have_gaps));
      for (const auto& batch : model_.batches) {
        if (batch.last_offset >= new_start) break;
        if (by_time) RC_ASSERT(clock_.now_ms() - batch.max_timestamp_ms() > config_.retention_ms);
      }
      if (!by_time) RC_ASSERT(log_->size_bytes() >= static_cast<uint64_t>(config_.retention_bytes));
    }
    if (result->deleted_segments > 0) only_appends_since_flush_ = false;
    model_.advance_start(new_start);
    config_.retention_ms = config_.retention_bytes = -1;
    log_->set_config(config_);
  }

  void flush() {
    RC_LOG() << "flush\n";
    RC_ASSERT(log_->flush().is_ok());
    mark_durable();
  }

  void checkpoint() {
    RC_LOG() << "checkpoint\n";
    RC_ASSERT(dir_->write_checkpoints().is_ok());
    checkpointed_start_ = model_.start_offset;
  }

  void mark_durable() {
    durable_ = model_;
    unsynced_appends_.clear();
    only_appends_since_flush_ = true;
  }

  void restart(bool clean) {
    if (clean) {
      RC_ASSERT(dir_->close().is_ok());
      mark_durable();
      checkpointed_start_ = model_.start_offset;
    }
    log_ = nullptr;
    dir_.reset();
    const auto mode = *rc::gen::element(CrashMode::drop_unsynced, CrashMode::keep_random_prefix);
    RC_LOG() << (clean ? "clean restart" : "crash") << (mode == CrashMode::drop_unsynced ? "" : " keeping a random prefix")
             << "\n";
    fs_.simulate_crash(mode);
    open_dir();
    RC_ASSERT(dir_->had_clean_shutdown() == clean);
    log_ = dir_->find(tp);
    if (log_ == nullptr) {
      // Never durable: the partition directory itself did not survive.
      RC_ASSERT((durable_.end_offset == 0 && durable_.batches.empty()));
      log_ = *dir_->create_log(tp, Uuid{});
    }
    if (clean) {
      model_.reopen();
      RC_ASSERT(log_->log_start_offset() == model_.start_offset);
      RC_ASSERT(log_->log_end_offset() == model_.end_offset);
      return;
    }
    if (only_appends_since_flush_)
      adopt_recovered_state();
    else
      adopt_any_consistent_state();
    RC_LOG() << "  recovered " << describe(model_) << "; files" << list_files() << "\n";
  }

  std::string list_files() {
    std::string out;
    const std::string path = "/logs/" + tp.dir_name();
    auto names = fs_.list_dir(path);
    if (!names) return " (none)";
    std::sort(names->begin(), names->end());
    for (const auto& name : *names) {
      auto size = fs_.file_size(path + "/" + name);
      out += " " + name + ":" + (size ? std::to_string(*size) : "?");
    }
    return out;
  }

  static std::string describe(const LogModel& model) {
    std::string out = "start " + std::to_string(model.start_offset) + " end " + std::to_string(model.end_offset) +
                      " batches";
    for (const auto& batch : model.batches)
      out += " " + std::to_string(batch.base_offset) + ".." + std::to_string(batch.last_offset);
    return out;
  }

  // The batches the log holds now, read from the start, byte for byte.
  std::vector<ModelBatch> read_all() {
    std::vector<ModelBatch> batches;
    int64_t offset = log_->log_start_offset();
    while (offset < log_->log_end_offset()) {
      auto read = log_->read(Offset{offset}, 1 << 20, Offset{INT64_MAX});
      RC_ASSERT(read.is_ok());
      if (read->range.length == 0) break;  // an empty segment ends the log
      std::vector<uint8_t> bytes = read_range(read->range);
      record::RecordSetReader reader(bytes);
      record::BatchView view;
      const size_t before = batches.size();
      while (reader.next(view)) {
        RC_ASSERT(record::validate_records(view.bytes).is_ok());
        ModelBatch batch;
        batch.base_offset = view.header.base_offset;
        batch.last_offset = view.header.last_offset();
        batch.epoch = view.header.partition_leader_epoch;
        batch.bytes.assign(view.bytes.begin(), view.bytes.end());
        RC_ASSERT((batches.empty() || batch.base_offset > batches.back().last_offset));
        batches.push_back(std::move(batch));
      }
      RC_ASSERT((!reader.incomplete() && reader.status().is_ok()));
      RC_ASSERT(batches.size() > before);
      offset = batches.back().last_offset + 1;
    }
    return batches;
  }

  // After a crash with only appends since the last flush: the durable state
  // plus a prefix of the batches appended since (keep_random_prefix), with
  // the log start between the checkpointed one and the durable one. The end
  // may lie past the last batch: a segment rolled after the flush can
  // survive empty when a leader-epoch checkpoint synced the directory.
  void adopt_recovered_state() {
    LogModel recovered = durable_;
    std::vector<ModelBatch> actual = read_all();
    // DeleteRecords is durable with log-start-offset-checkpoint only: an
    // older start exposes again the batches below it still in the log.
    std::vector<ModelBatch> exposed;
    for (const auto& batch : actual)
      if (batch.last_offset < durable_.start_offset) exposed.push_back(known_batch(batch));
    recovered.batches.insert(recovered.batches.begin(), exposed.begin(), exposed.end());
    for (const auto& batch : unsynced_appends_) {
      if (actual.empty() || actual.back().last_offset < batch.base_offset) break;
      recovered.add(batch);
    }
    const int64_t end = log_->log_end_offset();
    RC_ASSERT((end >= recovered.end_offset && end <= model_.end_offset));
    recovered.end_offset = end;
    const int64_t start = log_->log_start_offset();
    RC_ASSERT(start >= std::min(checkpointed_start_, end));
    RC_ASSERT(start <= std::min(std::max(checkpointed_start_, durable_.start_offset), end));
    recovered.may_have_gaps = has_gaps(actual, start, end);
    recovered.advance_start(start);
    recovered.reopen();
    adopt_epochs_after_crash(recovered);
    RC_ASSERT(actual.size() == recovered.batches.size());
    for (size_t i = 0; i < actual.size(); ++i) RC_ASSERT(actual[i].bytes == recovered.batches[i].bytes);
    model_ = recovered;
    mark_durable();
  }

  // After a crash that followed truncations or deletions: some state the log
  // went through. Every batch is one that was appended at that offset, whole
  // and valid, in offset order; the epoch cache follows them; from here the
  // model continues from what the log holds.
  void adopt_any_consistent_state() {
    LogModel recovered;
    recovered.start_offset = log_->log_start_offset();
    recovered.end_offset = log_->log_end_offset();
    RC_ASSERT(recovered.start_offset <= recovered.end_offset);
    for (auto& batch : read_all()) {
      RC_ASSERT(batch.last_offset < recovered.end_offset);
      recovered.batches.push_back(known_batch(batch));
    }
    recovered.may_have_gaps = has_gaps(recovered.batches, recovered.start_offset, recovered.end_offset);
    adopt_epochs_after_crash(recovered);
    model_ = recovered;
    mark_durable();
  }

  // After a crash the epoch cache is the durable leader-epoch-checkpoint
  // (written on every change, so it may be ahead of the durable data) cut at
  // the recovered end, plus what recovery re-scans; the model does not
  // predict which. It must be well formed: increasing epochs and offsets,
  // within [start, end] (an entry at the start of an empty log is kept).
  // From here on the model follows it exactly again.
  void adopt_epochs_after_crash(LogModel& recovered) {
    const auto& actual = log_->epoch_entries();
    for (size_t i = 0; i < actual.size(); ++i) {
      RC_ASSERT(actual[i].start_offset >= recovered.start_offset);
      RC_ASSERT((actual[i].start_offset < recovered.end_offset || actual[i].start_offset == recovered.start_offset));
      if (i > 0) RC_ASSERT((actual[i].epoch > actual[i - 1].epoch && actual[i].start_offset > actual[i - 1].start_offset));
    }
    recovered.epochs = actual;
  }

  // Offsets in [start, end) that no batch holds: between batches, after the
  // last one, or before the first one (empty segments a crash left ahead of
  // the first surviving batch; truncating into them ends at the base offset
  // of the empty segment holding the target, which the model cannot know).
  static bool has_gaps(const std::vector<ModelBatch>& batches, int64_t start, int64_t end) {
    auto first = std::find_if(batches.begin(), batches.end(), [&](const ModelBatch& b) { return b.last_offset >= start; });
    if (first == batches.end()) return true;
    if (first->base_offset > start) return true;
    for (auto it = first + 1; it != batches.end(); ++it)
      if (it->base_offset != (it - 1)->last_offset + 1) return true;
    return batches.back().last_offset + 1 != end;
  }

  // The appended batch `batch` (read from the log) is, byte for byte.
  ModelBatch known_batch(const ModelBatch& batch) const {
    auto known = std::find_if(all_appended_.begin(), all_appended_.end(), [&](const ModelBatch& b) {
      return b.base_offset == batch.base_offset && b.bytes == batch.bytes;
    });
    RC_ASSERT(known != all_appended_.end());
    return *known;
  }

  std::optional<int32_t> epoch_at(int64_t offset) const {
    std::optional<int32_t> epoch;
    for (const auto& entry : model_.epochs)
      if (entry.start_offset <= offset) epoch = entry.epoch;
    return epoch;
  }

  void check_state() {
    RC_ASSERT(log_->log_start_offset() == model_.start_offset);
    RC_ASSERT(log_->log_end_offset() == model_.end_offset);
    RC_ASSERT(log_->epoch_entries() == model_.epochs);
    const int32_t requested = *rc::gen::inRange(-1, epoch_ + 2);
    RC_ASSERT(log_->end_offset_for_epoch(LeaderEpoch{requested}) ==
              model_end_offset_for(model_.epochs, requested, model_.end_offset));
    auto earliest = log_->find_offset_for_timestamp(earliest_timestamp);
    RC_ASSERT((earliest.is_ok() && earliest->has_value()));
    RC_ASSERT((*earliest)->offset == model_.start_offset);
    auto latest = log_->find_offset_for_timestamp(latest_timestamp);
    RC_ASSERT((latest.is_ok() && latest->has_value()));
    RC_ASSERT((*latest)->offset == model_.end_offset);
  }

  MemoryFileSystem fs_;
  ManualClock clock_;
  LogConfig config_;
  std::unique_ptr<LogDirectory> dir_;
  Log* log_ = nullptr;
  std::vector<std::function<void()>> background_jobs_;
  int32_t epoch_ = 0;
  LogModel model_;
  LogModel durable_;                         // as of the last flush or clean close
  std::vector<ModelBatch> unsynced_appends_;  // appended since, in order
  // Since the last flush: only appends, reads, flushes and checkpoints. Then
  // a crash must leave exactly the durable state plus appended batches.
  // Truncation and segment deletion are made durable at unpredictable
  // points (every leader-epoch-checkpoint write syncs the directory).
  bool only_appends_since_flush_ = true;
  std::vector<ModelBatch> all_appended_;  // every batch ever appended
  int64_t checkpointed_start_ = 0;           // the log start in log-start-offset-checkpoint
};

RC_GTEST_PROP(LogModel, RandomOperationsMatchTheModel, ()) {
  ModelRun run;
  const int steps = *rc::gen::inRange(1, 120);
  for (int i = 0; i < steps; ++i) run.step();
}

}  // namespace
}  // namespace sluice::storage
