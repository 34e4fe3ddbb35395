// Producer ids on the controller (Kafka's ProducerIdControlManager):
// AllocateProducerIds hands out consecutive blocks of 1000 through a
// committed ProducerIdsRecord; a stale or unknown broker epoch is refused;
// next_producer_id survives a restart (the log) and a snapshot, and never
// goes back.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <thread>

#include "cluster/controller.h"
#include "cluster/image_records.h"
#include "controller_fixture.h"
#include "protocol/record_framing.h"
#include "storage/posix_file_system.h"

namespace sluice::cluster {
namespace {

using ProducerIdsTest = ControllerFixture;

TEST_F(ProducerIdsTest, ConsecutiveBlocksForEveryBroker) {
  EXPECT_EQ(controller_->image()->next_producer_id, -1);
  const int64_t epoch2 = join(2);
  ProducerIdBlock first = controller_->allocate_producer_ids(1, broker(1).epoch);
  ASSERT_TRUE(first.error.ok()) << first.error.message;
  EXPECT_EQ(first.first_producer_id, 0);
  EXPECT_EQ(first.size, producer_id_block_size);
  ProducerIdBlock second = controller_->allocate_producer_ids(2, epoch2);
  ASSERT_TRUE(second.error.ok()) << second.error.message;
  EXPECT_EQ(second.first_producer_id, 1000);
  EXPECT_EQ(second.size, 1000);
  EXPECT_EQ(controller_->image()->next_producer_id, 2000);
}

TEST_F(ProducerIdsTest, StaleOrUnknownBrokerEpochsAreRefused) {
  const int64_t epoch2 = join(2);
  ProducerIdBlock stale = controller_->allocate_producer_ids(2, epoch2 + 1);
  EXPECT_EQ(stale.error.code, ErrorCode::STALE_BROKER_EPOCH);
  ProducerIdBlock unknown = controller_->allocate_producer_ids(7, 0);
  EXPECT_EQ(unknown.error.code, ErrorCode::STALE_BROKER_EPOCH);
  EXPECT_EQ(controller_->image()->next_producer_id, -1) << "nothing was committed";
  EXPECT_EQ(controller_->allocate_producer_ids(2, epoch2).first_producer_id, 0);
}

TEST_F(ProducerIdsTest, ARestartNeverHandsOutAnIdAgain) {
  const int64_t epoch = broker(1).epoch;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(controller_->allocate_producer_ids(1, epoch).error.ok());
  controller_.reset();
  controller_ = open();
  EXPECT_EQ(controller_->image()->next_producer_id, 3000);
  EXPECT_EQ(controller_->allocate_producer_ids(1, broker(1).epoch).first_producer_id, 3000);
}

TEST_F(ProducerIdsTest, TheImageRecordsCarryTheNextProducerId) {
  ASSERT_TRUE(controller_->allocate_producer_ids(1, broker(1).epoch).error.ok());
  MetadataImagePtr now = controller_->image();
  auto rebuilt = image_from_records(image_records(*now), now->cluster_id, 1, now->offset);
  ASSERT_TRUE(rebuilt) << rebuilt.status().to_string();
  EXPECT_EQ((*rebuilt)->next_producer_id, 1000);
  MetadataImage empty;
  for (const auto& record : image_records(empty)) {
    auto image = image_from_records({record}, "c", 1, 0);
    ASSERT_TRUE(image);
    EXPECT_EQ((*image)->next_producer_id, -1) << "no ProducerIdsRecord without an allocation";
  }
}

TEST(ProducerIdsReplay, TheNextProducerIdOnlyMovesForward) {
  namespace md = protocol::metadata;
  MetadataImage image;
  md::ProducerIdsRecord record;
  record.broker_id = 1;
  record.next_producer_id = 2000;
  ASSERT_TRUE(apply_record(image, Bytes(md::encode_framed(record, 0)), 1));
  EXPECT_EQ(image.next_producer_id, 2000);
  record.next_producer_id = 2000;
  EXPECT_FALSE(apply_record(image, Bytes(md::encode_framed(record, 0)), 2));
  record.next_producer_id = 1000;
  EXPECT_FALSE(apply_record(image, Bytes(md::encode_framed(record, 0)), 3));
  EXPECT_EQ(image.next_producer_id, 2000) << "a refused record changes nothing";
  record.next_producer_id = 3000;
  ASSERT_TRUE(apply_record(image, Bytes(md::encode_framed(record, 0)), 4));
  EXPECT_EQ(image.next_producer_id, 3000);
}

// A snapshot taken after allocations (tiny threshold) and a restart from it:
// the next block starts after the last one allocated.
TEST(ProducerIdsOnDisk, ASnapshotKeepsTheNextProducerId) {
  std::random_device device;
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("sluice-pids-" + std::to_string(device()));
  storage::PosixFileSystem fs;
  Config config = broker_config();
  ControllerOptions options;
  options.metadata_log_dir = dir / "meta";
  options.log_dirs = {dir / "a"};
  options.broker_config = &config;
  options.snapshot_record_bytes_max = 128;
  const std::filesystem::path metadata = dir / "meta" / "__cluster_metadata-0";
  auto has_checkpoint = [&] {
    for (const auto& entry : std::filesystem::directory_iterator(metadata))
      if (entry.path().extension() == ".checkpoint") return true;
    return false;
  };
  {
    auto controller = Controller::open(fs, options);
    ASSERT_TRUE(controller) << controller.status().to_string();
    ASSERT_TRUE((*controller)->register_broker({{"PLAINTEXT", "h", 1, 0}}, std::nullopt).ok());
    const int64_t epoch = (*controller)->image()->brokers.at(1).epoch;
    for (int i = 0; i < 10; ++i)
      ASSERT_TRUE((*controller)->allocate_producer_ids(1, epoch).error.ok());
    for (int i = 0; i < 100 && !has_checkpoint(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(has_checkpoint());
  {
    auto controller = Controller::open(fs, options);
    ASSERT_TRUE(controller) << controller.status().to_string();
    EXPECT_EQ((*controller)->image()->next_producer_id, 10'000);
    const int64_t epoch = (*controller)->image()->brokers.at(1).epoch;
    EXPECT_EQ((*controller)->allocate_producer_ids(1, epoch).first_producer_id, 10'000);
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sluice::cluster
