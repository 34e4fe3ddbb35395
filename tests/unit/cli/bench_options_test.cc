#include "cli/bench/bench_options.h"

#include <gtest/gtest.h>

#include <CLI/CLI.hpp>

namespace sluice::cli::bench {
namespace {

struct Parsed {
  BenchOptions options;
  std::string problem;
};

Parsed parse(std::vector<std::string> args) {
  CLI::App app{"test"};
  Parsed parsed;
  std::vector<std::string> settings;
  add_bench_subcommand(app, parsed.options, settings);
  args.insert(args.begin(), "bench");
  std::reverse(args.begin(), args.end());  // CLI11 takes a reversed vector
  app.parse(args);
  parsed.problem = finish_options(parsed.options, settings);
  return parsed;
}

TEST(BenchOptionsTest, DefaultsAreTunedForThroughput) {
  Parsed parsed = parse({"produce"});
  const BenchOptions& options = parsed.options;
  EXPECT_EQ(parsed.problem, "");
  EXPECT_EQ(options.mode, BenchMode::kProduce);
  EXPECT_EQ(options.bootstrap_servers, "127.0.0.1:9092");
  EXPECT_FALSE(options.bootstrap_given);
  EXPECT_EQ(options.linger_ms, 5);
  EXPECT_EQ(options.batch_size_bytes, 1 << 20);
  EXPECT_EQ(effective_count(options), 1'000'000u);
}

TEST(BenchOptionsTest, EndToEndRunsLingerOneMillisecondUnlessTold) {
  EXPECT_EQ(parse({"e2e"}).options.linger_ms, 1);
  EXPECT_EQ(parse({"e2e", "--linger-ms", "0"}).options.linger_ms, 0);
  EXPECT_EQ(parse({"consume"}).options.linger_ms, 5);
}

TEST(BenchOptionsTest, EveryFlagLands) {
  Parsed parsed = parse({"e2e", "-b", "host:1234", "--topic", "t", "--count", "500", "--size",
                         "1024", "--acks", "all", "--compression", "lz4", "--partitions", "8",
                         "--producers", "4", "--consumers", "2", "--rate", "20000",
                         "--linger-ms", "0", "--batch-size", "65536", "--keys", "100", "-X",
                         "socket.timeout.ms=1000", "-X", "client.id=a=b", "--json",
                         "--against-mock", "--compare-mock"});
  const BenchOptions& options = parsed.options;
  EXPECT_EQ(parsed.problem, "");
  EXPECT_EQ(options.mode, BenchMode::kEndToEnd);
  EXPECT_EQ(options.bootstrap_servers, "host:1234");
  EXPECT_TRUE(options.bootstrap_given);
  EXPECT_EQ(options.topic, "t");
  EXPECT_EQ(options.count, 500u);
  EXPECT_EQ(options.size_bytes, 1024u);
  EXPECT_EQ(acks_setting(options.acks), "-1");
  EXPECT_EQ(options.compression, "lz4");
  EXPECT_EQ(options.partitions, 8);
  EXPECT_EQ(options.producers, 4);
  EXPECT_EQ(options.consumers, 2);
  EXPECT_EQ(options.rate_per_sec, 20000);
  EXPECT_EQ(options.linger_ms, 0);
  EXPECT_EQ(options.batch_size_bytes, 65536);
  EXPECT_EQ(options.keys, 100u);
  EXPECT_EQ(options.client_settings.at("socket.timeout.ms"), "1000");
  EXPECT_EQ(options.client_settings.at("client.id"), "a=b");  // split at the first '='
  EXPECT_TRUE(options.json);
  EXPECT_TRUE(options.against_mock);
  EXPECT_TRUE(options.compare_mock);
}

TEST(BenchOptionsTest, RoundsDefaultToOneAndAreBounded) {
  EXPECT_EQ(parse({"produce"}).options.rounds, 1);
  EXPECT_EQ(parse({"consume", "--rounds", "3", "--compare-mock"}).options.rounds, 3);
  EXPECT_THROW(parse({"produce", "--rounds", "0"}), CLI::ValidationError);
}

TEST(BenchOptionsTest, ModeDefaultsForCount) {
  EXPECT_EQ(effective_count(parse({"consume"}).options), UINT64_MAX);  // to the end
  EXPECT_EQ(effective_count(parse({"e2e", "--rate", "2000"}).options), 20000u);  // 10 s
  EXPECT_EQ(effective_count(parse({"produce", "--duration", "3"}).options), UINT64_MAX);
}

TEST(BenchOptionsTest, BadCombinationsAreRejected) {
  EXPECT_NE(parse({"produce", "-X", "novalue"}).problem, "");
  EXPECT_NE(parse({"produce", "-X", "=v"}).problem, "");
  EXPECT_NE(parse({"e2e", "--size", "16"}).problem, "");
  EXPECT_NE(parse({"produce", "--count", "5", "--duration", "1"}).problem, "");
  EXPECT_NE(parse({"produce", "--against-mock", "--compare-mock"}).problem, "");
  EXPECT_EQ(parse({"produce", "--against-mock"}).problem, "");
}

TEST(BenchOptionsTest, InvalidValuesFailParsing) {
  EXPECT_THROW(parse({"produce", "--acks", "2"}), CLI::ValidationError);
  EXPECT_THROW(parse({"produce", "--compression", "brotli"}), CLI::ValidationError);
  EXPECT_THROW(parse({"produce", "--partitions", "0"}), CLI::ValidationError);
  EXPECT_THROW(parse({}), CLI::RequiredError);  // a mode is required
}

}  // namespace
}  // namespace sluice::cli::bench
