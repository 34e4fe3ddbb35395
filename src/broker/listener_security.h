#pragma once
// Each listener's security, resolved once at load from Kafka's settings:
// its protocol (listener.security.protocol.map), its TLS context (ssl.*),
// its SASL mechanisms and PLAIN users (sasl.enabled.mechanisms, the JAAS
// settings), how client certificates become principals
// (ssl.principal.mapping.rules) and connections.max.reauth.ms. Every one of
// these may be given per listener as Kafka allows,
// `listener.name.<listener in lower case>.<key>` (and
// `listener.name.<listener>.<mechanism>.sasl.jaas.config`), which wins over
// the plain key.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "net/request.h"
#include "net/tls.h"
#include "security/plain.h"

namespace sluice::security {
class SslPrincipalMapper;
}

namespace sluice::broker {

struct BrokerConfig;

// The SASL mechanisms Sluice serves, in the order it lists them.
inline constexpr const char* sasl_plain = "PLAIN";
inline constexpr const char* sasl_scram_sha_256 = "SCRAM-SHA-256";
inline constexpr const char* sasl_scram_sha_512 = "SCRAM-SHA-512";

struct ListenerSecurity {
  std::string listener_name;
  net::SecurityProtocol protocol = net::SecurityProtocol::plaintext;
  std::shared_ptr<net::TlsContext> tls;  // SSL and SASL_SSL
  // SASL listeners: the enabled mechanisms Sluice serves (never empty).
  std::vector<std::string> sasl_mechanisms;
  // PLAIN's users and passwords (user_<name>="<password>" of the JAAS
  // entry of PlainLoginModule).
  std::shared_ptr<const security::PlainUsers> plain_users;
  // SSL: the client certificate's subject to a principal name.
  std::shared_ptr<const security::SslPrincipalMapper> principal_mapper;
  int64_t reauth_ms = 0;  // connections.max.reauth.ms; 0: never

  bool serves_mechanism(const std::string& name) const;
};

// Kafka's listener.security.protocol.map, as Kafka reads it (an unset map
// maps the controller listener names to PLAINTEXT too).
std::map<std::string, std::string> effective_protocol_map(const BrokerConfig& config);
// "SASL_SSL" -> its enum; nullopt for a name Kafka does not know.
std::optional<net::SecurityProtocol> security_protocol_named(const std::string& name);

// Splits `listener.name.<listener>.<key>` settings off `values` (they are
// not in the definitions), checking each names a key Kafka allows per
// listener. Keys by listener name in lower case, then the key.
using ListenerOverrides = std::map<std::string, std::map<std::string, std::string>>;
Result<ListenerOverrides> take_listener_overrides(std::map<std::string, std::string>& values);

// Every listener's security; an error names the listener and the setting.
Result<std::map<std::string, ListenerSecurity>> resolve_listener_security(
    const BrokerConfig& config);

}  // namespace sluice::broker
