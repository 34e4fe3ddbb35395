#include "base/metrics.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <thread>

namespace sluice::metrics {
namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST(MetricsFormat, CounterWithLabelsHasHelpTypeAndSortedSeries) {
  Registry registry;
  auto& requests = registry.counter_family("sluice_requests_total", "Requests handled.", {"api"});
  requests.labels({"Produce"}).inc(3);
  requests.labels({"Fetch"}).inc();
  EXPECT_EQ(registry.render(),
            "# HELP sluice_requests_total Requests handled.\n"
            "# TYPE sluice_requests_total counter\n"
            "sluice_requests_total{api=\"Fetch\"} 1\n"
            "sluice_requests_total{api=\"Produce\"} 3\n");
}

TEST(MetricsFormat, SameSeriesIsReturnedAgain) {
  Registry registry;
  auto& family = registry.counter_family("c_total", "c", {"a"});
  Counter& first = family.labels({"x"});
  Counter& again = registry.counter_family("c_total", "c", {"a"}).labels({"x"});
  EXPECT_EQ(&first, &again);
}

TEST(MetricsFormat, LabelValuesAndHelpAreEscaped) {
  Registry registry;
  registry.gauge_family("g", "line one\nback\\slash \"quoted\"", {"topic"})
      .labels({"a\"b\\c\nd"})
      .set(1.5);
  EXPECT_EQ(registry.render(),
            "# HELP g line one\\nback\\\\slash \"quoted\"\n"
            "# TYPE g gauge\n"
            "g{topic=\"a\\\"b\\\\c\\nd\"} 1.5\n");
}

TEST(MetricsFormat, ValuesAreIntegersWhenIntegralAndSpecialValuesSpelledOut) {
  EXPECT_EQ(format_value(42), "42");
  EXPECT_EQ(format_value(-7), "-7");
  EXPECT_EQ(format_value(0.25), "0.25");
  EXPECT_EQ(format_value(1e20), "1e+20");
  EXPECT_EQ(format_value(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(format_value(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(format_value(std::nan("")), "NaN");
}

TEST(MetricsFormat, HistogramBucketsAreCumulativeEndInInfAndCountEqualsInf) {
  Registry registry;
  Histogram& latency =
      registry.histogram_family("lat_seconds", "Latency.", {"api"}, {0.1, 0.5, 1}).labels({"Fetch"});
  latency.observe(0.05);
  latency.observe(0.1);  // le: on the bound counts in that bucket
  latency.observe(0.7);
  latency.observe(3.0);
  EXPECT_EQ(registry.render(),
            "# HELP lat_seconds Latency.\n"
            "# TYPE lat_seconds histogram\n"
            "lat_seconds_bucket{api=\"Fetch\",le=\"0.1\"} 2\n"
            "lat_seconds_bucket{api=\"Fetch\",le=\"0.5\"} 2\n"
            "lat_seconds_bucket{api=\"Fetch\",le=\"1\"} 3\n"
            "lat_seconds_bucket{api=\"Fetch\",le=\"+Inf\"} 4\n"
            "lat_seconds_sum{api=\"Fetch\"} 3.85\n"
            "lat_seconds_count{api=\"Fetch\"} 4\n");
}

TEST(MetricsFormat, HistogramObservesDurationsInSeconds) {
  Histogram histogram({0.001, 0.01});
  histogram.observe(std::chrono::microseconds(500));
  histogram.observe(std::chrono::milliseconds(5));
  Histogram::Snapshot snapshot = histogram.snapshot();
  EXPECT_EQ(snapshot.cumulative_counts, (std::vector<uint64_t>{1, 2, 2}));
  EXPECT_DOUBLE_EQ(snapshot.sum, 0.0055);
}

TEST(MetricsFormat, UnlabelledFamiliesHaveNoBraces) {
  Registry registry;
  registry.counter("sluice_log_flushes_total", "Flushes.").inc(2);
  registry.histogram("fsync_seconds", "Fsyncs.", {1}).observe(0.5);
  EXPECT_EQ(registry.render(),
            "# HELP fsync_seconds Fsyncs.\n"
            "# TYPE fsync_seconds histogram\n"
            "fsync_seconds_bucket{le=\"1\"} 1\n"
            "fsync_seconds_bucket{le=\"+Inf\"} 1\n"
            "fsync_seconds_sum 0.5\n"
            "fsync_seconds_count 1\n"
            "# HELP sluice_log_flushes_total Flushes.\n"
            "# TYPE sluice_log_flushes_total counter\n"
            "sluice_log_flushes_total 2\n");
}

TEST(MetricsFormat, CollectorsRenderAtScrapeTimeInNameOrderUntilUnregistered) {
  Registry registry;
  registry.counter("b_total", "B.").inc();
  int64_t end_offset = 10;
  CollectorHandle offsets = registry.add_collector([&](CollectorSink& sink) {
    sink.add("c_end_offset", MetricType::gauge, "End.", {{"topic", "t"}, {"partition", "0"}},
             static_cast<double>(end_offset));
    sink.add("a_up", MetricType::gauge, "Up.", {}, 1);
  });
  CollectorHandle memory = registry.add_callback_gauge("d_bytes", "D.", [] { return 4096.0; });
  end_offset = 12;
  EXPECT_EQ(registry.render(),
            "# HELP a_up Up.\n# TYPE a_up gauge\na_up 1\n"
            "# HELP b_total B.\n# TYPE b_total counter\nb_total 1\n"
            "# HELP c_end_offset End.\n# TYPE c_end_offset gauge\n"
            "c_end_offset{topic=\"t\",partition=\"0\"} 12\n"
            "# HELP d_bytes D.\n# TYPE d_bytes gauge\nd_bytes 4096\n");
  offsets.reset();
  memory = CollectorHandle();
  EXPECT_EQ(registry.render(), "# HELP b_total B.\n# TYPE b_total counter\nb_total 1\n");
}

TEST(MetricsFormat, NamesFollowPrometheusGrammar) {
  EXPECT_TRUE(valid_metric_name("sluice_requests_total"));
  EXPECT_TRUE(valid_metric_name("ns:metric_1"));
  EXPECT_FALSE(valid_metric_name("1abc"));
  EXPECT_FALSE(valid_metric_name("with-dash"));
  EXPECT_FALSE(valid_metric_name(""));
  EXPECT_TRUE(valid_label_name("topic"));
  EXPECT_FALSE(valid_label_name("a:b"));
}

TEST(MetricsFormatDeathTest, RegisteringANameTwiceWithAnotherTypeIsAProgrammerError) {
  Registry registry;
  registry.counter("x_total", "X.");
  EXPECT_DEATH(registry.gauge("x_total", "X."), "registered twice");
}

TEST(MetricsConcurrency, IncrementsFromManyThreadsAreAllCounted) {
  Registry registry;
  auto& family = registry.counter_family("ops_total", "Ops.", {"thread"});
  Counter& shared = registry.counter("shared_total", "Shared.");
  Gauge& level = registry.gauge("level", "Level.");
  Histogram& histogram = registry.histogram("obs", "Obs.", {0.5});
  constexpr int threads = 8;
  constexpr int per_thread = 100000;
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      // Series created concurrently from every thread: one per label value.
      Counter& own = family.labels({std::to_string(t % 2)});
      for (int i = 0; i < per_thread; ++i) {
        shared.inc();
        own.inc();
        level.add(1);
        level.sub(1);
        histogram.observe(i % 2 == 0 ? 0.25 : 1.0);
      }
    });
  }
  // Rendering while the writers run must be safe too.
  for (int i = 0; i < 20; ++i) EXPECT_FALSE(registry.render().empty());
  for (auto& worker : workers) worker.join();
  EXPECT_EQ(shared.value(), uint64_t{threads} * per_thread);
  EXPECT_EQ(family.labels({"0"}).value() + family.labels({"1"}).value(), uint64_t{threads} * per_thread);
  EXPECT_EQ(level.value(), 0.0);
  Histogram::Snapshot snapshot = histogram.snapshot();
  EXPECT_EQ(snapshot.cumulative_counts, (std::vector<uint64_t>{threads * per_thread / 2, threads * per_thread}));
  EXPECT_DOUBLE_EQ(snapshot.sum, threads * (per_thread / 2) * 1.25);
  std::vector<std::string> lines = lines_of(registry.render());
  EXPECT_NE(std::find(lines.begin(), lines.end(), "shared_total 800000"), lines.end());
  EXPECT_NE(std::find(lines.begin(), lines.end(), "obs_count 800000"), lines.end());
}

}  // namespace
}  // namespace sluice::metrics
