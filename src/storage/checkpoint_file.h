#pragma once
// Kafka's small text files (grammar in docs/storage.md):
//   - offset checkpoints, one per log dir: recovery-point-offset-checkpoint,
//     log-start-offset-checkpoint, replication-offset-checkpoint;
//   - leader-epoch-checkpoint, one per partition;
//   - partition.metadata, one per partition (the topic id).
// Writes are atomic and durable (write_file_atomically); a missing file reads
// as empty; a malformed one is Errc::invalid_value naming the file and line.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/uuid.h"
#include "storage/file_system.h"

namespace sluice::storage {

struct TopicPartition {
  std::string topic;
  int32_t partition = 0;

  // "<topic>-<partition>": the partition's directory name.
  std::string dir_name() const { return topic + "-" + std::to_string(partition); }
  friend auto operator<=>(const TopicPartition&, const TopicPartition&) = default;
};

// Parses a partition directory name "<topic>-<partition>" (the topic may
// itself contain '-').
Result<TopicPartition> parse_partition_dir_name(std::string_view name);

inline constexpr char recovery_point_checkpoint_file[] = "recovery-point-offset-checkpoint";
inline constexpr char log_start_offset_checkpoint_file[] = "log-start-offset-checkpoint";
inline constexpr char replication_offset_checkpoint_file[] = "replication-offset-checkpoint";
inline constexpr char leader_epoch_checkpoint_file[] = "leader-epoch-checkpoint";
inline constexpr char partition_metadata_file[] = "partition.metadata";

using OffsetCheckpoint = std::map<TopicPartition, int64_t>;

std::string encode_offset_checkpoint(const OffsetCheckpoint& offsets);
Result<OffsetCheckpoint> parse_offset_checkpoint(std::string_view text, const std::string& path);
Status write_offset_checkpoint(FileSystem& fs, const std::string& path, const OffsetCheckpoint& offsets);
Result<OffsetCheckpoint> read_offset_checkpoint(FileSystem& fs, const std::string& path);

struct EpochEntry {
  int32_t epoch = 0;
  int64_t start_offset = 0;
  friend bool operator==(const EpochEntry&, const EpochEntry&) = default;
};

std::string encode_leader_epoch_checkpoint(const std::vector<EpochEntry>& entries);
Result<std::vector<EpochEntry>> parse_leader_epoch_checkpoint(std::string_view text, const std::string& path);
Status write_leader_epoch_checkpoint(FileSystem& fs, const std::string& path,
                                     const std::vector<EpochEntry>& entries);
Result<std::vector<EpochEntry>> read_leader_epoch_checkpoint(FileSystem& fs, const std::string& path);

// Kafka's textual topic id: URL-safe base64 of the 16 bytes, no padding.
std::string uuid_to_base64(const Uuid& uuid);
Result<Uuid> uuid_from_base64(std::string_view text);

std::string encode_partition_metadata(const Uuid& topic_id);
Result<Uuid> parse_partition_metadata(std::string_view text, const std::string& path);
// Written when a log is created, without an fsync: that sync cost ~2-3 ms
// per partition (most of creating one), and the file is not needed for
// safety: the metadata log is the source of truth and nothing at start
// reads this file. A crash may leave it absent, empty or cut: read then
// gives a zero Uuid or an error, and Log::open with a topic id rewrites it.
// It becomes durable with the partition's other files at its first flush
// of the dir (kernel writeback in practice).
Status write_partition_metadata(FileSystem& fs, const std::string& partition_dir, const Uuid& topic_id);
// A zero Uuid when the file does not exist or is empty.
Result<Uuid> read_partition_metadata(FileSystem& fs, const std::string& partition_dir);

}  // namespace sluice::storage
