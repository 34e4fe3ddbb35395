#include "storage/producer_snapshot.h"

#include <cstdio>

#include "base/crc32c.h"

namespace sluice::storage {

namespace {

constexpr size_t crc_at = 2;
constexpr size_t entries_at = 6;  // version + crc
constexpr size_t entry_bytes = 8 + 2 + 4 + 8 + 4 + 8 + 4 + 8;

void put(std::vector<uint8_t>& out, uint64_t value, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<uint8_t>(value >> (8 * i)));
}

uint64_t get(Bytes bytes, size_t& at, int size) {
  uint64_t value = 0;
  for (int i = 0; i < size; ++i) value = (value << 8) | bytes[at++];
  return value;
}

}  // namespace

Status ProducerSnapshotWrite::write(FileSystem& fs) const {
  std::lock_guard lock(guard->mutex);
  if (guard->generation != generation) return Status::ok();  // truncated meanwhile
  return write_file_atomically(fs, path, bytes);
}

std::string producer_snapshot_name(int64_t offset) {
  char name[40];
  std::snprintf(name, sizeof(name), "%020lld.snapshot", static_cast<long long>(offset));
  return name;
}

std::optional<int64_t> parse_producer_snapshot_name(const std::string& name) {
  if (name.size() != 20 + producer_snapshot_suffix.size() ||
      !name.ends_with(producer_snapshot_suffix))
    return std::nullopt;
  int64_t offset = 0;
  for (size_t i = 0; i < 20; ++i) {
    if (name[i] < '0' || name[i] > '9') return std::nullopt;
    offset = offset * 10 + (name[i] - '0');
  }
  return offset;
}

std::vector<uint8_t> encode_producer_snapshot(const std::map<int64_t, ProducerEntry>& producers) {
  std::vector<uint8_t> out;
  out.reserve(entries_at + 4 + producers.size() * entry_bytes);
  put(out, static_cast<uint16_t>(producer_snapshot_version), 2);
  put(out, 0, 4);  // the CRC, filled in below
  put(out, static_cast<uint32_t>(producers.size()), 4);
  for (const auto& [producer_id, entry] : producers) {
    const bool has_batch = !entry.batches.empty();
    const ProducerBatch last = has_batch ? entry.batches.back() : ProducerBatch{};
    put(out, static_cast<uint64_t>(producer_id), 8);
    put(out, static_cast<uint16_t>(entry.producer_epoch), 2);
    put(out, static_cast<uint32_t>(has_batch ? last.last_sequence : -1), 4);
    put(out, static_cast<uint64_t>(has_batch ? last.last_offset : -1), 8);
    put(out, static_cast<uint32_t>(has_batch ? last.last_offset - last.first_offset : 0), 4);
    put(out, static_cast<uint64_t>(entry.last_timestamp_ms), 8);
    put(out, static_cast<uint32_t>(entry.coordinator_epoch), 4);
    put(out, static_cast<uint64_t>(entry.current_txn_first_offset.value_or(-1)), 8);
  }
  const uint32_t crc = crc32c(Bytes(out.data() + entries_at, out.size() - entries_at));
  for (int i = 0; i < 4; ++i) out[crc_at + i] = static_cast<uint8_t>(crc >> (8 * (3 - i)));
  return out;
}

Result<std::vector<ProducerEntry>> decode_producer_snapshot(Bytes bytes) {
  if (bytes.size() < entries_at + 4)
    return Status(Errc::truncated, "producer snapshot of " + std::to_string(bytes.size()) +
                                       " bytes is shorter than its header");
  size_t at = 0;
  const auto version = static_cast<int16_t>(get(bytes, at, 2));
  if (version != producer_snapshot_version)
    return Status(Errc::invalid_value,
                  "producer snapshot has unknown version " + std::to_string(version));
  const auto stored_crc = static_cast<uint32_t>(get(bytes, at, 4));
  const uint32_t crc = crc32c(Bytes(bytes.data() + entries_at, bytes.size() - entries_at));
  if (crc != stored_crc)
    return Status(Errc::corrupt_crc, "producer snapshot is corrupt: stored crc " +
                                         std::to_string(stored_crc) + ", computed crc " +
                                         std::to_string(crc));
  const auto count = static_cast<int32_t>(get(bytes, at, 4));
  if (count < 0 || static_cast<size_t>(count) * entry_bytes != bytes.size() - at)
    return Status(Errc::invalid_length, "producer snapshot holds " + std::to_string(count) +
                                            " entries in " + std::to_string(bytes.size() - at) +
                                            " bytes");
  std::vector<ProducerEntry> entries;
  entries.reserve(static_cast<size_t>(count));
  for (int32_t i = 0; i < count; ++i) {
    ProducerEntry entry;
    entry.producer_id = static_cast<int64_t>(get(bytes, at, 8));
    entry.producer_epoch = static_cast<int16_t>(get(bytes, at, 2));
    ProducerBatch last;
    last.last_sequence = static_cast<int32_t>(get(bytes, at, 4));
    last.last_offset = static_cast<int64_t>(get(bytes, at, 8));
    const auto offset_delta = static_cast<int32_t>(get(bytes, at, 4));
    entry.last_timestamp_ms = static_cast<int64_t>(get(bytes, at, 8));
    entry.coordinator_epoch = static_cast<int32_t>(get(bytes, at, 4));
    const auto txn_first = static_cast<int64_t>(get(bytes, at, 8));
    if (txn_first >= 0) entry.current_txn_first_offset = txn_first;
    if (last.last_offset >= 0) {
      last.first_offset = last.last_offset - offset_delta;
      last.first_sequence = producer_first_sequence(last.last_sequence, offset_delta);
      last.timestamp_ms = entry.last_timestamp_ms;
      entry.batches.push_back(last);
    }
    entries.push_back(entry);
  }
  return entries;
}

}  // namespace sluice::storage
