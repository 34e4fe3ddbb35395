#pragma once
// Where source tasks' offsets live between runs. Keys and values are the
// bytes Kafka Connect writes to its offsets topic: the key the JSON array
// `["<connector>", {source partition}]`, the value the source offset as
// schemaless JSON; a null value removes the entry. The standalone worker
// keeps them in `offset.storage.file.filename` (JSON here, where Kafka writes
// a Java-serialized map: a file of Kafka's cannot be read, and the other way
// round).

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "connect/data.h"

namespace sluice::connect {

// Kafka's offset key and value bytes for a connector's source partition.
std::string offset_key(const std::string& connector, const Map& source_partition);
std::string offset_value(const Map& source_offset);
// The reverse: nullopt when the bytes are not a key Kafka Connect writes.
struct OffsetKey {
  std::string connector;
  Map source_partition;
};
std::optional<OffsetKey> parse_offset_key(const std::string& key);
std::optional<Map> parse_offset_value(const std::string& value);

class OffsetStore {
 public:
  virtual ~OffsetStore() = default;
  virtual std::optional<std::string> get(const std::string& key) = 0;
  // Every key of `connector`, with its value.
  virtual std::vector<std::pair<std::string, std::string>> entries_of(
      const std::string& connector) = 0;
  // Durable before it returns; values nullopt remove keys.
  virtual Status put(
      const std::vector<std::pair<std::string, std::optional<std::string>>>& batch) = 0;
};

class FileOffsetStore final : public OffsetStore {
 public:
  // Reads the file (missing: empty); a corrupt file is an error naming it.
  static Result<std::unique_ptr<FileOffsetStore>> open(std::string path);

  std::optional<std::string> get(const std::string& key) override;
  std::vector<std::pair<std::string, std::string>> entries_of(
      const std::string& connector) override;
  // Writes the whole map to a temporary file, fsyncs it and renames it over
  // the old one: a crash leaves either the old offsets or the new.
  Status put(const std::vector<std::pair<std::string, std::optional<std::string>>>& batch) override;

 private:
  explicit FileOffsetStore(std::string path) : path_(std::move(path)) {}
  Status write_locked();

  std::string path_;
  std::mutex mutex_;
  std::map<std::string, std::string> entries_;
};

}  // namespace sluice::connect
