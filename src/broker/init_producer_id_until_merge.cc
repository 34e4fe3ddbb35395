// TEMPORARY (issue 17, transaction coordinator branch): InitProducerId until
// init_producer_id.cc (the idempotent case, another branch) is merged. The
// integrator deletes this file and, in init_producer_id.cc, calls
// handle_transactional_init_producer_id for a request with a transactional
// id.
#include "broker/broker.h"
#include "broker/handlers.h"

namespace sluice::broker {

using namespace protocol;

void handle_init_producer_id(Broker& broker, RequestContext context,
                             InitProducerIdRequest request) {
  InitProducerIdResponse response;
  response.producer_id = -1;
  response.producer_epoch = -1;
  // Kafka's KafkaApis: an id without an epoch or an epoch without an id.
  if ((request.producer_id == -1) != (request.producer_epoch == -1)) {
    response.error_code = to_wire(ErrorCode::INVALID_REQUEST);
    return context.reply(response);
  }
  if (request.transactional_id.has_value())
    return handle_transactional_init_producer_id(broker, std::move(context), request);
  Result<int64_t> id = broker.txn_producer_ids().generate_producer_id();
  if (!id) {
    response.error_code = to_wire(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS);
    return context.reply(response);
  }
  response.producer_id = *id;
  response.producer_epoch = 0;
  context.reply(response);
}

}  // namespace sluice::broker
