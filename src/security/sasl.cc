#include "security/sasl.h"

namespace sluice::security {

std::string sasl_invalid_credentials_message(std::string_view mechanism, bool reauthenticating) {
  std::string message = "Authentication failed during ";
  message += reauthenticating ? "re-authentication" : "authentication";
  message += " due to invalid credentials with SASL mechanism ";
  message += mechanism;
  return message;
}

}  // namespace sluice::security
