#include "cli/bench/report.h"

#include <gtest/gtest.h>

namespace sluice::cli::bench {
namespace {

TEST(ReportTest, JsonHasEveryFieldAndTheMockRatio) {
  Report report;
  report.mode = "produce";
  report.target = "127.0.0.1:9092";
  report.result.records = 1000;
  report.result.bytes = 100000;
  report.result.seconds = 0.5;
  report.result.has_latency = true;
  report.result.latency_ns.record(2000000);  // 2 ms
  BenchResult mock;
  mock.records = 1000;
  mock.bytes = 100000;
  mock.seconds = 0.25;
  report.mock = mock;
  std::string json = format_json(report);
  EXPECT_EQ(json.front(), '{');
  EXPECT_EQ(json.back(), '}');
  EXPECT_NE(json.find("\"records_per_sec\":2000,"), std::string::npos) << json;
  EXPECT_NE(json.find("\"mb_per_sec\":0.2,"), std::string::npos) << json;
  EXPECT_NE(json.find("\"p99_ms\":2,"), std::string::npos) << json;
  EXPECT_NE(json.find("\"max_ms\":2,"), std::string::npos) << json;
  EXPECT_NE(json.find("\"mock_records_per_sec\":4000,"), std::string::npos) << json;
  EXPECT_NE(json.find("\"ratio_to_mock\":0.5"), std::string::npos) << json;
  EXPECT_EQ(json.find('\n'), std::string::npos);
}

BenchResult with_rate(uint64_t records, double seconds) {
  BenchResult result;
  result.records = records;
  result.seconds = seconds;
  return result;
}

TEST(ReportTest, MedianRoundIsTheMiddleByRecordsPerSecond) {
  std::vector<BenchResult> rounds = {with_rate(300, 1), with_rate(100, 1), with_rate(200, 1)};
  EXPECT_EQ(median_round(rounds).records, 200u);
  rounds.push_back(with_rate(400, 1));  // even count: the lower middle, a round that happened
  EXPECT_EQ(median_round(rounds).records, 200u);
  EXPECT_EQ(median_round({with_rate(7, 1)}).records, 7u);
}

TEST(ReportTest, PacedRoundsAreRankedByTheirP99) {
  std::vector<BenchResult> rounds(3, with_rate(1000, 1));  // the same rate: the target's
  const uint64_t p99_ns[] = {9'000'000, 1'000'000, 4'000'000};
  for (size_t i = 0; i < rounds.size(); ++i) {
    rounds[i].has_latency = true;
    rounds[i].latency_ns.record(p99_ns[i]);
  }
  const BenchResult& median = median_round(rounds, RoundRank::kLatency);
  EXPECT_EQ(&median, &rounds[2]);  // p99 4 ms, between 1 and 9
}

TEST(ReportTest, MedianOfValues) {
  EXPECT_EQ(median_of({}), 0);
  EXPECT_EQ(median_of({0.9, 0.5, 0.7}), 0.7);
  EXPECT_EQ(median_of({0.4, 1.0, 0.6, 0.8}), 0.7);
}

TEST(ReportTest, RoundsReportTheirCountAndTheMedianRatio) {
  Report report;
  report.mode = "produce";
  report.target = "broker";
  report.result = with_rate(1000, 1);
  report.mock = with_rate(1000, 2);  // result / mock would be 2
  report.rounds = 3;
  report.ratio_to_mock = 0.75;  // the median of the rounds' own ratios wins
  std::string json = format_json(report);
  EXPECT_NE(json.find("\"rounds\":3"), std::string::npos) << json;
  EXPECT_NE(json.find("\"ratio_to_mock\":0.75"), std::string::npos) << json;
  report.rounds = 1;
  report.ratio_to_mock.reset();
  json = format_json(report);
  EXPECT_EQ(json.find("\"rounds\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"ratio_to_mock\":2"), std::string::npos) << json;
}

TEST(ReportTest, NoLatencyIsNullNotZero) {
  Report report;
  report.mode = "consume";
  report.target = "mock";
  std::string json = format_json(report);
  EXPECT_NE(json.find("\"p50_ms\":null"), std::string::npos) << json;
  EXPECT_EQ(json.find("ratio_to_mock"), std::string::npos) << json;
}

TEST(ReportTest, StringsAreEscaped) {
  Report report;
  report.mode = "a\"b\\c\n";
  std::string json = format_json(report);
  EXPECT_NE(json.find("\"a\\\"b\\\\c\\u000a\""), std::string::npos) << json;
}

}  // namespace
}  // namespace sluice::cli::bench
