#pragma once
// Connect's two kinds of failure, as Kafka's exceptions: a DataException (a
// record that cannot be converted or transformed: the runtime's
// errors.tolerance applies to it) and a ConfigException (a configuration
// refused when a converter, transform or predicate is configured). Both are
// Errc::invalid_value; which one it was follows from when it happened (at
// configuration or per record). Messages are Kafka's, word for word.

#include <string>

#include "base/result.h"

namespace sluice::connect {

inline Status data_error(std::string message) {
  return Status(Errc::invalid_value, std::move(message));
}

inline Status config_error(std::string message) {
  return Status(Errc::invalid_value, std::move(message));
}

// Kafka's ConfigException(name, value, message).
inline Status config_error(const std::string& name, const std::string& value,
                           const std::string& message) {
  return config_error("Invalid value " + value + " for configuration " + name +
                      (message.empty() ? "" : ": " + message));
}

// Kafka's RetriableException: a failure that may go away when the same
// operation is tried again (a server that is down, a timeout). The runtime
// retries such an operation within errors.retry.timeout, and redelivers a
// sink task's batch whose put() answered it. Carried as Errc::would_block
// (nothing failed for good; try again), a code no connect stage uses else.
inline Status retriable_error(std::string message) {
  return Status(Errc::would_block, std::move(message));
}
inline bool is_retriable(const Status& status) { return status.code() == Errc::would_block; }

// Kafka's ConfigException for a class name nothing here implements.
inline Status class_not_found(const std::string& config_name, const std::string& class_name) {
  return config_error(config_name, class_name, "Class " + class_name + " could not be found.");
}

}  // namespace sluice::connect
