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
