#pragma once
// What happens when a record cannot be written or a processor throws
// (Kafka's ProductionExceptionHandler and, from Kafka 3.9,
// ProcessingExceptionHandler). Deserialization errors have their own
// setting (task.h's DeserializationHandling).
//
// Production: a send the broker or the producer refuses is classified as
// Kafka's RecordCollectorImpl does. Fatal errors (authorization, an invalid
// topic, an unknown server error), a fenced producer and retriable errors
// (timeouts, not enough replicas: Kafka then re-initializes the task, here
// the thread stops) never reach the handler; any other (a record too large,
// an invalid record) asks `default.production.exception.handler`:
// DefaultProductionExceptionHandler answers FAIL (the thread stops);
// a handler answering CONTINUE drops the record (logged, counted in the
// task's dropped-records metric) and processing goes on.
//
// Processing: an exception thrown by a processor asks
// `processing.exception.handler`: LogAndFailProcessingExceptionHandler
// (the default) stops processing, LogAndContinueProcessingExceptionHandler
// logs, counts the record as dropped and goes on with the next one.

#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <string>

#include "streams/processor.h"
#include "streams/record.h"

namespace sluice::streams {

// Kafka's ProductionExceptionHandlerResponse / ProcessingHandlerResponse.
enum class HandlerResponse { continue_processing, fail };

// Kafka's ErrorHandlerContext: the record being processed when it failed.
struct ErrorHandlerContext {
  std::string topic;  // empty in a punctuation
  int32_t partition = -1;
  int64_t offset = -1;
  std::string processor_node_id;
  std::string task_id;
  int64_t timestamp = -1;
};

// Why a send failed: librdkafka's error code (Kafka's error codes for the
// broker's answers; negative for the client's own), its name and text.
struct ProductionError {
  int code = 0;
  std::string name;
  std::string message;
};

class ProductionExceptionHandler {
 public:
  virtual ~ProductionExceptionHandler() = default;
  virtual HandlerResponse handle(const ErrorHandlerContext& context, const SerializedRecord& record,
                                 const ProductionError& error) = 0;
};

// Kafka's default: every error the handler sees fails processing.
class DefaultProductionExceptionHandler final : public ProductionExceptionHandler {
 public:
  HandlerResponse handle(const ErrorHandlerContext&, const SerializedRecord&,
                         const ProductionError&) override {
    return HandlerResponse::fail;
  }
};

class ProcessingExceptionHandler {
 public:
  virtual ~ProcessingExceptionHandler() = default;
  virtual HandlerResponse handle(const ErrorHandlerContext& context,
                                 const std::exception& error) = 0;
};

// Kafka's LogAndFailProcessingExceptionHandler (the default).
class LogAndFailProcessingExceptionHandler final : public ProcessingExceptionHandler {
 public:
  HandlerResponse handle(const ErrorHandlerContext& context, const std::exception& error) override;
};

// Kafka's LogAndContinueProcessingExceptionHandler.
class LogAndContinueProcessingExceptionHandler final : public ProcessingExceptionHandler {
 public:
  HandlerResponse handle(const ErrorHandlerContext& context, const std::exception& error) override;
};

// A processor failed and the handler said FAIL (Kafka's
// FailedProcessingException): passes through the processors above it
// without asking the handler again.
class FailedProcessingError : public StreamsError {
 public:
  using StreamsError::StreamsError;
};

// The handlers named by Kafka's class names (with or without their package),
// or nullptr for any other.
std::shared_ptr<ProductionExceptionHandler> production_exception_handler_named(
    const std::string& class_name);
std::shared_ptr<ProcessingExceptionHandler> processing_exception_handler_named(
    const std::string& class_name);

// How Kafka's RecordCollectorImpl treats a send error (librdkafka's code).
enum class SendErrorKind { fatal, fenced, retriable, handled };
SendErrorKind classify_send_error(int code);

// What a send error does: nullopt when the handler said CONTINUE (the
// record is dropped), else the message of the error that stops processing.
// Logs as Kafka does ("Error encountered sending record to topic ...").
std::optional<std::string> on_send_error(ProductionExceptionHandler& handler,
                                         const ErrorHandlerContext& context,
                                         const SerializedRecord& record,
                                         const ProductionError& error);

}  // namespace sluice::streams
