// The Processor API through the test driver: nodes, stores, punctuations,
// and the errors Kafka's Topology gives for topologies that cannot run.

#include "streams/topology.h"

#include <gtest/gtest.h>

#include "streams/test_driver.h"

namespace sluice::streams {
namespace {

// Counts words per key in a store, forwards the running count, and on each
// punctuation forwards every count with key "total:<word>".
class CountingProcessor final : public Processor<std::string, std::string, std::string, int64_t> {
 public:
  CountingProcessor(PunctuationType type, std::vector<int64_t>* punctuations)
      : type_(type), punctuations_(punctuations) {}
  void init(ProcessorContext<std::string, int64_t>& context) override {
    context_ = &context;
    store_ = &context.get_state_store<KeyValueStore<std::string, int64_t>>("counts");
    context.schedule(std::chrono::milliseconds(10), type_, [this](int64_t timestamp) {
      punctuations_->push_back(timestamp);
      EXPECT_FALSE(context_->record_metadata().has_value());
      for (auto& [word, count] : store_->all()) {
        context_->forward(Record<std::string, int64_t>{"total:" + word, count, timestamp, {}});
      }
    });
  }
  void process(const Record<std::string, std::string>& record) override {
    ASSERT_TRUE(context_->record_metadata().has_value());
    EXPECT_EQ(context_->record_metadata()->topic, "words");
    int64_t count = store_->get(record.value).value_or(0) + 1;
    store_->put(record.value, count);
    context_->forward(record.with_value(count));
  }

 private:
  PunctuationType type_;
  std::vector<int64_t>* punctuations_;
  ProcessorContext<std::string, int64_t>* context_ = nullptr;
  KeyValueStore<std::string, int64_t>* store_ = nullptr;
};

Topology counting_topology(PunctuationType type, std::vector<int64_t>* punctuations) {
  Topology topology;
  topology.add_source("source", serdes::string(), serdes::string(), {"words"});
  topology.add_processor<std::string, std::string, std::string, int64_t>(
      "counter", [=] { return std::make_unique<CountingProcessor>(type, punctuations); },
      {"source"});
  topology.add_state_store(stores::in_memory_key_value("counts", serdes::string(), serdes::long_()),
                           {"counter"});
  topology.add_sink("sink", "counts-out", serdes::string(), serdes::long_(), {"counter"});
  return topology;
}

TEST(StreamsTopology, ProcessorsUseStoresAndForward) {
  std::vector<int64_t> punctuations;
  TopologyTestDriver driver(counting_topology(PunctuationType::wall_clock_time, &punctuations));
  auto words = driver.create_input_topic("words", serdes::string(), serdes::string());
  auto out = driver.create_output_topic("counts-out", serdes::string(), serdes::long_());
  words.pipe_input("k", "a", 1);
  words.pipe_input("k", "b", 2);
  words.pipe_input("k", "a", 3);
  EXPECT_EQ(out.read_key_values_to_list(),
            (std::vector<std::pair<std::string, int64_t>>{{"k", 1}, {"k", 1}, {"k", 2}}));
  auto& counts = driver.get_key_value_store<std::string, int64_t>("counts");
  EXPECT_EQ(counts.get("a"), 2);
  // The store's changes went to its changelog, keyed by the word.
  std::deque<SerializedRecord>& changelog = driver.output("test-driver-counts-changelog");
  ASSERT_EQ(changelog.size(), 3u);
  EXPECT_EQ(changelog.back().key, "a");
  EXPECT_EQ(changelog.back().value, serdes::long_().serialize("", 2));
  EXPECT_EQ(changelog.back().timestamp, 3);
}

TEST(StreamsTopology, WallClockPunctuationsFollowTheMockClock) {
  std::vector<int64_t> punctuations;
  TopologyTestDriver driver(counting_topology(PunctuationType::wall_clock_time, &punctuations),
                            TestDriverSettings{"app", 1000});
  auto words = driver.create_input_topic("words", serdes::string(), serdes::string());
  auto out = driver.create_output_topic("counts-out", serdes::string(), serdes::long_());
  words.pipe_input("k", "a", 50);  // stream time does not drive wall-clock punctuation
  EXPECT_TRUE(punctuations.empty());
  driver.advance_wall_clock_time(std::chrono::milliseconds(9));
  EXPECT_TRUE(punctuations.empty());
  driver.advance_wall_clock_time(std::chrono::milliseconds(1));
  EXPECT_EQ(punctuations, std::vector<int64_t>{1010});
  // A long pause runs one punctuation, not every missed one (Kafka's schedule).
  driver.advance_wall_clock_time(std::chrono::milliseconds(35));
  EXPECT_EQ(punctuations, (std::vector<int64_t>{1010, 1045}));
  driver.advance_wall_clock_time(std::chrono::milliseconds(5));
  EXPECT_EQ(punctuations, (std::vector<int64_t>{1010, 1045, 1050}));
  out.read_record();  // the count of "a"
  EXPECT_EQ(out.read_key_value(), (std::pair<std::string, int64_t>{"total:a", 1}));
  EXPECT_EQ(out.read_record().timestamp, 1045);
}

TEST(StreamsTopology, StreamTimePunctuationsAreAlignedToZero) {
  std::vector<int64_t> punctuations;
  TopologyTestDriver driver(counting_topology(PunctuationType::stream_time, &punctuations));
  auto words = driver.create_input_topic("words", serdes::string(), serdes::string());
  words.pipe_input("k", "a", 3);  // the first record punctuates (schedule at 0)
  EXPECT_EQ(punctuations, std::vector<int64_t>{3});
  words.pipe_input("k", "a", 9);
  EXPECT_EQ(punctuations, std::vector<int64_t>{3});
  words.pipe_input("k", "a", 10);
  EXPECT_EQ(punctuations, (std::vector<int64_t>{3, 10}));
  words.pipe_input("k", "a", 5);  // out of order: stream time stays at 10
  EXPECT_EQ(driver.task().stream_time(), 10);
  words.pipe_input("k", "a", 47);
  EXPECT_EQ(punctuations, (std::vector<int64_t>{3, 10, 47}));
  driver.advance_wall_clock_time(std::chrono::hours(1));  // no effect on stream time
  EXPECT_EQ(punctuations.size(), 3u);
}

TEST(StreamsTopology, KafkasErrorsForTopologiesThatCannotRun) {
  Topology topology;
  topology.add_source("source", serdes::string(), serdes::string(), {"in"});
  auto message = [](auto add) {
    try {
      add();
    } catch (const TopologyError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  auto pass = [] {
    return std::make_unique<CountingProcessor>(PunctuationType::stream_time, nullptr);
  };
  EXPECT_EQ(
      message([&] { topology.add_source("source", serdes::string(), serdes::string(), {"x"}); }),
      "Invalid topology: Processor source is already added.");
  EXPECT_EQ(
      message([&] { topology.add_source("other", serdes::string(), serdes::string(), {"in"}); }),
      "Invalid topology: Topic in has already been registered by another source.");
  EXPECT_EQ(message([&] {
              topology.add_processor<std::string, std::string, std::string, int64_t>("p", pass,
                                                                                     {"nope"});
            }),
            "Invalid topology: Parent processor nope is not added yet for p");
  topology.add_sink("sink", "out", serdes::string(), serdes::string(), {"source"});
  EXPECT_EQ(message([&] {
              topology.add_processor<std::string, std::string, std::string, int64_t>("p", pass,
                                                                                     {"sink"});
            }),
            "Invalid topology: Sink sink cannot be used a parent.");
  EXPECT_EQ(message([&] { topology.connect_processor_and_state_stores("p", {"s"}); }),
            "Invalid topology: Processor p is not added yet.");
}

TEST(StreamsTopology, TypesThatDoNotConnectFailBeforeAnyRecord) {
  Topology topology;
  topology.add_source("source", serdes::string(), serdes::long_(), {"in"});  // <string, int64>
  topology.add_sink("sink", "out", serdes::string(), serdes::string(),
                    {"source"});  // <string, string>
  try {
    TopologyTestDriver driver(topology);
    FAIL() << "no error";
  } catch (const TopologyError& e) {
    EXPECT_NE(
        std::string(e.what()).find("processor sink cannot take the records its parent source"),
        std::string::npos)
        << e.what();
  }
}

TEST(StreamsTopology, AStoreNotConnectedToTheProcessorIsRefused) {
  Topology topology;
  topology.add_source("source", serdes::string(), serdes::string(), {"words"});
  topology.add_processor<std::string, std::string, std::string, int64_t>(
      "counter",
      [] { return std::make_unique<CountingProcessor>(PunctuationType::stream_time, nullptr); },
      {"source"});
  topology.add_state_store(
      stores::in_memory_key_value("counts", serdes::string(), serdes::long_()));
  EXPECT_THROW(TopologyTestDriver{topology}, TopologyError);
}

TEST(StreamsTopology, DescribeListsSubTopologies) {
  std::vector<int64_t> punctuations;
  Topology topology = counting_topology(PunctuationType::stream_time, &punctuations);
  topology.add_source("other-source", serdes::string(), serdes::string(), {"other"});
  topology.add_sink("other-sink", "other-out", serdes::string(), serdes::string(),
                    {"other-source"});
  EXPECT_EQ(topology.describe(),
            "Topologies:\n"
            "   Sub-topology: 0\n"
            "    Source: source (topics: [words])\n"
            "      --> counter\n"
            "    Processor: counter (stores: [counts])\n"
            "      --> sink\n"
            "      <-- source\n"
            "    Sink: sink (topic: counts-out)\n"
            "      <-- counter\n"
            "\n"
            "   Sub-topology: 1\n"
            "    Source: other-source (topics: [other])\n"
            "      --> other-sink\n"
            "    Sink: other-sink (topic: other-out)\n"
            "      <-- other-source\n"
            "\n");
}

TEST(StreamsTopology, DeserializationHandlers) {
  Topology topology;
  topology.add_source("source", serdes::string(), serdes::long_(), {"in"});
  topology.add_sink("sink", "out", serdes::string(), serdes::long_(), {"source"});
  {
    TopologyTestDriver driver(topology);
    SerializedRecord bad{"in", 0, -1, 1, std::nullopt, std::string("xy"), {}};
    EXPECT_THROW(driver.pipe(bad), StreamsError);
  }
  TopologyTestDriver driver(
      topology, TestDriverSettings{"app", 0, DeserializationHandling::log_and_continue});
  SerializedRecord bad{"in", 0, -1, 1, std::nullopt, std::string("xy"), {}};
  driver.pipe(bad);
  auto in = driver.create_input_topic("in", serdes::string(), serdes::long_());
  in.pipe_input("k", 7, 2);
  auto out = driver.create_output_topic("out", serdes::string(), serdes::long_());
  EXPECT_EQ(out.read_values_to_list(), std::vector<int64_t>{7});
  EXPECT_EQ(driver.task().skipped_records(), 1);
}

}  // namespace
}  // namespace sluice::streams
