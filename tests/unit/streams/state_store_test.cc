// Persistent state: the RocksDB store behaves as the in-memory store,
// `.checkpoint` files in Kafka's format (and a corrupt one never crashes a
// task), the state directory's lock, tasks restoring from checkpointed
// offsets, and interactive-query views over several tasks' stores.

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <thread>

#include "streams/checkpoint.h"
#include "streams/dsl.h"
#include "streams/interactive_queries.h"
#include "streams/kafka_streams.h"
#include "streams/rocksdb_store.h"
#include "streams/state_directory.h"
#include "streams/store_layers.h"
#include "streams/test_driver.h"

namespace sluice::streams {
namespace state_store_test {

namespace fs = std::filesystem;

// A directory of its own, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "sluice-state-test-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string sub(const std::string& name) const { return (fs::path(path_) / name).string(); }

 private:
  std::string path_;
};

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::trunc) << text;
}

using Change = std::pair<std::string, std::optional<std::string>>;

// Keys from a small alphabet with the bytes that order differently signed
// and unsigned (0x00, 0x7f, 0x80, 0xff), so ranges cross them.
std::string random_key(std::mt19937& random) {
  static const std::string alphabet = {'\0', 'a', 'b', '\x7f', '\x80', '\xff'};
  std::string key;
  size_t size = random() % 4;
  for (size_t i = 0; i < size; ++i) key.push_back(alphabet[random() % alphabet.size()]);
  return key;
}

TEST(RocksDbStore, RandomOperationsMatchTheInMemoryStore) {
  TempDir dir;
  RocksDbKeyValueStore rocks("store");
  rocks.open_at(dir.sub("rocks"));
  InMemoryKeyValueStore memory("store");
  std::vector<Change> rocks_changes;
  std::vector<Change> memory_changes;
  rocks.set_change_listener([&](const std::string& k, const std::optional<std::string>& v) {
    rocks_changes.emplace_back(k, v);
  });
  memory.set_change_listener([&](const std::string& k, const std::optional<std::string>& v) {
    memory_changes.emplace_back(k, v);
  });
  std::mt19937 random(20);
  for (int op = 0; op < 5000; ++op) {
    std::string key = random_key(random);
    switch (random() % 5) {
      case 0:
      case 1: {
        std::string value = "v" + std::to_string(random() % 100);
        if (random() % 10 == 0) value.clear();  // an empty value is a value
        rocks.put(key, value);
        memory.put(key, value);
        break;
      }
      case 2:
        rocks.remove(key);
        memory.remove(key);
        break;
      case 3:
        ASSERT_EQ(rocks.get(key), memory.get(key)) << "op " << op;
        break;
      case 4: {
        std::optional<std::string> from;
        std::optional<std::string> to;
        if (random() % 3 != 0) from = key;
        if (random() % 3 != 0) to = random_key(random);
        ASSERT_EQ(rocks.range(from, to), memory.range(from, to)) << "op " << op;
        break;
      }
    }
    if (op % 1000 == 999) rocks.flush();  // ranges over files and memtables alike
  }
  EXPECT_EQ(rocks.range({}, {}), memory.range({}, {}));
  EXPECT_EQ(rocks_changes, memory_changes);
  EXPECT_GT(rocks.approximate_entries(), 0U);
}

TEST(RocksDbStore, KeepsItsDataAcrossCloseAndOpen) {
  TempDir dir;
  {
    RocksDbKeyValueStore store("counts");
    store.init(StoreContext{"app", "0_0", dir.path()});
    EXPECT_EQ(store.location(), (fs::path(dir.path()) / "rocksdb" / "counts").string());
    store.put("a", "1");
    store.put("b", "2");
    store.remove("a");
    store.close();
  }
  RocksDbKeyValueStore store("counts");
  store.init(StoreContext{"app", "0_0", dir.path()});
  EXPECT_EQ(store.range({}, {}), (std::vector<std::pair<std::string, std::string>>{{"b", "2"}}));
  store.close();
  try {
    (void)store.get("b");
    FAIL() << "a closed store answered";
  } catch (const InvalidStateStoreException& e) {
    EXPECT_STREQ(e.what(), "Store counts is currently closed");
  }
}

TEST(RocksDbStore, NeedsAStateDirectory) {
  RocksDbKeyValueStore store("counts");
  EXPECT_THROW(store.init(StoreContext{"app", "0_0", ""}), ProcessorStateException);
}

TEST(Checkpoint, RoundTripInKafkasFormat) {
  TempDir dir;
  OffsetCheckpoint file(dir.sub(".checkpoint"));
  EXPECT_TRUE(file.read().empty());  // no file: no offsets
  std::map<TopicPartition, int64_t> offsets = {{{"app-counts-changelog", 0}, 41},
                                               {{"app-other-changelog", 3}, 0}};
  file.write(offsets);
  EXPECT_EQ(read_file(file.path()), "0\n2\napp-counts-changelog 0 41\napp-other-changelog 3 0\n");
  EXPECT_EQ(file.read(), offsets);
  EXPECT_FALSE(fs::exists(file.path() + ".tmp"));
  // Kafka's unknown offset (-4) is written and read back as no offset.
  file.write({{{"t", 0}, OffsetCheckpoint::kOffsetUnknown}, {{"t", 1}, 7}});
  EXPECT_EQ(file.read(), (std::map<TopicPartition, int64_t>{{{"t", 1}, 7}}));
  EXPECT_THROW(file.write({{{"t", 0}, -1}}), std::invalid_argument);
  file.write({});  // nothing to say: no file, as Kafka
  EXPECT_FALSE(file.exists());
}

TEST(Checkpoint, ReadsWhatKafkaWrites) {
  TempDir dir;
  OffsetCheckpoint file(dir.sub(".checkpoint"));
  // Several spaces between fields, and a negative offset Kafka skips.
  write_file(file.path(), "0\n3\nwc-counts-store-changelog   2  1234\nx 0 -1\ny 1 5\n");
  EXPECT_EQ(file.read(), (std::map<TopicPartition, int64_t>{
                             {{"wc-counts-store-changelog", 2}, 1234}, {{"y", 1}, 5}}));
}

TEST(Checkpoint, UnknownOffsetsAreKeptOnlyWhenAsked) {
  TempDir dir;
  OffsetCheckpoint file(dir.sub(".checkpoint"));
  write_file(file.path(), "0\n2\na 0 -4\nb 1 7\n");
  EXPECT_EQ(file.read(), (std::map<TopicPartition, int64_t>{{{"b", 1}, 7}}));
  EXPECT_EQ(file.read(/*keep_unknown=*/true),
            (std::map<TopicPartition, int64_t>{{{"a", 0}, OffsetCheckpoint::kOffsetUnknown},
                                               {{"b", 1}, 7}}));
}

TEST(Checkpoint, CorruptFilesSayWhy) {
  TempDir dir;
  OffsetCheckpoint file(dir.sub(".checkpoint"));
  std::vector<std::pair<std::string, std::string>> cases = {
      {"", "File ended prematurely."},
      {"0\n", "File ended prematurely."},
      {"1\n0\n", "Unknown offset checkpoint version: 1"},
      {"zero\n", "For input string: \"zero\" (not a number)"},
      {"0\n2\nt 0 5\n", "Expected 2 entries but found only 1"},
      {"0\n1\nt 0\n", "Malformed line in offset checkpoint file: 't 0'."},
      {"0\n1\nt x 5\n", "Malformed line in offset checkpoint file: 't x 5'."},
      {"0\n1\n\x01\x02garbage\xff\n",
       "Malformed line in offset checkpoint file: '\x01\x02garbage\xff'."},
  };
  for (const auto& [text, message] : cases) {
    write_file(file.path(), text);
    try {
      (void)file.read();
      FAIL() << "read a corrupt file: " << text;
    } catch (const CorruptCheckpointError& e) {
      EXPECT_EQ(std::string(e.what()), message);
    }
  }
}

TEST(StateDirectory, KafkasLayoutAndASecondInstanceFailsClearly) {
  TempDir dir;
  StateDirectory first(dir.path(), "app");
  EXPECT_EQ(first.application_dir(), dir.sub("app"));
  EXPECT_TRUE(fs::exists(dir.sub("app/.lock")));
  EXPECT_EQ(first.task_dir("1_2"), dir.sub("app/1_2"));
  EXPECT_TRUE(fs::is_directory(dir.sub("app/1_2")));
  try {
    StateDirectory second(dir.path(), "app");
    FAIL() << "two instances locked one state directory";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()),
              "Unable to initialize state, this can happen if multiple instances of Kafka Streams "
              "are running in the same state directory (current state directory is [" +
                  dir.sub("app") + "]");
  }
  StateDirectory other_application(dir.path(), "other");  // its own lock
  // The process id stays across restarts.
  std::string id = first.process_id();
  EXPECT_EQ(id.size(), 36U);
  EXPECT_EQ(first.process_id(), id);
}

TEST(StateDirectory, TheLockIsReleasedWithTheInstance) {
  TempDir dir;
  { StateDirectory first(dir.path(), "app"); }
  StateDirectory again(dir.path(), "app");
  SUCCEED();
}

TEST(StateDirectory, ATaskDirectoryHasOneOwner) {
  TempDir dir;
  StateDirectory state(dir.path(), "app");
  EXPECT_TRUE(state.lock_task("0_0", 1, std::chrono::milliseconds(0)));
  EXPECT_TRUE(state.lock_task("0_0", 1, std::chrono::milliseconds(0)));  // its owner again
  EXPECT_FALSE(state.lock_task("0_0", 2, std::chrono::milliseconds(10)));
  std::thread releaser([&] { state.unlock_task("0_0", 1); });
  EXPECT_TRUE(state.lock_task("0_0", 2, std::chrono::seconds(10)));  // waits for the release
  releaser.join();
}

TEST(StateDirectory, ListsTaskDirectoriesAndKeepsAValidProcessId) {
  TempDir dir;
  StateDirectory state(dir.path(), "app");
  state.task_dir("1_0");
  state.task_dir("0_12");
  fs::create_directories(dir.sub("app/not_a_task"));
  write_file(dir.sub("app/2_3"), "a file, not a task's directory");
  std::vector<std::string> tasks = state.task_directories();
  std::sort(tasks.begin(), tasks.end());
  EXPECT_EQ(tasks, (std::vector<std::string>{"0_12", "1_0"}));
  // A process file that does not hold a UUID is replaced, not trusted.
  write_file(dir.sub("app/kafka-streams-process-metadata"), R"({"processId":"not-a-uuid"})");
  std::string id = state.process_id();
  EXPECT_NE(id, "not-a-uuid");
  EXPECT_EQ(id.size(), 36U);
  EXPECT_EQ(state.process_id(), id);
}

// A task over one persistent logged store, as the runtime makes them.
struct TaskFixture : RecordCollector {
  void send(SerializedRecord record) override { sent.push_back(std::move(record)); }
  int32_t partition_count(const std::string&) override { return 1; }

  static Topology topology() {
    Topology topology;
    topology.add_source<std::string, std::string>("source", serdes::string(), serdes::string(),
                                                  {"input"});
    topology.add_processor<std::string, std::string, std::string, std::string>(
        "writer",
        [] {
          struct Writer : Processor<std::string, std::string, std::string, std::string> {
            KeyValueStore<std::string, std::string>* store = nullptr;
            void init(ProcessorContext<std::string, std::string>& context) override {
              store = &context.get_state_store<KeyValueStore<std::string, std::string>>("kv");
            }
            void process(const Record<std::string, std::string>& record) override {
              store->put(record.key, record.value);
            }
          };
          return std::make_unique<Writer>();
        },
        {"source"});
    topology.add_state_store(stores::persistent_key_value("kv", serdes::string(), serdes::string()),
                             {"writer"});
    return topology;
  }

  std::unique_ptr<Task> make(const std::string& task_dir, bool exactly_once, bool standby = false) {
    TaskSettings settings;
    settings.application_id = "app";
    settings.state_dir = task_dir;
    settings.exactly_once = exactly_once;
    settings.standby = standby;
    return std::make_unique<Task>(built, std::vector<std::string>{}, settings, *this);
  }

  static std::vector<std::pair<std::string, std::string>> contents(Task& task) {
    return task.store("kv")->bytes_store()->range({}, {});
  }

  Topology built = topology();
  std::vector<SerializedRecord> sent;
};

const TopicPartition kChangelog{"app-kv-changelog", 0};

TEST(TaskState, CheckpointsWhatItRestoredAndWroteAndRestartsThere) {
  TempDir dir;
  TaskFixture fixture;
  {
    auto task = fixture.make(dir.path(), false);
    EXPECT_EQ(task->restore_start_offset("kv"), std::nullopt);  // no checkpoint: the beginning
    task->restore("kv", "a", "1", 0);
    task->restore("kv", "b", "2", 1);
    task->process(SerializedRecord{"input", 0, 0, 5, "c", "3", {}});
    ASSERT_EQ(fixture.sent.size(), 1U);  // the changelog record, at offset 2 say
    task->checkpoint({{kChangelog, 2}, {{"app-kv-changelog", 1}, 99}});  // another partition's
    task->close();
  }
  EXPECT_EQ(read_file(dir.sub(".checkpoint")), "0\n1\napp-kv-changelog 0 2\n");
  auto task = fixture.make(dir.path(), false);
  EXPECT_EQ(task->restore_start_offset("kv"), 3);
  EXPECT_EQ(TaskFixture::contents(*task),
            (std::vector<std::pair<std::string, std::string>>{{"a", "1"}, {"b", "2"}, {"c", "3"}}));
}

TEST(TaskState, ACorruptCheckpointWipesTheStateAndNeverCrashes) {
  TempDir dir;
  TaskFixture fixture;
  {
    auto task = fixture.make(dir.path(), false);
    task->restore("kv", "a", "1", 0);
    task->checkpoint({});
  }
  write_file(dir.sub(".checkpoint"), "0\n1\nhalf a li");
  auto task = fixture.make(dir.path(), false);
  EXPECT_EQ(task->restore_start_offset("kv"), std::nullopt);  // restored whole
  EXPECT_TRUE(TaskFixture::contents(*task).empty());
  EXPECT_FALSE(fs::exists(dir.sub(".checkpoint")));
}

TEST(TaskState, ExactlyOnceWipesAStoreWithoutACheckpoint) {
  TempDir dir;
  TaskFixture fixture;
  {
    auto task = fixture.make(dir.path(), true);
    task->restore("kv", "a", "1", 0);
    task->process(SerializedRecord{"input", 0, 0, 5, "uncommitted", "x", {}});
    // killed: no clean close, no checkpoint
  }
  EXPECT_FALSE(fs::exists(dir.sub(".checkpoint")));
  {
    auto task = fixture.make(dir.path(), true);
    EXPECT_TRUE(TaskFixture::contents(*task).empty());
    EXPECT_EQ(task->restore_start_offset("kv"), std::nullopt);
    task->restore("kv", "a", "1", 0);
    task->checkpoint({});  // a clean close
  }
  EXPECT_TRUE(fs::exists(dir.sub(".checkpoint")));
  auto task = fixture.make(dir.path(), true);
  EXPECT_EQ(task->restore_start_offset("kv"), 1);
  EXPECT_EQ(TaskFixture::contents(*task),
            (std::vector<std::pair<std::string, std::string>>{{"a", "1"}}));
  // Removed while processing: a crash from here on leaves none.
  EXPECT_FALSE(fs::exists(dir.sub(".checkpoint")));
}

TEST(TaskState, ExactlyOnceWipesNothingForANewTaskOrAnEmptyCheckpointedStore) {
  TempDir dir;
  TaskFixture fixture;
  auto messages = std::make_shared<std::ostringstream>();
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>(
      "capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(*messages)));
  {
    auto task = fixture.make(dir.sub("1_0"), true);  // no directory yet
    task->checkpoint({});  // a clean close before any record: offset unknown
  }
  EXPECT_EQ(read_file(dir.sub("1_0/.checkpoint")), "0\n1\napp-kv-changelog 0 -4\n");
  auto again = fixture.make(dir.sub("1_0"), true);
  EXPECT_EQ(again->restore_start_offset("kv"), std::nullopt);
  spdlog::set_default_logger(previous);
  EXPECT_EQ(messages->str().find("did not find checkpoint offsets"), std::string::npos)
      << messages->str();
}

TEST(TaskState, AtLeastOnceKeepsAStoreWithoutACheckpoint) {
  TempDir dir;
  TaskFixture fixture;
  { fixture.make(dir.path(), false)->restore("kv", "a", "1", 0); }
  auto task = fixture.make(dir.path(), false);
  EXPECT_EQ(task->restore_start_offset("kv"), std::nullopt);  // replays the whole changelog
  EXPECT_EQ(TaskFixture::contents(*task),
            (std::vector<std::pair<std::string, std::string>>{{"a", "1"}}));
}

// Kafka's WordCountDemo through the driver, with a store of each kind.
void word_count(StreamsBuilder& builder, Materialized<std::string, int64_t> store) {
  builder.stream("lines", Consumed{serdes::string(), serdes::string()})
      .flat_map_values([](const std::string& line) {
        std::vector<std::string> words;
        std::istringstream in(line);
        for (std::string word; in >> word;) words.push_back(word);
        return words;
      })
      .group_by([](const std::string&, const std::string& word) { return word; })
      .count(std::move(store))
      .to_stream()
      .to("counts", Produced{serdes::string(), serdes::long_()});
}

TEST(TestDriverState, DslStoresArePersistentByDefaultInATemporaryDirectory) {
  std::string location;
  for (bool in_memory : {false, true}) {
    StreamsBuilder builder;
    word_count(builder, in_memory ? Materialized<std::string, int64_t>::as(
                                        stores::in_memory_key_value_store("counts-store"))
                                  : Materialized<std::string, int64_t>::as("counts-store"));
    std::map<std::string, int64_t> model;
    {
      TopologyTestDriver driver(builder.build());
      auto input = driver.create_input_topic("lines", serdes::string(), serdes::string());
      for (std::string line : {"a b a", "c a", "b"}) {
        input.pipe_value(line);
        std::istringstream in(line);
        for (std::string word; in >> word;) ++model[word];
      }
      auto& store = driver.get_key_value_store<std::string, int64_t>("counts-store");
      std::map<std::string, int64_t> counted;
      for (const auto& [word, count] : store.all()) counted[word] = count;
      EXPECT_EQ(counted, model);
      EXPECT_EQ(store.persistent(), !in_memory);
      // Under the record cache's layer: the store itself.
      KeyValueBytesStore* bytes = store.bytes_store();
      while (auto* layer = dynamic_cast<ForwardingBytesStore*>(bytes)) bytes = &layer->inner();
      auto* rocks = dynamic_cast<RocksDbKeyValueStore*>(bytes);
      EXPECT_EQ(rocks != nullptr, !in_memory);
      if (rocks != nullptr) location = rocks->location();
    }
  }
  ASSERT_FALSE(location.empty());
  EXPECT_FALSE(fs::exists(location));  // the driver removed its state directory
}

TEST(TestDriverState, PersistentWindowStoresWork) {
  StreamsBuilder builder;
  builder.stream("clicks", Consumed{serdes::string(), serdes::string()})
      .group_by_key()
      .windowed_by(TimeWindows::of_size_and_grace(std::chrono::milliseconds(10),
                                                  std::chrono::milliseconds(100)))
      .count(Materialized<std::string, int64_t>::as("per-window"));
  TopologyTestDriver driver(builder.build());
  auto input = driver.create_input_topic("clicks", serdes::string(), serdes::string());
  for (int64_t t : {1, 2, 11, 12, 13}) input.pipe_input("page", "x", t);
  auto& store = driver.get_state_store_for_test<WindowStore<std::string, int64_t>>("per-window");
  EXPECT_TRUE(store.persistent());
  EXPECT_EQ(store.fetch("page", 0, 20),
            (std::vector<std::pair<int64_t, int64_t>>{{0, 2}, {10, 3}}));
}

TEST(TestDriverState, PersistentSessionAndSlidingWindowStoresWork) {
  StreamsBuilder builder;
  auto grouped =
      builder.stream("clicks", Consumed{serdes::string(), serdes::string()}).group_by_key();
  grouped
      .windowed_by(SessionWindows::of_inactivity_gap_and_grace(std::chrono::milliseconds(5),
                                                               std::chrono::milliseconds(100)))
      .count(Materialized<std::string, int64_t>::as("sessions"));
  grouped
      .windowed_by(SlidingWindows::of_time_difference_and_grace(std::chrono::milliseconds(10),
                                                                std::chrono::milliseconds(100)))
      .count(Materialized<std::string, int64_t>::as("sliding"));
  TopologyTestDriver driver(builder.build());
  auto input = driver.create_input_topic("clicks", serdes::string(), serdes::string());
  for (int64_t t : {1, 3, 20, 22, 24}) input.pipe_input("page", "x", t);
  auto& sessions = driver.get_state_store_for_test<SessionStore<std::string, int64_t>>("sessions");
  EXPECT_TRUE(sessions.persistent());
  EXPECT_NE(dynamic_cast<RocksDbKeyValueStore*>(sessions.bytes_store()), nullptr);
  // Two sessions: [1, 3] and [20, 24] (the gap is 5 ms).
  EXPECT_EQ(sessions.fetch_session("page", 1, 3), 2);
  EXPECT_EQ(sessions.fetch_session("page", 20, 24), 3);
  auto& sliding =
      driver.get_state_store_for_test<WindowStore<std::string, TimestampedValue<int64_t>>>(
          "sliding");
  EXPECT_TRUE(sliding.persistent());
  // The window ending at the last record, [14, 24], holds 20, 22 and 24.
  std::optional<TimestampedValue<int64_t>> last = sliding.fetch("page", 14);
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(last->value, 3);
}

std::unique_ptr<KeyValueStore<std::string, int64_t>> typed(
    std::unique_ptr<KeyValueBytesStore> bytes) {
  return std::make_unique<KeyValueStore<std::string, int64_t>>(std::move(bytes), serdes::string(),
                                                               serdes::long_());
}

TEST(InteractiveQueries, AKeyValueViewReadsEveryLocalTask) {
  TempDir dir;
  auto rocks = std::make_unique<RocksDbKeyValueStore>("counts");
  rocks->open_at(dir.sub("0_0"));
  auto partition0 = typed(std::move(rocks));
  auto partition1 = typed(std::make_unique<InMemoryKeyValueStore>("counts"));
  partition0->put("apple", 3);
  partition0->put("cherry", 1);
  partition1->put("banana", 2);
  auto local = std::make_shared<LocalStores>();
  local->add("1_0", 0, {{"counts", partition0.get()}});
  local->add("1_1", 1, {{"counts", partition1.get()}});
  ReadOnlyKeyValueStore<std::string, int64_t> view(local, "counts", std::nullopt);
  EXPECT_EQ(view.get("apple"), 3);
  EXPECT_EQ(view.get("banana"), 2);
  EXPECT_EQ(view.get("durian"), std::nullopt);
  using Pairs = std::vector<std::pair<std::string, int64_t>>;
  // Task by task, each in key order (Kafka's composite store).
  EXPECT_EQ(view.all(), (Pairs{{"apple", 3}, {"cherry", 1}, {"banana", 2}}));
  EXPECT_EQ(view.range("b", "c"), (Pairs{{"banana", 2}}));
  EXPECT_EQ(view.approximate_num_entries(), 3);
  ReadOnlyKeyValueStore<std::string, int64_t> only1(local, "counts", 1);
  EXPECT_EQ(only1.get("apple"), std::nullopt);
  EXPECT_EQ(only1.all(), (Pairs{{"banana", 2}}));

  ReadOnlyKeyValueStore<std::string, int64_t> only7(local, "counts", 7);
  try {
    (void)only7.get("apple");
    FAIL();
  } catch (const InvalidStateStorePartitionException& e) {
    EXPECT_STREQ(e.what(), "The specified partition 7 for store counts does not exist.");
  }
  ReadOnlyKeyValueStore<std::string, std::string> wrong_types(local, "counts", std::nullopt);
  EXPECT_THROW((void)wrong_types.get("apple"), InvalidStateStoreException);
  ReadOnlyWindowStore<std::string, int64_t> wrong_kind(local, "counts", std::nullopt);
  EXPECT_THROW((void)wrong_kind.all(), InvalidStateStoreException);

  // A rebalance takes the tasks away: the view says so, as Kafka's.
  local->remove("1_0");
  EXPECT_EQ(view.get("apple"), std::nullopt);
  local->remove("1_1");
  try {
    (void)view.get("apple");
    FAIL();
  } catch (const InvalidStateStoreException& e) {
    EXPECT_STREQ(e.what(), "The state store, counts, may have migrated to another instance.");
  }
}

TEST(InteractiveQueries, AWindowViewFetchesAcrossTasks) {
  auto make = [] {
    return std::make_unique<WindowStore<std::string, int64_t>>(
        std::make_unique<InMemoryKeyValueStore>("views"), 10, 100, serdes::string(),
        serdes::long_());
  };
  auto partition0 = make();
  auto partition1 = make();
  partition0->put("a", 1, 0);
  partition0->put("a", 2, 10);
  partition1->put("b", 5, 10);
  partition1->put("b", 6, 20);
  auto local = std::make_shared<LocalStores>();
  local->add("0_0", 0, {{"views", partition0.get()}});
  local->add("0_1", 1, {{"views", partition1.get()}});
  ReadOnlyWindowStore<std::string, int64_t> view(local, "views", std::nullopt);
  EXPECT_EQ(view.fetch("a", 10), 2);
  EXPECT_EQ(view.fetch("b", 0, 15), (std::vector<std::pair<int64_t, int64_t>>{{10, 5}}));
  std::vector<std::pair<Windowed<std::string>, int64_t>> all = view.all();
  ASSERT_EQ(all.size(), 4U);
  std::vector<std::pair<Windowed<std::string>, int64_t>> from10 = view.fetch_all(10, 10);
  ASSERT_EQ(from10.size(), 2U);
  EXPECT_EQ(from10[0].first.key, "a");
  EXPECT_EQ(from10[0].second, 2);
  EXPECT_EQ(from10[1].first.key, "b");
  EXPECT_EQ(from10[1].first.window.end, 20);
}

// Reads on one thread while the stream thread writes: every read sees a
// value some write put (the store's own locking), never a torn one.
TEST(InteractiveQueries, ReadsRaceWritesSafely) {
  for (bool persistent : {false, true}) {
    TempDir dir;
    std::unique_ptr<KeyValueBytesStore> bytes;
    if (persistent) {
      auto rocks = std::make_unique<RocksDbKeyValueStore>("counts");
      rocks->open_at(dir.sub("db"));
      bytes = std::move(rocks);
    } else {
      bytes = std::make_unique<InMemoryKeyValueStore>("counts");
    }
    auto store = typed(std::move(bytes));
    auto local = std::make_shared<LocalStores>();
    local->add("0_0", 0, {{"counts", store.get()}});
    ReadOnlyKeyValueStore<std::string, int64_t> view(local, "counts", std::nullopt);
    std::atomic<bool> done{false};
    std::thread writer([&] {
      for (int64_t i = 1; i <= 20000; ++i) store->put("k" + std::to_string(i % 50), i);
      done = true;
    });
    int64_t reads = 0;
    while (!done) {
      std::optional<int64_t> value = view.get("k7");
      if (value) {
        EXPECT_EQ(*value % 50, 7);
      }
      for (const auto& [key, count] : view.all()) EXPECT_EQ("k" + std::to_string(count % 50), key);
      ++reads;
    }
    writer.join();
    EXPECT_GT(reads, 0);
    EXPECT_EQ(view.get("k7"), 19957);
  }
}

TEST(InteractiveQueries, KafkaStreamsRefusesBeforeStart) {
  StreamsBuilder builder;
  word_count(builder, Materialized<std::string, int64_t>::as("counts-store"));
  StreamsConfig config;
  config.application_id = "iq";
  config.bootstrap_servers = "127.0.0.1:1";
  KafkaStreams streams(builder.build(), config);
  try {
    (void)streams.store("counts-store",
                        queryable_store_types::key_value_store<std::string, int64_t>());
    FAIL();
  } catch (const StreamsNotStartedException& e) {
    EXPECT_STREQ(e.what(),
                 "KafkaStreams has not been started, you can retry after calling start()");
  }
}

TEST(TaskState, AStandbyKeepsItsCheckpointUnderExactlyOnceUntilPromoted) {
  TempDir dir;
  TaskFixture fixture;
  {
    auto task = fixture.make(dir.path(), true);
    task->restore("kv", "a", "1", 4);
    task->checkpoint({});  // a clean close
  }
  auto standby = fixture.make(dir.path(), true, /*standby=*/true);
  // Committed changelog records only: the file stays while it runs.
  EXPECT_TRUE(fs::exists(dir.sub(".checkpoint")));
  EXPECT_EQ(standby->restore_start_offset("kv"), 5);
  standby->restore("kv", "b", "2", 5);
  standby->checkpoint({});
  EXPECT_EQ(read_file(dir.sub(".checkpoint")), "0\n1\napp-kv-changelog 0 5\n");
  // Promoted to active: it will take writes of open transactions.
  standby->promote();
  EXPECT_FALSE(fs::exists(dir.sub(".checkpoint")));
  EXPECT_EQ(TaskFixture::contents(*standby),
            (std::vector<std::pair<std::string, std::string>>{{"a", "1"}, {"b", "2"}}));
}

TEST(TaskState, AStandbyUnderExactlyOnceWipesStoresLeftWithoutACheckpoint) {
  TempDir dir;
  TaskFixture fixture;
  {
    auto task = fixture.make(dir.path(), true);
    task->process(SerializedRecord{"input", 0, 0, 5, "uncommitted", "x", {}});
    // killed while active: no checkpoint
  }
  auto standby = fixture.make(dir.path(), true, /*standby=*/true);
  EXPECT_TRUE(TaskFixture::contents(*standby).empty());
  EXPECT_EQ(standby->restore_start_offset("kv"), std::nullopt);
}

}  // namespace state_store_test
}  // namespace sluice::streams
