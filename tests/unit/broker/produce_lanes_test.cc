// Issue 13, point 2: Produce's appends run on the append lanes, not on the
// reactor. A real in-process Broker with one reactor, over TCP, whose data
// file system stalls the writes of one partition's log (a pwrite the kernel
// throttles for writeback): other connections of that reactor, and later
// requests of the same connection, are handled meanwhile, and answers still
// leave each connection in request order.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <optional>
#include <thread>

#include "base/metrics.h"
#include "broker/broker.h"
#include "kafka_connection.h"
#include "protocol/protocol.h"
#include "record/batch_builder.h"
#include "storage/posix_file_system.h"
#include "test_support.h"

namespace sluice::broker {
namespace {

using testing::batch_of;
using Connection = testing::KafkaConnection;
using testing::offloaded_fetches;

using namespace protocol;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Writes to files whose path holds `stalled` sleep `stall` first, while armed.
class StallingFile final : public storage::File {
 public:
  StallingFile(storage::FileHandle inner, const std::atomic<bool>& armed,
               std::chrono::milliseconds stall)
      : inner_(std::move(inner)), armed_(armed), stall_(stall) {}
  Result<size_t> pread(uint64_t position, std::span<uint8_t> out) override {
    return inner_->pread(position, out);
  }
  Result<size_t> pread_nowait(uint64_t position, std::span<uint8_t> out) override {
    return inner_->pread_nowait(position, out);
  }
  bool cached(uint64_t position, uint64_t length) override {
    return inner_->cached(position, length);
  }
  Status append(Bytes data) override {
    maybe_stall();
    return inner_->append(data);
  }
  Status pwrite(uint64_t position, Bytes data) override {
    maybe_stall();
    return inner_->pwrite(position, data);
  }
  Status truncate(uint64_t size_bytes) override { return inner_->truncate(size_bytes); }
  Status sync() override { return inner_->sync(); }
  Result<uint64_t> size() override { return inner_->size(); }
  const std::string& path() const override { return inner_->path(); }
  int native_handle() const override { return inner_->native_handle(); }
  void reserve(uint64_t bytes) override { inner_->reserve(bytes); }

 private:
  void maybe_stall() {
    if (armed_.load()) std::this_thread::sleep_for(stall_);
  }
  storage::FileHandle inner_;
  const std::atomic<bool>& armed_;
  std::chrono::milliseconds stall_;
};

class StallingFileSystem final : public storage::FileSystem {
 public:
  StallingFileSystem(std::string stalled, std::chrono::milliseconds stall)
      : stalled_(std::move(stalled)), stall_(stall) {}
  std::atomic<bool> armed{false};

  Result<storage::FileHandle> open(const std::string& path, storage::OpenMode mode) override {
    auto file = real_.open(path, mode);
    if (!file || path.find(stalled_) == std::string::npos || !path.ends_with(".log")) return file;
    return storage::FileHandle(std::make_shared<StallingFile>(std::move(*file), armed, stall_));
  }
  Status rename(const std::string& from, const std::string& to) override {
    return real_.rename(from, to);
  }
  Status remove(const std::string& path) override { return real_.remove(path); }
  Status remove_dir(const std::string& path) override { return real_.remove_dir(path); }
  Result<std::vector<std::string>> list_dir(const std::string& path) override {
    return real_.list_dir(path);
  }
  Status make_dirs(const std::string& path) override { return real_.make_dirs(path); }
  Status sync_dir(const std::string& path) override { return real_.sync_dir(path); }
  Result<bool> exists(const std::string& path) override { return real_.exists(path); }
  Result<uint64_t> file_size(const std::string& path) override { return real_.file_size(path); }

 private:
  storage::PosixFileSystem real_;
  const std::string stalled_;
  const std::chrono::milliseconds stall_;
};

ApiVersionsRequest api_versions_request() {
  ApiVersionsRequest request;
  request.client_software_name = "lanes-test";
  request.client_software_version = "1.0";
  return request;
}

constexpr int16_t produce_version = 9;
constexpr int16_t api_versions_version = 3;
constexpr auto stall = 400ms;

class ProduceLanesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::fresh_test_dir("produce-lanes");
    // One reactor: every connection of the test shares it.
    auto config = BrokerConfig::load("", {{"log.dirs", dir_.string()},
                                          {"listeners", "PLAINTEXT://127.0.0.1:0"},
                                          {"num.network.threads", "1"},
                                          {"admin.listener", ""}});
    ASSERT_TRUE(config.is_ok()) << config.status().to_string();
    BrokerEnvironment environment;
    environment.data_file_system = &file_system_;
    auto broker = Broker::open(std::move(config).value(), environment);
    ASSERT_TRUE(broker.is_ok()) << broker.status().to_string();
    broker_ = std::move(broker).value();
    ASSERT_TRUE(broker_->start().is_ok());
    ASSERT_TRUE(testing::create_topic(*broker_, "t", 2));
  }
  void TearDown() override {
    file_system_.armed = false;
    if (broker_) broker_->stop();
    broker_.reset();
    std::filesystem::remove_all(dir_);
  }

  static ProduceRequest produce_request(int32_t partition, const std::vector<uint8_t>& batch) {
    ProduceRequest request;
    request.acks = 1;
    request.timeout_ms = 30000;
    auto& topic = request.topic_data.emplace_back();
    topic.name = "t";
    auto& data = topic.partition_data.emplace_back();
    data.index = partition;
    data.records = Records{Bytes(batch), nullptr};
    return request;
  }

  // Writes to t-0's log stall (its directory is "t-0/").
  StallingFileSystem file_system_{"/t-0/",
                                  std::chrono::duration_cast<std::chrono::milliseconds>(stall)};
  std::filesystem::path dir_;
  std::unique_ptr<Broker> broker_;
};

// Before the append lanes, the reactor itself sat in the stalled write: the
// other connection's ApiVersions waited the whole stall (and failed this
// test's bound); now it is answered at once while the Produce still waits.
TEST_F(ProduceLanesTest, AStalledAppendDoesNotStallTheReactor) {
  Connection producer(broker_->bound_port());
  Connection other(broker_->bound_port());
  ASSERT_TRUE(producer.connected() && other.connected());
  auto batch = batch_of(3, 100);
  file_system_.armed = true;
  const auto sent = Clock::now();
  producer.send(produce_request(0, batch), produce_version, 1);
  std::this_thread::sleep_for(20ms);  // the append has begun its stall
  other.send(api_versions_request(), api_versions_version, 7);
  auto versions = other.receive();
  const auto versions_after = Clock::now() - sent;
  ASSERT_TRUE(versions.has_value());
  ApiVersionsResponse versions_response;
  EXPECT_EQ(Connection::decode(*versions, api_versions_version, versions_response), 7);
  EXPECT_EQ(versions_response.error_code, 0);
  EXPECT_LT(versions_after, stall / 2) << "the other connection waited for the stalled append";

  auto produced = producer.receive();
  const auto produced_after = Clock::now() - sent;
  ASSERT_TRUE(produced.has_value());
  ProduceResponse response;
  EXPECT_EQ(Connection::decode(*produced, produce_version, response), 1);
  EXPECT_EQ(response.responses[0].partition_responses[0].error_code, 0);
  EXPECT_EQ(response.responses[0].partition_responses[0].base_offset, 0);
  EXPECT_GE(produced_after, stall) << "the append did stall";
}

// One connection pipelines appends to two partitions on different lanes:
// the stalled one (t-0) first. The answers leave in request order, t-0's
// appends keep their order, and another connection is served meanwhile.
TEST_F(ProduceLanesTest, PipelinedAnswersKeepRequestOrderAcrossLanes) {
  ASSERT_NE(broker_->append_lane("t", 0), broker_->append_lane("t", 1))
      << "the test needs the two partitions on different lanes";
  Connection pipelined(broker_->bound_port());
  Connection other(broker_->bound_port());
  ASSERT_TRUE(pipelined.connected() && other.connected());
  auto batch = batch_of(2, 100);
  file_system_.armed = true;
  pipelined.send(produce_request(0, batch), produce_version, 1);  // stalls
  pipelined.send(produce_request(1, batch), produce_version, 2);  // done at once
  pipelined.send(api_versions_request(), api_versions_version, 3);
  pipelined.send(produce_request(0, batch), produce_version, 4);  // after 1 on t-0's lane
  pipelined.send(produce_request(1, batch), produce_version, 5);
  other.send(api_versions_request(), api_versions_version, 9);
  const auto sent = Clock::now();
  ASSERT_TRUE(other.receive().has_value());
  EXPECT_LT(Clock::now() - sent, stall / 2);
  std::this_thread::sleep_for(50ms);
  file_system_.armed = false;  // the second t-0 append may or may not stall: either is fine

  int32_t expected_correlation = 1;
  std::vector<int64_t> offsets;
  for (int i = 0; i < 5; ++i, ++expected_correlation) {
    auto frame = pipelined.receive();
    ASSERT_TRUE(frame.has_value()) << "answer " << i;
    if (expected_correlation == 3) {
      ApiVersionsResponse versions;
      EXPECT_EQ(Connection::decode(*frame, api_versions_version, versions), 3);
      continue;
    }
    ProduceResponse produced;
    EXPECT_EQ(Connection::decode(*frame, produce_version, produced), expected_correlation);
    const auto& part = produced.responses[0].partition_responses[0];
    EXPECT_EQ(part.error_code, 0);
    offsets.push_back(part.base_offset);
  }
  // t-0: 0 then 2; t-1: 0 then 2 (two records per batch), in request order.
  EXPECT_EQ(offsets, (std::vector<int64_t>{0, 0, 2, 2}));
}

// The stalled append holds t-0's partition lock through its write. A Fetch
// of t-0 on the reactor does not wait for that lock: the look moves to a
// fetch-read thread (which waits), and the reactor serves another
// connection meanwhile. Before, the reactor blocked on the lock for the
// whole stall.
TEST_F(ProduceLanesTest, AFetchDuringAStalledAppendDoesNotWaitForThePartitionLock) {
  Connection producer(broker_->bound_port());
  Connection consumer(broker_->bound_port());
  Connection other(broker_->bound_port());
  ASSERT_TRUE(producer.connected() && consumer.connected() && other.connected());
  auto batch = batch_of(2, 100);
  producer.send(produce_request(0, batch), produce_version, 1);
  ASSERT_TRUE(producer.receive().has_value());
  const uint64_t busy_before = offloaded_fetches("partition_busy");

  file_system_.armed = true;
  const auto sent = Clock::now();
  producer.send(produce_request(0, batch), produce_version, 2);
  std::this_thread::sleep_for(50ms);  // the append holds the lock in its stalled write
  FetchRequest fetch;
  fetch.max_wait_ms = 0;
  fetch.min_bytes = 1;
  auto& topic = fetch.topics.emplace_back();
  topic.topic = "t";
  auto& partition = topic.partitions.emplace_back();
  partition.partition = 0;
  partition.fetch_offset = 0;
  partition.partition_max_bytes = 1 << 20;
  consumer.send(fetch, 11, 3);
  other.send(api_versions_request(), api_versions_version, 4);
  ASSERT_TRUE(other.receive().has_value());
  EXPECT_LT(Clock::now() - sent, stall / 2) << "the reactor waited for the partition lock";
  EXPECT_EQ(offloaded_fetches("partition_busy"), busy_before + 1);

  auto fetched = consumer.receive();
  ASSERT_TRUE(fetched.has_value());
  FetchResponse response;
  EXPECT_EQ(Connection::decode(*fetched, 11, response), 3);
  EXPECT_EQ(response.responses[0].partitions[0].error_code, 0);
  EXPECT_GE(response.responses[0].partitions[0].high_watermark, 2);
  ASSERT_TRUE(producer.receive().has_value());
}

}  // namespace
}  // namespace sluice::broker
