#include "cluster/metadata_log.h"

#include "record/batch.h"
#include "record/batch_builder.h"
#include "record/record_reader.h"

namespace sluice::cluster {
namespace {

constexpr uint64_t replay_read_bytes = 1 << 20;
// Disk space the log keeps allocated past its end (fallocate KEEP_SIZE),
// so admin changes still commit when the data partitions have filled the
// disk it shares (metadata.log.dir defaults to the first log dir): deleting
// a topic is how an operator frees space then. A few thousand records.
constexpr uint64_t reserved_headroom_bytes = 1 << 20;

storage::LogConfig metadata_log_config() {
  storage::LogConfig config;
  config.retention_ms = -1;
  config.retention_bytes = -1;
  config.segment_bytes = 64ull * 1024 * 1024;
  config.segment_ms = std::numeric_limits<int64_t>::max();
  config.max_message_bytes = 8 * 1024 * 1024;  // one admin request's records in one batch
  return config;
}

}  // namespace

MetadataLog::~MetadataLog() = default;

Result<std::unique_ptr<MetadataLog>> MetadataLog::open(storage::FileSystem& fs,
                                                       const std::string& metadata_log_dir,
                                                       const Clock* clock) {
  storage::LogOptions options;
  options.dir = storage::join_path(metadata_log_dir, std::string(metadata_topic_name) + "-0");
  options.config = metadata_log_config();
  options.clock = clock;
  Uuid metadata_topic_id;  // Kafka's reserved id of the metadata topic
  metadata_topic_id.bytes[15] = 1;
  options.topic_id = metadata_topic_id;
  options.clean_shutdown = false;  // always scan: the log is small and this is the source of truth
  auto log = storage::Log::open(fs, std::move(options));
  if (!log) return log.status();
  std::unique_ptr<MetadataLog> out(new MetadataLog(std::move(log.value())));
  out->clock_ = clock;
  out->reserve_headroom();
  return out;
}

// Best effort (a file system without fallocate, or already full, keeps
// none); renewed after each append, so the headroom follows the end. A
// rolled segment keeps its unused reservation (at most this, per 64 MiB).
void MetadataLog::reserve_headroom() {
  const storage::SegmentSnapshot active = log_->segment_snapshots().back();
  active.log_file->reserve(active.size_bytes + reserved_headroom_bytes);
}

Status MetadataLog::replay(const std::function<Status(int64_t, Bytes)>& f) {
  int64_t offset = log_->log_start_offset();
  const int64_t end = log_->log_end_offset();
  while (offset < end) {
    auto range = log_->read(offset, replay_read_bytes, end, true);
    if (!range) return range.status();
    if (range->range.length == 0) break;
    if (Status s = replay_range(*range, f); !s) return s;
    offset = range->next_offset;
  }
  return Status::ok();
}

Status MetadataLog::replay_range(const storage::ReadResult& range,
                                 const std::function<Status(int64_t, Bytes)>& f) {
  std::vector<uint8_t> bytes(range.range.length);
  auto read = range.range.file->pread(range.range.position, bytes);
  if (!read) return read.status();
  if (*read != bytes.size())
    return Status(Errc::truncated, log_->dir() + ": short read while replaying the metadata log");
  Bytes rest(bytes);
  while (!rest.empty()) {
    auto header = record::read_batch_header(rest);
    if (!header) return header.status();
    Bytes batch = rest.first(header->size_bytes());
    rest = rest.subspan(header->size_bytes());
    if (header->is_control()) continue;
    auto reader = record::RecordReader::open(batch);
    if (!reader) return reader.status();
    record::Record record;
    while (reader->next(record)) {
      if (!record.value) return Status(Errc::invalid_value, "metadata record with a null value");
      if (Status s = f(record.offset, *record.value); !s) return s;
    }
    if (!reader->status()) return reader->status();
  }
  return Status::ok();
}

Result<int64_t> MetadataLog::append(const std::vector<std::vector<uint8_t>>& values,
                                    int32_t epoch) {
  SLUICE_ASSERT(!values.empty(), "metadata append of no records");
  record::BatchBuilder builder;
  const int64_t now_ms = clock_->now_ms();
  for (const auto& value : values) builder.append(now_ms, std::nullopt, Bytes(value));
  auto batch = builder.build();
  if (!batch) return batch.status();
  if (failed()) return Status(Errc::io_error, failed_);
  const int64_t end_before = log_->log_end_offset();
  auto appended = log_->append_as_leader(*batch, epoch);
  Status status = appended ? log_->flush() : appended.status();
  if (status) {
    reserve_headroom();
    return appended->first_offset;
  }
  if (Status undone = undo_to(end_before); !undone)
    failed_ = log_->dir() + ": a failed metadata append (" + status.to_string() +
              ") could not be undone: " + undone.to_string();
  return status;
}

// A failed write left nothing (storage::Log appends are all or nothing); a
// failed fsync leaves the batch written but not known durable: cut it and
// make the cut durable before those offsets are written again, or a crash
// could bring back a batch the controller reported as failed.
Status MetadataLog::undo_to(int64_t end_offset) {
  if (log_->broken()) return Status(Errc::io_error, "the log holds a write it could not cut");
  if (log_->log_end_offset() == end_offset) return Status::ok();
  if (Status s = log_->truncate_to(end_offset); !s) return s;
  return log_->flush();
}

}  // namespace sluice::cluster
