// The worker's operations pieces without Kafka: the tasks' metrics in
// Prometheus' text format (task_metrics.h), Kafka's retry backoff and
// errors.retry.timeout (retry_operator.h), and the Error Handling settings'
// validation (connector_config.h).

#include "connect/runtime/task_metrics.h"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "connect/runtime/connector_config.h"
#include "connect/runtime/retry_operator.h"

namespace sluice::connect {
namespace {

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos || text.rfind(line + "\n", 0) == 0;
}

TEST(TaskMetricsTest, SourceTaskSeriesCarryKafkasNamesAndLabels) {
  metrics::Registry registry;
  TaskMetricsBoard board(registry);
  RegisteredTaskMetrics registered("x", 0, ConnectorType::source, board);
  TaskMetrics& task = registered.get();
  task.source_record_poll.add(5);
  task.source_record_write.add(4);
  task.poll_batch_time_ms.record(10);
  task.poll_batch_time_ms.record(30);
  task.batch_size.record(5);
  task.total_retries.add(2);
  task.set_status(TaskState::running);
  const std::string text = registry.render();
  EXPECT_TRUE(has_line(text,
                       "# TYPE kafka_connect_source_task_metrics_source_record_poll_total "
                       "counter"))
      << text;
  EXPECT_TRUE(has_line(
      text,
      R"(kafka_connect_source_task_metrics_source_record_poll_total{connector="x",task="0"} 5)"));
  EXPECT_TRUE(has_line(
      text,
      R"(kafka_connect_source_task_metrics_source_record_write_total{connector="x",task="0"} 4)"));
  EXPECT_TRUE(has_line(
      text,
      R"(kafka_connect_source_task_metrics_poll_batch_avg_time_ms{connector="x",task="0"} 20)"));
  EXPECT_TRUE(has_line(
      text,
      R"(kafka_connect_source_task_metrics_poll_batch_max_time_ms{connector="x",task="0"} 30)"));
  EXPECT_TRUE(has_line(
      text, R"(kafka_connect_connector_task_metrics_batch_size_avg{connector="x",task="0"} 5)"));
  EXPECT_TRUE(has_line(
      text, R"(kafka_connect_task_error_metrics_total_retries{connector="x",task="0"} 2)"));
  EXPECT_TRUE(has_line(
      text,
      R"(kafka_connect_connector_task_metrics_status{connector="x",task="0",status="running"} 1)"));
  EXPECT_TRUE(has_line(
      text,
      R"(kafka_connect_connector_task_metrics_status{connector="x",task="0",status="failed"} 0)"));
  // Nothing measured yet: NaN, as Kafka's Avg and Max answer.
  EXPECT_TRUE(has_line(
      text,
      R"(kafka_connect_connector_task_metrics_offset_commit_avg_time_ms{connector="x",task="0"} NaN)"));
  // A source task has no sink series.
  EXPECT_EQ(text.find("sink_task_metrics"), std::string::npos);
}

TEST(TaskMetricsTest, SinkTaskSeriesAndErrorCounts) {
  metrics::Registry registry;
  TaskMetricsBoard board(registry);
  RegisteredTaskMetrics registered("s", 2, ConnectorType::sink, board);
  TaskMetrics& task = registered.get();
  task.sink_record_read.add(10);
  task.sink_record_send.add(9);
  task.put_batch_time_ms.record(7);
  task.offset_commit_completion.add();
  task.total_record_errors.add();
  task.total_record_failures.add(3);
  task.total_records_skipped.add();
  task.deadletterqueue_produce_requests.add();
  const std::string text = registry.render();
  const std::string labels = R"({connector="s",task="2"})";
  for (const std::string& line : {
           "kafka_connect_sink_task_metrics_sink_record_read_total" + labels + " 10",
           "kafka_connect_sink_task_metrics_sink_record_send_total" + labels + " 9",
           "kafka_connect_sink_task_metrics_put_batch_avg_time_ms" + labels + " 7",
           "kafka_connect_sink_task_metrics_put_batch_max_time_ms" + labels + " 7",
           "kafka_connect_sink_task_metrics_offset_commit_completion_total" + labels + " 1",
           "kafka_connect_task_error_metrics_total_record_errors" + labels + " 1",
           "kafka_connect_task_error_metrics_total_record_failures" + labels + " 3",
           "kafka_connect_task_error_metrics_total_records_skipped" + labels + " 1",
           "kafka_connect_task_error_metrics_deadletterqueue_produce_requests" + labels + " 1",
       }) {
    EXPECT_TRUE(has_line(text, line)) << line << "\n" << text;
  }
  EXPECT_EQ(text.find("source_task_metrics"), std::string::npos);
}

TEST(TaskMetricsTest, TasksComeAndGoAndNamesAreEscaped) {
  metrics::Registry registry;
  TaskMetricsBoard board(registry);
  {
    RegisteredTaskMetrics quoted("a\"b\\c", 0, ConnectorType::sink, board);
    RegisteredTaskMetrics other("z", 1, ConnectorType::sink, board);
    const std::string text = registry.render();
    EXPECT_TRUE(has_line(
        text,
        R"(kafka_connect_sink_task_metrics_sink_record_read_total{connector="a\"b\\c",task="0"} 0)"))
        << text;
    EXPECT_TRUE(has_line(
        text,
        R"(kafka_connect_sink_task_metrics_sink_record_read_total{connector="z",task="1"} 0)"));
  }
  EXPECT_EQ(registry.render(), "");
}

TEST(TaskMetricsTest, ARestartedTasksNewMetricsReplaceTheOldOnes) {
  metrics::Registry registry;
  TaskMetricsBoard board(registry);
  const std::string series =
      R"(kafka_connect_sink_task_metrics_sink_record_read_total{connector="r",task="0"} )";
  auto old_runner = std::make_unique<RegisteredTaskMetrics>("r", 0, ConnectorType::sink, board);
  old_runner->get().sink_record_read.add(5);
  // The herder makes the new runner before it drops the stopped one.
  RegisteredTaskMetrics new_runner("r", 0, ConnectorType::sink, board);
  new_runner.get().sink_record_read.add(1);
  std::string text = registry.render();
  EXPECT_TRUE(has_line(text, series + "1")) << text;
  EXPECT_FALSE(has_line(text, series + "5")) << text;
  old_runner.reset();
  text = registry.render();
  EXPECT_TRUE(has_line(text, series + "1")) << text;
}

TEST(RetryOperatorTest, DelaysDoubleFrom300msThenJitterBelowTheCap) {
  const auto forever = std::chrono::milliseconds::max();
  EXPECT_EQ(retry_delay(1, 60'000, forever, 0.5).count(), 300);
  EXPECT_EQ(retry_delay(2, 60'000, forever, 0.5).count(), 600);
  EXPECT_EQ(retry_delay(3, 60'000, forever, 0.5).count(), 1200);
  EXPECT_EQ(retry_delay(8, 60'000, forever, 0.5).count(), 38'400);
  // 76 800 > 60 000: a random delay below the cap.
  EXPECT_EQ(retry_delay(9, 60'000, forever, 0.5).count(), 30'000);
  EXPECT_EQ(retry_delay(9, 60'000, forever, 0.0).count(), 0);
  EXPECT_EQ(retry_delay(1000, 60'000, forever, 0.25).count(), 15'000);
  // Never past the deadline.
  EXPECT_EQ(retry_delay(3, 60'000, std::chrono::milliseconds(100), 0.5).count(), 100);
  EXPECT_EQ(retry_delay(3, 60'000, std::chrono::milliseconds(-5), 0.5).count(), 0);
}

struct Recorded {
  std::vector<int64_t> waits;
  bool keep_going = true;
};

RetryOperator::Wait recording_wait(Recorded& recorded) {
  return [&recorded](std::chrono::milliseconds delay) {
    recorded.waits.push_back(delay.count());
    return recorded.keep_going;
  };
}

TEST(RetryOperatorTest, TimeoutZeroTriesOnce) {
  TaskMetrics metrics("c", 0, ConnectorType::sink);
  Recorded recorded;
  RetryOperator retry({0, 60'000}, metrics, recording_wait(recorded));
  int calls = 0;
  Status outcome = retry.execute([&] {
    ++calls;
    return retriable_error("down");
  });
  EXPECT_FALSE(outcome.is_ok());
  EXPECT_TRUE(is_retriable(outcome));
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(recorded.waits.empty());
  EXPECT_EQ(metrics.total_record_failures.value(), 1);
  EXPECT_EQ(metrics.total_retries.value(), 0);
}

TEST(RetryOperatorTest, ForeverRetriesRetriableErrorsUntilSuccess) {
  TaskMetrics metrics("c", 0, ConnectorType::sink);
  Recorded recorded;
  RetryOperator retry({-1, 60'000}, metrics, recording_wait(recorded));
  int calls = 0;
  Result<int> outcome = retry.execute([&]() -> Result<int> {
    if (++calls < 4) return retriable_error("down");
    return 42;
  });
  ASSERT_TRUE(outcome.is_ok());
  EXPECT_EQ(*outcome, 42);
  EXPECT_EQ(calls, 4);
  EXPECT_EQ(recorded.waits, (std::vector<int64_t>{300, 600, 1200}));
  EXPECT_EQ(metrics.total_record_failures.value(), 3);
  EXPECT_EQ(metrics.total_retries.value(), 3);
}

TEST(RetryOperatorTest, ErrorsThatAreNotRetriableAreNotRetried) {
  TaskMetrics metrics("c", 0, ConnectorType::sink);
  Recorded recorded;
  RetryOperator retry({-1, 60'000}, metrics, recording_wait(recorded));
  int calls = 0;
  Status outcome = retry.execute([&] {
    ++calls;
    return data_error("bad record");
  });
  EXPECT_FALSE(is_retriable(outcome));
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(metrics.total_record_failures.value(), 0);  // tolerate() counts it
}

TEST(RetryOperatorTest, TheTimeoutBoundsTheRetriesAndStopEndsThem) {
  TaskMetrics metrics("c", 0, ConnectorType::sink);
  Recorded recorded;
  // Waits that take the time they are given: 150 ms left after the start,
  // so the first wait is cut to the deadline and no attempt follows it.
  RetryOperator retry({150, 60'000}, metrics, [&](std::chrono::milliseconds delay) {
    recorded.waits.push_back(delay.count());
    std::this_thread::sleep_for(delay);
    return true;
  });
  int calls = 0;
  Status outcome = retry.execute([&] {
    ++calls;
    return retriable_error("down");
  });
  EXPECT_TRUE(is_retriable(outcome));
  EXPECT_EQ(calls, 2);
  ASSERT_EQ(recorded.waits.size(), 1u);
  EXPECT_LE(recorded.waits[0], 151);
  EXPECT_GT(recorded.waits[0], 100);

  Recorded stopping;
  stopping.keep_going = false;
  RetryOperator stopped({-1, 60'000}, metrics, recording_wait(stopping));
  calls = 0;
  outcome = stopped.execute([&] {
    ++calls;
    return retriable_error("down");
  });
  EXPECT_EQ(calls, 1);
}

const ConnectorPlugin& file_sink_plugin() { return *find_connector_plugin("FileStreamSink"); }

std::vector<std::string> errors_of(const ConfigInfos& infos, const std::string& name) {
  for (const ConfigValueInfo& info : infos.configs) {
    if (info.name == name) return info.errors;
  }
  return {"(not listed)"};
}

TEST(ErrorHandlingConfigTest, RetrySettingsAreLongsWithKafkasDefaults) {
  Properties config = {{"name", "s"}, {"connector.class", "FileStreamSink"}, {"topics", "t"}};
  ConfigInfos infos = validate_connector_config(file_sink_plugin(), config);
  EXPECT_EQ(infos.error_count, 0);
  for (const ConfigValueInfo& info : infos.configs) {
    if (info.name == "errors.retry.timeout") {
      EXPECT_EQ(info.type, "LONG");
      EXPECT_EQ(info.value, "0");
    }
    if (info.name == "errors.retry.delay.max.ms") {
      EXPECT_EQ(info.type, "LONG");
      EXPECT_EQ(info.value, "60000");
    }
  }
  TaskSettings defaults = task_settings("s", 0, config, {});
  EXPECT_EQ(defaults.retry_timeout_ms, 0);
  EXPECT_EQ(defaults.retry_max_delay_ms, 60'000);

  config["errors.retry.timeout"] = "abc";
  config["errors.retry.delay.max.ms"] = "1.5";
  infos = validate_connector_config(file_sink_plugin(), config);
  EXPECT_EQ(infos.error_count, 2);
  EXPECT_EQ(errors_of(infos, "errors.retry.timeout"),
            std::vector<std::string>{
                "Invalid value abc for configuration errors.retry.timeout: Not a number of type "
                "LONG"});
  EXPECT_EQ(errors_of(infos, "errors.retry.delay.max.ms"),
            std::vector<std::string>{"Invalid value 1.5 for configuration "
                                     "errors.retry.delay.max.ms: Not a number of type LONG"});

  config["errors.retry.timeout"] = "-1";
  config["errors.retry.delay.max.ms"] = " 5000 ";
  EXPECT_EQ(validate_connector_config(file_sink_plugin(), config).error_count, 0);
  TaskSettings set = task_settings("s", 0, config, {});
  EXPECT_EQ(set.retry_timeout_ms, -1);
  EXPECT_EQ(set.retry_max_delay_ms, 5000);
}

}  // namespace
}  // namespace sluice::connect
