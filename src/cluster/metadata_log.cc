#include "cluster/metadata_log.h"

#include <spdlog/spdlog.h>

#include <set>

#include "cluster/voter_set.h"
#include "protocol/codec.h"
#include "protocol/messages.h"
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

storage::LogConfig metadata_log_config(uint64_t segment_bytes) {
  storage::LogConfig config;
  config.retention_ms = -1;
  config.retention_bytes = -1;
  config.segment_bytes = segment_bytes;
  config.segment_ms = std::numeric_limits<int64_t>::max();
  config.max_message_bytes = 8 * 1024 * 1024;  // one admin request's records in one batch
  return config;
}

}  // namespace

MetadataLog::~MetadataLog() = default;

Result<std::unique_ptr<MetadataLog>> MetadataLog::open(storage::FileSystem& fs,
                                                       const std::string& metadata_log_dir,
                                                       const Clock* clock, uint64_t segment_bytes) {
  storage::LogOptions options;
  options.dir = storage::join_path(metadata_log_dir, std::string(metadata_topic_name) + "-0");
  options.config = metadata_log_config(segment_bytes);
  options.clock = clock;
  Uuid metadata_topic_id;  // Kafka's reserved id of the metadata topic
  metadata_topic_id.bytes[15] = 1;
  options.topic_id = metadata_topic_id;
  options.clean_shutdown = false;  // always scan: the log is small and this is the source of truth
  auto log = storage::Log::open(fs, std::move(options));
  if (!log) return log.status();
  std::unique_ptr<MetadataLog> out(new MetadataLog(std::move(log.value())));
  out->clock_ = clock;
  out->fs_ = &fs;
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
    auto range = log_->read(Offset{offset}, replay_read_bytes, Offset{end}, true);
    if (!range) return range.status();
    if (range->range.length == 0) break;
    if (Status s = replay_range(*range, f); !s) return s;
    offset = range->next_offset;
  }
  return Status::ok();
}

Status MetadataLog::replay(int64_t from, int64_t to,
                           const std::function<Status(int64_t, Bytes)>& f) {
  int64_t offset = std::max(from, log_->log_start_offset());
  to = std::min(to, log_->log_end_offset());
  while (offset < to) {
    auto range = log_->read(Offset{offset}, replay_read_bytes, Offset{to}, true);
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
  auto appended = log_->append_as_leader(*batch, LeaderEpoch{epoch});
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
  if (Status s = log_->truncate_to(Offset{end_offset}); !s) return s;
  return log_->flush();
}

// --- the quorum's log ---

namespace {

std::vector<uint8_t> leader_change_batch(int32_t leader, int64_t now_ms) {
  protocol::LeaderChangeMessage message;
  message.leader_id = leader;
  protocol::LeaderChangeMessage::Voter self;
  self.voter_id = leader;
  message.voters.push_back(self);
  message.granting_voters.push_back(self);
  return record::build_control_batch(
      {{leader_change_control_type, protocol::encode_to_vector(message, 0)}}, now_ms);
}

// A voters entry the state machine made without the driver's batch (ids
// only: the simulation's and the unit tests' entries).
std::vector<uint8_t> voters_batch(const std::set<raft::NodeId>& voters, int64_t now_ms) {
  return encode_voters_batch(voter_set(voters), now_ms);
}

// The raft entry a stored batch is: its kind from the control record's
// type, a voters entry's set from its VotersRecord.
void classify_control(Bytes batch, raft::Entry& entry) {
  const std::optional<int16_t> type = control_type(batch);
  if (type == leader_change_control_type) {
    entry.kind = raft::EntryKind::leader_change;
  } else if (type == voters_control_type) {
    std::optional<VoterSet> voters = decode_voters_batch(batch);
    if (!voters) return;
    entry.kind = raft::EntryKind::voters;
    entry.voters = voter_ids(*voters);
  }
}

}  // namespace

raft::Epoch MetadataLog::last_epoch() const { return log_->latest_epoch().value_or(0); }

raft::Epoch MetadataLog::epoch_at(raft::Offset offset) const {
  raft::Epoch epoch = 0;
  for (const storage::EpochEntry& entry : log_->epoch_entries()) {
    if (entry.start_offset > offset) break;
    epoch = entry.epoch;
  }
  return epoch;
}

Result<std::vector<uint8_t>> MetadataLog::read_batches(int64_t from, uint64_t max_bytes) const {
  const int64_t end = log_->log_end_offset();
  if (from >= end) return std::vector<uint8_t>{};
  auto range = log_->read(Offset{from}, max_bytes, Offset{end}, true);
  if (!range) return range.status();
  std::vector<uint8_t> bytes(range->range.length);
  auto read = range->range.file->pread(range->range.position, bytes);
  if (!read) return read.status();
  if (*read != bytes.size())
    return Status(Errc::truncated, log_->dir() + ": short read of the metadata log");
  return bytes;
}

std::vector<raft::Entry> MetadataLog::read(raft::Offset from, size_t max_entries) const {
  std::vector<raft::Entry> out;
  auto bytes = read_batches(from, replay_read_bytes);
  if (!bytes) {
    spdlog::error("metadata: reading {} at offset {}: {}", log_->dir(), from,
                  bytes.status().to_string());
    return out;
  }
  Bytes rest(*bytes);
  while (!rest.empty() && out.size() < max_entries) {
    auto header = record::read_batch_header(rest);
    if (!header || header->size_bytes() > rest.size()) break;
    Bytes batch = rest.first(header->size_bytes());
    rest = rest.subspan(header->size_bytes());
    if (header->base_offset < from) continue;  // the batch holding `from` began before it
    raft::Entry entry{header->partition_leader_epoch, std::string(batch.begin(), batch.end()),
                      header->last_offset_delta + 1};
    if (header->is_control()) classify_control(batch, entry);
    out.push_back(std::move(entry));
  }
  return out;
}

void MetadataLog::append(const std::vector<raft::Entry>& entries) {
  if (failed()) return;
  if (unflushed_from_ < 0) unflushed_from_ = log_->log_end_offset();
  for (const raft::Entry& entry : entries) {
    std::vector<uint8_t> batch;
    if (!entry.payload.empty())
      batch.assign(entry.payload.begin(), entry.payload.end());  // a copy of the leader's batch
    else if (entry.kind == raft::EntryKind::voters)
      batch = voters_batch(entry.voters, clock_->now_ms());
    else
      batch = leader_change_batch(local_node_, clock_->now_ms());
    if (batch.size() < record::batch_header_bytes) {
      spdlog::error("metadata: a raft entry of {} bytes is no record batch", batch.size());
      return;
    }
    record::set_base_offset(batch, log_->log_end_offset());
    record::set_partition_leader_epoch(batch, entry.epoch);
    auto appended = log_->append_as_follower(Bytes(batch));
    if (!appended) return fail("append", appended.status());
  }
}

void MetadataLog::flush() {
  if (failed() || unflushed_from_ < 0) return;
  if (Status s = log_->flush(); !s) return fail("sync", s);
  unflushed_from_ = -1;
  reserve_headroom();
}

void MetadataLog::classify(Bytes batch, raft::Entry& entry) { classify_control(batch, entry); }

void MetadataLog::drop_prefix(raft::Offset start) {
  if (failed()) return;
  if (Status s = log_->set_log_start_offset(Offset{start}); !s) return fail("prefix drop", s);
  // No log manager runs this log's deferred deletes: the segments below the
  // snapshot go now (a file left by a crash is removed at the next open).
  if (Status s = storage::remove_deleted_files(*fs_, log_->take_deleted_files(false)); !s)
    spdlog::warn("metadata: removing segments below offset {} of {}: {}", start, log_->dir(),
                 s.to_string());
}

void MetadataLog::reset_to(raft::Offset start) {
  if (failed()) return;
  if (Status s = log_->truncate_fully(Offset{start}); !s) {
    durable_end_ = start;
    failed_ = log_->dir() + ": restarting the metadata log at " + std::to_string(start) +
              " failed: " + s.to_string();
    if (fatal_) fatal_(failed_);
    return;
  }
  unflushed_from_ = -1;
}

void MetadataLog::truncate_to(raft::Offset end) {
  if (failed()) return;
  if (Status s = log_->truncate_to(Offset{end}); !s) {
    durable_end_ = std::min(end, log_->log_end_offset());
    failed_ = log_->dir() + ": truncating the metadata log to " + std::to_string(end) +
              " failed: " + s.to_string();
    if (fatal_) fatal_(failed_);
    return;
  }
  if (unflushed_from_ > log_->log_end_offset()) unflushed_from_ = log_->log_end_offset();
}

// What was appended since the last flush goes: the quorum then sees the end
// it had, so an entry it could not make durable is neither counted nor
// answered as written.
void MetadataLog::fail(const std::string& what, const Status& status) {
  spdlog::error("metadata: {} of {} failed: {}", what, log_->dir(), status.to_string());
  const int64_t undo_to_offset = unflushed_from_;
  unflushed_from_ = -1;
  if (Status undone = undo_to(undo_to_offset); !undone) {
    durable_end_ = undo_to_offset;
    failed_ = log_->dir() + ": a failed metadata " + what + " (" + status.to_string() +
              ") could not be undone: " + undone.to_string();
    if (fatal_) fatal_(failed_);
  }
}

}  // namespace sluice::cluster
