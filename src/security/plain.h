#pragma once
// SASL PLAIN (RFC 4616) as Kafka's PlainSaslServer checks it: one client
// token `authzid NUL authcid NUL passwd`, answered with an empty token. The
// users and their passwords come from the JAAS configuration
// (`user_<name>="<password>"` options of PlainLoginModule, jaas.h).
//
// Every failure message is Kafka's, and Kafka sends each to the client as is
// (SaslAuthenticationException). The password is compared in constant time
// (digests of both, so its length does not leak either).

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "security/sasl.h"

namespace sluice::security {

// username -> password.
using PlainUsers = std::map<std::string, std::string, std::less<>>;

class PlainServer final : public SaslServer {
 public:
  // `users` is shared: one table serves every connection of a listener.
  explicit PlainServer(std::shared_ptr<const PlainUsers> users);

  std::string_view mechanism() const override { return "PLAIN"; }
  SaslStep step(Bytes client_message) override;
  bool complete() const override { return complete_; }
  const std::string& username() const override { return username_; }

 private:
  std::shared_ptr<const PlainUsers> users_;
  bool complete_ = false;
  bool done_ = false;  // one step only, successful or not
  std::string username_;
};

// Whether `password` is `expected`, in time independent of where they differ
// and of `expected`'s length.
bool password_equals(std::string_view password, std::string_view expected);

}  // namespace sluice::security
