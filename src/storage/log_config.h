#pragma once
// The topic-level settings the partition log honours, under Kafka's topic
// config names and with Kafka's defaults. Parsing them from strings is the
// broker's job; this is the typed result.

#include <cstdint>
#include <limits>

namespace sluice::storage {

struct LogConfig {
  // segment.bytes: roll when the active segment would exceed this size.
  uint64_t segment_bytes = 1024ull * 1024 * 1024;
  // segment.ms: roll a non-empty active segment this old (7 days).
  int64_t segment_ms = 7ll * 24 * 60 * 60 * 1000;
  // segment.index.bytes: the size bound of each index file (roll when full).
  uint64_t segment_index_bytes = 10ull * 1024 * 1024;
  // index.interval.bytes: log bytes between two offset index entries.
  uint32_t index_interval_bytes = 4096;
  // preallocate: reserve segment.bytes of disk blocks for each new active
  // segment (fallocate, the file size stays its content), given back when it
  // rolls. Kafka's default false; Kafka only sets the file length, which is
  // sparse on Linux. Saves ext4's block allocation on every append.
  bool preallocate = false;
  // max.message.bytes: the largest batch accepted (after compression).
  uint32_t max_message_bytes = 1048588;
  // retention.ms: delete segments whose newest timestamp is older (-1: never).
  int64_t retention_ms = 7ll * 24 * 60 * 60 * 1000;
  // retention.bytes: delete oldest segments beyond this partition size (-1: never).
  int64_t retention_bytes = -1;
  // file.delete.delay.ms: how long a deleted segment's files linger as *.deleted.
  int64_t file_delete_delay_ms = 60000;
  // flush.messages / flush.ms: Kafka's forced-flush thresholds (default: never,
  // rely on replication and the group commit of acks=all).
  int64_t flush_messages = std::numeric_limits<int64_t>::max();
  int64_t flush_ms = std::numeric_limits<int64_t>::max();
  // cleanup.policy: "delete" (default), "compact" or "compact,delete".
  // Retention by time and size applies only with delete; the log cleaner
  // (cleaner.h) only compacts logs with compact.
  bool cleanup_policy_delete = true;
  bool cleanup_policy_compact = false;
  // delete.retention.ms: how long a tombstone outlives the clean that first
  // saw it (1 day).
  int64_t delete_retention_ms = 24ll * 60 * 60 * 1000;
  // min.cleanable.dirty.ratio: clean when dirty bytes / all bytes exceed it.
  double min_cleanable_dirty_ratio = 0.5;
  // min.compaction.lag.ms / max.compaction.lag.ms: a record stays uncompacted
  // at least this long / becomes cleanable regardless of the ratio after this.
  int64_t min_compaction_lag_ms = 0;
  int64_t max_compaction_lag_ms = std::numeric_limits<int64_t>::max();

  friend bool operator==(const LogConfig&, const LogConfig&) = default;

  uint64_t offset_index_entries_max() const { return segment_index_bytes / 8; }
  uint64_t time_index_entries_max() const { return segment_index_bytes / 12; }
};

}  // namespace sluice::storage
