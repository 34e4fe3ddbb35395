// The runtime's operational parts without a broker: timestamp extractors,
// the processing and production exception handlers, Kafka Streams' metrics
// (counts exact after a known input) and the record cache (fewer updates,
// the same final values as a model).

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <sstream>

#include "streams/dsl.h"
#include "streams/exception_handlers.h"
#include "streams/record_cache.h"
#include "streams/streams_config.h"
#include "streams/streams_metrics.h"
#include "streams/test_driver.h"

namespace sluice::streams {
namespace {

std::vector<std::string> items_of(const std::string& line) {
  std::vector<std::string> words;
  std::istringstream in(line);
  for (std::string word; in >> word;) words.push_back(word);
  return words;
}

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// in -> out, values passed through.
Topology pass_through() {
  Topology topology;
  topology.add_source("source", serdes::string(), serdes::long_(), {"in"});
  topology.add_sink("sink", "out", serdes::string(), serdes::long_(), {"source"});
  return topology;
}

SerializedRecord raw(const std::string& key, int64_t value, int64_t timestamp) {
  SerializedRecord record;
  record.topic = "in";
  record.partition = 0;
  record.timestamp = timestamp;
  record.key = key;
  record.value = serdes::long_().serialize("in", value);
  return record;
}

double metric(const std::vector<Metric>& metrics, const std::string& group,
              const std::string& name) {
  const Metric* found = find_metric(metrics, group, name);
  EXPECT_NE(found, nullptr) << group << " " << name;
  return found == nullptr ? -1 : found->value;
}

TestDriverSettings with_extractor(BuiltInTimestampExtractor extractor) {
  TestDriverSettings settings;
  settings.timestamp_extractor = extractor;
  return settings;
}

TEST(StreamsTimestampExtractor, FailOnInvalidTimestampIsTheDefault) {
  TopologyTestDriver driver(pass_through());
  try {
    driver.pipe(raw("k", 1, -1));
    FAIL() << "a negative timestamp was processed";
  } catch (const StreamsError& e) {
    EXPECT_NE(std::string(e.what()).find("has invalid (negative) timestamp. Possibly because a "
                                         "pre-0.10 producer client was used"),
              std::string::npos)
        << e.what();
  }
}

TEST(StreamsTimestampExtractor, LogAndSkipDropsAndCountsTheRecord) {
  TopologyTestDriver driver(pass_through(),
                            with_extractor(BuiltInTimestampExtractor::log_and_skip_on_invalid));
  driver.pipe(raw("a", 1, 10));
  driver.pipe(raw("b", 2, -1));
  driver.pipe(raw("c", 3, 5));
  auto out = driver.create_output_topic("out", serdes::string(), serdes::long_());
  EXPECT_EQ(out.read_values_to_list(), (std::vector<int64_t>{1, 3}));
  std::vector<Metric> metrics = driver.metrics();
  EXPECT_EQ(metric(metrics, "stream-task-metrics", "dropped-records-total"), 1);
  EXPECT_EQ(metric(metrics, "stream-task-metrics", "process-total"), 2);
  // Lateness: 0 for the first record, 10 - 5 for the third.
  EXPECT_EQ(metric(metrics, "stream-task-metrics", "record-lateness-max"), 5);
  EXPECT_EQ(metric(metrics, "stream-task-metrics", "record-lateness-avg"), 2.5);
}

TEST(StreamsTimestampExtractor, UsePartitionTimeNeedsAKnownPartitionTime) {
  TopologyTestDriver driver(
      pass_through(), with_extractor(BuiltInTimestampExtractor::use_partition_time_on_invalid));
  try {
    driver.pipe(raw("a", 1, -1));
    FAIL() << "no partition time yet";
  } catch (const StreamsError& e) {
    EXPECT_NE(std::string(e.what()).find("because partition time is unknown."), std::string::npos);
  }
  driver.pipe(raw("b", 2, 50));
  driver.pipe(raw("c", 3, 20));
  driver.pipe(raw("d", 4, -7));
  auto out = driver.create_output_topic("out", serdes::string(), serdes::long_());
  std::vector<int64_t> timestamps;
  while (!out.is_empty()) timestamps.push_back(out.read_record().timestamp);
  EXPECT_EQ(timestamps, (std::vector<int64_t>{50, 20, 50}));  // the largest seen, not the last
}

TEST(StreamsTimestampExtractor, WallclockIgnoresTheRecordsTimestamp) {
  TopologyTestDriver driver(pass_through(), with_extractor(BuiltInTimestampExtractor::wallclock));
  int64_t before = now_ms();
  driver.pipe(raw("a", 1, -1));
  int64_t after = now_ms();
  auto out = driver.create_output_topic("out", serdes::string(), serdes::long_());
  int64_t timestamp = out.read_record().timestamp;
  EXPECT_GE(timestamp, before);
  EXPECT_LE(timestamp, after);
}

TEST(StreamsTimestampExtractor, ASourcesOwnExtractorReadsTheValue) {
  StreamsBuilder builder;
  // The event time is the value; a negative one drops the record; zero throws.
  auto extractor = timestamp_extractor<std::string, int64_t>(
      [](const Record<std::string, int64_t>& record, int64_t) {
        if (record.value == 0) throw std::runtime_error("no time");
        return record.value;
      });
  builder
      .stream("in", Consumed{serdes::string(), serdes::long_()}.with_timestamp_extractor(extractor))
      .to("out", Produced{serdes::string(), serdes::long_()});
  TopologyTestDriver driver(builder.build());
  auto in = driver.create_input_topic("in", serdes::string(), serdes::long_());
  auto out = driver.create_output_topic("out", serdes::string(), serdes::long_());
  in.pipe_input("a", 1000, 1);
  in.pipe_input("b", -5, 2);
  in.pipe_input("c", 700, 3);
  std::vector<std::pair<int64_t, int64_t>> got;
  while (!out.is_empty()) {
    auto record = out.read_record();
    got.emplace_back(record.value, record.timestamp);
  }
  EXPECT_EQ(got, (std::vector<std::pair<int64_t, int64_t>>{{1000, 1000}, {700, 700}}));
  EXPECT_EQ(metric(driver.metrics(), "stream-task-metrics", "dropped-records-total"), 1);
  try {
    in.pipe_input("d", 0, 4);
    FAIL() << "the extractor's exception was swallowed";
  } catch (const StreamsError& e) {
    EXPECT_NE(std::string(e.what()).find("Fatal user code error in TimestampExtractor callback"),
              std::string::npos);
  }
}

TEST(StreamsConfigOps, KafkasClassNamesAndMessages) {
  std::map<std::string, std::string> base = {{"application.id", "a"}, {"bootstrap.servers", "b:1"}};
  StreamsConfig defaults = StreamsConfig::from_properties(base);
  EXPECT_EQ(defaults.timestamp_extractor, BuiltInTimestampExtractor::fail_on_invalid);
  EXPECT_EQ(defaults.cache_max_bytes, 10485760);
  EXPECT_EQ(defaults.metrics_recording_level, RecordingLevel::info);
  EXPECT_TRUE(defaults.prometheus_listener.empty());
  auto with = [&base](const std::string& name, const std::string& value) {
    auto properties = base;
    properties[name] = value;
    return StreamsConfig::from_properties(properties);
  };
  EXPECT_EQ(with("default.timestamp.extractor",
                 "org.apache.kafka.streams.processor.UsePartitionTimeOnInvalidTimestamp")
                .timestamp_extractor,
            BuiltInTimestampExtractor::use_partition_time_on_invalid);
  EXPECT_EQ(with("default.timestamp.extractor", "WallclockTimestampExtractor").timestamp_extractor,
            BuiltInTimestampExtractor::wallclock);
  EXPECT_EQ(with("statestore.cache.max.bytes", "0").cache_max_bytes, 0);
  EXPECT_EQ(with("cache.max.bytes.buffering", "1024").cache_max_bytes, 1024);
  EXPECT_EQ(with("metrics.recording.level", "DEBUG").metrics_recording_level,
            RecordingLevel::debug);
  EXPECT_NE(dynamic_cast<LogAndContinueProcessingExceptionHandler*>(
                with("processing.exception.handler",
                     "org.apache.kafka.streams.errors.LogAndContinueProcessingExceptionHandler")
                    .processing_exception_handler.get()),
            nullptr);
  auto message = [&with](const std::string& name, const std::string& value) {
    try {
      with(name, value);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_EQ(message("default.timestamp.extractor", "com.x.Mine"),
            "Invalid value com.x.Mine for configuration default.timestamp.extractor: Class "
            "com.x.Mine could not be found.");
  EXPECT_EQ(message("default.production.exception.handler", "Nope"),
            "Invalid value Nope for configuration default.production.exception.handler: Class "
            "Nope could not be found.");
  EXPECT_EQ(message("cache.max.bytes.buffering", "-1"),
            "Invalid value -1 for configuration cache.max.bytes.buffering: Value must be at "
            "least 0");
  EXPECT_EQ(message("metrics.recording.level", "LOUD"),
            "Invalid value LOUD for configuration metrics.recording.level: String must be one "
            "of: INFO, DEBUG, TRACE");
}

// A processor that throws for odd values.
Topology failing_on_odd_values() {
  StreamsBuilder builder;
  builder.stream("in", Consumed{serdes::string(), serdes::long_()})
      .map_values([](int64_t value) {
        if (value % 2 != 0) throw std::runtime_error("odd value " + std::to_string(value));
        return value;
      })
      .to("out", Produced{serdes::string(), serdes::long_()});
  return builder.build();
}

TEST(StreamsExceptionHandlers, ProcessingLogAndFailStops) {
  TopologyTestDriver driver(failing_on_odd_values());
  auto in = driver.create_input_topic("in", serdes::string(), serdes::long_());
  in.pipe_input("k", 2, 1);
  EXPECT_THROW(in.pipe_input("k", 3, 2), FailedProcessingError);
}

TEST(StreamsExceptionHandlers, ProcessingLogAndContinueDropsAndCounts) {
  TestDriverSettings settings;
  settings.processing_exception_handler =
      std::make_shared<LogAndContinueProcessingExceptionHandler>();
  TopologyTestDriver driver(failing_on_odd_values(), settings);
  auto in = driver.create_input_topic("in", serdes::string(), serdes::long_());
  auto out = driver.create_output_topic("out", serdes::string(), serdes::long_());
  std::vector<int64_t> model;
  int64_t dropped = 0;
  for (int64_t value = 0; value < 9; ++value) {
    in.pipe_input("k", value, value);
    if (value % 2 == 0) {
      model.push_back(value);
    } else {
      ++dropped;
    }
  }
  EXPECT_EQ(out.read_values_to_list(), model);
  std::vector<Metric> metrics = driver.metrics();
  EXPECT_EQ(metric(metrics, "stream-task-metrics", "dropped-records-total"), dropped);
  EXPECT_EQ(metric(metrics, "stream-task-metrics", "process-total"), 9);
}

// Answers CONTINUE for records too large, FAIL otherwise.
class SkipTooLarge final : public ProductionExceptionHandler {
 public:
  HandlerResponse handle(const ErrorHandlerContext&, const SerializedRecord&,
                         const ProductionError& error) override {
    ++asked;
    return error.name == "MSG_SIZE_TOO_LARGE" ? HandlerResponse::continue_processing
                                              : HandlerResponse::fail;
  }
  int asked = 0;
};

TEST(StreamsExceptionHandlers, ProductionErrorsAsKafkasRecordCollector) {
  SkipTooLarge handler;
  ErrorHandlerContext context;
  context.task_id = "0_1";
  SerializedRecord record;
  record.topic = "out";
  // Kafka's codes: 10 MESSAGE_TOO_LARGE, 29 TOPIC_AUTHORIZATION_FAILED, 90
  // PRODUCER_FENCED, 19 NOT_ENOUGH_REPLICAS, 87 INVALID_RECORD.
  EXPECT_EQ(on_send_error(handler, context, record, {10, "MSG_SIZE_TOO_LARGE", "too large"}),
            std::nullopt);
  EXPECT_EQ(handler.asked, 1);
  std::optional<std::string> failed =
      on_send_error(handler, context, record, {87, "INVALID_RECORD", "bad"});
  ASSERT_TRUE(failed);
  EXPECT_NE(failed->find("Error encountered sending record to topic out for task 0_1 due to:"),
            std::string::npos);
  EXPECT_NE(failed->find("Exception handler choose to FAIL the processing"), std::string::npos);
  EXPECT_EQ(handler.asked, 2);
  // Fatal, fenced and retriable errors never reach the handler.
  for (int code : {29, 90, 19}) {
    EXPECT_TRUE(on_send_error(handler, context, record, {code, "X", "x"})) << code;
  }
  EXPECT_EQ(handler.asked, 2);
  EXPECT_EQ(classify_send_error(29), SendErrorKind::fatal);
  EXPECT_EQ(classify_send_error(90), SendErrorKind::fenced);
  EXPECT_EQ(classify_send_error(19), SendErrorKind::retriable);
  DefaultProductionExceptionHandler fail_always;
  EXPECT_TRUE(on_send_error(fail_always, context, record, {10, "MSG_SIZE_TOO_LARGE", "x"}));
}

// Counts the items of each user: one input record updates its key once per item.
Topology items_per_user(Materialized<std::string, int64_t> store = {}) {
  StreamsBuilder builder;
  builder.stream("baskets", Consumed{serdes::string(), serdes::string()})
      .flat_map_values(items_of)
      .group_by_key()
      .count(std::move(store))
      .to_stream()
      .to("items", Produced{serdes::string(), serdes::long_()});
  return builder.build();
}

struct Basket {
  std::string user;
  std::string items;
};
const std::vector<Basket> kBaskets = {{"ann", "a b c"},   {"bob", "d"},   {"ann", "e f"},
                                      {"cid", "g h i j"}, {"bob", "k l"}, {"ann", ""}};

std::map<std::string, int64_t> basket_model() {
  std::map<std::string, int64_t> model;
  for (const Basket& basket : kBaskets) {
    size_t items = items_of(basket.items).size();
    if (items > 0) model[basket.user] += static_cast<int64_t>(items);
  }
  return model;
}

std::vector<std::pair<std::string, int64_t>> run_baskets(
    TestDriverSettings settings, Materialized<std::string, int64_t> store = {}) {
  TopologyTestDriver driver(items_per_user(std::move(store)), settings);
  auto in = driver.create_input_topic("baskets", serdes::string(), serdes::string());
  auto out = driver.create_output_topic("items", serdes::string(), serdes::long_());
  for (const Basket& basket : kBaskets) in.pipe_input(basket.user, basket.items);
  return out.read_key_values_to_list();
}

std::map<std::string, int64_t> latest(const std::vector<std::pair<std::string, int64_t>>& pairs) {
  std::map<std::string, int64_t> out;
  for (const auto& [key, value] : pairs) out[key] = value;
  return out;
}

TEST(StreamsRecordCache, TheDriverCommitsAfterEveryRecordAsKafkasDoes) {
  TestDriverSettings uncached;
  uncached.cache_max_bytes = 0;
  auto every_update = run_baskets(uncached);
  auto cached = run_baskets(TestDriverSettings{});  // Kafka's default: 10 MiB
  // Without a cache: one update per item; with one: one per basket that has items.
  EXPECT_EQ(every_update.size(), 12u);
  EXPECT_EQ(cached, (std::vector<std::pair<std::string, int64_t>>{
                        {"ann", 3}, {"bob", 1}, {"ann", 5}, {"cid", 4}, {"bob", 3}}));
  EXPECT_EQ(latest(every_update), basket_model());
  EXPECT_EQ(latest(cached), basket_model());
  // A store without caching forwards every update whatever the cache.
  auto disabled = run_baskets(TestDriverSettings{},
                              Materialized<std::string, int64_t>::as("c").with_caching_disabled());
  EXPECT_EQ(disabled, every_update);
}

// What a task sends, by topic (the runtime's producer).
class Collected final : public RecordCollector {
 public:
  void send(SerializedRecord record) override { sent[record.topic].push_back(std::move(record)); }
  int32_t partition_count(const std::string&) override { return 1; }
  std::map<std::string, std::vector<SerializedRecord>> sent;
};

// A task built here (not by the driver) keeps its persistent stores in a
// directory of its own, removed at the end.
class ScopedStateDir {
 public:
  ScopedStateDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "ops-test-XXXXXX").string();
    root_ = mkdtemp(pattern.data()) != nullptr ? pattern : std::string();
  }
  ~ScopedStateDir() {
    std::error_code ignored;
    std::filesystem::remove_all(root_, ignored);
  }
  ScopedStateDir(const ScopedStateDir&) = delete;
  ScopedStateDir& operator=(const ScopedStateDir&) = delete;
  std::string task_dir() const { return root_ + "/app/0_0"; }

 private:
  std::string root_;
};

struct CachedTask {
  explicit CachedTask(int64_t cache_bytes) : cache(cache_bytes) {
    TaskSettings settings;
    settings.application_id = "app";
    settings.cache = &cache;
    settings.state_dir = state_dir.task_dir();
    task = std::make_unique<Task>(topology, std::vector<std::string>{}, settings, collector);
  }
  void pipe(const std::string& user, const std::string& items, int64_t offset) {
    SerializedRecord record;
    record.topic = "baskets";
    record.partition = 0;
    record.offset = offset;
    record.timestamp = offset;
    record.key = user;
    record.value = items;
    task->process(record);
  }
  std::vector<std::pair<std::string, int64_t>> output(const std::string& topic) {
    std::vector<std::pair<std::string, int64_t>> out;
    for (const SerializedRecord& record : collector.sent[topic]) {
      out.emplace_back(*record.key,
                       serdes::long_().deserialize(topic, std::string_view(*record.value)));
    }
    return out;
  }

  Topology topology = items_per_user(Materialized<std::string, int64_t>::as("per-user"));
  ThreadCache cache;
  Collected collector;
  ScopedStateDir state_dir;  // before the task: its stores close first
  std::unique_ptr<Task> task;
};

TEST(StreamsRecordCache, OneUpdatePerKeyAtCommit) {
  CachedTask runtime(kDefaultCacheMaxBytes);
  int64_t offset = 0;
  for (const Basket& basket : kBaskets) runtime.pipe(basket.user, basket.items, offset++);
  // Nothing leaves the cache before the commit, but reads see it.
  EXPECT_TRUE(runtime.output("items").empty());
  EXPECT_TRUE(runtime.output("app-per-user-changelog").empty());
  auto* store = dynamic_cast<KeyValueStore<std::string, int64_t>*>(runtime.task->store("per-user"));
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->get("ann"), 5);
  EXPECT_GT(runtime.cache.size_bytes(), 0);
  runtime.task->flush();  // the commit
  // One record per key, in the order of their last write (ann's last
  // basket is empty), with the final count.
  std::vector<std::pair<std::string, int64_t>> expected = {{"ann", 5}, {"cid", 4}, {"bob", 3}};
  EXPECT_EQ(runtime.output("items"), expected);
  EXPECT_EQ(runtime.output("app-per-user-changelog"), expected);
  EXPECT_EQ(latest(runtime.output("items")), basket_model());
  EXPECT_EQ(runtime.task->metrics()->cache_bytes.load(), runtime.cache.size_bytes());
  // The cache keeps the (now clean) entries: a second commit sends nothing.
  runtime.task->flush();
  EXPECT_EQ(runtime.output("items").size(), 3u);
}

TEST(StreamsRecordCache, EvictionFlushesBeforeTheCommit) {
  // Room for about two entries: writes evict the least recently used key,
  // which flushes the store's dirty entries.
  CachedTask runtime(2 * (3 + 24 + 1 + 8 + 8 + 4 + 8 + 7) + 10);
  std::map<std::string, int64_t> model;
  int64_t offset = 0;
  for (int round = 0; round < 20; ++round) {
    std::string user = "u" + std::to_string(round % 5);
    runtime.pipe(user, "x y", offset++);
    model[user] += 2;
    EXPECT_LE(runtime.cache.size_bytes(), runtime.cache.max_bytes());
  }
  size_t before_commit = runtime.output("items").size();
  EXPECT_GT(before_commit, 0u);
  runtime.task->flush();
  auto out = runtime.output("items");
  EXPECT_LT(out.size(), 40u);  // fewer than one per update
  EXPECT_EQ(latest(out), model);
  EXPECT_EQ(latest(runtime.output("app-per-user-changelog")), model);
}

TEST(StreamsRecordCache, AKeyWrittenThenDeletedBeforeTheCommitSaysNothing) {
  StreamsBuilder builder;
  builder
      .table("users", Consumed{serdes::string(), serdes::string()},
             Materialized<std::string, std::string>::as("users-store"))
      .to_stream()
      .to("users-out", Produced{serdes::string(), serdes::string()});
  Topology topology = builder.build();
  ThreadCache cache(kDefaultCacheMaxBytes);
  Collected collector;
  TaskSettings settings;
  settings.application_id = "app";
  settings.cache = &cache;
  ScopedStateDir state_dir;
  settings.state_dir = state_dir.task_dir();
  Task task(topology, {}, settings, collector);
  auto pipe = [&task](const std::string& key, std::optional<std::string> value, int64_t offset) {
    SerializedRecord record;
    record.topic = "users";
    record.partition = 0;
    record.offset = offset;
    record.timestamp = offset;
    record.key = key;
    record.value = std::move(value);
    task.process(record);
  };
  pipe("kept", "v1", 0);
  pipe("gone", "v2", 1);
  pipe("kept", "v3", 2);
  pipe("gone", std::nullopt, 3);
  task.flush();
  ASSERT_EQ(collector.sent["users-out"].size(), 1u);
  EXPECT_EQ(*collector.sent["users-out"][0].key, "kept");
  EXPECT_EQ(*collector.sent["users-out"][0].value, "v3");
  EXPECT_EQ(collector.sent["users-out"][0].timestamp, 2);  // the last write's record
  ASSERT_EQ(collector.sent["app-users-store-changelog"].size(), 1u);
  EXPECT_EQ(collector.sent["app-users-store-changelog"][0].timestamp, 2);
}

// Kafka's WordCountDemo, and its metrics after a known input.
TEST(StreamsMetrics, WordCountCountsAreExact) {
  StreamsBuilder builder;
  builder.stream("lines", Consumed{serdes::string(), serdes::string()})
      .flat_map_values(items_of)
      .group_by([](const std::string&, const std::string& word) { return word; })
      .count(Materialized<std::string, int64_t>::as("counts"))
      .to_stream()
      .to("counts-out", Produced{serdes::string(), serdes::long_()});
  TestDriverSettings settings;
  settings.application_id = "wc";
  settings.recording_level = RecordingLevel::debug;
  TopologyTestDriver driver(builder.build(), settings);
  auto in = driver.create_input_topic("lines", serdes::string(), serdes::string());
  std::vector<std::string> lines = {"a b a", "c", "", "b b b b"};
  int64_t words = 0;
  for (const std::string& line : lines) {
    in.pipe_value(line);
    words += static_cast<int64_t>(items_of(line).size());
  }
  std::vector<Metric> metrics = driver.metrics();
  // One task reads the lines and the repartitioned words.
  EXPECT_EQ(metric(metrics, "stream-task-metrics", "process-total"),
            static_cast<double>(lines.size()) + static_cast<double>(words));
  EXPECT_EQ(metric(metrics, "stream-task-metrics", "dropped-records-total"), 0);
  const Metric* put_rate = find_metric(metrics, "stream-state-metrics", "put-rate",
                                       {{"rocksdb-state-id", "counts"}, {"task-id", "0_0"}});
  ASSERT_NE(put_rate, nullptr);
  EXPECT_GT(put_rate->value, 0);
  const Metric* put_latency = find_metric(metrics, "stream-state-metrics", "put-latency-avg",
                                          {{"rocksdb-state-id", "counts"}});
  ASSERT_NE(put_latency, nullptr);
  EXPECT_FALSE(std::isnan(put_latency->value));
  std::string text = prometheus_text(metrics);
  EXPECT_NE(text.find("# TYPE kafka_streams_stream_task_metrics_process_total counter\n"
                      "kafka_streams_stream_task_metrics_process_total{task_id=\"0_0\","
                      "thread_id=\"main\"} " +
                      std::to_string(static_cast<int64_t>(lines.size()) + words) + "\n"),
            std::string::npos)
      << text;
  // At INFO (the default) stores are not metered.
  TopologyTestDriver quiet(builder.build());
  EXPECT_EQ(find_metric(quiet.metrics(), "stream-state-metrics", "put-rate"), nullptr);
}

TEST(StreamsMetrics, PrometheusTextOfTextMetrics) {
  std::vector<Metric> metrics = {
      {"state", "stream-metrics", "The state", {{"client-id", "app"}}, 0, std::string("RUNNING")},
      {"alive-stream-threads", "stream-metrics", "Alive", {{"client-id", "app"}}, 2, std::nullopt}};
  EXPECT_EQ(prometheus_text(metrics),
            "# HELP kafka_streams_stream_metrics_alive_stream_threads Alive\n"
            "# TYPE kafka_streams_stream_metrics_alive_stream_threads gauge\n"
            "kafka_streams_stream_metrics_alive_stream_threads{client_id=\"app\"} 2\n"
            "# HELP kafka_streams_stream_metrics_state The state\n"
            "# TYPE kafka_streams_stream_metrics_state gauge\n"
            "kafka_streams_stream_metrics_state{client_id=\"app\",state=\"RUNNING\"} 1\n");
}

}  // namespace
}  // namespace sluice::streams
