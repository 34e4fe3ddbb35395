#include "cluster/snapshot_format.h"

#include "protocol/codec.h"
#include "protocol/messages.h"
#include "record/batch.h"
#include "record/batch_builder.h"
#include "record/record_reader.h"

namespace sluice::cluster {
namespace {

// Kafka's ControlRecordType ids and ControlRecordUtils' current versions.
constexpr int16_t snapshot_header_type = 3;
constexpr int16_t snapshot_footer_type = 4;
constexpr int16_t kraft_version_type = 5;
// The kraft.version a snapshot carrying a VotersRecord declares (KIP-853).
constexpr int16_t kraft_version_with_voters = 1;

// Appends `batch` at `offset` with `epoch` (fields outside the CRC).
int64_t place(std::string& out, std::vector<uint8_t> batch, int64_t offset, int32_t epoch) {
  record::set_base_offset(batch, offset);
  record::set_partition_leader_epoch(batch, epoch);
  out.append(batch.begin(), batch.end());
  auto header = record::read_batch_header(Bytes(batch));
  return header->next_offset();
}

Status corrupt(const std::string& what) { return Status(Errc::invalid_value, what); }

// The control type of a record, or an error when its key is not one.
Result<int16_t> control_type(const record::Record& record) {
  if (!record.key) return corrupt("a control record without a key");
  auto key = record::parse_control_key(*record.key);
  if (!key) return key.status();
  return static_cast<int16_t>(key->type);
}

// Reads the header batch: SnapshotHeaderRecord first, then the optional
// KRaftVersionRecord and VotersRecord.
Status read_header_batch(Bytes batch, CheckpointContent& out) {
  auto reader = record::RecordReader::open(batch);
  if (!reader) return reader.status();
  if (!reader->header().is_control()) return corrupt("the first batch is not a control batch");
  out.batch_epoch = reader->header().partition_leader_epoch;
  record::Record record;
  bool first = true;
  while (reader->next(record)) {
    auto type = control_type(record);
    if (!type) return type.status();
    if (!record.value) return corrupt("a control record without a value");
    if (first && *type != snapshot_header_type)
      return corrupt("the first record is not a SnapshotHeaderRecord");
    if (*type == snapshot_header_type) {
      if (!first) return corrupt("a second SnapshotHeaderRecord");
      protocol::SnapshotHeaderRecord header;
      if (Status s = protocol::decode_exact(*record.value, 0, header); !s) return s;
      out.last_contained_log_timestamp_ms = header.last_contained_log_timestamp;
    } else if (*type == kraft_version_type) {
      protocol::KRaftVersionRecord version;
      if (Status s = protocol::decode_exact(*record.value, 0, version); !s) return s;
      out.kraft_version = version.kraft_version;
    } else if (*type == voters_control_type) {
      protocol::VotersRecord voters;
      if (Status s = protocol::decode_exact(*record.value, 0, voters); !s) return s;
      out.voters = voter_set(voters);
    }
    first = false;
  }
  if (!reader->status()) return reader->status();
  if (first) return corrupt("an empty header batch");
  return Status::ok();
}

bool is_footer(Bytes batch) {
  auto reader = record::RecordReader::open(batch);
  if (!reader || !reader->header().is_control()) return false;
  record::Record record;
  if (!reader->next(record)) return false;
  auto type = control_type(record);
  return type && *type == snapshot_footer_type;
}

}  // namespace

std::string snapshot_data_batches(const std::vector<std::vector<uint8_t>>& records,
                                  int64_t timestamp_ms, size_t batch_bytes_max) {
  std::string out;
  record::BatchBuilder builder;
  auto flush = [&] {
    if (builder.record_count() == 0) return;
    auto batch = builder.build();
    SLUICE_ASSERT(batch.is_ok(), "an uncompressed metadata batch always builds");
    out.append(batch->begin(), batch->end());
    builder = record::BatchBuilder();
  };
  for (const auto& value : records) {
    if (builder.record_count() > 0 && builder.records_bytes() + value.size() > batch_bytes_max)
      flush();
    builder.append(timestamp_ms, std::nullopt, Bytes(value));
  }
  flush();
  return out;
}

std::string encode_checkpoint(const SnapshotFormatOptions& options, const VoterSet& voters,
                              std::string_view data_batches) {
  protocol::SnapshotHeaderRecord header;
  header.version_ = 0;
  header.last_contained_log_timestamp = options.last_contained_log_timestamp_ms;
  protocol::KRaftVersionRecord version;
  version.version_ = 0;
  version.kraft_version = kraft_version_with_voters;

  std::string out;
  int64_t offset = 0;
  const std::vector<record::ControlRecord> header_records{
      {snapshot_header_type, protocol::encode_to_vector(header, 0)},
      {kraft_version_type, protocol::encode_to_vector(version, 0)},
      {voters_control_type, protocol::encode_to_vector(voters_record(voters), 0)}};
  offset = place(out, record::build_control_batch(header_records, options.now_ms), offset,
                 options.epoch);
  Bytes rest(reinterpret_cast<const uint8_t*>(data_batches.data()), data_batches.size());
  while (!rest.empty()) {
    auto batch_header = record::read_batch_header(rest);
    SLUICE_ASSERT(batch_header.is_ok() && batch_header->size_bytes() <= rest.size(),
                  "snapshot data batches come from snapshot_data_batches");
    Bytes batch = rest.first(batch_header->size_bytes());
    rest = rest.subspan(batch_header->size_bytes());
    offset = place(out, std::vector<uint8_t>(batch.begin(), batch.end()), offset, options.epoch);
  }
  protocol::SnapshotFooterRecord footer;
  footer.version_ = 0;
  const std::vector<record::ControlRecord> footer_records{
      {snapshot_footer_type, protocol::encode_to_vector(footer, 0)}};
  place(out, record::build_control_batch(footer_records, options.now_ms), offset, options.epoch);
  return out;
}

Result<CheckpointContent> decode_checkpoint(Bytes bytes, bool header_only) {
  CheckpointContent out;
  Bytes rest = bytes;
  bool header_seen = false;
  bool footer_seen = false;
  size_t data_begin = 0;
  size_t data_end = 0;
  while (!rest.empty()) {
    if (footer_seen) return corrupt("bytes after the SnapshotFooterRecord");
    auto header = record::read_batch_header(rest);
    if (!header) return header.status();
    if (header->size_bytes() > rest.size())
      return Status(Errc::truncated, "the last batch is cut short (" + std::to_string(rest.size()) +
                                         " of " + std::to_string(header->size_bytes()) + " bytes)");
    Bytes batch = rest.first(header->size_bytes());
    const size_t at = bytes.size() - rest.size();
    rest = rest.subspan(header->size_bytes());
    if (Status s = record::validate_batch(batch); !s) return s;
    if (!header_seen) {
      if (Status s = read_header_batch(batch, out); !s) return s;
      header_seen = true;
      data_begin = data_end = at + batch.size();
      if (header_only) return out;
      continue;
    }
    if (header->is_control()) {
      if (!is_footer(batch)) continue;  // other control batches carry no metadata
      footer_seen = true;
      continue;
    }
    if (data_end != at) return corrupt("data batches interleaved with control batches");
    out.record_count += header->record_count;
    data_end = at + batch.size();
  }
  if (!header_seen) return Status(Errc::truncated, "no SnapshotHeaderRecord: the file is empty");
  if (!footer_seen)
    return Status(Errc::truncated, "no SnapshotFooterRecord: the file is cut short");
  out.data_batches.assign(reinterpret_cast<const char*>(bytes.data()) + data_begin,
                          data_end - data_begin);
  return out;
}

Status for_each_snapshot_record(Bytes data_batches, const std::function<Status(Bytes)>& f) {
  Bytes rest = data_batches;
  while (!rest.empty()) {
    auto header = record::read_batch_header(rest);
    if (!header) return header.status();
    if (header->size_bytes() > rest.size()) return Status(Errc::truncated, "a batch is cut short");
    Bytes batch = rest.first(header->size_bytes());
    rest = rest.subspan(header->size_bytes());
    if (header->is_control()) continue;
    auto reader = record::RecordReader::open(batch);
    if (!reader) return reader.status();
    record::Record record;
    while (reader->next(record)) {
      if (!record.value) return corrupt("a metadata record with a null value");
      if (Status s = f(*record.value); !s) return s;
    }
    if (!reader->status()) return reader->status();
  }
  return Status::ok();
}

}  // namespace sluice::cluster
