// Producer ids (issue 17, KIP-730): the controller's AllocateProducerIds
// (67, controller listener) and the broker's ProducerIdManager, which asks
// the active controller for blocks the way IsrManager sends AlterPartition
// (through the quorum's leader, or this node's own controller thread when
// it is the active controller).
#include <spdlog/spdlog.h>

#include "broker/broker.h"
#include "broker/handlers.h"

namespace sluice::broker {

using namespace protocol;

AllocateProducerIdsResponse allocate_producer_ids_here(cluster::Controller& controller,
                                                       const AllocateProducerIdsRequest& request) {
  cluster::ProducerIdBlock block =
      controller.allocate_producer_ids(request.broker_id, request.broker_epoch);
  AllocateProducerIdsResponse response;
  response.error_code = to_wire(block.error.code);
  if (block.error.ok()) {
    response.producer_id_start = block.first_producer_id;
    response.producer_id_len = block.size;
  }
  return response;
}

void handle_allocate_producer_ids(Broker& broker, RequestContext context,
                                  AllocateProducerIdsRequest request) {
  broker.submit_to_controller(std::move(context), [&broker, request](RequestContext& context) {
    context.reply(allocate_producer_ids_here(broker.controller(), request));
  });
}

Status Broker::open_producer_ids() {
  txn::ProducerIdManager::Options options;
  options.node_id = config_.node_id;
  options.broker_epoch = [this] { return producer_ids_broker_epoch(); };
  options.send = [this](AllocateProducerIdsRequest request,
                        std::function<void(net::ClientResult<AllocateProducerIdsResponse>)> done) {
    send_allocate_producer_ids(std::move(request), std::move(done));
  };
  options.clock = environment_.clock;
  producer_ids_ = std::make_unique<txn::ProducerIdManager>(std::move(options));
  return Status::ok();
}

// A broker of a quorum has the epoch its registration got; the lone node
// registers through its own controller (no BrokerRegistration), so its
// epoch is the one in the image.
int64_t Broker::producer_ids_broker_epoch() {
  {
    std::lock_guard lock(registration_mutex_);
    if (broker_epoch_ >= 0) return broker_epoch_;
  }
  cluster::MetadataImagePtr image = controller_->image();
  auto found = image->brokers.find(config_.node_id);
  return found == image->brokers.end() ? -1 : found->second.epoch;
}

// As send_alter_partition: the active controller's own node runs the
// allocation on its controller thread (the quorum does not forward to itself).
void Broker::send_allocate_producer_ids(
    AllocateProducerIdsRequest request,
    std::function<void(net::ClientResult<AllocateProducerIdsResponse>)> done) {
  if (!controller_->is_active())
    return controller_->quorum().send_to_leader(
        std::move(request), AllocateProducerIdsRequest::max_version, std::move(done));
  auto shared_done = std::make_shared<decltype(done)>(std::move(done));
  controller_->submit(
      [this, request = std::move(request), shared_done] {
        net::ClientResult<AllocateProducerIdsResponse> result;
        result.version = AllocateProducerIdsRequest::max_version;
        result.message = allocate_producer_ids_here(*controller_, request);
        (*shared_done)(std::move(result));
      },
      [shared_done] {
        net::ClientResult<AllocateProducerIdsResponse> result;
        result.status = {net::ClientErrc::closed, "the controller stopped"};
        (*shared_done)(std::move(result));
      });
}

void Broker::close_producer_ids() {
  if (producer_ids_) producer_ids_->stop();
}

// Markers go to the partitions' leaders on the inter-broker listener, as
// the replica fetchers reach them.
Status Broker::open_marker_sender() {
  txn::MarkerSenderOptions options;
  options.node_id = config_.node_id;
  options.listener_name = config_.quorum.inter_broker_listener_name;
  options.image = [this] { return replica_manager_->image(); };
  options.clock = environment_.clock;
  marker_sender_ = std::make_unique<txn::TcpMarkerSender>(std::move(options));
  return Status::ok();
}

void Broker::close_marker_sender() {
  if (marker_sender_) marker_sender_->stop();
}

// Coordinators are reached on the inter-broker listener, as markers' leaders.
Status Broker::open_txn_verifier() {
  txn::TxnVerifierOptions options;
  options.node_id = config_.node_id;
  options.listener_name = config_.quorum.inter_broker_listener_name;
  options.image = [this] { return replica_manager_->image(); };
  options.clock = environment_.clock;
  txn_verifier_ = std::make_unique<txn::TcpTxnVerifier>(std::move(options));
  return Status::ok();
}

void Broker::close_txn_verifier() {
  if (txn_verifier_) txn_verifier_->stop();
}

}  // namespace sluice::broker
