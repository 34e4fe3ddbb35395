#include "streams/exception_handlers.h"

#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>

namespace sluice::streams {
namespace {

bool named(const std::string& name, const std::string& simple) {
  return name == simple || name == "org.apache.kafka.streams.errors." + simple;
}

}  // namespace

HandlerResponse LogAndFailProcessingExceptionHandler::handle(const ErrorHandlerContext& context,
                                                             const std::exception& error) {
  spdlog::error(
      "Exception caught during message processing, processor node: {}, taskId: {}, source "
      "topic: {}, source partition: {}, source offset: {}: {}",
      context.processor_node_id, context.task_id, context.topic, context.partition, context.offset,
      error.what());
  return HandlerResponse::fail;
}

HandlerResponse LogAndContinueProcessingExceptionHandler::handle(const ErrorHandlerContext& context,
                                                                 const std::exception& error) {
  spdlog::warn(
      "Exception caught during message processing, processor node: {}, taskId: {}, source "
      "topic: {}, source partition: {}, source offset: {}: {}",
      context.processor_node_id, context.task_id, context.topic, context.partition, context.offset,
      error.what());
  return HandlerResponse::continue_processing;
}

std::shared_ptr<ProductionExceptionHandler> production_exception_handler_named(
    const std::string& class_name) {
  if (named(class_name, "DefaultProductionExceptionHandler"))
    return std::make_shared<DefaultProductionExceptionHandler>();
  return nullptr;
}

std::shared_ptr<ProcessingExceptionHandler> processing_exception_handler_named(
    const std::string& class_name) {
  if (named(class_name, "LogAndFailProcessingExceptionHandler"))
    return std::make_shared<LogAndFailProcessingExceptionHandler>();
  if (named(class_name, "LogAndContinueProcessingExceptionHandler"))
    return std::make_shared<LogAndContinueProcessingExceptionHandler>();
  return nullptr;
}

SendErrorKind classify_send_error(int code) {
  switch (static_cast<rd_kafka_resp_err_t>(code)) {
    // Kafka's isFatalException: security, an invalid topic, an unknown
    // server error, offset metadata too large (and librdkafka's own fatal).
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
    case RD_KAFKA_RESP_ERR_SECURITY_DISABLED:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR_UNKNOWN:
    case RD_KAFKA_RESP_ERR_OFFSET_METADATA_TOO_LARGE:
    case RD_KAFKA_RESP_ERR__FATAL:
    case RD_KAFKA_RESP_ERR__STATE:
      return SendErrorKind::fatal;
    case RD_KAFKA_RESP_ERR_PRODUCER_FENCED:
    case RD_KAFKA_RESP_ERR__FENCED:
    case RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH:
    case RD_KAFKA_RESP_ERR_INVALID_PRODUCER_ID_MAPPING:
    case RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER:
      return SendErrorKind::fenced;
    // Kafka's RetriableException family (TimeoutException included).
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION:
    case RD_KAFKA_RESP_ERR_INVALID_MSG:
    case RD_KAFKA_RESP_ERR_KAFKA_STORAGE_ERROR:
      return SendErrorKind::retriable;
    default:
      return SendErrorKind::handled;
  }
}

std::optional<std::string> on_send_error(ProductionExceptionHandler& handler,
                                         const ErrorHandlerContext& context,
                                         const SerializedRecord& record,
                                         const ProductionError& error) {
  std::string message = "Error encountered sending record to topic " + record.topic + " for task " +
                        context.task_id + " due to:\n" + error.name + ": " + error.message;
  std::optional<std::string> failure;
  switch (classify_send_error(error.code)) {
    case SendErrorKind::fatal:
      message +=
          "\nWritten offsets would not be recorded and no more records would be sent since "
          "this is a fatal error.";
      failure = message;
      break;
    case SendErrorKind::fenced:
      message +=
          "\nWritten offsets would not be recorded and no more records would be sent since "
          "the producer is fenced, indicating the task may be migrated out";
      failure = message;
      break;
    case SendErrorKind::retriable:
      message +=
          "\nThe broker is either slow or in bad state (like not having enough replicas) in "
          "responding the request, or the connection to broker was interrupted sending the "
          "request or receiving the response. \nConsider overwriting `max.block.ms` and /or "
          "`delivery.timeout.ms` to a larger value to wait longer for such scenarios and avoid "
          "timeout errors";
      failure = message;
      break;
    case SendErrorKind::handled: {
      HandlerResponse response = HandlerResponse::fail;
      try {
        response = handler.handle(context, record, error);
      } catch (const std::exception& e) {
        spdlog::error("Production error callback failed after production error for record {}",
                      record.topic);
        return "Fatal user code error in production error callback: " + std::string(e.what());
      }
      if (response == HandlerResponse::fail) {
        message +=
            "\nException handler choose to FAIL the processing, no more records would be sent.";
        failure = message;
      } else {
        message +=
            "\nException handler choose to CONTINUE processing in spite of this error but "
            "written offsets would not be recorded.";
      }
      break;
    }
  }
  spdlog::error("{}", message);
  return failure;
}

}  // namespace sluice::streams
