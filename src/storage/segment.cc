#include "storage/segment.h"

#include <atomic>
#include <cstdio>
#include <limits>
#include <mutex>

namespace sluice::storage {
namespace {

constexpr char log_suffix[] = ".log";
constexpr char index_suffix[] = ".index";
constexpr char time_index_suffix[] = ".timeindex";
constexpr char prepared_suffix[] = ".tmp";

bool fits_segment(int64_t offset, int64_t base_offset) {
  return offset >= base_offset && offset - base_offset <= std::numeric_limits<int32_t>::max();
}

}  // namespace

// An index file whose descriptor can be closed and is reopened (read_write)
// on the next use. The mutex covers a flusher thread syncing it off the
// partition lock while the Log releases or renames it under the lock.
// It knows whether anything was written since it was opened or last
// synced, so that a file can be released when that is safe
// (release_if_synced) without any caller tracking it.
class ReleasableFile final : public File {
 public:
  // `open` may be null: the file exists and is opened on first use.
  ReleasableFile(FileSystem& fs, std::string path, FileHandle open)
      : fs_(fs), path_(std::move(path)), file_(std::move(open)) {}

  Result<size_t> pread(uint64_t position, std::span<uint8_t> out) override {
    std::lock_guard lock(mutex_);
    if (Status s = reopen(); !s) return s;
    return file_->pread(position, out);
  }
  Status append(Bytes data) override {
    return write([&] { return file_->append(data); });
  }
  Status pwrite(uint64_t position, Bytes data) override {
    return write([&] { return file_->pwrite(position, data); });
  }
  Status truncate(uint64_t size_bytes) override {
    return write([&] { return file_->truncate(size_bytes); });
  }
  // Released only once durable, and nothing was written since (a write
  // reopens it): nothing to sync.
  Status sync() override {
    std::lock_guard lock(mutex_);
    if (!file_) return Status::ok();
    Status synced = file_->sync();
    if (synced) unsynced_writes_ = false;
    return synced;
  }
  Result<uint64_t> size() override {
    std::lock_guard lock(mutex_);
    if (Status s = reopen(); !s) return s;
    return file_->size();
  }
  const std::string& path() const override { return path_; }
  int native_handle() const override { return -1; }

  // The caller knows the file is durable (an inactive segment below the
  // recovery point).
  void release() {
    std::lock_guard lock(mutex_);
    file_.reset();
    unsynced_writes_ = false;
  }
  // Releases the file unless something written through it is not synced
  // yet (the next sync needs the descriptor).
  void release_if_synced() {
    std::lock_guard lock(mutex_);
    if (!unsynced_writes_) file_.reset();
  }
  // After a rename (under the partition lock, like every reopening use).
  void set_path(std::string path) {
    std::lock_guard lock(mutex_);
    path_ = std::move(path);
  }

 private:
  Status reopen() {
    if (file_) return Status::ok();
    auto opened = fs_.open(path_, OpenMode::read_write);
    if (!opened) return opened.status();
    file_ = std::move(*opened);
    return Status::ok();
  }
  template <class F>
  Status write(F&& f) {
    std::lock_guard lock(mutex_);
    if (Status s = reopen(); !s) return s;
    unsynced_writes_ = true;  // also when it fails: part of it may be written
    return f();
  }

  FileSystem& fs_;
  std::string path_;
  FileHandle file_;  // null while released
  bool unsynced_writes_ = false;
  std::mutex mutex_;
};

// A prepared .log handle under the segment's final name (it was opened
// under its temporary one), so errors and sync accounting name the right
// file. Everything else goes to the handle as it is.
class RenamedFile final : public File {
 public:
  RenamedFile(FileHandle file, std::string path) : file_(std::move(file)), path_(std::move(path)) {}
  Result<size_t> pread(uint64_t position, std::span<uint8_t> out) override {
    return file_->pread(position, out);
  }
  Result<size_t> pread_nowait(uint64_t position, std::span<uint8_t> out) override {
    return file_->pread_nowait(position, out);
  }
  bool cached(uint64_t position, uint64_t length) override {
    return file_->cached(position, length);
  }
  Status append(Bytes data) override { return file_->append(data); }
  Status pwrite(uint64_t position, Bytes data) override { return file_->pwrite(position, data); }
  Status truncate(uint64_t size_bytes) override { return file_->truncate(size_bytes); }
  Status sync() override { return file_->sync(); }
  Result<uint64_t> size() override { return file_->size(); }
  const std::string& path() const override { return path_; }
  int native_handle() const override { return file_->native_handle(); }
  void reserve(uint64_t bytes) override { file_->reserve(bytes); }

 private:
  FileHandle file_;
  std::string path_;
};

std::string segment_file_stem(int64_t base_offset) {
  char name[32];
  std::snprintf(name, sizeof name, "%020lld", static_cast<long long>(base_offset));
  return name;
}

std::optional<int64_t> parse_segment_file_name(const std::string& name, const std::string& suffix) {
  if (name.size() != 20 + suffix.size() || !name.ends_with(suffix)) return std::nullopt;
  int64_t value = 0;
  for (size_t i = 0; i < 20; ++i) {
    if (name[i] < '0' || name[i] > '9') return std::nullopt;
    if (value > (std::numeric_limits<int64_t>::max() - (name[i] - '0')) / 10) return std::nullopt;
    value = value * 10 + (name[i] - '0');
  }
  return value;
}

Segment::Segment(FileSystem& fs, std::string dir, int64_t base_offset, const LogConfig& config,
                 int64_t now_ms)
    : fs_(fs),
      dir_(std::move(dir)),
      base_offset_(base_offset),
      config_(config),
      next_offset_(base_offset),
      max_timestamp_{-1, base_offset},
      created_ms_(now_ms) {}

std::string Segment::log_path() const {
  return join_path(dir_, segment_file_stem(base_offset_) + log_suffix + suffix_);
}

Status Segment::open_files(OpenMode mode) {
  std::string stem = join_path(dir_, segment_file_stem(base_offset_));
  auto log = fs_.open(stem + log_suffix + suffix_, mode);
  if (!log) return log.status();
  log_file_ = std::move(*log);
  // A missing index is created empty and rebuilt by recover().
  for (const char* suffix : {index_suffix, time_index_suffix}) {
    auto exists = fs_.exists(stem + suffix + suffix_);
    if (!exists) return exists.status();
    if (!*exists) needs_recovery_ = true;
  }
  OpenMode index_mode = mode == OpenMode::create_truncate ? mode : OpenMode::create;
  auto index = fs_.open(stem + index_suffix + suffix_, index_mode);
  if (!index) return index.status();
  auto time_index = fs_.open(stem + time_index_suffix + suffix_, index_mode);
  if (!time_index) return time_index.status();
  use_index_files(stem, std::move(*index), std::move(*time_index));
  return Status::ok();
}

void Segment::use_index_files(const std::string& stem, FileHandle index, FileHandle time_index) {
  index_file_ =
      std::make_shared<ReleasableFile>(fs_, stem + index_suffix + suffix_, std::move(index));
  time_index_file_ = std::make_shared<ReleasableFile>(fs_, stem + time_index_suffix + suffix_,
                                                      std::move(time_index));
  offset_index_ =
      std::make_unique<OffsetIndex>(index_file_, base_offset_, config_.offset_index_entries_max());
  time_index_ =
      std::make_unique<TimeIndex>(time_index_file_, base_offset_, config_.time_index_entries_max());
}

std::vector<std::string> PreparedSegmentFiles::paths() const {
  return {stem + log_suffix + prepared_suffix, stem + index_suffix + prepared_suffix,
          stem + time_index_suffix + prepared_suffix};
}

Result<PreparedSegmentFiles> Segment::prepare_files(FileSystem& fs, const std::string& dir,
                                                    const LogConfig& config) {
  // Unique in the process: a deleted partition's late preparation must not
  // meet the files of a partition created again under the same name.
  static std::atomic<uint64_t> next_number{0};
  PreparedSegmentFiles files;
  files.stem = join_path(
      dir, "prepared-" + std::to_string(next_number.fetch_add(1, std::memory_order_relaxed)));
  const auto paths = files.paths();
  for (size_t i = 1; i < paths.size(); ++i) {
    auto index = fs.open(paths[i], OpenMode::create_truncate);
    if (!index) return index.status();
  }
  auto log = fs.open(paths[0], OpenMode::create_truncate);
  if (!log) return log.status();
  files.log_file = std::move(*log);
  if (config.preallocate) {
    files.log_file->reserve(config.segment_bytes);
    files.reserved = true;
  }
  return files;
}

Result<std::unique_ptr<Segment>> Segment::adopt_prepared(FileSystem& fs, const std::string& dir,
                                                         int64_t base_offset,
                                                         const LogConfig& config, int64_t now_ms,
                                                         const PreparedSegmentFiles& files) {
  std::unique_ptr<Segment> segment(new Segment(fs, dir, base_offset, config, now_ms));
  const std::string stem = join_path(dir, segment_file_stem(base_offset));
  const auto from = files.paths();
  const std::string to[] = {stem + log_suffix, stem + index_suffix, stem + time_index_suffix};
  for (size_t i : {1, 2, 0})
    if (Status s = fs.rename(from[i], to[i]); !s) return s;
  segment->log_file_ = std::make_shared<RenamedFile>(files.log_file, to[0]);
  segment->use_index_files(stem, nullptr, nullptr);  // empty: opened at the first index batch
  segment->reserved_ = files.reserved;
  return segment;
}

Result<std::unique_ptr<Segment>> Segment::create(FileSystem& fs, const std::string& dir,
                                                 int64_t base_offset, const LogConfig& config,
                                                 int64_t now_ms, const std::string& suffix) {
  std::unique_ptr<Segment> segment(new Segment(fs, dir, base_offset, config, now_ms));
  segment->suffix_ = suffix;
  if (Status s = segment->open_files(OpenMode::create_truncate); !s) return s;
  segment->needs_recovery_ = false;
  if (config.preallocate && suffix.empty()) {  // not for the cleaner's rewrites
    segment->log_file_->reserve(config.segment_bytes);
    segment->reserved_ = true;
  }
  return segment;
}

Result<std::unique_ptr<Segment>> Segment::open(FileSystem& fs, const std::string& dir,
                                               int64_t base_offset, const LogConfig& config,
                                               int64_t now_ms, const std::string& suffix) {
  std::unique_ptr<Segment> segment(new Segment(fs, dir, base_offset, config, now_ms));
  segment->suffix_ = suffix;
  if (Status s = segment->open_files(OpenMode::read_write); !s) return s;
  auto size = segment->log_file_->size();
  if (!size) return size.status();
  segment->size_bytes_ = *size;
  if (segment->needs_recovery_) return segment;
  if (!segment->offset_index_->load(segment->size_bytes_)) {
    segment->needs_recovery_ = true;
    return segment;
  }
  if (Status s = segment->scan_tail(); !s) return s;
  if (!segment->needs_recovery_ && !segment->time_index_->load(segment->next_offset_))
    segment->needs_recovery_ = true;
  if (auto last = segment->time_index_->last_entry();
      last && last->timestamp_ms > segment->max_timestamp_.timestamp_ms)
    segment->max_timestamp_ = *last;
  return segment;
}

// Finds the next offset and the max timestamp past the last index entry;
// a batch that does not parse there means the segment needs recovery.
Status Segment::scan_tail() {
  auto last = offset_index_->last_entry();
  uint64_t position = last ? last->position : 0;
  next_offset_ = base_offset_;
  max_timestamp_ = {-1, base_offset_};
  while (position < size_bytes_) {
    auto header = read_header_at(position);
    if (!header || !*header || !fits_segment((*header)->base_offset, next_offset_) ||
        !fits_segment((*header)->last_offset(), base_offset_)) {
      if (!header && header.status().code() == Errc::io_error) return header.status();
      needs_recovery_ = true;
      return Status::ok();
    }
    observe(**header);
    position += (*header)->size_bytes();
  }
  bytes_since_index_entry_ = size_bytes_ - (last ? last->position : 0);
  return Status::ok();
}

void Segment::observe(const record::BatchHeader& header) {
  next_offset_ = header.next_offset();
  if (header.max_timestamp > max_timestamp_.timestamp_ms)
    max_timestamp_ = {header.max_timestamp, header.last_offset()};
}

Result<std::optional<record::BatchHeader>> Segment::read_header_at(uint64_t position,
                                                                   bool nowait) const {
  if (position >= size_bytes_) return std::optional<record::BatchHeader>();
  uint8_t raw[record::batch_header_bytes];
  auto read = nowait ? log_file_->pread_nowait(position, raw) : log_file_->pread(position, raw);
  if (!read) return read.status();
  auto header = record::read_batch_header(Bytes(raw, *read));
  if (!header) return header.status();
  if (position + header->size_bytes() > size_bytes_)
    return Status(Errc::truncated, "batch at position " + std::to_string(position) + " of " +
                                       log_path() + " runs past the end of the file");
  return std::optional<record::BatchHeader>(*header);
}

Result<SegmentRecovery> Segment::recover(const BatchVisitor& visit) {
  if (Status s = offset_index_->reset(); !s) return s;
  if (Status s = time_index_->reset(); !s) return s;
  auto size = log_file_->size();
  if (!size) return size.status();
  size_bytes_ = *size;
  next_offset_ = base_offset_;
  max_timestamp_ = {-1, base_offset_};
  bytes_since_index_entry_ = 0;
  SegmentRecovery result;
  std::vector<uint8_t> batch;
  uint64_t position = 0;
  while (position < size_bytes_) {
    auto header = read_header_at(position);
    if (!header) {
      if (header.status().code() == Errc::io_error) return header.status();
      result.first_problem = header.status();
      break;
    }
    const record::BatchHeader& h = **header;
    batch.resize(h.size_bytes());
    auto read = log_file_->pread(position, batch);
    if (!read) return read.status();
    Status valid = record::validate_batch(batch);
    if (valid && (!fits_segment(h.base_offset, next_offset_) ||
                  !fits_segment(h.last_offset(), base_offset_)))
      valid =
          Status(Errc::invalid_value, "offset " + std::to_string(h.base_offset) + " out of order");
    if (!valid) {
      result.first_problem = valid;
      break;
    }
    if (Status s = append_index_entries(h, position); !s) return s;
    if (Status s = visit(h); !s) return s;
    position += h.size_bytes();
  }
  result.valid_bytes = position;
  result.truncated_bytes = *size - position;
  if (result.truncated_bytes > 0)
    if (Status s = log_file_->truncate(position); !s) return s;
  size_bytes_ = position;
  if (Status s = time_index_->maybe_append(max_timestamp_, true); !s) return s;
  if (Status s = write_index_entries(); !s) return s;
  needs_recovery_ = false;
  return result;
}

Status Segment::append_index_entries(const record::BatchHeader& header, uint64_t position) {
  observe(header);
  if (bytes_since_index_entry_ > config_.index_interval_bytes && !offset_index_->is_full()) {
    if (Status s = offset_index_->append(header.last_offset(), static_cast<uint32_t>(position)); !s)
      return s;
    if (Status s = time_index_->maybe_append(max_timestamp_); !s) return s;
    bytes_since_index_entry_ = 0;
  }
  bytes_since_index_entry_ += header.size_bytes();
  return Status::ok();
}

Status Segment::append(Bytes batches, const std::vector<record::BatchHeader>& headers) {
  SLUICE_ASSERT(!torn_, "append to a segment whose file holds a torn write");
  const AppendState before{size_bytes_, next_offset_, max_timestamp_, bytes_since_index_entry_};
  uint64_t position = size_bytes_;
  const int64_t first_offset = headers.front().base_offset;
  if (Status s = log_file_->append(batches); !s) return undo_append(before, first_offset, s);
  for (const auto& header : headers) {
    SLUICE_ASSERT(fits_segment(header.base_offset, next_offset_),
                  "segment appends must increase offsets");
    if (Status s = append_index_entries(header, position); !s)
      return undo_append(before, first_offset, s);
    position += header.size_bytes();
  }
  SLUICE_ASSERT(position == size_bytes_ + batches.size(),
                "batch headers must describe the appended bytes");
  size_bytes_ = position;
  return Status::ok();
}

// A full disk fails a write after part of it landed: cut the .log back to
// where the append began and drop its index entries, so no torn batch stays
// and the next append lands at a clean position. If even that fails the
// file and the segment disagree: torn() and an io_error (the dir goes offline;
// a reopen recovers by scanning).
Status Segment::undo_append(const AppendState& before, int64_t first_offset, const Status& error) {
  Status undone = cut_log_file(before.size_bytes);
  if (undone) undone = offset_index_->truncate_to(first_offset);
  if (undone) undone = time_index_->truncate_to(first_offset);
  size_bytes_ = before.size_bytes;
  next_offset_ = before.next_offset;
  max_timestamp_ = before.max_timestamp;
  bytes_since_index_entry_ = before.bytes_since_index_entry;
  if (undone) return error;
  torn_ = true;
  return Status(Errc::io_error,
                error.message() + "; undoing the partial append failed: " + undone.message());
}

// Most failed writes wrote nothing (a failing disk refuses them whole):
// then there is nothing to cut, and a disk that refuses the truncate too
// does not make the segment torn.
Status Segment::cut_log_file(uint64_t size_bytes) {
  auto size = log_file_->size();
  if (size && *size == size_bytes) return Status::ok();
  return log_file_->truncate(size_bytes);
}

uint64_t Segment::lookup_position(int64_t offset) const {
  return offset_index_->lookup(offset).position;
}

Result<std::optional<BatchLocation>> Segment::find_batch(int64_t offset, bool nowait) {
  uint64_t position = lookup_position(offset);
  while (true) {
    auto header = read_header_at(position, nowait);
    if (!header) return header.status();
    if (!*header) return std::optional<BatchLocation>();
    if ((*header)->last_offset() >= offset)
      return std::optional<BatchLocation>(BatchLocation{position, **header});
    position += (*header)->size_bytes();
  }
}

std::optional<Segment::Skip> Segment::skip_ahead(uint64_t from, uint64_t limit,
                                                 int64_t max_offset) const {
  if (from >= size_bytes_) return std::nullopt;
  if (size_bytes_ <= limit && next_offset_ <= max_offset) return Skip{size_bytes_, next_offset_};
  if (auto position = offset_index_->farthest_batch_within(from, limit, max_offset))
    return Skip{*position, -1};
  return std::nullopt;
}

Result<std::optional<BatchLocation>> Segment::find_batch_by_timestamp(int64_t timestamp_ms) {
  TimestampOffset floor = time_index_->lookup(timestamp_ms);
  uint64_t position = offset_index_->lookup(floor.offset).position;
  while (true) {
    auto header = read_header_at(position);
    if (!header) return header.status();
    if (!*header) return std::optional<BatchLocation>();
    if ((*header)->max_timestamp >= timestamp_ms)
      return std::optional<BatchLocation>(BatchLocation{position, **header});
    position += (*header)->size_bytes();
  }
}

Status Segment::truncate_to(int64_t offset) {
  cancel_reserve_release();
  auto found = find_batch(offset);
  if (!found) return found.status();
  if (!*found) return Status::ok();
  uint64_t position = (*found)->position;
  if (Status s = log_file_->truncate(position); !s) return s;
  size_bytes_ = position;
  if (Status s = offset_index_->truncate_to(offset); !s) return s;
  if (Status s = time_index_->truncate_to(offset); !s) return s;
  // Recompute the tail statistics from what is left.
  if (Status s = scan_tail(); !s) return s;
  if (position == 0) next_offset_ = base_offset_;
  if (auto last = time_index_->last_entry();
      last && last->timestamp_ms > max_timestamp_.timestamp_ms)
    max_timestamp_ = *last;
  return Status::ok();
}

Status Segment::on_become_inactive(bool defer_release) {
  if (Status s = time_index_->maybe_append(max_timestamp_, true); !s) return s;
  offset_index_->shrink();
  time_index_->shrink();
  if (reserved_ && defer_release) {
    reserve_release_ = std::make_shared<ReserveRelease>();
    reserve_release_->file = log_file_;
    reserve_release_->size_bytes = size_bytes_;
    reserve_release_taken_ = false;
    reserved_ = false;
  } else if (reserved_) {  // give back the blocks reserved past the content
    if (Status s = log_file_->truncate(size_bytes_); !s) return s;
    reserved_ = false;
  }
  return write_index_entries();
}

std::function<void()> Segment::take_reserve_release() {
  if (!reserve_release_ || reserve_release_taken_) return nullptr;
  reserve_release_taken_ = true;
  return [release = reserve_release_] {
    std::lock_guard lock(release->mutex);
    // Best effort, as the reserve itself: a failure leaves blocks allocated
    // past the end, which recovery ignores and the file's deletion frees.
    if (!release->cancelled) (void)release->file->truncate(release->size_bytes);
    release->cancelled = true;  // once
  };
}

void Segment::cancel_reserve_release() {
  if (!reserve_release_) return;
  bool released = false;
  {
    std::lock_guard lock(reserve_release_->mutex);  // waits for a running release
    released = reserve_release_->cancelled;
    reserve_release_->cancelled = true;
  }
  if (!released) reserved_ = true;  // still held: the next roll gives it back
  reserve_release_.reset();
}

Status Segment::write_index_entries() {
  if (Status s = offset_index_->write_buffered(); !s) return s;
  return time_index_->write_buffered();
}

Status Segment::sync() {
  if (Status s = log_file_->sync(); !s) return s;
  if (Status s = offset_index_->sync(); !s) return s;
  return time_index_->sync();
}

void Segment::release_index_files() {
  index_file_->release();
  time_index_file_->release();
}

void Segment::release_synced_index_files() {
  index_file_->release_if_synced();
  time_index_file_->release_if_synced();
}

Result<std::vector<std::string>> Segment::rename_to_deleted() {
  std::string stem = join_path(dir_, segment_file_stem(base_offset_));
  std::vector<std::string> deleted;
  for (const char* suffix : {log_suffix, index_suffix, time_index_suffix}) {
    std::string path = stem + suffix + suffix_;
    if (Status s = fs_.rename(path, path + ".deleted"); !s) return s;
    deleted.push_back(path + ".deleted");
  }
  index_file_->set_path(deleted[1]);
  time_index_file_->set_path(deleted[2]);
  return deleted;
}

Status Segment::rename_suffix(const std::string& suffix) {
  std::string stem = join_path(dir_, segment_file_stem(base_offset_));
  for (const char* name : {log_suffix, index_suffix, time_index_suffix})
    if (Status s = fs_.rename(stem + name + suffix_, stem + name + suffix); !s) return s;
  suffix_ = suffix;
  index_file_->set_path(stem + index_suffix + suffix_);
  time_index_file_->set_path(stem + time_index_suffix + suffix_);
  return Status::ok();
}

Status Segment::remove_files() {
  std::string stem = join_path(dir_, segment_file_stem(base_offset_));
  for (const char* name : {log_suffix, index_suffix, time_index_suffix})
    if (Status s = fs_.remove(stem + name + suffix_); !s) return s;
  return Status::ok();
}

bool Segment::nearing_roll(const LogConfig& config, int64_t now_ms) const {
  if (empty()) return false;
  return size_bytes_ >= config.segment_bytes / 2 ||
         now_ms - created_ms_ >= config.segment_ms / 10 * 9;
}

bool Segment::should_roll(const LogConfig& config, uint64_t incoming_bytes, int64_t last_offset,
                          int64_t now_ms) const {
  if (empty()) return !fits_segment(last_offset, base_offset_);
  return size_bytes_ + incoming_bytes > config.segment_bytes ||
         now_ms - created_ms_ >= config.segment_ms || offset_index_->is_full() ||
         time_index_->is_full() || !fits_segment(last_offset, base_offset_);
}

}  // namespace sluice::storage
