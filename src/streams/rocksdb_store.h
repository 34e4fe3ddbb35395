#pragma once
// A persistent key-value bytes store on RocksDB (Kafka's RocksDBStore): the
// store a DSL aggregation or table materializes by default, and the bytes
// under persistent window and session stores.
//
// It opens in init() at `<task dir>/rocksdb/<name>` with Kafka's RocksDB
// settings (16 MB write buffers, 3 of them, a 50 MB block cache of 4 KB
// blocks with a bloom filter, universal compaction, no compression) and,
// like Kafka's, writes without RocksDB's write-ahead log: flush() (at each
// commit, before the task's checkpoint is written) makes the writes
// durable, and what a crash loses after it is restored from the changelog
// starting at the checkpointed offset. Keys are ordered by their bytes, as
// the in-memory store orders them. Reads may come from other threads
// (interactive queries) while the stream thread writes: RocksDB allows it.

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "streams/store.h"

namespace sluice::streams {

class RocksDbKeyValueStore final : public KeyValueBytesStore {
 public:
  explicit RocksDbKeyValueStore(std::string name);
  ~RocksDbKeyValueStore() override;
  RocksDbKeyValueStore(const RocksDbKeyValueStore&) = delete;
  RocksDbKeyValueStore& operator=(const RocksDbKeyValueStore&) = delete;

  bool persistent() const override { return true; }
  // Opens (creating when missing) `<context.state_dir>/rocksdb/<name>`;
  // throws ProcessorStateException when that fails (Kafka's "Error opening
  // store <name> at location <dir>").
  void init(const StoreContext& context) override;
  // Writes the memtables to disk and waits for it.
  void flush() override;
  void close() override;
  bool is_open() const;
  // Where the files are (empty before init()).
  const std::string& location() const { return location_; }

  std::optional<std::string> get(const std::string& key) const override;
  void put(const std::string& key, const std::string& value) override;
  void remove(const std::string& key) override;
  std::vector<std::pair<std::string, std::string>> range(
      const std::optional<std::string>& from, const std::optional<std::string>& to) const override;
  // RocksDB's estimate (`rocksdb.estimate-num-keys`), as Kafka's.
  size_t approximate_entries() const override;
  KeyValueBytesStore* bytes_store() override { return this; }

  // Opens a store directly at `directory` (tests, benchmarks).
  void open_at(const std::string& directory);

 private:
  struct Db;
  Db& open_db() const;  // throws InvalidStateStoreException when closed

  std::unique_ptr<Db> db_;
  std::string location_;
};

}  // namespace sluice::streams
