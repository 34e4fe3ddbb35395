#pragma once
// Authentication on the broker's side: the session of a new connection
// (its principal from TLS, or pending SASL), the gate Broker::handle asks
// before serving a request, and SASL tokens sent bare after SaslHandshake
// v0. The SaslHandshake and SaslAuthenticate handlers are in sasl.cc too.
// Rules: session.h.

#include <memory>

#include "base/bytes.h"
#include "net/request.h"

namespace sluice::broker {

class Broker;

// A new connection's session: User:ANONYMOUS on PLAINTEXT and on TLS
// without a client certificate, the mapped certificate subject with one
// (ssl.principal.mapping.rules), unauthenticated on SASL listeners. Null
// (refuse the connection) when a certificate's subject matches no rule.
std::shared_ptr<net::ConnectionState> open_session(const Broker& broker,
                                                   const net::ConnectionInfo& connection);

// Whether `api_key` may be served on the connection now; false: the
// request closes the connection (logged here).
bool authentication_allows(const net::ConnectionInfo& connection, int16_t api_key);

// True when the frame is a bare SASL token (after SaslHandshake v0): it is
// then answered here.
bool handle_bare_sasl_token(Broker& broker, const net::ConnectionInfo& connection,
                            const std::shared_ptr<const FrameBuffer>& frame, net::Respond& respond);

}  // namespace sluice::broker
