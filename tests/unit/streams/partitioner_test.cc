// Kafka's StreamPartitioner on to() and repartition(): each record goes to
// the partitions the partitioner names out of the topic's count (std::nullopt:
// the producer's default, an empty set: dropped and counted, several: a copy
// on each), an answer out of range stops processing with Kafka's message; the
// test driver, as Kafka's, has one partition per topic.

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "streams/dsl.h"
#include "streams/task.h"
#include "streams/test_driver.h"

namespace sluice::streams::partitioner_test {
namespace {

// What a task sends, by topic, with each topic's partition count.
class Collected final : public RecordCollector {
 public:
  void send(SerializedRecord record) override { sent[record.topic].push_back(std::move(record)); }
  int32_t partition_count(const std::string& topic) override {
    ++lookups;
    auto known = partitions.find(topic);
    if (known == partitions.end()) throw StreamsError("no topic " + topic);
    return known->second;
  }
  std::map<std::string, int32_t> partitions;
  std::map<std::string, std::vector<SerializedRecord>> sent;
  int lookups = 0;
};

// The value says where a record goes: "drop", "all", "default", "beyond"
// (one past the last partition), else the key's length modulo the count.
std::optional<std::set<int32_t>> by_value(const std::string&, const std::string& key,
                                          const std::string& value, int32_t count) {
  if (value == "drop") return std::set<int32_t>{};
  if (value == "default") return std::nullopt;
  if (value == "beyond") return std::set<int32_t>{count};
  if (value == "all") {
    std::set<int32_t> all;
    for (int32_t partition = 0; partition < count; ++partition) all.insert(partition);
    return all;
  }
  return std::set<int32_t>{static_cast<int32_t>(key.size()) % count};
}

SerializedRecord click(const std::string& key, const std::string& value, int64_t offset) {
  SerializedRecord record;
  record.topic = "clicks";
  record.partition = 0;
  record.offset = offset;
  record.timestamp = offset;
  record.key = key;
  record.value = value;
  return record;
}

struct RoutedTask {
  explicit RoutedTask(Topology built) : topology(std::move(built)) {
    collector.partitions = {{"routed", 3}, {"app-moved-repartition", 3}};
    TaskSettings settings;
    settings.application_id = "app";
    task = std::make_unique<Task>(topology, std::vector<std::string>{}, settings, collector);
  }
  // (key, partition) of what went to `topic`.
  std::vector<std::pair<std::string, int32_t>> placed(const std::string& topic) {
    std::vector<std::pair<std::string, int32_t>> out;
    for (const SerializedRecord& record : collector.sent[topic]) {
      out.emplace_back(*record.key, record.partition);
    }
    return out;
  }
  Topology topology;
  Collected collector;
  std::unique_ptr<Task> task;
};

Consumed<std::string, std::string> strings() { return {serdes::string(), serdes::string()}; }

TEST(StreamsPartitioner, ToSendsWhereThePartitionerSays) {
  StreamsBuilder builder;
  builder.stream("clicks", strings())
      .to("routed", Produced{serdes::string(), serdes::string()}.with_stream_partitioner(by_value));
  RoutedTask runtime(builder.build());
  int64_t offset = 0;
  for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{
           {"ann", "x"}, {"bo", "x"}, {"cy", "all"}, {"dee", "drop"}, {"ed", "default"}}) {
    runtime.task->process(click(key, value, offset++));
  }
  using Placed = std::vector<std::pair<std::string, int32_t>>;
  EXPECT_EQ(runtime.placed("routed"),
            (Placed{{"ann", 0}, {"bo", 2}, {"cy", 0}, {"cy", 1}, {"cy", 2}, {"ed", -1}}));
  EXPECT_EQ(runtime.task->skipped_records(), 1);
  EXPECT_EQ(runtime.task->metrics()->dropped.value(), 1);
}

TEST(StreamsPartitioner, APartitionOutOfRangeStopsWithKafkasMessage) {
  StreamsBuilder builder;
  builder.stream("clicks", strings()).to("routed", by_value);  // the stream's own serdes
  RoutedTask runtime(builder.build());
  try {
    runtime.task->process(click("ann", "beyond", 0));
    FAIL() << "a partition beyond the topic's count was sent";
  } catch (const StreamsError& e) {
    EXPECT_NE(std::string(e.what()).find(
                  "Invalid partition given with record: 3 is not in the range [0...3]"),
              std::string::npos)
        << e.what();
  }
  EXPECT_TRUE(runtime.placed("routed").empty());
}

TEST(StreamsPartitioner, AnUnknownTopicStopsProcessing) {
  StreamsBuilder builder;
  builder.stream("clicks", strings()).to("nowhere", by_value);
  RoutedTask runtime(builder.build());
  EXPECT_THROW(runtime.task->process(click("ann", "x", 0)), StreamsError);
}

TEST(StreamsPartitioner, RepartitionWritesWhereThePartitionerSays) {
  StreamsBuilder builder;
  builder.stream("clicks", strings())
      .select_key([](const std::string&, const std::string& value) { return value; })
      .repartition("moved",
                   Produced{serdes::string(), serdes::string()}.with_stream_partitioner(by_value))
      .to("out", Produced{serdes::string(), serdes::string()});
  RoutedTask runtime(builder.build());
  runtime.task->process(click("ann", "x", 0));
  runtime.task->process(click("bo", "yyyy", 1));
  // The new key is the value: "x" (length 1), "yyyy" (length 4 -> 1).
  EXPECT_EQ(runtime.placed("app-moved-repartition"),
            (std::vector<std::pair<std::string, int32_t>>{{"x", 1}, {"yyyy", 1}}));
  // Sinks without a partitioner do not ask for partition counts.
  EXPECT_EQ(runtime.collector.lookups, 2);
}

TEST(StreamsPartitioner, TheTestDriverHasOnePartitionPerTopic) {
  StreamsBuilder builder;
  std::vector<int32_t> counts;
  builder.stream("clicks", strings())
      .to("routed", Produced{serdes::string(), serdes::string()}.with_stream_partitioner(
                        [&counts](const std::string& topic, const std::string& key,
                                  const std::string& value, int32_t count) {
                          counts.push_back(count);
                          return by_value(topic, key, value, count);
                        }));
  TopologyTestDriver driver(builder.build());
  auto in = driver.create_input_topic("clicks", serdes::string(), serdes::string());
  in.pipe_input("ann", "x");
  in.pipe_input("bo", "drop");
  in.pipe_input("cy", "all");
  auto out = driver.create_output_topic("routed", serdes::string(), serdes::string());
  std::vector<std::string> keys;
  while (!out.is_empty()) keys.push_back(out.read_record().key);
  EXPECT_EQ(keys, (std::vector<std::string>{"ann", "cy"}));
  EXPECT_EQ(counts, (std::vector<int32_t>{1, 1, 1}));
}

}  // namespace
}  // namespace sluice::streams::partitioner_test
