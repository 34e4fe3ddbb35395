#pragma once
// What every SASL mechanism's server has in common: a step answers one client
// token with the next server token or a failure; the broker (SaslAuthenticate,
// or raw tokens after a v0 SaslHandshake) drives it and never looks inside.
//
// A failure carries two texts: `client_message`, what Kafka sends back in
// SaslAuthenticate's error_message, and `log_reason`, the detail for the
// broker's debug log. Neither ever contains a password or key material.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.h"

namespace sluice::security {

struct SaslFailure {
  std::string client_message;
  std::string log_reason;
};

// The outcome of one step: the server's next token (possibly empty), or a
// failure after which the exchange is over and the connection closes.
struct SaslStep {
  std::vector<uint8_t> response;
  std::optional<SaslFailure> failure;

  bool ok() const { return !failure.has_value(); }
  static SaslStep reply(std::vector<uint8_t> bytes) { return {std::move(bytes), std::nullopt}; }
  static SaslStep reply(std::string_view text) {
    return {std::vector<uint8_t>(text.begin(), text.end()), std::nullopt};
  }
  static SaslStep fail(std::string client_message, std::string log_reason) {
    return {{}, SaslFailure{std::move(client_message), std::move(log_reason)}};
  }
};

class SaslServer {
 public:
  virtual ~SaslServer() = default;
  // The mechanism's name as SaslHandshake carries it ("PLAIN", "SCRAM-SHA-256").
  virtual std::string_view mechanism() const = 0;
  // One client token. After a failure, or once complete, every further step fails.
  virtual SaslStep step(Bytes client_message) = 0;
  // True once the client is authenticated (the last step returned ok).
  virtual bool complete() const = 0;
  // The username the client gave (saslname-unescaped for SCRAM), known once
  // its first message parsed; the authenticated user (principal
  // User:<username>) only when complete().
  virtual const std::string& username() const = 0;
};

// Kafka's client-facing text for a failure whose detail must not reach the
// client (SaslServerAuthenticator): "Authentication failed during
// authentication due to invalid credentials with SASL mechanism SCRAM-SHA-256"
// ("re-authentication" during KIP-368 re-authentication).
std::string sasl_invalid_credentials_message(std::string_view mechanism,
                                             bool reauthenticating = false);

}  // namespace sluice::security
