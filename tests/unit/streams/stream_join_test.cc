// Windowed stream-stream joins through the test driver: results equal a
// brute-force model over random out-of-order input (every pair within the
// window, unmatched records once their window closed), and, for input
// arriving later than the grace period, a step-by-step model of Kafka's
// rules; Kafka's documented semantics table; node, store and topic names
// as Kafka 3.x describes them.

#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <tuple>

#include "streams/copartition.h"
#include "streams/dsl.h"
#include "streams/test_driver.h"

namespace sluice::streams::stream_join_test {
namespace {

using std::chrono::milliseconds;
using Value = std::optional<std::string>;
using detail::join_inner;
using detail::join_left;
using detail::join_outer;

std::string text(const std::string& value) { return value; }
template <class T>
std::string text(const std::optional<T>& value) {
  return value ? text(*value) : "null";
}

// Kafka's docs write each result as [left, right].
auto bracket_joiner() {
  return [](const auto& left, const auto& right) {
    return "[" + text(left) + ", " + text(right) + "]";
  };
}

Consumed<int32_t, Value> int_keys() {
  return {serdes::integer(), serdes::optional(serdes::string())};
}

template <int Kind>
void build_join(StreamsBuilder& builder, const JoinWindows& windows,
                StreamJoined<int32_t, Value, Value> joined = {}) {
  auto left = builder.stream("left", int_keys());
  auto right = builder.stream("right", int_keys());
  KStream<int32_t, std::string> result = [&] {
    if constexpr (Kind == join_inner) return left.join(right, bracket_joiner(), windows, joined);
    if constexpr (Kind == join_left)
      return left.left_join(right, bracket_joiner(), windows, joined);
    if constexpr (Kind == join_outer)
      return left.outer_join(right, bracket_joiner(), windows, joined);
  }();
  result.to("out", Produced{serdes::integer(), serdes::string()});
}

struct Out {
  int32_t key = 0;
  std::string value;
  int64_t timestamp = 0;
  auto operator<=>(const Out&) const = default;
};

std::ostream& operator<<(std::ostream& out, const Out& record) {
  return out << record.key << ":" << record.value << "@" << record.timestamp;
}

struct In {
  bool left = true;
  int32_t key = 0;
  Value value;
  int64_t timestamp = 0;
};

class JoinHarness {
 public:
  // `in_memory`: both windows in memory (the random model tests: the driver
  // commits, and so flushes RocksDB, after every record, as Kafka's does;
  // StoresArePersistentUnlessASupplierSaysOtherwise shows both kinds join
  // alike).
  JoinHarness(int kind, const JoinWindows& windows, bool in_memory = false) {
    StreamJoined<int32_t, Value, Value> joined;
    if (in_memory) {
      joined.this_store_supplier =
          stores::in_memory_window_store("this", windows.retention_ms(), windows.size_ms());
      joined.other_store_supplier =
          stores::in_memory_window_store("other", windows.retention_ms(), windows.size_ms());
    }
    if (kind == join_inner) build_join<join_inner>(builder_, windows, joined);
    if (kind == join_left) build_join<join_left>(builder_, windows, joined);
    if (kind == join_outer) build_join<join_outer>(builder_, windows, joined);
    driver_ = std::make_unique<TopologyTestDriver>(builder_.build(), TestDriverSettings{"joins"});
    left_.emplace(
        driver_->create_input_topic("left", serdes::integer(), serdes::optional(serdes::string())));
    right_.emplace(driver_->create_input_topic("right", serdes::integer(),
                                               serdes::optional(serdes::string())));
    out_.emplace(driver_->create_output_topic("out", serdes::integer(), serdes::string()));
  }
  std::vector<Out> pipe(const In& in) {
    (in.left ? *left_ : *right_).pipe_input(in.key, in.value, in.timestamp);
    return read();
  }
  std::vector<Out> read() {
    std::vector<Out> records;
    while (!out_->is_empty()) {
      TestRecord<int32_t, std::string> record = out_->read_record();
      records.push_back({record.key, record.value, record.timestamp});
    }
    return records;
  }
  TopologyTestDriver& driver() { return *driver_; }

 private:
  StreamsBuilder builder_;
  std::unique_ptr<TopologyTestDriver> driver_;
  std::optional<TestInputTopic<int32_t, Value>> left_;
  std::optional<TestInputTopic<int32_t, Value>> right_;
  std::optional<TestOutputTopic<int32_t, std::string>> out_;
};

// The brute-force model: every left-right pair of one key whose timestamps
// are within the window (right - left in [-before, after]) joined at the
// later timestamp, and for left/outer joins each record without any
// partner once, at its own timestamp. Exact when no record arrives more
// than min(before, after, grace) behind the stream time (nothing is late).
std::vector<Out> brute_force_join(int kind, const JoinWindows& windows,
                                  const std::vector<In>& inputs) {
  std::vector<Out> out;
  std::vector<bool> matched(inputs.size(), false);
  for (size_t l = 0; l < inputs.size(); ++l) {
    if (!inputs[l].left || !inputs[l].value) continue;
    for (size_t r = 0; r < inputs.size(); ++r) {
      if (inputs[r].left || !inputs[r].value || inputs[r].key != inputs[l].key) continue;
      int64_t difference = inputs[r].timestamp - inputs[l].timestamp;
      if (difference < -windows.before_ms() || difference > windows.after_ms()) continue;
      matched[l] = matched[r] = true;
      out.push_back({inputs[l].key, "[" + *inputs[l].value + ", " + *inputs[r].value + "]",
                     std::max(inputs[l].timestamp, inputs[r].timestamp)});
    }
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (matched[i] || !inputs[i].value) continue;
    if (inputs[i].left && kind != join_inner) {
      out.push_back({inputs[i].key, "[" + *inputs[i].value + ", null]", inputs[i].timestamp});
    } else if (!inputs[i].left && kind == join_outer) {
      out.push_back({inputs[i].key, "[null, " + *inputs[i].value + "]", inputs[i].timestamp});
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Kafka's rules step by step over plain lists (KStreamKStreamJoin with
// in-memory window stores and no emit throttling): each side's records
// kept for before + after + grace behind the newest timestamp that side
// has seen; unmatched records of an outer side wait, ordered by
// (timestamp, right before left, key), until stream time passes their
// timestamp plus the window's reach plus the grace period.
class StepModel {
 public:
  StepModel(int kind, const JoinWindows& windows)
      : kind_(kind),
        before_(windows.before_ms()),
        after_(windows.after_ms()),
        grace_(windows.grace_ms()),
        retention_(windows.retention_ms()) {}

  std::vector<Out> process(const In& in) {
    std::vector<Out> out;
    const bool shared_store = kind_ != join_inner;
    const int side = in.left ? 0 : 1;
    if (shared_store) stream_time_ = std::max(stream_time_, in.timestamp);
    if (!in.value) return out;  // a null value joins nothing
    const bool this_outer = in.left ? kind_ != join_inner : kind_ == join_outer;
    const int64_t join_before = in.left ? before_ : after_;
    const int64_t join_after = in.left ? after_ : before_;
    if (shared_store && in.timestamp == stream_time_) emit_closed(join_after, out);
    int64_t from = std::max<int64_t>(0, in.timestamp - join_before);
    int64_t to = std::max<int64_t>(0, in.timestamp + join_after);
    from = std::max(from, observed_[1 - side] - retention_ + 1);
    std::vector<Stored> partners;
    for (const Stored& stored : stores_[1 - side]) {
      if (stored.key == in.key && stored.timestamp >= from && stored.timestamp <= to)
        partners.push_back(stored);
    }
    std::stable_sort(partners.begin(), partners.end(),
                     [](const Stored& a, const Stored& b) { return a.timestamp < b.timestamp; });
    for (const Stored& partner : partners) {
      if (shared_store) pending_.erase({partner.timestamp, in.left ? 0 : 1, in.key});
      const std::string& left = in.left ? *in.value : partner.value;
      const std::string& right = in.left ? partner.value : *in.value;
      out.push_back(
          {in.key, "[" + left + ", " + right + "]", std::max(in.timestamp, partner.timestamp)});
    }
    if (this_outer && partners.empty()) {
      if (to < stream_time_) {
        out.push_back({in.key, in.left ? "[" + *in.value + ", null]" : "[null, " + *in.value + "]",
                       in.timestamp});
      } else {
        min_time_ = std::min(min_time_, in.timestamp);
        pending_[{in.timestamp, in.left ? 1 : 0, in.key}].push_back(*in.value);
      }
    }
    // The side's window store takes the record after the join looked up.
    observed_[side] = std::max(observed_[side], in.timestamp);
    int64_t oldest = observed_[side] - retention_ + 1;
    if (in.timestamp >= oldest) stores_[side].push_back({in.key, *in.value, in.timestamp});
    std::erase_if(stores_[side], [oldest](const Stored& s) { return s.timestamp < oldest; });
    return out;
  }

 private:
  struct Stored {
    int32_t key;
    std::string value;
    int64_t timestamp;
  };
  static int64_t wrapping_add(int64_t a, int64_t b) {
    return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
  }

  void emit_closed(int64_t join_after, std::vector<Out>& out) {
    if (wrapping_add(wrapping_add(min_time_, join_after), grace_) >= stream_time_) return;
    min_time_ = std::numeric_limits<int64_t>::max();
    bool left_open = false;
    bool right_open = false;
    for (auto it = pending_.begin(); it != pending_.end();) {
      const auto& [timestamp, left_side, key] = it->first;
      min_time_ = timestamp;
      if (left_open && right_open) break;
      int64_t reach = left_side == 1 ? after_ : before_;
      if (wrapping_add(wrapping_add(timestamp, reach), grace_) >= stream_time_) {
        (left_side == 1 ? left_open : right_open) = true;
        ++it;
        continue;
      }
      for (const std::string& value : it->second) {
        out.push_back(
            {key, left_side == 1 ? "[" + value + ", null]" : "[null, " + value + "]", timestamp});
      }
      it = pending_.erase(it);
    }
  }

  int kind_;
  int64_t before_, after_, grace_, retention_;
  std::vector<Stored> stores_[2];
  int64_t observed_[2] = {-1, -1};
  int64_t stream_time_ = -1;
  int64_t min_time_ = std::numeric_limits<int64_t>::max();
  std::map<std::tuple<int64_t, int, int32_t>, std::vector<std::string>> pending_;
};

// Random input: keys 0..3, one record in ten with a null value, each
// record up to `disorder` ms behind the highest timestamp so far.
std::vector<In> random_inputs(std::mt19937& random, size_t count, int64_t disorder) {
  std::vector<In> inputs;
  int64_t now = 0;
  for (size_t i = 0; i < count; ++i) {
    now += std::uniform_int_distribution<int64_t>(0, 4)(random);
    In in;
    in.left = std::uniform_int_distribution<int>(0, 1)(random) == 0;
    in.key = std::uniform_int_distribution<int32_t>(0, 3)(random);
    if (std::uniform_int_distribution<int>(0, 9)(random) != 0) {
      in.value = (in.left ? "L" : "R") + std::to_string(i);
    }
    in.timestamp =
        std::max<int64_t>(0, now - std::uniform_int_distribution<int64_t>(0, disorder)(random));
    inputs.push_back(std::move(in));
  }
  // Far in the future on both sides (key 99): closes every window.
  inputs.push_back({true, 99, "Lflush", now + 1'000'000});
  inputs.push_back({false, 99, "Rflush", now + 1'000'000});
  return inputs;
}

const char* kind_name(int kind) {
  return kind == join_inner ? "join" : kind == join_left ? "left_join" : "outer_join";
}

TEST(StreamsStreamJoin, EqualsTheBruteForceModelWhenNothingIsLate) {
  size_t results = 0;
  for (int kind : {join_inner, join_left, join_outer}) {
    for (uint32_t seed = 1; seed <= 25; ++seed) {
      std::mt19937 random(seed * 7919 + kind);
      int64_t before = std::uniform_int_distribution<int64_t>(1, 20)(random);
      int64_t after = std::uniform_int_distribution<int64_t>(1, 20)(random);
      int64_t grace = std::uniform_int_distribution<int64_t>(0, 15)(random);
      JoinWindows windows =
          JoinWindows::of_time_difference_and_grace(milliseconds(before), milliseconds(grace))
              .after(milliseconds(after));
      std::vector<In> inputs = random_inputs(random, 300, std::min({before, after, grace}));
      JoinHarness harness(kind, windows, /*in_memory=*/true);
      std::vector<Out> actual;
      for (const In& in : inputs) {
        for (Out& out : harness.pipe(in)) {
          if (out.key != 99) actual.push_back(std::move(out));
        }
      }
      std::sort(actual.begin(), actual.end());
      inputs.resize(inputs.size() - 2);
      std::vector<Out> expected = brute_force_join(kind, windows, inputs);
      ASSERT_EQ(actual, expected) << kind_name(kind) << " seed " << seed << " before " << before
                                  << " after " << after << " grace " << grace;
      results += actual.size();
    }
  }
  EXPECT_GT(results, 10'000u);  // the inputs do meet
}

TEST(StreamsStreamJoin, EqualsKafkasRulesStepByStepWithLateRecords) {
  size_t results = 0;
  for (int kind : {join_inner, join_left, join_outer}) {
    for (uint32_t seed = 1; seed <= 25; ++seed) {
      std::mt19937 random(seed * 104729 + kind);
      int64_t before = std::uniform_int_distribution<int64_t>(0, 20)(random);
      int64_t after = std::uniform_int_distribution<int64_t>(0, 20)(random);
      int64_t grace = std::uniform_int_distribution<int64_t>(0, 10)(random);
      JoinWindows windows =
          JoinWindows::of_time_difference_and_grace(milliseconds(after), milliseconds(grace))
              .before(milliseconds(before));
      std::vector<In> inputs = random_inputs(random, 300, 60);
      JoinHarness harness(kind, windows, /*in_memory=*/true);
      StepModel model(kind, windows);
      for (size_t i = 0; i < inputs.size(); ++i) {
        std::vector<Out> actual = harness.pipe(inputs[i]);
        std::vector<Out> expected = model.process(inputs[i]);
        ASSERT_EQ(actual, expected) << kind_name(kind) << " seed " << seed << " input " << i;
        results += actual.size();
      }
    }
  }
  EXPECT_GT(results, 5'000u);
}

// Kafka's docs (Streams DSL, "Semantics of stream-stream joins"): one key,
// records in timestamp order, grace 5. The docs say a window of 10 but list
// [A, d] (3 and 14) and [D, a] (15 and 4), 11 apart: the table holds for 11.
std::vector<std::string> docs_stream_join_rows(int kind) {
  JoinHarness harness(kind,
                      JoinWindows::of_time_difference_and_grace(milliseconds(11), milliseconds(5)));
  struct Row {
    int64_t timestamp;
    bool left;
    Value value;
  };
  std::vector<Row> rows = {{1, true, std::nullopt},
                           {2, false, std::nullopt},
                           {3, true, "A"},
                           {4, false, "a"},
                           {5, true, "B"},
                           {6, false, "b"},
                           {7, true, std::nullopt},
                           {8, false, std::nullopt},
                           {9, true, "C"},
                           {10, false, "c"},
                           {11, false, std::nullopt},
                           {12, true, std::nullopt},
                           {13, false, std::nullopt},
                           {14, false, "d"},
                           {15, true, "D"},
                           {40, true, "E"},
                           {60, true, "F"},
                           {80, false, "f"},
                           {100, true, "G"}};
  std::vector<std::string> lines;
  for (const Row& row : rows) {
    std::string line = std::to_string(row.timestamp) + ":";
    for (const Out& out : harness.pipe({row.left, 0, row.value, row.timestamp})) {
      line += " " + out.value;
    }
    lines.push_back(line);
  }
  return lines;
}

TEST(StreamsStreamJoin, KafkasDocumentedSemantics) {
  std::vector<std::string> common = {"1:",
                                     "2:",
                                     "3:",
                                     "4: [A, a]",
                                     "5: [B, a]",
                                     "6: [A, b] [B, b]",
                                     "7:",
                                     "8:",
                                     "9: [C, a] [C, b]",
                                     "10: [A, c] [B, c] [C, c]",
                                     "11:",
                                     "12:",
                                     "13:",
                                     "14: [A, d] [B, d] [C, d]",
                                     "15: [D, a] [D, b] [D, c] [D, d]",
                                     "40:"};
  std::vector<std::string> inner = common;
  inner.insert(inner.end(), {"60:", "80:", "100:"});
  std::vector<std::string> left = common;
  left.insert(left.end(), {"60: [E, null]", "80: [F, null]", "100:"});
  std::vector<std::string> outer = common;
  outer.insert(outer.end(), {"60: [E, null]", "80: [F, null]", "100: [null, f]"});
  EXPECT_EQ(docs_stream_join_rows(join_inner), inner);
  EXPECT_EQ(docs_stream_join_rows(join_left), left);
  EXPECT_EQ(docs_stream_join_rows(join_outer), outer);
}

// Kafka's KStreamKStreamLeftJoinTest.testLeftJoinDuplicates.
TEST(StreamsStreamJoin, LeftJoinDuplicatesAsKafkasTest) {
  JoinHarness harness(
      join_left, JoinWindows::of_time_difference_and_grace(milliseconds(100), milliseconds(10)));
  std::vector<Out> out;
  for (const In& in : std::vector<In>{{true, 0, "A0", 0},
                                      {true, 0, "A0-0", 0},
                                      {false, 1, "a0", 111},
                                      {false, 2, "dummy", 500}}) {
    for (Out& record : harness.pipe(in)) out.push_back(record);
  }
  EXPECT_EQ(out, (std::vector<Out>{{0, "[A0, null]", 0}, {0, "[A0-0, null]", 0}}));
  out.clear();
  for (const In& in :
       std::vector<In>{{true, 2, "A2", 1000}, {true, 2, "A2-0", 1000}, {false, 2, "a2", 1001}}) {
    for (Out& record : harness.pipe(in)) out.push_back(record);
  }
  EXPECT_EQ(out, (std::vector<Out>{{2, "[A2, a2]", 1001}, {2, "[A2-0, a2]", 1001}}));
  EXPECT_TRUE(harness.pipe({false, 3, "a3", 315}).empty());
}

// Kafka's testLeftExpiredNonJoinedRecordsAreEmittedByTheRightProcessor.
TEST(StreamsStreamJoin, UnmatchedRecordsAreEmittedByEitherSide) {
  JoinHarness harness(
      join_left, JoinWindows::of_time_difference_and_grace(milliseconds(100), milliseconds(0)));
  EXPECT_TRUE(harness.pipe({true, 0, "A0", 1}).empty());
  EXPECT_TRUE(harness.pipe({true, 1, "A1", 2}).empty());
  EXPECT_TRUE(harness.pipe({true, 0, "A0-0", 3}).empty());
  EXPECT_EQ(harness.pipe({false, 1, "a1", 3}), (std::vector<Out>{{1, "[A1, a1]", 3}}));
  EXPECT_EQ(harness.pipe({false, 2, "dummy", 401}),
            (std::vector<Out>{{0, "[A0, null]", 1}, {0, "[A0-0, null]", 3}}));
  EXPECT_EQ(harness.pipe({true, 2, "dummy", 402}), (std::vector<Out>{{2, "[dummy, dummy]", 402}}));
}

TEST(StreamsStreamJoin, JoinWindowsChecksAsKafka) {
  JoinWindows windows = JoinWindows::of_time_difference_with_no_grace(milliseconds(10));
  EXPECT_EQ(windows.size_ms(), 20);
  EXPECT_EQ(windows.before(milliseconds(-5)).size_ms(), 5);
  try {
    windows.before(milliseconds(-11));
    FAIL() << "a negative window was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "Window interval (ie, beforeMs+afterMs) must not be negative.");
  }
  EXPECT_THROW(JoinWindows::of_time_difference_and_grace(milliseconds(1), milliseconds(-1)),
               std::invalid_argument);
}

// Kafka 3.x's TopologyTest.streamStreamJoinTopologyWithDefaultStoresNames.
TEST(StreamsStreamJoin, DescribesAsKafkasInnerJoin) {
  StreamsBuilder builder;
  auto stream1 = builder.stream("input-topic1", Consumed{serdes::integer(), serdes::string()});
  auto stream2 = builder.stream("input-topic2", Consumed{serdes::integer(), serdes::string()});
  stream1.join(stream2, bracket_joiner(),
               JoinWindows::of_time_difference_with_no_grace(milliseconds(100)));
  EXPECT_EQ(
      builder.build().describe(),
      "Topologies:\n"
      "   Sub-topology: 0\n"
      "    Source: KSTREAM-SOURCE-0000000000 (topics: [input-topic1])\n"
      "      --> KSTREAM-WINDOWED-0000000002\n"
      "    Source: KSTREAM-SOURCE-0000000001 (topics: [input-topic2])\n"
      "      --> KSTREAM-WINDOWED-0000000003\n"
      "    Processor: KSTREAM-WINDOWED-0000000002 (stores: [KSTREAM-JOINTHIS-0000000004-store])\n"
      "      --> KSTREAM-JOINTHIS-0000000004\n"
      "      <-- KSTREAM-SOURCE-0000000000\n"
      "    Processor: KSTREAM-WINDOWED-0000000003 (stores: [KSTREAM-JOINOTHER-0000000005-store])\n"
      "      --> KSTREAM-JOINOTHER-0000000005\n"
      "      <-- KSTREAM-SOURCE-0000000001\n"
      "    Processor: KSTREAM-JOINOTHER-0000000005 (stores: [KSTREAM-JOINTHIS-0000000004-store])\n"
      "      --> KSTREAM-MERGE-0000000006\n"
      "      <-- KSTREAM-WINDOWED-0000000003\n"
      "    Processor: KSTREAM-JOINTHIS-0000000004 (stores: [KSTREAM-JOINOTHER-0000000005-store])\n"
      "      --> KSTREAM-MERGE-0000000006\n"
      "      <-- KSTREAM-WINDOWED-0000000002\n"
      "    Processor: KSTREAM-MERGE-0000000006 (stores: [])\n"
      "      --> none\n"
      "      <-- KSTREAM-JOINTHIS-0000000004, KSTREAM-JOINOTHER-0000000005\n\n");
}

// Kafka 3.x's TopologyTest.streamStreamLeftJoinTopologyWithCustomStoresNames.
TEST(StreamsStreamJoin, DescribesAsKafkasLeftJoinWithAStoreName) {
  StreamsBuilder builder;
  auto stream1 = builder.stream("input-topic1", Consumed{serdes::integer(), serdes::string()});
  auto stream2 = builder.stream("input-topic2", Consumed{serdes::integer(), serdes::string()});
  stream1.left_join(stream2, bracket_joiner(),
                    JoinWindows::of_time_difference_with_no_grace(milliseconds(100)),
                    StreamJoined<int32_t, std::string, std::string>::with(
                        serdes::integer(), serdes::string(), serdes::string())
                        .with_store_name("custom-name"));
  EXPECT_EQ(builder.build().describe(),
            "Topologies:\n"
            "   Sub-topology: 0\n"
            "    Source: KSTREAM-SOURCE-0000000000 (topics: [input-topic1])\n"
            "      --> KSTREAM-WINDOWED-0000000002\n"
            "    Source: KSTREAM-SOURCE-0000000001 (topics: [input-topic2])\n"
            "      --> KSTREAM-WINDOWED-0000000003\n"
            "    Processor: KSTREAM-WINDOWED-0000000002 (stores: [custom-name-this-join-store])\n"
            "      --> KSTREAM-JOINTHIS-0000000004\n"
            "      <-- KSTREAM-SOURCE-0000000000\n"
            "    Processor: KSTREAM-WINDOWED-0000000003 (stores: "
            "[custom-name-outer-other-join-store])\n"
            "      --> KSTREAM-OUTEROTHER-0000000005\n"
            "      <-- KSTREAM-SOURCE-0000000001\n"
            "    Processor: KSTREAM-JOINTHIS-0000000004 (stores: "
            "[custom-name-outer-other-join-store, custom-name-left-shared-join-store])\n"
            "      --> KSTREAM-MERGE-0000000006\n"
            "      <-- KSTREAM-WINDOWED-0000000002\n"
            "    Processor: KSTREAM-OUTEROTHER-0000000005 (stores: "
            "[custom-name-this-join-store, custom-name-left-shared-join-store])\n"
            "      --> KSTREAM-MERGE-0000000006\n"
            "      <-- KSTREAM-WINDOWED-0000000003\n"
            "    Processor: KSTREAM-MERGE-0000000006 (stores: [])\n"
            "      --> none\n"
            "      <-- KSTREAM-JOINTHIS-0000000004, KSTREAM-OUTEROTHER-0000000005\n\n");
}

// Kafka 3.x's TopologyTest.streamStreamOuterJoinTopologyWithDefaultStoresNames.
TEST(StreamsStreamJoin, DescribesAsKafkasOuterJoin) {
  StreamsBuilder builder;
  auto stream1 = builder.stream("input-topic1", Consumed{serdes::integer(), serdes::string()});
  auto stream2 = builder.stream("input-topic2", Consumed{serdes::integer(), serdes::string()});
  stream1.outer_join(stream2, bracket_joiner(),
                     JoinWindows::of_time_difference_with_no_grace(milliseconds(100)));
  EXPECT_EQ(builder.build().describe(),
            "Topologies:\n"
            "   Sub-topology: 0\n"
            "    Source: KSTREAM-SOURCE-0000000000 (topics: [input-topic1])\n"
            "      --> KSTREAM-WINDOWED-0000000002\n"
            "    Source: KSTREAM-SOURCE-0000000001 (topics: [input-topic2])\n"
            "      --> KSTREAM-WINDOWED-0000000003\n"
            "    Processor: KSTREAM-WINDOWED-0000000002 (stores: "
            "[KSTREAM-OUTERTHIS-0000000004-store])\n"
            "      --> KSTREAM-OUTERTHIS-0000000004\n"
            "      <-- KSTREAM-SOURCE-0000000000\n"
            "    Processor: KSTREAM-WINDOWED-0000000003 (stores: "
            "[KSTREAM-OUTEROTHER-0000000005-store])\n"
            "      --> KSTREAM-OUTEROTHER-0000000005\n"
            "      <-- KSTREAM-SOURCE-0000000001\n"
            "    Processor: KSTREAM-OUTEROTHER-0000000005 (stores: "
            "[KSTREAM-OUTERTHIS-0000000004-store, KSTREAM-OUTERSHARED-0000000004-store])\n"
            "      --> KSTREAM-MERGE-0000000006\n"
            "      <-- KSTREAM-WINDOWED-0000000003\n"
            "    Processor: KSTREAM-OUTERTHIS-0000000004 (stores: "
            "[KSTREAM-OUTEROTHER-0000000005-store, KSTREAM-OUTERSHARED-0000000004-store])\n"
            "      --> KSTREAM-MERGE-0000000006\n"
            "      <-- KSTREAM-WINDOWED-0000000002\n"
            "    Processor: KSTREAM-MERGE-0000000006 (stores: [])\n"
            "      --> none\n"
            "      <-- KSTREAM-OUTERTHIS-0000000004, KSTREAM-OUTEROTHER-0000000005\n\n");
}

// The stores' changelogs carry Kafka's bytes: window store keys with a
// sequence number per duplicate, the outer store's (timestamp, side, key)
// keys and list values.
TEST(StreamsStreamJoin, ChangelogsCarryKafkasStoreBytes) {
  JoinHarness harness(join_left, JoinWindows::of_time_difference_with_no_grace(milliseconds(10)));
  harness.pipe({true, 7, "A", 5});
  harness.pipe({true, 7, "B", 5});
  TopologyTestDriver& driver = harness.driver();
  std::set<std::string> topics = driver.produced_topic_names();
  ASSERT_TRUE(topics.count("joins-KSTREAM-JOINTHIS-0000000004-store-changelog"));
  ASSERT_TRUE(topics.count("joins-KSTREAM-OUTERSHARED-0000000004-store-changelog"));
  std::deque<SerializedRecord>& window =
      driver.output("joins-KSTREAM-JOINTHIS-0000000004-store-changelog");
  ASSERT_EQ(window.size(), 2u);
  const std::string key7("\0\0\0\7", 4);
  const std::string at5("\0\0\0\0\0\0\0\5", 8);
  EXPECT_EQ(window[0].key, key7 + at5 + std::string("\0\0\0\1", 4));
  EXPECT_EQ(window[1].key, key7 + at5 + std::string("\0\0\0\2", 4));
  EXPECT_EQ(window[1].value, "B");
  std::deque<SerializedRecord>& outer =
      driver.output("joins-KSTREAM-OUTERSHARED-0000000004-store-changelog");
  ASSERT_EQ(outer.size(), 2u);
  EXPECT_EQ(outer[1].key, at5 + std::string("\1", 1) + key7);
  // ListSerde: VARIABLE_SIZE, 2 entries, each length-prefixed "side byte + value".
  EXPECT_EQ(outer[1].value, std::string("\1\0\0\0\2\0\0\0\2\1A\0\0\0\2\1B", 17));
  // The right side's record joins both and clears them from the outer store.
  EXPECT_EQ(harness.pipe({false, 7, "a", 6}),
            (std::vector<Out>{{7, "[A, a]", 6}, {7, "[B, a]", 6}}));
  EXPECT_EQ(outer.back().key, at5 + std::string("\1", 1) + key7);
  EXPECT_FALSE(outer.back().value);
}

// A restart restores the stores' bytes from their changelogs: the window
// store then answers from them, expires by their newest timestamp and
// numbers new duplicates after theirs; the outer store reads their lists.
TEST(StreamsStreamJoin, StoresWorkFromRestoredBytes) {
  auto bytes = std::make_unique<InMemoryKeyValueStore>("window");
  const std::string key7("\0\0\0\7", 4);
  bytes->put(join_bytes::window_key(key7, 100, 5), "a");
  bytes->put(join_bytes::window_key(key7, 130, 6), "b");
  KeyValueBytesStore* raw = bytes.get();
  JoinWindowStore<int32_t, std::string> window(std::move(bytes), 20, serdes::integer(),
                                               serdes::string());
  EXPECT_EQ(window.observed_stream_time(), 130);
  EXPECT_EQ(window.fetch(7, 0, 200), (std::vector<std::pair<int64_t, std::string>>{{130, "b"}}));
  window.put(7, "c", 130);
  EXPECT_TRUE(raw->get(join_bytes::window_key(key7, 130, 7)));  // after the restored 6
  window.put(7, "d", 160);                                      // expires what is older than 141
  EXPECT_EQ(window.fetch(7, 0, 200), (std::vector<std::pair<int64_t, std::string>>{{160, "d"}}));
  EXPECT_EQ(raw->approximate_entries(), 1u);

  auto outer_bytes = std::make_unique<InMemoryKeyValueStore>("outer");
  outer_bytes->put(join_bytes::outer_key(key7, 5, true),
                   join_bytes::list_append(join_bytes::list_append(std::nullopt, "\1A"), "\1B"));
  outer_bytes->put(join_bytes::outer_key(key7, 5, false),
                   join_bytes::list_append(std::nullopt, std::string("\0x", 2)));
  OuterJoinStore<int32_t, std::string, std::string> outer(std::move(outer_bytes), serdes::integer(),
                                                          serdes::string(), serdes::string());
  auto entries = outer.all();
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_FALSE(entries[0].left_side);  // right before left at one timestamp
  ASSERT_EQ(entries[0].values.size(), 1u);
  EXPECT_EQ(entries[0].values.front().second, "x");
  ASSERT_EQ(entries[1].values.size(), 2u);
  EXPECT_EQ(entries[1].values[1].first, "B");
}

// After a key change both sides are repartitioned first: Kafka's topic
// names (`<node>-repartition`, or `<name>-left/-right-repartition`), and
// the result joins records by their new keys.
TEST(StreamsStreamJoin, RepartitionsAfterAKeyChange) {
  for (bool named : {false, true}) {
    StreamsBuilder builder;
    auto clicks = builder.stream("clicks", Consumed{serdes::string(), serdes::string()})
                      .select_key([](const std::string&, const std::string& user) { return user; });
    auto views = builder.stream("views", Consumed{serdes::string(), serdes::string()})
                     .map([](const std::string& page, const std::string& user) {
                       return std::make_pair(user, page);
                     });
    StreamJoined<std::string, std::string, std::string> joined;
    if (named) joined = std::move(joined).with_name("my-join");
    clicks
        .join(views, bracket_joiner(),
              JoinWindows::of_time_difference_with_no_grace(milliseconds(5)), joined)
        .to("out", Produced{serdes::string(), serdes::string()});
    std::string description = builder.build().describe();
    std::string left_topic =
        named ? "my-join-left-repartition" : "KSTREAM-KEY-SELECT-0000000001-repartition";
    std::string right_topic =
        named ? "my-join-right-repartition" : "KSTREAM-MAP-0000000003-repartition";
    EXPECT_NE(description.find("(topic: " + left_topic + ")"), std::string::npos) << description;
    EXPECT_NE(description.find("(topic: " + right_topic + ")"), std::string::npos) << description;
    EXPECT_EQ(builder.build().subtopologies().size(), 3u);

    TopologyTestDriver driver(builder.build(), TestDriverSettings{"app"});
    auto clicks_in = driver.create_input_topic("clicks", serdes::string(), serdes::string());
    auto views_in = driver.create_input_topic("views", serdes::string(), serdes::string());
    auto out = driver.create_output_topic("out", serdes::string(), serdes::string());
    clicks_in.pipe_input("c1", "alice", 10);
    views_in.pipe_input("/home", "alice", 12);
    views_in.pipe_input("/cart", "bob", 12);
    clicks_in.pipe_input("c2", "bob", 20);  // 8 ms after bob's view: outside the window
    clicks_in.pipe_input("c3", "bob", 15);
    EXPECT_EQ(out.read_key_values_to_list(),
              (std::vector<std::pair<std::string, std::string>>{{"alice", "[alice, /home]"},
                                                                {"bob", "[bob, /cart]"}}));
    EXPECT_TRUE(driver.produced_topic_names().count("app-" + left_topic));
  }
}

// Stream-table joins too: a key-changed stream is repartitioned first
// (Kafka's `<node>-repartition`) and co-partitioned with the table.
TEST(StreamsStreamJoin, StreamTableJoinRepartitionsAfterAKeyChange) {
  StreamsBuilder builder;
  auto users = builder.table("users", Consumed{serdes::string(), serdes::string()});
  builder.stream("clicks", Consumed{serdes::string(), serdes::string()})
      .select_key([](const std::string&, const std::string& user) { return user; })
      .join(users,
            [](const std::string& user, const std::string& name) { return user + "=" + name; })
      .to("out", Produced{serdes::string(), serdes::string()});
  std::string description = builder.build().describe();
  EXPECT_NE(description.find("(topic: KSTREAM-KEY-SELECT-0000000004-repartition)"),
            std::string::npos)
      << description;
  EXPECT_NE(description.find(
                "Processor: KSTREAM-JOIN-0000000008 (stores: [users-STATE-STORE-0000000000])"),
            std::string::npos)
      << description;
  EXPECT_EQ(copartition_topic_groups(builder.build(), "app"),
            (std::vector<std::set<std::string>>{
                {"app-KSTREAM-KEY-SELECT-0000000004-repartition", "users"}}));
  TopologyTestDriver driver(builder.build(), TestDriverSettings{"app"});
  auto users_in = driver.create_input_topic("users", serdes::string(), serdes::string());
  auto clicks_in = driver.create_input_topic("clicks", serdes::string(), serdes::string());
  auto out = driver.create_output_topic("out", serdes::string(), serdes::string());
  users_in.pipe_input("alice", "Alice", 1);
  clicks_in.pipe_input("/home", "alice", 2);
  clicks_in.pipe_input("/cart", "bob", 3);
  EXPECT_EQ(out.read_key_values_to_list(),
            (std::vector<std::pair<std::string, std::string>>{{"alice", "alice=Alice"}}));
}

TEST(StreamsStreamJoin, InputsAreCopartitioned) {
  StreamsBuilder builder;
  build_join<join_inner>(builder, JoinWindows::of_time_difference_with_no_grace(milliseconds(1)));
  std::vector<std::set<std::string>> groups = copartition_topic_groups(builder.build(), "app");
  EXPECT_EQ(groups, (std::vector<std::set<std::string>>{{"left", "right"}}));

  std::map<std::string, int> partitions = {{"left", 4}, {"right", 4}, {"app-x-repartition", 8}};
  enforce_copartitioning({{"left", "right", "app-x-repartition"}}, {"app-x-repartition"},
                         partitions);
  EXPECT_EQ(partitions["app-x-repartition"], 4);  // coerced to the user topics' count
  partitions = {{"app-a-repartition", 2}, {"app-b-repartition", 6}};
  enforce_copartitioning({{"app-a-repartition", "app-b-repartition"}},
                         {"app-a-repartition", "app-b-repartition"}, partitions);
  EXPECT_EQ(partitions["app-a-repartition"], 6);  // the largest
  partitions = {{"left", 2}, {"right", 3}};
  try {
    enforce_copartitioning(groups, {}, partitions);
    FAIL() << "topics with different partition counts were accepted";
  } catch (const TopologyError& e) {
    EXPECT_STREQ(e.what(), "Invalid topology: Topics not co-partitioned: [{left=2, right=3}]");
  }
}

// Kafka's defaults: both windows and the unmatched records in RocksDB; an
// in-memory supplier for this side keeps the unmatched records in memory
// too. The join's results do not depend on where its stores live.
TEST(StreamsStreamJoin, StoresArePersistentUnlessASupplierSaysOtherwise) {
  const JoinWindows windows = JoinWindows::of_time_difference_with_no_grace(milliseconds(10));
  const std::vector<In> input = {
      {true, 7, "A", 5}, {false, 7, "a", 9}, {true, 8, "B", 20}, {false, 9, "b", 40}};
  auto run = [&](StreamJoined<int32_t, Value, Value> joined,
                 const std::vector<std::string>& stores) {
    StreamsBuilder builder;
    build_join<join_left>(builder, windows, std::move(joined));
    TopologyTestDriver driver(builder.build(), TestDriverSettings{"joins"});
    auto left =
        driver.create_input_topic("left", serdes::integer(), serdes::optional(serdes::string()));
    auto right =
        driver.create_input_topic("right", serdes::integer(), serdes::optional(serdes::string()));
    for (const In& in : input) (in.left ? left : right).pipe_input(in.key, in.value, in.timestamp);
    std::map<std::string, bool> persistent;
    for (const std::string& store : stores) {
      persistent[store] = driver.get_state_store_for_test<StateStore>(store).persistent();
    }
    auto out = driver.create_output_topic("out", serdes::integer(), serdes::string());
    std::vector<std::string> results;
    while (!out.is_empty()) results.push_back(out.read_record().value);
    return std::make_pair(persistent, results);
  };
  auto [defaults, default_results] =
      run({}, {"KSTREAM-JOINTHIS-0000000004-store", "KSTREAM-OUTEROTHER-0000000005-store",
               "KSTREAM-OUTERSHARED-0000000004-store"});
  for (const auto& [store, persistent] : defaults) EXPECT_TRUE(persistent) << store;

  auto joined = StreamJoined<int32_t, Value, Value>{}
                    .with_this_store_supplier(stores::in_memory_window_store(
                        "mine", windows.retention_ms(), windows.size_ms()))
                    .with_other_store_supplier(stores::persistent_window_store(
                        "theirs", windows.retention_ms(), windows.size_ms()));
  auto [chosen, chosen_results] =
      run(std::move(joined), {"mine", "theirs", "KSTREAM-OUTERSHARED-0000000004-store"});
  EXPECT_EQ(chosen, (std::map<std::string, bool>{{"KSTREAM-OUTERSHARED-0000000004-store", false},
                                                 {"mine", false},
                                                 {"theirs", true}}));
  EXPECT_EQ(chosen_results, default_results);
  EXPECT_EQ(default_results, (std::vector<std::string>{"[A, a]", "[B, null]"}));
}

// Kafka's checks of the suppliers: the join's window size and retention,
// and two names.
TEST(StreamsStreamJoin, StoreSuppliersMustFitTheJoin) {
  const JoinWindows windows =
      JoinWindows::of_time_difference_and_grace(milliseconds(10), milliseconds(5));
  auto build = [&](WindowBytesStoreSupplier mine, WindowBytesStoreSupplier theirs) {
    StreamsBuilder builder;
    build_join<join_inner>(builder, windows,
                           StreamJoined<int32_t, Value, Value>{}
                               .with_this_store_supplier(std::move(mine))
                               .with_other_store_supplier(std::move(theirs)));
  };
  // size 20 (10 before, 10 after), retention 25.
  EXPECT_NO_THROW(build(stores::persistent_window_store("a", 25, 20),
                        stores::persistent_window_store("b", 25, 20)));
  try {
    build(stores::persistent_window_store("a", 20, 20),
          stores::persistent_window_store("b", 25, 20));
    FAIL() << "a supplier with a shorter retention was accepted";
  } catch (const StreamsError& e) {
    EXPECT_NE(std::string(e.what()).find("Window settings mismatch"), std::string::npos)
        << e.what();
  }
  try {
    build(stores::persistent_window_store("a", 25, 20),
          stores::persistent_window_store("a", 25, 20));
    FAIL() << "two suppliers of one name were accepted";
  } catch (const StreamsError& e) {
    EXPECT_STREQ(
        e.what(),
        "Both StoreSuppliers have the same name.  StoreSuppliers must provide unique names");
  }
}

}  // namespace
}  // namespace sluice::streams::stream_join_test
