#pragma once
// Helpers the broker's unit tests share.

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/bytes.h"
#include "base/metrics.h"
#include "base/result.h"
#include "broker/broker.h"
#include "broker/broker_config.h"
#include "record/batch_builder.h"

namespace sluice::broker::testing {

using Settings = std::map<std::string, std::string>;

// The broker's configuration from `settings` alone (no file).
inline Result<BrokerConfig> load_config(const Settings& settings) {
  return BrokerConfig::load("", settings);
}

// An empty directory of the running test's own:
// <tmp>/sluice-<name>-<pid>-<test name>.
inline std::filesystem::path fresh_test_dir(const std::string& name) {
  std::filesystem::path dir = std::filesystem::temp_directory_path() /
                              ("sluice-" + name + "-" + std::to_string(::getpid()) + "-" +
                               ::testing::UnitTest::GetInstance()->current_test_info()->name());
  std::filesystem::remove_all(dir);
  return dir;
}

// A broker on `settings` alone (no file), started; its error or the
// broker.
inline Result<std::unique_ptr<Broker>> start_broker(const Settings& settings) {
  auto config = load_config(settings);
  if (!config.is_ok()) return config.status();
  auto broker = Broker::open(std::move(config).value());
  if (!broker.is_ok()) return broker.status();
  if (Status started = (*broker)->start(); !started) return started;
  return broker;
}

// Creates `name` (replication factor 1) and waits up to 10 s until its last
// partition is served here, in the image the broker answers from.
inline ::testing::AssertionResult create_topic(Broker& broker, const std::string& name,
                                               int32_t partitions) {
  cluster::NewTopic topic;
  topic.name = name;
  topic.num_partitions = partitions;
  topic.replication_factor = 1;
  auto created = broker.controller().create_topics({topic}, false);
  if (created.size() != 1) return ::testing::AssertionFailure() << "no result for " << name;
  if (!created[0].error.ok()) return ::testing::AssertionFailure() << created[0].error.message;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!broker.replica_manager().partition(name, partitions - 1)) {
    if (std::chrono::steady_clock::now() > until) {
      return ::testing::AssertionFailure() << name << " is not served after 10 s";
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return ::testing::AssertionSuccess();
}

// A batch of `records` records of `value_bytes` bytes each, timestamped now.
inline std::vector<uint8_t> batch_of(int records, size_t value_bytes = 10) {
  record::BatchBuilder builder;
  std::string value(value_bytes, 'v');
  auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  for (int i = 0; i < records; ++i) {
    builder.append(now, std::nullopt,
                   Bytes(reinterpret_cast<const uint8_t*>(value.data()), value.size()));
  }
  return std::move(builder.build()).value();
}

// sluice_fetch_reads_offloaded_total{reason} as /metrics shows it.
inline uint64_t offloaded_fetches(const std::string& reason) {
  std::string text = metrics::default_registry().render();
  std::string series = "sluice_fetch_reads_offloaded_total{reason=\"" + reason + "\"} ";
  auto at = text.find(series);
  return at == std::string::npos ? 0 : std::stoull(text.substr(at + series.size()));
}

}  // namespace sluice::broker::testing
