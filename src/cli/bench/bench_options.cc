#include "cli/bench/bench_options.h"

#include <CLI/CLI.hpp>

#include "cli/number_checks.h"

namespace sluice::cli::bench {
namespace {

void add_common_options(CLI::App* command, BenchOptions& options,
                        std::vector<std::string>& raw_settings) {
  command->add_option_function<std::string>(
      "-b,--bootstrap-server",
      [&options](const std::string& value) {
        options.bootstrap_servers = value;
        options.bootstrap_given = true;
      },
      "Broker to measure (default 127.0.0.1:9092)");
  command->add_option("--topic", options.topic, "Topic (created if missing)");
  command->add_option("--count", options.count, "Messages to send or read");
  command->add_option("--duration", options.duration_sec, "Seconds to run instead of --count")
      ->check(positive_number());
  command->add_option("--size", options.size_bytes, "Value size in bytes")
      ->check(CLI::Range(1u, 64u << 20));
  command->add_option("--acks", options.acks, "0, 1 or all")
      ->check(CLI::IsMember({"0", "1", "all", "-1"}));
  command->add_option("--compression", options.compression, "none, gzip, snappy, lz4 or zstd")
      ->check(CLI::IsMember({"none", "gzip", "snappy", "lz4", "zstd"}));
  command->add_option("--partitions", options.partitions, "Partitions of the topic if created")
      ->check(CLI::Range(1, 100000));
  command
      ->add_option("--producers", options.producers,
                   "Producer clients (one thread and one connection each)")
      ->check(CLI::Range(1, 1000));
  command->add_option("--consumers", options.consumers, "Consumer clients (one thread each)")
      ->check(CLI::Range(1, 256));
  command->add_option("--rate", options.rate_per_sec,
                      "Target msgs/s over all producers (latency runs); 0 = unpaced")
      ->check(non_negative_number());
  command->add_option("--linger-ms", options.linger_ms, "Producer linger.ms (default 5; e2e: 1)")
      ->check(CLI::Range(0, 900000));
  command->add_option("--batch-size", options.batch_size_bytes, "Producer batch.size in bytes")
      ->check(CLI::Range(1, 2147483647));
  command->add_option("--keys", options.keys, "Random keys drawn from N values (0: no keys)");
  command->add_option("-X", raw_settings, "librdkafka setting key=value (repeatable)");
  command->add_flag("--json", options.json, "Print one JSON object as the last line");
  command->add_flag("--against-mock", options.against_mock,
                    "Run against librdkafka's in-process mock cluster");
  command->add_flag("--compare-mock", options.compare_mock,
                    "Also run against the mock cluster and report the ratio");
  command->add_option("--rounds", options.rounds,
                      "Run N times (with --compare-mock: broker and mock alternated); report the "
                      "median round and the median of the rounds' ratios")
      ->check(CLI::Range(1, 100));
  command->add_flag("!--no-progress", options.progress, "No live progress line");
  command->add_option("--idle-timeout", options.idle_timeout_sec,
                      "Consume: stop after this many seconds without data")
      ->check(positive_number());
}

}  // namespace

const char* mode_name(BenchMode mode) {
  switch (mode) {
    case BenchMode::kProduce: return "produce";
    case BenchMode::kConsume: return "consume";
    case BenchMode::kEndToEnd: return "e2e";
  }
  return "?";
}

CLI::App* add_bench_subcommand(CLI::App& app, BenchOptions& options,
                               std::vector<std::string>& raw_settings) {
  CLI::App* bench = app.add_subcommand("bench", "Measure a broker's throughput and latency");
  bench->require_subcommand(1);
  struct ModeEntry {
    BenchMode mode;
    const char* help;
  };
  for (ModeEntry entry : {ModeEntry{BenchMode::kProduce, "Producer throughput and ack latency"},
                          ModeEntry{BenchMode::kConsume, "Consumer throughput from the beginning"},
                          ModeEntry{BenchMode::kEndToEnd, "Produce-to-consume latency"}}) {
    CLI::App* command = bench->add_subcommand(mode_name(entry.mode), entry.help);
    add_common_options(command, options, raw_settings);
    command->parse_complete_callback([&options, entry] { options.mode = entry.mode; });
  }
  return bench;
}

std::string finish_options(BenchOptions& options, const std::vector<std::string>& raw_settings) {
  for (const std::string& setting : raw_settings) {
    size_t equals = setting.find('=');
    if (equals == std::string::npos || equals == 0) {
      return "-X expects key=value, got '" + setting + "'";
    }
    options.client_settings[setting.substr(0, equals)] = setting.substr(equals + 1);
  }
  if (options.compare_mock && options.against_mock && !options.bootstrap_given) {
    return "--compare-mock with --against-mock needs -b/--bootstrap-server";
  }
  if (options.mode == BenchMode::kEndToEnd && options.size_bytes < 32) {
    return "e2e needs --size of at least 32 (the payload carries a timestamp)";
  }
  if (options.linger_ms < 0) options.linger_ms = options.mode == BenchMode::kEndToEnd ? 1 : 5;
  if (options.count > 0 && options.duration_sec > 0) {
    return "give --count or --duration, not both";
  }
  return {};
}

uint64_t effective_count(const BenchOptions& options) {
  if (options.count > 0) return options.count;
  if (options.duration_sec > 0) return UINT64_MAX;
  switch (options.mode) {
    case BenchMode::kProduce: return 1'000'000;
    // Consume to the end of the topic; the mock run fills this many first.
    case BenchMode::kConsume: return UINT64_MAX;
    case BenchMode::kEndToEnd:
      return options.rate_per_sec > 0 ? static_cast<uint64_t>(options.rate_per_sec * 10) : 100'000;
  }
  return 0;
}

std::string acks_setting(const std::string& acks) { return acks == "all" ? "-1" : acks; }

}  // namespace sluice::cli::bench
