// The data path through Broker::handle with encoded frames, as the network
// layer drives it: Produce (acks 1 and all), Fetch (immediate, long poll,
// KIP-74 first batch, sessions), ListOffsets, DeleteRecords,
// OffsetForLeaderEpoch, DescribeLogDirs. Real files in a temporary dir.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <thread>

#include "base/metrics.h"
#include "broker/broker.h"
#include "protocol/protocol.h"
#include "record/batch_builder.h"
#include "record/record_set.h"
#include "test_support.h"

namespace sluice::broker {
namespace {

using testing::batch_of;
using testing::offloaded_fetches;

using namespace protocol;
using namespace std::chrono_literals;

// The answers of one "connection", waited for with a timeout.
class Answers {
 public:
  net::Respond respond() {
    return net::taking_turn_at_once([this](net::Response response) {
      std::lock_guard lock(mutex_);
      answers_.push_back(std::move(response));
      arrived_.notify_all();
    });
  }
  std::optional<net::Response> next(std::chrono::milliseconds timeout = 5s) {
    std::unique_lock lock(mutex_);
    if (!arrived_.wait_for(lock, timeout, [&] { return !answers_.empty(); })) return std::nullopt;
    net::Response response = std::move(answers_.front());
    answers_.erase(answers_.begin());
    return response;
  }
  size_t count() {
    std::lock_guard lock(mutex_);
    return answers_.size();
  }

 private:
  std::mutex mutex_;
  std::condition_variable arrived_;
  std::vector<net::Response> answers_;
};

size_t records_in(Bytes records) {
  record::RecordSetReader reader(records);
  record::BatchView view;
  size_t count = 0;
  while (reader.next(view)) count += static_cast<size_t>(view.header.record_count);
  return count;
}

class DataPathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::fresh_test_dir("data-path");
    auto config = BrokerConfig::load(
        "", {{"log.dirs", dir_.string()}, {"listeners", "PLAINTEXT://127.0.0.1:0"}});
    ASSERT_TRUE(config.is_ok()) << config.status().to_string();
    auto broker = Broker::open(std::move(config).value());
    ASSERT_TRUE(broker.is_ok()) << broker.status().to_string();
    broker_ = std::move(broker).value();
    ASSERT_TRUE(testing::create_topic(*broker_, "t", 2));
    topic_id_ = broker_->metadata_image()->topic("t")->id;
  }
  void TearDown() override {
    if (broker_) broker_->stop();
    broker_.reset();
    std::filesystem::remove_all(dir_);
  }

  template <class Request>
  void send(const Request& request, int16_t version, Answers& answers,
            std::shared_ptr<net::ReactorExecutor> reactor = nullptr) {
    RequestHeader header;
    header.request_api_key = Request::api_key;
    header.request_api_version = version;
    header.correlation_id = ++correlation_id_;
    header.client_id = "test";
    WireWriter writer;
    encode_request_header(writer, header);
    request.encode(writer, version);
    std::vector<uint8_t> frame = writer.to_vector();
    broker_->handle(net::ConnectionInfo{1, "PLAINTEXT", "127.0.0.1:1", std::move(reactor)},
                    std::make_shared<const FrameBuffer>(frame.begin(), frame.end()),
                    answers.respond());
  }

  template <class Response>
  Response decode(const net::Response& answer, int16_t version) {
    std::vector<uint8_t> bytes = answer.bytes();
    WireReader reader(bytes);
    ResponseHeader header;
    EXPECT_TRUE(decode_response_header(reader, Response::api_key, version, header).is_ok());
    Response response;
    EXPECT_TRUE(response.decode(reader, version).is_ok());
    // Records views point into `bytes`: keep a copy alive with the test.
    kept_.push_back(std::move(bytes));
    return response;
  }

  template <class Response, class Request>
  Response call(const Request& request, int16_t version) {
    Answers answers;
    send(request, version, answers);
    auto answer = answers.next();
    EXPECT_TRUE(answer.has_value());
    return answer ? decode<Response>(*answer, version) : Response{};
  }

  ProduceResponse produce(int32_t partition, const std::vector<uint8_t>& batch, int16_t acks = 1) {
    ProduceRequest request;
    request.acks = acks;
    request.timeout_ms = 30000;
    auto& topic = request.topic_data.emplace_back();
    topic.name = "t";
    auto& data = topic.partition_data.emplace_back();
    data.index = partition;
    data.records = Records{Bytes(batch), nullptr};
    return call<ProduceResponse>(request, 9);
  }

  static FetchRequest fetch_request(int64_t offset, int32_t max_wait_ms = 0,
                                    int32_t min_bytes = 1) {
    FetchRequest request;
    request.max_wait_ms = max_wait_ms;
    request.min_bytes = min_bytes;
    auto& topic = request.topics.emplace_back();
    topic.topic = "t";
    auto& partition = topic.partitions.emplace_back();
    partition.partition = 0;
    partition.fetch_offset = offset;
    partition.partition_max_bytes = 1 << 20;
    return request;
  }

  std::filesystem::path dir_;
  std::unique_ptr<Broker> broker_;
  Uuid topic_id_;
  int32_t correlation_id_ = 0;
  std::vector<std::vector<uint8_t>> kept_;
};

TEST_F(DataPathTest, ProduceThenFetch) {
  auto produced = produce(0, batch_of(5));
  ASSERT_EQ(produced.responses.size(), 1u);
  auto& part = produced.responses[0].partition_responses[0];
  EXPECT_EQ(part.error_code, 0);
  EXPECT_EQ(part.base_offset, 0);
  EXPECT_EQ(part.log_append_time_ms, -1);
  EXPECT_EQ(part.log_start_offset, 0);
  EXPECT_EQ(produce(0, batch_of(3), -1).responses[0].partition_responses[0].base_offset, 5)
      << "acks=all";

  auto fetched = call<FetchResponse>(fetch_request(0), 11);
  ASSERT_EQ(fetched.responses.size(), 1u);
  auto& data = fetched.responses[0].partitions[0];
  EXPECT_EQ(data.error_code, 0);
  EXPECT_EQ(data.high_watermark, 8);
  EXPECT_EQ(data.last_stable_offset, 8);
  ASSERT_TRUE(data.records.has_value());
  EXPECT_EQ(records_in(data.records->bytes), 8u);

  auto out_of_range = call<FetchResponse>(fetch_request(9), 11);
  EXPECT_EQ(out_of_range.responses[0].partitions[0].error_code,
            to_wire(ErrorCode::OFFSET_OUT_OF_RANGE));
}

// Drops the partition's log pages from the page cache (synced first: dirty
// pages stay); false if the kernel kept them anyway.
bool evict(const std::filesystem::path& log_file) {
  int fd = ::open(log_file.c_str(), O_RDONLY);
  if (fd < 0) return false;
  ::fdatasync(fd);
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  // Asked with cachestat(2) (Linux 6.5, x86-64/arm64 451): a probing read,
  // even RWF_NOWAIT, would start the readahead that brings them back.
  struct {
    uint64_t offset, length;
  } range{0, 0};  // length 0: to the end of the file
  struct {
    uint64_t cache, dirty, writeback, evicted, recently_evicted;
  } pages{};
  bool evicted = ::syscall(451, fd, &range, &pages, 0) == 0 && pages.cache == 0;
  ::close(fd);
  return evicted;
}

// Issue 13, point 2: a Fetch whose pages are not in the page cache is not
// read on the calling thread (a reactor): the look at the log moves to the
// fetch-read threads, which bring the pages in and answer.
TEST_F(DataPathTest, AFetchOfEvictedPagesIsReadOffTheReactor) {
  for (int i = 0; i < 5; ++i) produce(0, batch_of(4, 100));
  const auto log_file = dir_ / "t-0" / "00000000000000000000.log";
  // The reactor's RWF_NOWAIT probe starts the readahead of what it missed;
  // on a fast device that read can finish before the probe gives up, and the
  // probe then reads the pages cached. So a few tries, one of which must go
  // to a fetch-read thread.
  constexpr int tries = 5;
  bool offloaded = false;
  for (int attempt = 0; attempt < tries && !offloaded; ++attempt) {
    if (!evict(log_file)) GTEST_SKIP() << "the kernel kept the pages cached";
    const uint64_t before = offloaded_fetches("cold_header");
    auto fetched = call<FetchResponse>(fetch_request(0), 11);
    ASSERT_EQ(fetched.responses.size(), 1u);
    EXPECT_EQ(fetched.responses[0].partitions[0].error_code, 0);
    EXPECT_EQ(records_in(fetched.responses[0].partitions[0].records->bytes), 20u);
    offloaded = offloaded_fetches("cold_header") == before + 1;
  }
  EXPECT_TRUE(offloaded) << "no cold read of " << tries << " ran on a fetch-read thread";
  // Now cached: read on the caller, nothing handed over.
  const uint64_t before = offloaded_fetches("cold_header");
  EXPECT_EQ(
      records_in(
          call<FetchResponse>(fetch_request(0), 11).responses[0].partitions[0].records->bytes),
      20u);
  EXPECT_EQ(offloaded_fetches("cold_header"), before);
}

TEST_F(DataPathTest, ProduceErrors) {
  auto unknown = [&] {
    ProduceRequest request;
    request.acks = 1;
    auto& topic = request.topic_data.emplace_back();
    topic.name = "nope";
    auto batch = batch_of(1);
    topic.partition_data.push_back({0, Records{Bytes(batch), nullptr}, {}});
    return call<ProduceResponse>(request, 9);
  }();
  EXPECT_EQ(unknown.responses[0].partition_responses[0].error_code,
            to_wire(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION));
  auto corrupt = batch_of(2);
  corrupt.back() ^= 0x5a;
  EXPECT_EQ(produce(0, corrupt).responses[0].partition_responses[0].error_code,
            to_wire(ErrorCode::CORRUPT_MESSAGE));
  auto two = batch_of(1);
  auto second = batch_of(1);
  two.insert(two.end(), second.begin(), second.end());
  EXPECT_EQ(produce(0, two).responses[0].partition_responses[0].error_code,
            to_wire(ErrorCode::INVALID_RECORD));
  EXPECT_EQ(produce(0, batch_of(1), 2).responses[0].partition_responses[0].error_code,
            to_wire(ErrorCode::INVALID_REQUIRED_ACKS));
  auto too_large = batch_of(1, 2 << 20);
  EXPECT_EQ(produce(0, too_large).responses[0].partition_responses[0].error_code,
            to_wire(ErrorCode::MESSAGE_TOO_LARGE));
}

TEST_F(DataPathTest, AcksZeroHasNoAnswer) {
  ProduceRequest request;
  request.acks = 0;
  auto& topic = request.topic_data.emplace_back();
  topic.name = "t";
  auto batch = batch_of(1);
  topic.partition_data.push_back({0, Records{Bytes(batch), nullptr}, {}});
  Answers answers;
  send(request, 9, answers);
  auto answer = answers.next();
  ASSERT_TRUE(answer.has_value());
  EXPECT_FALSE(answer->send);
  EXPECT_FALSE(answer->close_after);
  EXPECT_EQ(broker_->replica_manager().partition("t", 0)->high_watermark(), 1);
}

// One request with both partitions (on two append lanes): one answer, once
// both appends are done (and, acks=all, synced); acks=0 whose append fails
// on its lane (a batch above max.message.bytes) closes the connection.
TEST_F(DataPathTest, OneRequestAcrossLanesIsAnsweredOnce) {
  ASSERT_NE(broker_->append_lane("t", 0), broker_->append_lane("t", 1));
  for (int16_t acks : {int16_t{1}, int16_t{-1}}) {
    ProduceRequest request;
    request.acks = acks;
    request.timeout_ms = 30000;
    auto& topic = request.topic_data.emplace_back();
    topic.name = "t";
    auto first = batch_of(3);
    auto second = batch_of(2);
    topic.partition_data.push_back({1, Records{Bytes(first), nullptr}, {}});
    topic.partition_data.push_back({0, Records{Bytes(second), nullptr}, {}});
    Answers answers;
    send(request, 9, answers);
    auto answer = answers.next();
    ASSERT_TRUE(answer.has_value()) << "acks " << acks;
    auto produced = decode<ProduceResponse>(*answer, 9);
    ASSERT_EQ(produced.responses[0].partition_responses.size(), 2u);
    const auto& p1 = produced.responses[0].partition_responses[0];
    const auto& p0 = produced.responses[0].partition_responses[1];
    EXPECT_EQ(p1.index, 1);
    EXPECT_EQ(p0.index, 0);
    EXPECT_EQ(p1.error_code, 0);
    EXPECT_EQ(p0.error_code, 0);
    EXPECT_EQ(p1.base_offset, acks == 1 ? 0 : 3);
    EXPECT_EQ(p0.base_offset, acks == 1 ? 0 : 2);
    EXPECT_FALSE(answers.next(100ms).has_value()) << "answered once";
  }
  ProduceRequest failing;
  failing.acks = 0;
  auto& topic = failing.topic_data.emplace_back();
  topic.name = "t";
  auto too_large = batch_of(1, 2 << 20);
  auto fine = batch_of(1);
  topic.partition_data.push_back({0, Records{Bytes(fine), nullptr}, {}});
  topic.partition_data.push_back({1, Records{Bytes(too_large), nullptr}, {}});
  Answers answers;
  send(failing, 9, answers);
  auto answer = answers.next();
  ASSERT_TRUE(answer.has_value());
  EXPECT_FALSE(answer->send);
  EXPECT_TRUE(answer->close_after) << "a failed acks=0 append closes the connection";
}

TEST_F(DataPathTest, LongPollWaitsForDataThenAnswers) {
  Answers parked;
  send(fetch_request(0, /*max_wait_ms=*/10000, /*min_bytes=*/1), 11, parked);
  EXPECT_FALSE(parked.next(100ms).has_value()) << "nothing to return yet: the fetch waits";
  produce(0, batch_of(4));
  auto answer = parked.next(2s);
  ASSERT_TRUE(answer.has_value()) << "the append woke the fetch";
  auto fetched = decode<FetchResponse>(*answer, 11);
  EXPECT_EQ(records_in(fetched.responses[0].partitions[0].records->bytes), 4u);
}

// A reactor that runs its tasks only when the test says so.
class QueuedReactor final : public net::ReactorExecutor {
 public:
  void post(std::function<void()> task) override {
    std::lock_guard lock(mutex_);
    tasks_.push_back(std::move(task));
  }
  size_t run_all() {
    std::vector<std::function<void()>> tasks;
    {
      std::lock_guard lock(mutex_);
      tasks.swap(tasks_);
    }
    for (auto& task : tasks) task();
    return tasks.size();
  }

 private:
  std::mutex mutex_;
  std::vector<std::function<void()>> tasks_;
};

// The append that wakes a parked fetch happens on the producer's reactor;
// the fetch is collected and answered on its own (the posted task), so the
// producer's reactor reads and encodes nothing for it.
TEST_F(DataPathTest, AWokenLongPollIsAnsweredOnItsOwnReactor) {
  auto reactor = std::make_shared<QueuedReactor>();
  Answers parked;
  send(fetch_request(0, /*max_wait_ms=*/10000, /*min_bytes=*/1), 11, parked, reactor);
  produce(0, batch_of(4));
  produce(0, batch_of(2));
  EXPECT_FALSE(parked.next(100ms).has_value()) << "answered on the producer's thread";
  EXPECT_EQ(reactor->run_all(), 1u) << "one wake-up pending at a time";
  auto answer = parked.next(2s);
  ASSERT_TRUE(answer.has_value()) << "the fetch's reactor answered it";
  auto fetched = decode<FetchResponse>(*answer, 11);
  EXPECT_EQ(records_in(fetched.responses[0].partitions[0].records->bytes), 6u);
}

TEST_F(DataPathTest, LongPollExpiresEmpty) {
  Answers parked;
  auto started = std::chrono::steady_clock::now();
  send(fetch_request(0, /*max_wait_ms=*/200, /*min_bytes=*/1), 11, parked);
  auto answer = parked.next(5s);
  ASSERT_TRUE(answer.has_value());
  EXPECT_GE(std::chrono::steady_clock::now() - started, 190ms);
  auto fetched = decode<FetchResponse>(*answer, 11);
  EXPECT_EQ(fetched.responses[0].partitions[0].error_code, 0);
  EXPECT_EQ(fetched.responses[0].partitions[0].records->size(), 0u);
}

TEST_F(DataPathTest, FetchLimitsReturnAtLeastOneBatch) {
  for (int i = 0; i < 3; ++i) produce(0, batch_of(10, 1000));
  auto request = fetch_request(0);
  request.topics[0].partitions[0].partition_max_bytes = 100;  // smaller than a batch
  auto fetched = call<FetchResponse>(request, 11);
  EXPECT_EQ(records_in(fetched.responses[0].partitions[0].records->bytes), 10u)
      << "KIP-74: one whole batch";
  request.topics[0].partitions[0].partition_max_bytes = 1 << 20;
  request.max_bytes = 15000;
  fetched = call<FetchResponse>(request, 11);
  EXPECT_EQ(records_in(fetched.responses[0].partitions[0].records->bytes), 10u)
      << "max_bytes holds one batch only";
}

TEST_F(DataPathTest, FetchByTopicIdAndSessions) {
  produce(1, batch_of(2));
  FetchRequest request;
  request.max_wait_ms = 0;
  request.min_bytes = 0;
  request.session_id = 0;
  request.session_epoch = 0;  // create a session
  auto& topic = request.topics.emplace_back();
  topic.topic_id = topic_id_;
  for (int32_t p : {0, 1}) {
    auto& partition = topic.partitions.emplace_back();
    partition.partition = p;
    partition.partition_max_bytes = 1 << 20;
  }
  auto full = call<FetchResponse>(request, 13);
  ASSERT_NE(full.session_id, 0);
  ASSERT_EQ(full.responses.size(), 1u);
  EXPECT_EQ(full.responses[0].topic_id, topic_id_);
  EXPECT_EQ(full.responses[0].partitions.size(), 2u);

  // Incremental, nothing changed in the request: only partition 1 moves
  // (its offset is still 0 in the session, so it has records again).
  FetchRequest incremental;
  incremental.session_id = full.session_id;
  incremental.session_epoch = 1;
  incremental.min_bytes = 0;
  auto next = call<FetchResponse>(incremental, 13);
  EXPECT_EQ(next.error_code, 0);
  ASSERT_EQ(next.responses.size(), 1u);
  ASSERT_EQ(next.responses[0].partitions.size(), 1u);
  EXPECT_EQ(next.responses[0].partitions[0].partition_index, 1);

  incremental.session_epoch = 5;
  EXPECT_EQ(call<FetchResponse>(incremental, 13).error_code,
            to_wire(ErrorCode::INVALID_FETCH_SESSION_EPOCH));

  FetchRequest unknown_id;
  unknown_id.max_wait_ms = 0;
  auto& missing = unknown_id.topics.emplace_back();
  missing.topic_id.bytes[0] = 0x42;
  missing.partitions.emplace_back().partition = 0;
  auto answer = call<FetchResponse>(unknown_id, 13);
  EXPECT_EQ(answer.responses[0].partitions[0].error_code, to_wire(ErrorCode::UNKNOWN_TOPIC_ID));
}

TEST_F(DataPathTest, ListOffsetsDeleteRecordsEpochsAndLogDirs) {
  produce(0, batch_of(10));
  std::this_thread::sleep_for(5ms);  // a later max timestamp for the second batch
  produce(0, batch_of(10));
  auto list = [&](int64_t timestamp) {
    ListOffsetsRequest request;
    request.replica_id = -1;
    auto& topic = request.topics.emplace_back();
    topic.name = "t";
    topic.partitions.push_back({0, -1, timestamp, 1, {}});
    return call<ListOffsetsResponse>(request, 7).topics[0].partitions[0];
  };
  EXPECT_EQ(list(-2).offset, 0);
  EXPECT_EQ(list(-1).offset, 20);
  EXPECT_EQ(list(-1).leader_epoch, 0);
  // In the second batch (storage resolves max timestamps per batch: it
  // gives the batch's last offset where Kafka gives the record's).
  auto max_timestamp = list(-3);
  EXPECT_GE(max_timestamp.offset, 10);
  EXPECT_LE(max_timestamp.offset, 19);
  EXPECT_GT(max_timestamp.timestamp, 0);

  DeleteRecordsRequest delete_request;
  auto& topic = delete_request.topics.emplace_back();
  topic.name = "t";
  topic.partitions.push_back({0, 10, {}});
  auto deleted = call<DeleteRecordsResponse>(delete_request, 2);
  EXPECT_EQ(deleted.topics[0].partitions[0].error_code, 0);
  EXPECT_EQ(deleted.topics[0].partitions[0].low_watermark, 10);
  EXPECT_EQ(list(-2).offset, 10);
  delete_request.topics[0].partitions[0].offset = 21;
  EXPECT_EQ(call<DeleteRecordsResponse>(delete_request, 2).topics[0].partitions[0].error_code,
            to_wire(ErrorCode::OFFSET_OUT_OF_RANGE));

  OffsetForLeaderEpochRequest epochs;
  epochs.replica_id = -1;
  auto& epoch_topic = epochs.topics.emplace_back();
  epoch_topic.topic = "t";
  epoch_topic.partitions.push_back({0, 0, 0, {}});
  epoch_topic.partitions.push_back({0, 1, 0, {}});
  auto ends = call<OffsetForLeaderEpochResponse>(epochs, 4);
  EXPECT_EQ(ends.topics[0].partitions[0].end_offset, 20);
  EXPECT_EQ(ends.topics[0].partitions[1].error_code, to_wire(ErrorCode::UNKNOWN_LEADER_EPOCH));

  DescribeLogDirsRequest dirs;
  dirs.topics = std::nullopt;
  auto described = call<DescribeLogDirsResponse>(dirs, 4);
  ASSERT_EQ(described.results.size(), 1u);
  EXPECT_EQ(described.results[0].log_dir, dir_.string());
  // The broker also holds __consumer_offsets (the group coordinator's).
  const auto& described_topics = described.results[0].topics;
  auto topic_t = std::find_if(described_topics.begin(), described_topics.end(),
                              [](const auto& topic) { return topic.name == "t"; });
  ASSERT_NE(topic_t, described_topics.end());
  EXPECT_EQ(topic_t->partitions.size(), 2u);
  EXPECT_GT(described.results[0].total_bytes, 0);
}

// The broker's log.cleaner.* settings reach the LogManager's cleaner.
TEST(BrokerDataPath, LogCleanerSettingsReachTheLogManager) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("sluice-cleaner-config-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  auto config = BrokerConfig::load("", {{"log.dirs", dir.string()},
                                        {"listeners", "PLAINTEXT://127.0.0.1:0"},
                                        {"log.cleaner.threads", "2"},
                                        {"log.cleaner.backoff.ms", "1234"},
                                        {"log.cleaner.dedupe.buffer.size", "4194304"},
                                        {"log.cleaner.io.buffer.size", "131072"},
                                        {"log.cleaner.io.buffer.load.factor", "0.5"}});
  ASSERT_TRUE(config.is_ok()) << config.status().to_string();
  auto opened = Broker::open(std::move(config).value());
  ASSERT_TRUE(opened.is_ok()) << opened.status().to_string();
  std::unique_ptr<Broker> broker = std::move(opened).value();
  const storage::CleanerConfig& cleaner = broker->log_manager().cleaner().config();
  EXPECT_TRUE(cleaner.enable);
  EXPECT_EQ(cleaner.threads, 2);
  EXPECT_EQ(cleaner.backoff_ms, 1234);
  EXPECT_EQ(cleaner.dedupe_buffer_bytes, 4194304u);
  EXPECT_EQ(cleaner.io_buffer_bytes, 131072u);
  EXPECT_DOUBLE_EQ(cleaner.io_buffer_load_factor, 0.5);
  broker->stop();
  broker.reset();
  std::filesystem::remove_all(dir);
}

TEST_F(DataPathTest, TheFirstFindCoordinatorCreatesTheOffsetsTopic) {
  EXPECT_EQ(broker_->metadata_image()->topic("__consumer_offsets"), nullptr)
      << "not created at start-up";
  FindCoordinatorRequest request;
  request.key = "g";
  request.key_type = 0;
  // As Kafka: COORDINATOR_NOT_AVAILABLE while the controller thread creates
  // the topic (the lookup never waits for it), this node once it exists.
  auto found = call<FindCoordinatorResponse>(request, 3);
  EXPECT_EQ(found.error_code, to_wire(ErrorCode::COORDINATOR_NOT_AVAILABLE));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (found.error_code != 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    found = call<FindCoordinatorResponse>(request, 3);
  }
  EXPECT_EQ(found.error_code, 0);
  EXPECT_EQ(found.node_id, 1);
  const auto* topic = broker_->metadata_image()->topic("__consumer_offsets");
  ASSERT_NE(topic, nullptr);
  EXPECT_EQ(topic->partitions.size(), 50u);
  EXPECT_NE(broker_->replica_manager().partition("__consumer_offsets", 49), nullptr);
}

}  // namespace
}  // namespace sluice::broker
