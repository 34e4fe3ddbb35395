// InitProducerId (22): a producer id and epoch for a producer. Idempotent
// producers (no transactional id) get a new id with epoch 0 from the
// broker's ProducerIdManager, as Kafka's TransactionCoordinator
// .handleInitProducerId does for a null transactional id: a producer id and
// epoch in the request are ignored there (KIP-360's epoch bump is for
// transactional producers; an idempotent one simply gets a fresh id).
// Transactional producers go to the transaction coordinator.
#include "broker/broker.h"
#include "broker/handlers.h"
#include "txn/producer_id_manager.h"

namespace sluice::broker {

using namespace protocol;

namespace {

InitProducerIdResponse init_producer_id_error(ErrorCode code) {
  InitProducerIdResponse response;
  response.error_code = to_wire(code);
  response.producer_id = -1;
  response.producer_epoch = -1;
  return response;
}

}  // namespace

InitProducerIdResponse init_idempotent_producer_id(txn::ProducerIdGenerator& producer_ids) {
  Result<ProducerId> id = producer_ids.generate_producer_id();
  if (!id) return init_producer_id_error(txn::producer_id_error_code(id.status()));
  InitProducerIdResponse response;
  response.producer_id = id->value();
  response.producer_epoch = 0;
  return response;
}

void handle_init_producer_id(Broker& broker, RequestContext context,
                             InitProducerIdRequest request) {
  // Kafka's KafkaApis: an id without an epoch or an epoch without an id.
  if ((request.producer_id == -1) != (request.producer_epoch == -1)) {
    context.reply(init_producer_id_error(ErrorCode::INVALID_REQUEST));
    return;
  }
  // Kafka: WRITE on the transactional id; for idempotence alone,
  // IDEMPOTENT_WRITE on the cluster or WRITE on some topic (KIP-679).
  const Authorization& authorization = broker.authorization();
  if (request.transactional_id.has_value()) {
    if (!authorization.allows(context.connection(), security::AclOperation::WRITE,
                              security::ResourceType::TRANSACTIONAL_ID, *request.transactional_id))
      return context.reply(
          init_producer_id_error(ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED));
    handle_transactional_init_producer_id(broker, std::move(context), request);
    return;
  }
  if (!authorization.may_init_idempotent_producer(context.connection()))
    return context.reply(init_producer_id_error(ErrorCode::CLUSTER_AUTHORIZATION_FAILED));
  context.reply(init_idempotent_producer_id(broker.producer_ids()));
}

}  // namespace sluice::broker
