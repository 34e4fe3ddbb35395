#pragma once
// Helpers the broker's unit tests share.

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/metrics.h"
#include "base/result.h"
#include "broker/broker_config.h"
#include "record/batch_builder.h"

namespace sluice::broker::testing {

using Settings = std::map<std::string, std::string>;

// The broker's configuration from `settings` alone (no file).
inline Result<BrokerConfig> load_config(const Settings& settings) {
  return BrokerConfig::load("", settings);
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
