// TEMPORARY (issue 17, transaction coordinator branch): stand-ins for the
// producer-id manager and the marker sender another branch builds against
// txn/txn_interfaces.h. The integrator replaces txn_producer_ids() and
// txn_marker_sender() with the real ones and deletes this file.
//   - TemporaryProducerIds: ids from this node's clock (not allocated
//     through the metadata log; unique across nodes and restarts only while
//     fewer than ~1,000 ids a millisecond are taken).
//   - TemporaryMarkerSender: writes NO marker (the partition side is not
//     here): it reports every marker written at once, so the coordinator's
//     own flow (Prepare, markers, Complete) runs end to end.
#include <spdlog/spdlog.h>

#include <atomic>

#include "broker/broker.h"

namespace sluice::broker {

namespace {

class TemporaryProducerIds final : public txn::ProducerIdGenerator {
 public:
  TemporaryProducerIds(int64_t now_ms, int32_t node_id) : next_(now_ms * 1024 + (node_id % 1024)) {}
  Result<int64_t> generate_producer_id() override { return next_.fetch_add(1024); }

 private:
  std::atomic<int64_t> next_;
};

class TemporaryMarkerSender final : public txn::MarkerSender {
 public:
  void send(txn::TxnMarker marker, std::function<void(ErrorCode)> done) override {
    if (!warned_.exchange(true))
      spdlog::warn(
          "transaction markers are not written yet (temporary marker sender): "
          "the coordinator completes {} without them",
          marker.transactional_id);
    done(ErrorCode::NONE);
  }
  void cancel(int32_t, int32_t) override {}

 private:
  std::atomic<bool> warned_{false};
};

}  // namespace

txn::ProducerIdGenerator& Broker::txn_producer_ids() {
  if (!temporary_producer_ids_)
    temporary_producer_ids_ =
        std::make_unique<TemporaryProducerIds>(environment_.clock->now_ms(), config_.node_id);
  return *temporary_producer_ids_;
}

txn::MarkerSender& Broker::txn_marker_sender() {
  if (!temporary_marker_sender_)
    temporary_marker_sender_ = std::make_unique<TemporaryMarkerSender>();
  return *temporary_marker_sender_;
}

}  // namespace sluice::broker
