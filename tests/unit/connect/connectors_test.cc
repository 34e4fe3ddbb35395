// The built-in connectors (src/connect/connectors): the registry's lookup,
// the file source and sink against real files in a temporary directory, and
// the data generator's shapes, seeds, iterations and offsets.

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "connect/connector.h"
#include "connect/errors.h"

namespace sluice::connect {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// Offsets as the runtime's store hands them back: keyed by source partition.
class MemoryOffsets final : public OffsetReader {
 public:
  std::optional<Map> offset(const Map& source_partition) override {
    for (const auto& [partition, offset] : stored) {
      if (partition == source_partition) return offset;
    }
    return std::nullopt;
  }
  std::vector<std::pair<Map, Map>> stored;
};

class ConnectorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "sluice-connectors-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  static void append(const std::string& file, const std::string& text) {
    std::ofstream out(file, std::ios::app | std::ios::binary);
    out << text;
  }

  static std::string read_all(const std::string& file) {
    std::ifstream in(file, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

  fs::path dir_;
};

std::unique_ptr<Connector> make_connector(const std::string& name) {
  const ConnectorPlugin* plugin = find_connector_plugin(name);
  EXPECT_NE(plugin, nullptr) << name;
  return plugin ? plugin->make() : nullptr;
}

std::unique_ptr<SourceTask> start_source(const std::string& class_name, const Properties& config,
                                         OffsetReader& offsets) {
  auto connector = make_connector(class_name);
  Status started = connector->start(config);
  EXPECT_TRUE(started.is_ok()) << started.message();
  std::vector<Properties> tasks = connector->task_configs(1);
  EXPECT_EQ(tasks.size(), 1u);
  auto task = connector->make_source_task();
  Status task_started = task->start(tasks.at(0), offsets);
  EXPECT_TRUE(task_started.is_ok()) << task_started.message();
  return task;
}

std::vector<ConnectRecord> poll_ok(SourceTask& task, std::chrono::milliseconds max_wait = 0ms) {
  auto polled = task.poll(max_wait);
  EXPECT_TRUE(polled.is_ok()) << polled.status().message();
  return polled.is_ok() ? std::move(*polled) : std::vector<ConnectRecord>{};
}

// Polls until `count` records came (or two seconds passed).
std::vector<ConnectRecord> poll_until(SourceTask& task, size_t count) {
  std::vector<ConnectRecord> all;
  const auto deadline = std::chrono::steady_clock::now() + 2s;
  while (all.size() < count && std::chrono::steady_clock::now() < deadline) {
    for (ConnectRecord& record : poll_ok(task, 100ms)) all.push_back(std::move(record));
  }
  return all;
}

std::vector<std::string> values_of(const std::vector<ConnectRecord>& records) {
  std::vector<std::string> values;
  for (const ConnectRecord& record : records) values.push_back(record.value.to_string());
  return values;
}

int64_t position_of(const ConnectRecord& record) {
  const Value* position = map_find(std::get<SourceOrigin>(record.origin).source_offset, "position");
  return position && position->is<int64_t>() ? position->as<int64_t>() : -1;
}

// ---- registry ----------------------------------------------------------------

TEST(ConnectorRegistry, FindsByFullSimpleAndPrunedName) {
  const ConnectorPlugin* full =
      find_connector_plugin("org.apache.kafka.connect.file.FileStreamSourceConnector");
  ASSERT_NE(full, nullptr);
  EXPECT_EQ(full->type, ConnectorType::source);
  EXPECT_EQ(find_connector_plugin("FileStreamSourceConnector"), full);
  EXPECT_EQ(find_connector_plugin("FileStreamSource"), full);

  const ConnectorPlugin* sink = find_connector_plugin("FileStreamSink");
  ASSERT_NE(sink, nullptr);
  EXPECT_EQ(sink->class_name, "org.apache.kafka.connect.file.FileStreamSinkConnector");
  EXPECT_EQ(sink->type, ConnectorType::sink);

  const ConnectorPlugin* datagen = find_connector_plugin("DatagenConnector");
  ASSERT_NE(datagen, nullptr);
  EXPECT_EQ(datagen->class_name, "io.confluent.kafka.connect.datagen.DatagenConnector");
  EXPECT_EQ(find_connector_plugin("Datagen"), datagen);
  EXPECT_EQ(find_connector_plugin("io.confluent.kafka.connect.datagen.DatagenConnector"), datagen);
}

TEST(ConnectorRegistry, UnknownNamesFindNothing) {
  EXPECT_EQ(find_connector_plugin("NoSuchConnector"), nullptr);
  EXPECT_EQ(find_connector_plugin(""), nullptr);
  EXPECT_EQ(find_connector_plugin("filestreamsource"), nullptr);  // case-sensitive, as Kafka
  EXPECT_EQ(find_connector_plugin("file.FileStreamSourceConnector"), nullptr);
  EXPECT_EQ(find_connector_plugin("Connector"), nullptr);
}

TEST(ConnectorRegistry, EveryPluginMakesItsTypeOfConnector) {
  ASSERT_EQ(connector_plugins().size(), 8u);
  for (const ConnectorPlugin& plugin : connector_plugins()) {
    auto connector = plugin.make();
    ASSERT_NE(connector, nullptr) << plugin.class_name;
    EXPECT_EQ(connector->type(), plugin.type) << plugin.class_name;
    EXPECT_FALSE(plugin.version.empty());
    if (plugin.type == ConnectorType::source) {
      EXPECT_NE(connector->make_source_task(), nullptr) << plugin.class_name;
    } else {
      EXPECT_NE(connector->make_sink_task(), nullptr) << plugin.class_name;
    }
  }
}

// ---- file source ---------------------------------------------------------------

const ConfigKey* find_key(const std::vector<ConfigKey>& keys, const std::string& name) {
  for (const ConfigKey& key : keys) {
    if (key.name == name) return &key;
  }
  return nullptr;
}

TEST(FileStreamSource, KafkasConfigKeys) {
  auto connector = make_connector("FileStreamSource");
  const std::vector<ConfigKey> keys = connector->config_keys();
  ASSERT_NE(find_key(keys, "file"), nullptr);
  EXPECT_FALSE(find_key(keys, "file")->required);
  ASSERT_NE(find_key(keys, "topic"), nullptr);
  EXPECT_TRUE(find_key(keys, "topic")->required);
  ASSERT_NE(find_key(keys, "batch.size"), nullptr);
  EXPECT_EQ(find_key(keys, "batch.size")->default_value, "2000");

  Status missing = connector->start({{"file", "/tmp/x"}});
  EXPECT_EQ(missing.message(),
            "Missing required configuration \"topic\" which has no default value.");
  Status empty = connector->start({{"topic", ""}});
  EXPECT_EQ(empty.message(), "Invalid value  for configuration topic: String must be non-empty");
}

TEST(FileStreamSource, OneTaskWithTheWholeConfiguration) {
  auto connector = make_connector("FileStreamSource");
  const Properties config{{"topic", "lines"}, {"file", "/tmp/a"}, {"name", "src"}};
  ASSERT_TRUE(connector->start(config).is_ok());
  EXPECT_EQ(connector->task_configs(4), std::vector<Properties>{config});
  EXPECT_EQ(connector->task_configs(1), std::vector<Properties>{config});
}

TEST_F(ConnectorsTest, FileSourceReadsLinesWithKafkasOffsets) {
  const std::string file = path("in.txt");
  append(file, "one\ntwo\r\nthree\rfour");
  MemoryOffsets offsets;
  auto task = start_source("FileStreamSource", {{"topic", "lines"}, {"file", file}}, offsets);
  std::vector<ConnectRecord> records = poll_ok(*task);
  // "four" has no line end yet; "three\r" is complete: the byte after its
  // \r is not \n.
  ASSERT_EQ(values_of(records), (std::vector<std::string>{"one", "two", "three"}));
  EXPECT_EQ(position_of(records[0]), 4);
  EXPECT_EQ(position_of(records[1]), 9);
  EXPECT_EQ(position_of(records[2]), 15);
  const ConnectRecord& first = records[0];
  EXPECT_EQ(first.topic, "lines");
  EXPECT_FALSE(first.kafka_partition.has_value());
  EXPECT_EQ(first.key_schema, nullptr);
  EXPECT_TRUE(first.key.is_null());
  ASSERT_NE(first.value_schema, nullptr);
  EXPECT_EQ(first.value_schema->type, SchemaType::string);
  EXPECT_FALSE(first.value_schema->optional);
  EXPECT_TRUE(first.timestamp.has_value());
  const auto& origin = std::get<SourceOrigin>(first.origin);
  EXPECT_EQ(origin.source_partition, (Map{MapEntry{Value("filename"), Value(file)}}));

  append(file, "\n");
  records = poll_ok(*task);
  ASSERT_EQ(values_of(records), std::vector<std::string>{"four"});
  EXPECT_EQ(position_of(records[0]), 20);
  EXPECT_TRUE(poll_ok(*task).empty());
}

TEST_F(ConnectorsTest, FileSourceCarriageReturnLastWaitsForItsLineFeed) {
  const std::string file = path("crlf.txt");
  append(file, "a\r");
  MemoryOffsets offsets;
  auto task = start_source("FileStreamSource", {{"topic", "t"}, {"file", file}}, offsets);
  EXPECT_TRUE(poll_ok(*task).empty());
  append(file, "\nb\n");
  std::vector<ConnectRecord> records = poll_ok(*task);
  ASSERT_EQ(values_of(records), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(position_of(records[0]), 3);
  EXPECT_EQ(position_of(records[1]), 5);
}

TEST_F(ConnectorsTest, FileSourceResumesFromTheStoredOffset) {
  const std::string file = path("resume.txt");
  append(file, "one\ntwo\nthree\n");
  MemoryOffsets offsets;
  offsets.stored.push_back({Map{MapEntry{Value("filename"), Value(file)}},
                            Map{MapEntry{Value("position"), Value(int64_t{4})}}});
  auto task = start_source("FileStreamSource", {{"topic", "t"}, {"file", file}}, offsets);
  std::vector<ConnectRecord> records = poll_ok(*task);
  ASSERT_EQ(values_of(records), (std::vector<std::string>{"two", "three"}));
  EXPECT_EQ(position_of(records[0]), 8);
  EXPECT_EQ(position_of(records[1]), 14);
}

TEST_F(ConnectorsTest, FileSourceStoredOffsetBeyondTheFileStartsOver) {
  const std::string file = path("shorter.txt");
  append(file, "new\n");
  MemoryOffsets offsets;
  offsets.stored.push_back({Map{MapEntry{Value("filename"), Value(file)}},
                            Map{MapEntry{Value("position"), Value(int64_t{400})}}});
  auto task = start_source("FileStreamSource", {{"topic", "t"}, {"file", file}}, offsets);
  EXPECT_EQ(values_of(poll_ok(*task)), std::vector<std::string>{"new"});
}

TEST_F(ConnectorsTest, FileSourceRefusesAStoredPositionOfAnotherType) {
  MemoryOffsets offsets;
  const std::string file = path("x.txt");
  offsets.stored.push_back({Map{MapEntry{Value("filename"), Value(file)}},
                            Map{MapEntry{Value("position"), Value("12")}}});
  auto connector = make_connector("FileStreamSource");
  auto task = connector->make_source_task();
  Status started = task->start({{"topic", "t"}, {"file", file}}, offsets);
  EXPECT_EQ(started.message(), "Offset position is the incorrect type");
}

TEST_F(ConnectorsTest, FileSourceHandsOutAtMostBatchSize) {
  const std::string file = path("batch.txt");
  std::string text;
  for (int i = 0; i < 10; ++i) text += "line" + std::to_string(i) + "\n";
  append(file, text);
  MemoryOffsets offsets;
  auto task = start_source("FileStreamSource",
                           {{"topic", "t"}, {"file", file}, {"batch.size", "4"}}, offsets);
  EXPECT_EQ(poll_ok(*task).size(), 4u);
  std::vector<ConnectRecord> second = poll_ok(*task);
  ASSERT_EQ(second.size(), 4u);
  EXPECT_EQ(second[0].value.to_string(), "line4");
  std::vector<ConnectRecord> last = poll_ok(*task);
  ASSERT_EQ(values_of(last), (std::vector<std::string>{"line8", "line9"}));
  EXPECT_EQ(position_of(last[1]), static_cast<int64_t>(text.size()));
}

TEST_F(ConnectorsTest, FileSourceFollowsARotation) {
  const std::string file = path("app.log");
  append(file, "old1\n");
  MemoryOffsets offsets;
  auto task = start_source("FileStreamSource", {{"topic", "t"}, {"file", file}}, offsets);
  EXPECT_EQ(values_of(poll_ok(*task)), std::vector<std::string>{"old1"});
  // The writer's last lines go to the old file, then it is rotated away
  // and a new file takes the path.
  append(file, "old2\nold-partial");
  fs::rename(file, path("app.log.1"));
  append(file, "new1\nnew2\n");
  std::vector<ConnectRecord> records = poll_until(*task, 4);
  ASSERT_EQ(values_of(records), (std::vector<std::string>{"old2", "old-partial", "new1", "new2"}));
  EXPECT_EQ(position_of(records[1]), 21);  // the old file's end
  EXPECT_EQ(position_of(records[2]), 5);   // the new file, from 0
  EXPECT_EQ(position_of(records[3]), 10);
}

TEST_F(ConnectorsTest, FileSourceKeepsReadingARenamedFileUntilTheNewOneAppears) {
  const std::string file = path("moved.log");
  append(file, "a\n");
  MemoryOffsets offsets;
  auto task = start_source("FileStreamSource", {{"topic", "t"}, {"file", file}}, offsets);
  EXPECT_EQ(values_of(poll_ok(*task)), std::vector<std::string>{"a"});
  fs::rename(file, path("moved.log.1"));
  append(path("moved.log.1"), "b\n");
  EXPECT_EQ(values_of(poll_ok(*task)), std::vector<std::string>{"b"});
  append(file, "c\n");
  EXPECT_EQ(values_of(poll_until(*task, 1)), std::vector<std::string>{"c"});
}

TEST_F(ConnectorsTest, FileSourceStartsOverAfterATruncation) {
  const std::string file = path("trunc.log");
  append(file, "first line\nsecond line\n");
  MemoryOffsets offsets;
  auto task = start_source("FileStreamSource", {{"topic", "t"}, {"file", file}}, offsets);
  EXPECT_EQ(poll_ok(*task).size(), 2u);
  fs::resize_file(file, 0);
  append(file, "x\n");
  std::vector<ConnectRecord> records = poll_until(*task, 1);
  ASSERT_EQ(values_of(records), std::vector<std::string>{"x"});
  EXPECT_EQ(position_of(records[0]), 2);
}

TEST_F(ConnectorsTest, FileSourceWaitsForAFileThatDoesNotExistYet) {
  const std::string file = path("later.txt");
  MemoryOffsets offsets;
  auto task = start_source("FileStreamSource", {{"topic", "t"}, {"file", file}}, offsets);
  auto polled = task->poll(60ms);
  ASSERT_TRUE(polled.is_ok()) << polled.status().message();
  EXPECT_TRUE(polled->empty());
  append(file, "here\n");
  EXPECT_EQ(values_of(poll_until(*task, 1)), std::vector<std::string>{"here"});
}

TEST_F(ConnectorsTest, FileSourcePollReturnsWithinItsMaxWait) {
  const std::string file = path("idle.txt");
  append(file, "");
  MemoryOffsets offsets;
  auto task = start_source("FileStreamSource", {{"topic", "t"}, {"file", file}}, offsets);
  const auto started = std::chrono::steady_clock::now();
  EXPECT_TRUE(poll_ok(*task, 200ms).empty());
  const auto waited = std::chrono::steady_clock::now() - started;
  EXPECT_GE(waited, 190ms);
  EXPECT_LT(waited, 600ms);
}

TEST_F(ConnectorsTest, FileSourceReturnsAsSoonAsALineArrives) {
  const std::string file = path("arrives.txt");
  append(file, "");
  MemoryOffsets offsets;
  auto task = start_source("FileStreamSource", {{"topic", "t"}, {"file", file}}, offsets);
  std::thread writer([&] {
    std::this_thread::sleep_for(100ms);
    append(file, "late\n");
  });
  const auto started = std::chrono::steady_clock::now();
  std::vector<ConnectRecord> records = poll_ok(*task, 5s);
  writer.join();
  EXPECT_EQ(values_of(records), std::vector<std::string>{"late"});
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
}

TEST_F(ConnectorsTest, FileSourceStopWakesABlockedPoll) {
  MemoryOffsets offsets;
  auto task =
      start_source("FileStreamSource", {{"topic", "t"}, {"file", path("never.txt")}}, offsets);
  std::thread stopper([&] {
    std::this_thread::sleep_for(100ms);
    task->stop();
  });
  const auto started = std::chrono::steady_clock::now();
  EXPECT_TRUE(poll_ok(*task, 10s).empty());
  stopper.join();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 1s);
}

// ---- file sink -------------------------------------------------------------------

std::unique_ptr<SinkTask> start_sink(const Properties& config) {
  auto connector = make_connector("FileStreamSinkConnector");
  EXPECT_TRUE(connector->start(config).is_ok());
  auto task = connector->make_sink_task();
  Status started = task->start(connector->task_configs(1).at(0));
  EXPECT_TRUE(started.is_ok()) << started.message();
  return task;
}

TEST(FileStreamSink, KafkasConfigKeysAndTasks) {
  auto connector = make_connector("org.apache.kafka.connect.file.FileStreamSinkConnector");
  const std::vector<ConfigKey> keys = connector->config_keys();
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_EQ(keys[0].name, "file");
  EXPECT_FALSE(keys[0].required);
  EXPECT_FALSE(keys[0].default_value.has_value());  // null: standard output
  const Properties config{{"file", "/tmp/out"}, {"topics", "a,b"}};
  ASSERT_TRUE(connector->start(config).is_ok());
  EXPECT_EQ(connector->task_configs(3), std::vector<Properties>(3, config));
}

TEST_F(ConnectorsTest, FileSinkWritesEachValueOnALine) {
  const std::string file = path("out.txt");
  auto task = start_sink({{"file", file}, {"topics", "t"}});
  SchemaPtr schema = SchemaBuilder::structure()
                         .field("id", primitive_schema(SchemaType::int32))
                         .field("name", primitive_schema(SchemaType::string))
                         .build_or_die();
  Struct row(schema);
  ASSERT_TRUE(row.put("id", int32_t{7}).is_ok());
  ASSERT_TRUE(row.put("name", "x").is_ok());
  std::vector<ConnectRecord> records;
  records.push_back(make_sink_record("t", 0, nullptr, Value(), nullptr, Value("hello"), 0));
  records.push_back(make_sink_record("t", 0, nullptr, Value(), nullptr, Value(int64_t{42}), 1));
  records.push_back(make_sink_record("t", 0, nullptr, Value(), nullptr, Value(), 2));
  records.push_back(make_sink_record("t", 0, nullptr, Value(), schema, Value(row), 3));
  ASSERT_TRUE(task->put(std::move(records)).is_ok());
  // put() hands the lines to the kernel: a reader sees them before flush.
  EXPECT_EQ(read_all(file), "hello\n42\nnull\nStruct{id=7,name=x}\n");
  Status flushed = task->flush();
  EXPECT_TRUE(flushed.is_ok()) << flushed.message();
  task->stop();
}

TEST_F(ConnectorsTest, FileSinkAppendsToWhatIsThere) {
  const std::string file = path("existing.txt");
  append(file, "before\n");
  auto task = start_sink({{"file", file}});
  std::vector<ConnectRecord> records;
  records.push_back(make_sink_record("t", 0, nullptr, Value(), nullptr, Value("after"), 0));
  ASSERT_TRUE(task->put(std::move(records)).is_ok());
  ASSERT_TRUE(task->flush().is_ok());
  EXPECT_EQ(read_all(file), "before\nafter\n");
}

TEST_F(ConnectorsTest, FileSinkOnAFullDiskAnswersARetriableError) {
  // /dev/full: every write fails with ENOSPC.
  auto task = start_sink({{"file", "/dev/full"}});
  std::vector<ConnectRecord> records;
  records.push_back(make_sink_record("t", 0, nullptr, Value(), nullptr, Value("lost?"), 0));
  Status put = task->put(std::move(records));
  ASSERT_FALSE(put.is_ok());
  EXPECT_TRUE(is_retriable(put)) << put.message();
  EXPECT_EQ(put.message().rfind("Couldn't write to /dev/full: ", 0), 0u) << put.message();
  task->stop();
}

TEST_F(ConnectorsTest, FileSinkCannotCreateItsFile) {
  auto connector = make_connector("FileStreamSink");
  auto task = connector->make_sink_task();
  const std::string file = path("no/such/dir/out.txt");
  Status started = task->start({{"file", file}});
  ASSERT_FALSE(started.is_ok());
  EXPECT_EQ(started.message().rfind(
                "Couldn't find or create file '" + file + "' for FileStreamSinkTask", 0),
            0u)
      << started.message();
}

// ---- datagen ---------------------------------------------------------------------

Properties datagen_config(const std::string& quickstart) {
  return {{"kafka.topic", "demo"}, {"quickstart", quickstart}, {"max.interval", "0"}};
}

TEST(Datagen, ConfigKeysAndSchemaSource) {
  auto connector = make_connector("Datagen");
  const std::vector<ConfigKey> keys = connector->config_keys();
  for (const char* name : {"kafka.topic", "max.interval", "iterations", "schema.string",
                           "schema.filename", "schema.keyfield", "quickstart", "random.seed"}) {
    EXPECT_NE(find_key(keys, name), nullptr) << name;
  }
  EXPECT_TRUE(find_key(keys, "kafka.topic")->required);
  EXPECT_EQ(find_key(keys, "max.interval")->default_value, "500");
  EXPECT_EQ(find_key(keys, "iterations")->default_value, "-1");

  EXPECT_EQ(connector->start({{"quickstart", "users"}}).message(),
            "Missing required configuration \"kafka.topic\" which has no default value.");
  EXPECT_EQ(connector->start({{"kafka.topic", "t"}}).message(),
            "Must set exactly one of schema.string, schema.filename, quickstart");
  EXPECT_EQ(connector->start({{"kafka.topic", "t"}, {"quickstart", "nope"}}).message(),
            "Invalid value nope for configuration quickstart: Unknown quickstart; this datagen "
            "has: clickstream, clickstream_users, pageviews, users");
  EXPECT_EQ(
      connector->start({{"kafka.topic", "t"}, {"quickstart", "users"}, {"random.seed", "abc"}})
          .message(),
      "Invalid value abc for configuration random.seed: Not a number of type LONG");
  EXPECT_FALSE(
      connector->start({{"kafka.topic", "t"}, {"quickstart", "users"}, {"schema.string", "{}"}})
          .is_ok());
  EXPECT_TRUE(connector->start({{"kafka.topic", "t"}, {"quickstart", "USERS"}}).is_ok());
}

TEST(Datagen, TaskConfigsNumberTheTasks) {
  auto connector = make_connector("DatagenConnector");
  ASSERT_TRUE(connector->start(datagen_config("users")).is_ok());
  std::vector<Properties> tasks = connector->task_configs(3);
  ASSERT_EQ(tasks.size(), 3u);
  for (size_t i = 0; i < tasks.size(); ++i) {
    EXPECT_EQ(tasks[i].at("task.id"), std::to_string(i));
    EXPECT_EQ(tasks[i].at("quickstart"), "users");
  }
}

void expect_fields(const ConnectRecord& record, const std::string& schema_name,
                   const std::vector<std::pair<std::string, SchemaType>>& fields) {
  ASSERT_NE(record.value_schema, nullptr);
  EXPECT_EQ(record.value_schema->type, SchemaType::structure);
  EXPECT_EQ(record.value_schema->name, schema_name);
  ASSERT_EQ(record.value_schema->fields.size(), fields.size());
  for (size_t i = 0; i < fields.size(); ++i) {
    EXPECT_EQ(record.value_schema->fields[i].name, fields[i].first);
    EXPECT_EQ(record.value_schema->fields[i].schema->type, fields[i].second) << fields[i].first;
  }
  ASSERT_TRUE(record.value.is<Struct>());
  EXPECT_TRUE(record.value.as<Struct>().validate().is_ok());
  ASSERT_NE(record.key_schema, nullptr);
  EXPECT_EQ(record.key_schema->type, SchemaType::string);
  ASSERT_TRUE(record.key.is<std::string>());
  EXPECT_EQ(record.topic, "demo");
}

TEST(Datagen, ClickstreamShape) {
  MemoryOffsets offsets;
  auto task = start_source("Datagen", datagen_config("clickstream"), offsets);
  std::vector<ConnectRecord> records = poll_ok(*task);
  ASSERT_FALSE(records.empty());
  const ConnectRecord& record = records[0];
  expect_fields(record, "ksql.clickstream",
                {{"ip", SchemaType::string},
                 {"userid", SchemaType::int32},
                 {"remote_user", SchemaType::string},
                 {"time", SchemaType::string},
                 {"_time", SchemaType::int64},
                 {"request", SchemaType::string},
                 {"status", SchemaType::string},
                 {"bytes", SchemaType::string},
                 {"referrer", SchemaType::string},
                 {"agent", SchemaType::string}});
  const Struct& row = record.value.as<Struct>();
  EXPECT_EQ(record.key.as<std::string>(), row.get("userid")->to_string());
  EXPECT_EQ(row.get("request")->as<std::string>().rfind("GET /", 0), 0u);
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  EXPECT_NEAR(static_cast<double>(row.get("_time")->as<int64_t>()), static_cast<double>(now_ms),
              5000.0);
  EXPECT_EQ(record.timestamp, row.get("_time")->as<int64_t>());
}

TEST(Datagen, PageviewsAndUsersShapes) {
  MemoryOffsets offsets;
  auto pageviews = start_source("Datagen", datagen_config("pageviews"), offsets);
  std::vector<ConnectRecord> views = poll_ok(*pageviews);
  ASSERT_FALSE(views.empty());
  expect_fields(views[0], "ksql.pageviews",
                {{"viewtime", SchemaType::int64},
                 {"userid", SchemaType::string},
                 {"pageid", SchemaType::string}});
  const Struct& view = views[0].value.as<Struct>();
  EXPECT_EQ(views[0].key.as<std::string>(), view.get("userid")->as<std::string>());
  EXPECT_EQ(view.get("pageid")->as<std::string>().rfind("Page_", 0), 0u);

  auto users = start_source("Datagen", datagen_config("users"), offsets);
  std::vector<ConnectRecord> rows = poll_ok(*users);
  ASSERT_FALSE(rows.empty());
  expect_fields(rows[0], "ksql.users",
                {{"registertime", SchemaType::int64},
                 {"userid", SchemaType::string},
                 {"regionid", SchemaType::string},
                 {"gender", SchemaType::string}});
  EXPECT_EQ(rows[0].key.as<std::string>().rfind("User_", 0), 0u);
}

// clickstream_users: keyed by user_id, which cycles through the clickstream's
// user ids 1..40 (every clicking user is described, then updated), each
// user keeping one name.
TEST(Datagen, ClickstreamUsersCoverTheClickstreamsUsers) {
  MemoryOffsets offsets;
  Properties config = datagen_config("clickstream_users");
  config["iterations"] = "85";
  auto task = start_source("Datagen", config, offsets);
  std::vector<ConnectRecord> records = poll_until(*task, 85);
  ASSERT_EQ(records.size(), 85u);
  expect_fields(records[0], "ksql.clickstream_users",
                {{"user_id", SchemaType::int32},
                 {"username", SchemaType::string},
                 {"registered_at", SchemaType::int64},
                 {"first_name", SchemaType::string},
                 {"last_name", SchemaType::string},
                 {"city", SchemaType::string},
                 {"level", SchemaType::string}});
  std::map<int32_t, std::string> names;
  for (size_t i = 0; i < records.size(); ++i) {
    const Struct& row = records[i].value.as<Struct>();
    const int32_t user_id = row.get("user_id")->as<int32_t>();
    EXPECT_EQ(user_id, static_cast<int32_t>(1 + i % 40));
    EXPECT_EQ(records[i].key.as<std::string>(), std::to_string(user_id));
    const std::string username = row.get("username")->as<std::string>();
    EXPECT_EQ(username, row.get("first_name")->as<std::string>() + "_" +
                            row.get("last_name")->as<std::string>());
    auto [known, inserted] = names.emplace(user_id, username);
    EXPECT_EQ(known->second, username) << "user " << user_id << " changed name";
  }
  std::set<std::string> distinct;
  for (const auto& [id, name] : names) distinct.insert(name);
  EXPECT_EQ(distinct.size(), 40u);
}

TEST(Datagen, KeyFieldSetting) {
  MemoryOffsets offsets;
  Properties config = datagen_config("pageviews");
  config["schema.keyfield"] = "pageid";
  auto task = start_source("Datagen", config, offsets);
  std::vector<ConnectRecord> records = poll_ok(*task);
  ASSERT_FALSE(records.empty());
  EXPECT_EQ(records[0].key.as<std::string>(),
            records[0].value.as<Struct>().get("pageid")->as<std::string>());

  auto connector = make_connector("Datagen");
  auto bad = connector->make_source_task();
  config["schema.keyfield"] = "nope";
  EXPECT_FALSE(bad->start(config, offsets).is_ok());
}

std::vector<std::string> users_values(const Properties& config, size_t count) {
  MemoryOffsets offsets;
  auto connector = make_connector("Datagen");
  auto task = connector->make_source_task();
  EXPECT_TRUE(task->start(config, offsets).is_ok());
  std::vector<std::string> values;
  while (values.size() < count) {
    for (const ConnectRecord& record : poll_ok(*task)) values.push_back(record.value.to_string());
  }
  values.resize(count);
  return values;
}

TEST(Datagen, SeedMakesRunsRepeatAndTasksDiffer) {
  Properties config = datagen_config("users");
  config["random.seed"] = "42";
  const std::vector<std::string> first = users_values(config, 50);
  EXPECT_EQ(users_values(config, 50), first);
  config["task.id"] = "1";
  EXPECT_NE(users_values(config, 50), first);
  config["task.id"] = "0";
  config["random.seed"] = "43";
  EXPECT_NE(users_values(config, 50), first);
}

TEST(Datagen, IterationsStopTheTask) {
  MemoryOffsets offsets;
  Properties config = datagen_config("pageviews");
  config["iterations"] = "5";
  auto task = start_source("Datagen", config, offsets);
  std::vector<ConnectRecord> records = poll_ok(*task);
  ASSERT_EQ(records.size(), 5u);
  const auto started = std::chrono::steady_clock::now();
  EXPECT_TRUE(poll_ok(*task, 50ms).empty());
  EXPECT_GE(std::chrono::steady_clock::now() - started, 45ms);
}

TEST(Datagen, BatchesAreBoundedWithoutAnInterval) {
  MemoryOffsets offsets;
  auto task = start_source("Datagen", datagen_config("pageviews"), offsets);
  EXPECT_EQ(poll_ok(*task).size(), 1000u);
}

TEST(Datagen, MaxIntervalPacesRecords) {
  MemoryOffsets offsets;
  Properties config = datagen_config("pageviews");
  config["max.interval"] = "100";
  auto task = start_source("Datagen", config, offsets);
  size_t generated = 0;
  const auto started = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - started < 500ms)
    generated += poll_ok(*task, 50ms).size();
  // Uniform delays in [0, 100) ms: about ten in half a second, never hundreds.
  EXPECT_GE(generated, 2u);
  EXPECT_LE(generated, 60u);
}

TEST(Datagen, OffsetsContinueTheIterationCountAndSequence) {
  Properties config = datagen_config("users");
  config["random.seed"] = "7";
  config["iterations"] = "6";
  MemoryOffsets offsets;
  auto first = start_source("Datagen", config, offsets);
  std::vector<ConnectRecord> records = poll_ok(*first);
  ASSERT_EQ(records.size(), 6u);
  const auto& origin = std::get<SourceOrigin>(records[2].origin);
  EXPECT_EQ(origin.source_partition, (Map{MapEntry{Value("task.id"), Value(int32_t{0})}}));
  EXPECT_EQ(*map_find(origin.source_offset, "current.iteration"), Value(int64_t{3}));
  EXPECT_EQ(*map_find(origin.source_offset, "task.generation"), Value(int64_t{1}));
  ASSERT_EQ(records[2].headers.size(), 3u);
  EXPECT_EQ(records[2].headers[2].key, "current.iteration");
  EXPECT_EQ(records[2].headers[2].value, Value(int64_t{2}));

  // A restart after the third record was committed makes the last three.
  MemoryOffsets committed;
  committed.stored.push_back({origin.source_partition, origin.source_offset});
  auto second = start_source("Datagen", config, committed);
  std::vector<ConnectRecord> rest = poll_ok(*second);
  ASSERT_EQ(rest.size(), 3u);
  for (size_t i = 0; i < rest.size(); ++i) {
    EXPECT_EQ(rest[i].value.to_string(), records[3 + i].value.to_string()) << i;
  }
  const auto& resumed = std::get<SourceOrigin>(rest[0].origin);
  EXPECT_EQ(*map_find(resumed.source_offset, "task.generation"), Value(int64_t{2}));
  EXPECT_EQ(*map_find(resumed.source_offset, "current.iteration"), Value(int64_t{4}));
}

TEST(Datagen, StopWakesAWaitingPoll) {
  MemoryOffsets offsets;
  Properties config = datagen_config("users");
  config["iterations"] = "1";
  auto task = start_source("Datagen", config, offsets);
  EXPECT_EQ(poll_ok(*task).size(), 1u);
  std::thread stopper([&] {
    std::this_thread::sleep_for(100ms);
    task->stop();
  });
  const auto started = std::chrono::steady_clock::now();
  EXPECT_TRUE(poll_ok(*task, 10s).empty());
  stopper.join();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 1s);
}

}  // namespace
}  // namespace sluice::connect
