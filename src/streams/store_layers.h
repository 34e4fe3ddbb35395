#pragma once
// Layers a task puts over a store's bytes (Kafka's wrapped stores): a base
// that passes everything to the store below, and the metering layer that
// times each operation into the store's stream-state-metrics (only at
// metrics.recording.level=DEBUG, so INFO pays nothing).

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "streams/store.h"
#include "streams/streams_metrics.h"

namespace sluice::streams {

class ForwardingBytesStore : public KeyValueBytesStore {
 public:
  explicit ForwardingBytesStore(std::unique_ptr<KeyValueBytesStore> inner)
      : KeyValueBytesStore(inner->name()), inner_(std::move(inner)) {}

  bool persistent() const override { return inner_->persistent(); }
  void init(const StoreContext& context) override { inner_->init(context); }
  // The store this layer wraps (a layer or the store itself).
  KeyValueBytesStore& inner() { return *inner_; }
  void flush() override { inner_->flush(); }
  void close() override { inner_->close(); }
  KeyValueBytesStore* bytes_store() override { return this; }
  std::optional<std::string> get(const std::string& key) const override { return inner_->get(key); }
  void put(const std::string& key, const std::string& value) override { inner_->put(key, value); }
  void remove(const std::string& key) override { inner_->remove(key); }
  std::vector<std::pair<std::string, std::string>> range(
      const std::optional<std::string>& from, const std::optional<std::string>& to) const override {
    return inner_->range(from, to);
  }
  size_t approximate_entries() const override { return inner_->approximate_entries(); }
  bool set_cache_flush_listener(CacheFlushListener listener) override {
    return inner_->set_cache_flush_listener(std::move(listener));
  }

 protected:
  KeyValueBytesStore& inner() const { return *inner_; }

 private:
  std::unique_ptr<KeyValueBytesStore> inner_;
};

// Kafka's MeteredKeyValueStore: latencies in ns.
class MeteredBytesStore final : public ForwardingBytesStore {
 public:
  MeteredBytesStore(std::unique_ptr<KeyValueBytesStore> inner,
                    std::shared_ptr<StoreMetrics> metrics)
      : ForwardingBytesStore(std::move(inner)), metrics_(std::move(metrics)) {}

  void flush() override {
    Timer timer(metrics_->flush);
    ForwardingBytesStore::flush();
  }
  std::optional<std::string> get(const std::string& key) const override {
    Timer timer(metrics_->get);
    return ForwardingBytesStore::get(key);
  }
  void put(const std::string& key, const std::string& value) override {
    Timer timer(metrics_->put);
    ForwardingBytesStore::put(key, value);
  }
  void remove(const std::string& key) override {
    Timer timer(metrics_->remove);
    ForwardingBytesStore::remove(key);
  }
  std::vector<std::pair<std::string, std::string>> range(
      const std::optional<std::string>& from, const std::optional<std::string>& to) const override {
    Timer timer(metrics_->range);
    return ForwardingBytesStore::range(from, to);
  }

 private:
  class Timer {
   public:
    explicit Timer(MetricStat& stat) : stat_(stat), start_(std::chrono::steady_clock::now()) {}
    ~Timer() {
      stat_.record(std::chrono::duration_cast<std::chrono::nanoseconds>(
                       std::chrono::steady_clock::now() - start_)
                       .count());
    }
    Timer(const Timer&) = delete;
    Timer& operator=(const Timer&) = delete;

   private:
    MetricStat& stat_;
    std::chrono::steady_clock::time_point start_;
  };

  std::shared_ptr<StoreMetrics> metrics_;
};

}  // namespace sluice::streams
