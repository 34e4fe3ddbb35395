#pragma once
// One segment of a partition log: <base>.log (record batches v2 exactly as on
// the wire, offsets assigned), <base>.index and <base>.timeindex (index.h).
// Formats: docs/storage.md.
//
// Invariants: batches are whole and back to back; base offsets increase;
// every offset in the segment is in [base_offset, base_offset + 2^31); the
// indexes only point at batch starts below size_bytes().
//
// Not thread-safe: owned by the Log and mutated under the partition lock.
// The .log FileHandle is shared with readers, which may pread it from any
// thread while the writer appends past what they were given.

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "record/batch.h"
#include "storage/file_system.h"
#include "storage/index.h"
#include "storage/log_config.h"

namespace sluice::storage {

class ReleasableFile;

// "00000000000000000042" — 20 digits, zero-padded.
std::string segment_file_stem(int64_t base_offset);
// The base offset in a name like "00000000000000000042.log", if it is one.
std::optional<int64_t> parse_segment_file_name(const std::string& name, const std::string& suffix);

// The files of a segment made before its base offset is known (a roll's
// next segment, prepared off the partition lock: next_segment.h), under the
// temporary names "<stem>.log.tmp", "<stem>.index.tmp", "<stem>.timeindex.tmp"
// that Log::open removes, so a crash or a stop never leaves them behind as
// a segment. The index files are created and closed; the .log stays open
// (and reserved with log.preallocate).
struct PreparedSegmentFiles {
  std::string stem;  // <partition dir>/prepared-<n>
  FileHandle log_file;
  bool reserved = false;
  std::vector<std::string> paths() const;
};

struct BatchLocation {
  uint64_t position = 0;
  record::BatchHeader header;
};

// What recovery found: the valid prefix and what was cut off.
struct SegmentRecovery {
  uint64_t valid_bytes = 0;
  uint64_t truncated_bytes = 0;
  Status first_problem;  // why the scan stopped early (ok if it reached the end)
};

class Segment {
 public:
  using BatchVisitor = std::function<Status(const record::BatchHeader&)>;

  // Creates the three files of a new, empty segment (create_truncate).
  // `suffix` follows each file name: the cleaner writes ".cleaned" segments
  // and swaps them in via ".swap" (rename_suffix; docs/storage.md).
  static Result<std::unique_ptr<Segment>> create(FileSystem& fs, const std::string& dir,
                                                 int64_t base_offset, const LogConfig& config,
                                                 int64_t now_ms, const std::string& suffix = "");
  // Creates the files of a segment whose base offset is not known yet
  // (PreparedSegmentFiles): the slow part of a roll (inode creation, the
  // fallocate of log.preallocate), done by a background thread.
  static Result<PreparedSegmentFiles> prepare_files(FileSystem& fs, const std::string& dir,
                                                    const LogConfig& config);
  // A new, empty segment at `base_offset` from prepared files: three renames
  // to its final names (the .log last, so a crash between them leaves index
  // files without a .log, which Log::open removes). The caller syncs the
  // directory. On failure the files are left for the caller to remove.
  static Result<std::unique_ptr<Segment>> adopt_prepared(FileSystem& fs, const std::string& dir,
                                                         int64_t base_offset,
                                                         const LogConfig& config, int64_t now_ms,
                                                         const PreparedSegmentFiles& files);
  // Opens an existing segment whose .log exists. Loads the indexes and finds
  // the next offset by scanning from the last index entry; any inconsistency
  // (missing or corrupt index, torn tail) is reported via needs_recovery().
  static Result<std::unique_ptr<Segment>> open(FileSystem& fs, const std::string& dir,
                                               int64_t base_offset, const LogConfig& config,
                                               int64_t now_ms, const std::string& suffix = "");

  // Re-validates every batch (CRC included), rebuilds both indexes and
  // truncates the .log after the last valid batch. `visit` sees each valid
  // batch (the leader-epoch cache is rebuilt from it).
  Result<SegmentRecovery> recover(const BatchVisitor& visit);
  bool needs_recovery() const { return needs_recovery_; }

  // Appends whole batches, already validated and with offsets assigned;
  // `headers` describe them in order. Updates the indexes every
  // index.interval.bytes. All or nothing: on failure (a full disk:
  // Errc::no_space) the file is cut back and the segment is as before. If
  // the cut fails too, torn() is true and the error is Errc::io_error.
  Status append(Bytes batches, const std::vector<record::BatchHeader>& headers);
  // A failed append could not be undone: the .log holds bytes past
  // size_bytes(). Only reopening (recovery) makes the segment usable again.
  bool torn() const { return torn_; }

  // The first batch whose last offset >= `offset`, or nullopt if none.
  // `nowait`: Errc::would_block instead of waiting on the device for a
  // header (File::pread_nowait), for reactor threads.
  Result<std::optional<BatchLocation>> find_batch(int64_t offset, bool nowait = false);
  // Where find_batch(offset) starts reading headers (its offset index entry).
  uint64_t lookup_position(int64_t offset) const;
  // The header of the batch starting at `position`, or nullopt at the end
  // (or at a torn tail). Thread-safe (reads only).
  Result<std::optional<record::BatchHeader>> read_header_at(uint64_t position,
                                                            bool nowait = false) const;
  // Where a read range that has reached `from` (a batch boundary) may jump
  // without reading the headers in between, given that it must end by
  // `limit` and hold no batch at or above `max_offset`: the segment's end
  // (`next_offset` then the offset after its last batch) or the start of an
  // indexed batch that still fits (`next_offset` -1: read on from there).
  struct Skip {
    uint64_t position = 0;
    int64_t next_offset = -1;
  };
  std::optional<Skip> skip_ahead(uint64_t from, uint64_t limit, int64_t max_offset) const;
  // The first batch whose max timestamp >= `timestamp_ms`, or nullopt.
  Result<std::optional<BatchLocation>> find_batch_by_timestamp(int64_t timestamp_ms);

  // Drops every batch whose last offset >= `offset` (whole batches).
  Status truncate_to(int64_t offset);
  // Called when the segment stops being the active one (Kafka's
  // onBecomeInactiveSegment): records the final max timestamp and writes
  // the buffered index entries. With log.preallocate it gives the blocks
  // reserved past the content back (a truncate to the size, up to tens of
  // ms on ext4 for a large reserve), or, `defer_release`, leaves that to
  // the job take_reserve_release() hands out.
  Status on_become_inactive(bool defer_release = false);
  // The deferred give-back of on_become_inactive(true), to run on a thread
  // that may wait, with no lock held; null if nothing is reserved. Until it
  // has run, truncate_to() of this segment (which may make it active again:
  // a late truncate to the old size would cut or extend it) cancels it, or
  // waits for it if it is running; the blocks are then given back at the
  // next roll.
  std::function<void()> take_reserve_release();
  // Makes the .log and both indexes durable.
  Status sync();
  // Writes the index entries still buffered in memory (index.h) to the
  // index files; done on roll (on_become_inactive), at the end of recover()
  // and by sync(). Call it before syncing files() off the lock.
  Status write_index_entries();
  // The handles sync() would sync, for syncing off the partition lock.
  std::vector<FileHandle> files() const {
    return {log_file_, offset_index_->file(), time_index_->file()};
  }
  // Closes the two index files of a segment that is inactive and durable
  // (their entries stay in memory); any later use reopens them, a sync of a
  // released file has nothing to do. Kafka likewise holds one descriptor
  // per segment: 3 per segment bounded a broker to ~6,600 segments at a
  // 20,000-descriptor limit.
  void release_index_files();
  // Closes each index file that has nothing unsynced (a new segment's, or
  // the active segment's after a flush synced its indexes), so an idle
  // partition holds one descriptor, its active .log, as in Kafka (whose
  // indexes are mmapped with the file closed). A write reopens the file.
  void release_synced_index_files();
  // Renames the three files to *.deleted (the caller removes them later);
  // returns their new paths (a ".swap" segment's end in ".swap.deleted").
  Result<std::vector<std::string>> rename_to_deleted();
  // Renames the three files from the current suffix to `suffix` (open
  // handles stay valid); the caller syncs the directory.
  Status rename_suffix(const std::string& suffix);
  // Removes the three files (an abandoned ".cleaned" segment).
  Status remove_files();

  bool should_roll(const LogConfig& config, uint64_t incoming_bytes, int64_t last_offset,
                   int64_t now_ms) const;
  // Half full, or 90% of segment.ms old: time to prepare the next segment.
  bool nearing_roll(const LogConfig& config, int64_t now_ms) const;

  int64_t base_offset() const { return base_offset_; }
  int64_t next_offset() const { return next_offset_; }
  uint64_t size_bytes() const { return size_bytes_; }
  bool empty() const { return size_bytes_ == 0; }
  TimestampOffset max_timestamp() const { return max_timestamp_; }
  const FileHandle& log_file() const { return log_file_; }
  std::string log_path() const;

 private:
  Segment(FileSystem& fs, std::string dir, int64_t base_offset, const LogConfig& config,
          int64_t now_ms);
  Status open_files(OpenMode mode);
  void use_index_files(const std::string& stem, FileHandle index, FileHandle time_index);
  Status scan_tail();
  void observe(const record::BatchHeader& header);
  Status append_index_entries(const record::BatchHeader& header, uint64_t position);
  struct AppendState {
    uint64_t size_bytes;
    int64_t next_offset;
    TimestampOffset max_timestamp;
    uint64_t bytes_since_index_entry;
  };
  Status undo_append(const AppendState& before, int64_t first_offset, const Status& error);
  Status cut_log_file(uint64_t size_bytes);

  FileSystem& fs_;
  std::string dir_;
  std::string suffix_;  // after each file name: "" or ".cleaned" / ".swap"
  int64_t base_offset_;
  LogConfig config_;
  FileHandle log_file_;
  std::unique_ptr<OffsetIndex> offset_index_;
  std::unique_ptr<TimeIndex> time_index_;
  std::shared_ptr<ReleasableFile> index_file_, time_index_file_;  // the indexes' files
  uint64_t size_bytes_ = 0;
  int64_t next_offset_;
  TimestampOffset max_timestamp_;
  uint64_t bytes_since_index_entry_ = 0;
  int64_t created_ms_;
  bool needs_recovery_ = false;
  bool reserved_ = false;  // log.preallocate blocks past the content
  struct ReserveRelease {
    std::mutex mutex;
    bool cancelled = false;
    FileHandle file;
    uint64_t size_bytes = 0;
  };
  void cancel_reserve_release();
  std::shared_ptr<ReserveRelease> reserve_release_;  // handed out or to hand out, not yet cancelled
  bool reserve_release_taken_ = false;
  bool torn_ = false;  // see torn()
};

}  // namespace sluice::storage
