#pragma once
// Kafka's `.checkpoint` file (OffsetCheckpoint): per task directory, the
// changelog offset each persistent store holds, so a restart restores only
// what follows it. Text, version 0:
//
//   0
//   <number of entries>
//   <topic> <partition> <offset>
//   ...
//
// An offset is the last changelog record the store holds (restore resumes
// at offset + 1); -4 is Kafka's "unknown" (read as no offset). Written to
// `<file>.tmp`, synced, then renamed over the file, so a crash leaves the
// old file or the new one, never half of one.

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>

#include "streams/topic_partition.h"

namespace sluice::streams {

// A checkpoint file that cannot be read as one (Kafka's messages: "Unknown
// offset checkpoint version: 3", "Malformed line in offset checkpoint file:
// 'x'.", "Expected 2 entries but found only 1", "File ended prematurely.").
class CorruptCheckpointError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class OffsetCheckpoint {
 public:
  static constexpr int64_t kOffsetUnknown = -4;  // Kafka's OFFSET_UNKNOWN
  static constexpr const char* kFileName = ".checkpoint";

  explicit OffsetCheckpoint(std::string path) : path_(std::move(path)) {}

  // The offsets in the file (none when there is no file); kOffsetUnknown
  // entries are left out unless `keep_unknown`. Throws CorruptCheckpointError.
  std::map<TopicPartition, int64_t> read(bool keep_unknown = false) const;
  // Replaces the file (removes it when `offsets` is empty, as Kafka does).
  // Offsets must be >= 0 or kOffsetUnknown. Throws std::runtime_error when
  // the file cannot be written.
  void write(const std::map<TopicPartition, int64_t>& offsets) const;
  void remove() const;
  bool exists() const;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace sluice::streams
