#include "streams/rocksdb_store.h"

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>

#include <filesystem>
#include <system_error>

namespace sluice::streams {
namespace {

// Kafka's RocksDBStore defaults.
constexpr size_t kWriteBufferSize = 16 * 1024 * 1024;
constexpr size_t kBlockCacheSize = 50 * 1024 * 1024;
constexpr size_t kBlockSize = 4096;
constexpr int kMaxWriteBuffers = 3;
constexpr int kBloomBitsPerKey = 10;

rocksdb::Options kafka_options() {
  rocksdb::Options options;
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(kBlockCacheSize);
  table.block_size = kBlockSize;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(kBloomBitsPerKey));
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  options.optimize_filters_for_hits = true;
  options.write_buffer_size = kWriteBufferSize;
  options.compression = rocksdb::kNoCompression;
  options.compaction_style = rocksdb::kCompactionStyleUniversal;
  options.max_write_buffer_number = kMaxWriteBuffers;
  options.create_if_missing = true;
  options.error_if_exists = false;
  options.info_log_level = rocksdb::InfoLogLevel::ERROR_LEVEL;
  options.keep_log_file_num = 1;
  options.IncreaseParallelism(2);
  return options;
}

rocksdb::Slice slice(const std::string& bytes) { return {bytes.data(), bytes.size()}; }

}  // namespace

struct RocksDbKeyValueStore::Db {
  std::unique_ptr<rocksdb::DB> db;
  rocksdb::WriteOptions write;
  rocksdb::ReadOptions read;
};

RocksDbKeyValueStore::RocksDbKeyValueStore(std::string name)
    : KeyValueBytesStore(std::move(name)) {}

RocksDbKeyValueStore::~RocksDbKeyValueStore() { close(); }

void RocksDbKeyValueStore::init(const StoreContext& context) {
  if (context.state_dir.empty()) {
    throw ProcessorStateException("Error opening store " + name() +
                                  ": a persistent store needs a state directory");
  }
  open_at((std::filesystem::path(context.state_dir) / "rocksdb" / name()).string());
}

void RocksDbKeyValueStore::open_at(const std::string& directory) {
  if (db_) return;
  std::error_code ignored;
  std::filesystem::create_directories(directory, ignored);
  rocksdb::DB* opened = nullptr;
  rocksdb::Status status = rocksdb::DB::Open(kafka_options(), directory, &opened);
  if (!status.ok()) {
    throw ProcessorStateException("Error opening store " + name() + " at location " + directory +
                                  ": " + status.ToString());
  }
  auto db = std::make_unique<Db>();
  db->db.reset(opened);
  // Kafka's: the changelog, not a write-ahead log, recovers what a crash
  // loses since the last flush.
  db->write.disableWAL = true;
  db_ = std::move(db);
  location_ = directory;
}

bool RocksDbKeyValueStore::is_open() const { return db_ != nullptr; }

RocksDbKeyValueStore::Db& RocksDbKeyValueStore::open_db() const {
  if (!db_) throw InvalidStateStoreException("Store " + name() + " is currently closed");
  return *db_;
}

void RocksDbKeyValueStore::flush() {
  if (!db_) return;
  rocksdb::FlushOptions options;
  options.wait = true;
  rocksdb::Status status = db_->db->Flush(options);
  if (!status.ok()) {
    throw ProcessorStateException("Error while executing flush from store " + name() + ": " +
                                  status.ToString());
  }
}

void RocksDbKeyValueStore::close() {
  if (!db_) return;
  // Closing loses nothing written: RocksDB flushes memtables on close when
  // the write-ahead log is off.
  db_->db->Close().PermitUncheckedError();
  db_.reset();
}

std::optional<std::string> RocksDbKeyValueStore::get(const std::string& key) const {
  Db& db = open_db();
  std::string value;
  rocksdb::Status status = db.db->Get(db.read, slice(key), &value);
  if (status.IsNotFound()) return std::nullopt;
  if (!status.ok()) {
    throw ProcessorStateException("Error while getting value for key from store " + name() + ": " +
                                  status.ToString());
  }
  return value;
}

void RocksDbKeyValueStore::put(const std::string& key, const std::string& value) {
  Db& db = open_db();
  rocksdb::Status status = db.db->Put(db.write, slice(key), slice(value));
  if (!status.ok()) {
    throw ProcessorStateException("Error while putting key/value into store " + name() + ": " +
                                  status.ToString());
  }
  changed(key, value);
}

void RocksDbKeyValueStore::remove(const std::string& key) {
  // Only a key that is there is logged as removed, as the in-memory store does.
  if (!get(key)) return;
  Db& db = open_db();
  rocksdb::Status status = db.db->Delete(db.write, slice(key));
  if (!status.ok()) {
    throw ProcessorStateException("Error while removing key from store " + name() + ": " +
                                  status.ToString());
  }
  changed(key, std::nullopt);
}

std::vector<std::pair<std::string, std::string>> RocksDbKeyValueStore::range(
    const std::optional<std::string>& from, const std::optional<std::string>& to) const {
  Db& db = open_db();
  std::vector<std::pair<std::string, std::string>> out;
  if (from && to && *from > *to) return out;  // Kafka: an empty range, not an error
  std::unique_ptr<rocksdb::Iterator> it(db.db->NewIterator(db.read));
  if (from) {
    it->Seek(slice(*from));
  } else {
    it->SeekToFirst();
  }
  for (; it->Valid(); it->Next()) {
    rocksdb::Slice key = it->key();
    if (to && key.compare(slice(*to)) > 0) break;
    out.emplace_back(key.ToString(), it->value().ToString());
  }
  if (!it->status().ok()) {
    throw ProcessorStateException("Error while iterating store " + name() + ": " +
                                  it->status().ToString());
  }
  return out;
}

size_t RocksDbKeyValueStore::approximate_entries() const {
  Db& db = open_db();
  uint64_t estimate = 0;
  if (!db.db->GetIntProperty("rocksdb.estimate-num-keys", &estimate)) return 0;
  return static_cast<size_t>(estimate);
}

namespace stores {

BytesStoreSupplier persistent_key_value_store(std::string name) {
  BytesStoreSupplier supplier;
  supplier.name = name;
  supplier.persistent = true;
  supplier.get = [name]() -> std::unique_ptr<KeyValueBytesStore> {
    return std::make_unique<RocksDbKeyValueStore>(name);
  };
  return supplier;
}

}  // namespace stores
}  // namespace sluice::streams
