#pragma once
// What the broker keeps per client connection (net::ConnectionState): who
// the client is (its principal, for ACLs and quotas) and, on SASL
// listeners, where its authentication stands. Created when the connection
// is established (after TLS), touched only on the connection's reactor in
// Broker::handle and the SASL handlers, which run there synchronously.
//
// Kafka's rules (SaslServerAuthenticator, KIP-368):
// - on a SASL listener, until authentication completes only ApiVersions,
//   SaslHandshake and SaslAuthenticate are served; anything else closes the
//   connection;
// - SaslHandshake v0 means the next frames are bare SASL tokens, not Kafka
//   requests; v1 means the tokens come in SaslAuthenticate requests;
// - with connections.max.reauth.ms, a session lasts that long: a client
//   re-authenticates (SaslHandshake, SaslAuthenticate) on the same
//   connection, as the same principal, and a request after the session
//   ended without that closes the connection.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"
#include "net/request.h"
#include "security/sasl.h"

namespace sluice::broker {

struct ListenerSecurity;

class Session final : public net::ConnectionState {
 public:
  using Clock = std::chrono::steady_clock;

  Session(const ListenerSecurity* security, std::string principal_name, bool authenticated)
      : security_(security),
        principal_name_(std::move(principal_name)),
        authenticated_(authenticated) {}

  // "User:<name>" (Kafka's KafkaPrincipal), User:ANONYMOUS before SASL.
  std::string principal() const { return "User:" + principal_name_; }
  const std::string& principal_name() const { return principal_name_; }
  const ListenerSecurity* security() const { return security_; }

  bool authenticated() const { return authenticated_; }
  // Authenticated and, with a session lifetime, not past it.
  bool session_valid(Clock::time_point now) const { return authenticated_ && now < expires_at_; }
  bool reauthenticating() const { return authenticated_ && exchange_ != nullptr; }
  // After SaslHandshake v0: the next frame is a bare token.
  bool expects_raw_token() const { return raw_tokens_ && exchange_ != nullptr; }
  security::SaslServer* exchange() const { return exchange_.get(); }
  const std::string& mechanism() const { return mechanism_; }

  void begin_exchange(std::string mechanism, std::unique_ptr<security::SaslServer> exchange,
                      bool raw_tokens) {
    mechanism_ = std::move(mechanism);
    exchange_ = std::move(exchange);
    raw_tokens_ = raw_tokens;
  }
  // The exchange completed as `user`; the session lasts `lifetime_ms` (0:
  // forever).
  void authenticate(std::string user, int64_t lifetime_ms, Clock::time_point now) {
    principal_name_ = std::move(user);
    authenticated_ = true;
    exchange_.reset();
    raw_tokens_ = false;
    expires_at_ =
        lifetime_ms > 0 ? now + std::chrono::milliseconds(lifetime_ms) : Clock::time_point::max();
  }

 private:
  const ListenerSecurity* security_;  // the broker's config owns it
  std::string principal_name_;
  bool authenticated_;
  Clock::time_point expires_at_ = Clock::time_point::max();
  std::string mechanism_;
  std::unique_ptr<security::SaslServer> exchange_;
  bool raw_tokens_ = false;
};

// The connection's session (null outside a Server: tests handing requests
// to the broker directly, which are then served as on PLAINTEXT).
inline Session* session_of(const net::ConnectionInfo& connection) {
  return static_cast<Session*>(connection.state.get());
}

}  // namespace sluice::broker
