// SaslHandshake and SaslAuthenticate, the session of a new connection and
// the gate before authentication (session.h has Kafka's rules). The
// exchanges themselves (PLAIN, SCRAM) are security/'s; SCRAM reads its
// credentials from the metadata image at the time of the exchange, so a
// user created or deleted is seen by the next authentication.
#include "broker/sasl.h"

#include <spdlog/spdlog.h>

#include "base/error_code.h"
#include "broker/broker.h"
#include "broker/handlers.h"
#include "broker/session.h"
#include "security/plain.h"
#include "security/principal.h"
#include "security/scram.h"

namespace sluice::broker {

using protocol::SaslAuthenticateRequest;
using protocol::SaslAuthenticateResponse;
using protocol::SaslHandshakeRequest;
using protocol::SaslHandshakeResponse;

namespace {

constexpr int16_t kApiVersions = protocol::ApiVersionsRequest::api_key;
constexpr int16_t kSaslHandshake = SaslHandshakeRequest::api_key;
constexpr int16_t kSaslAuthenticate = SaslAuthenticateRequest::api_key;

std::unique_ptr<security::SaslServer> make_sasl_server(const Broker& broker,
                                                       const ListenerSecurity& security,
                                                       const std::string& mechanism) {
  if (mechanism == sasl_plain) return std::make_unique<security::PlainServer>(security.plain_users);
  auto scram = security::scram_mechanism_from_name(mechanism);
  if (!scram) return nullptr;
  auto lookup = [&broker, id = static_cast<int8_t>(*scram)](
                    const std::string& user) -> std::optional<security::ScramCredential> {
    cluster::MetadataImagePtr image = broker.metadata_image();
    auto found = image->scram_credentials.find(user);
    if (found == image->scram_credentials.end()) return std::nullopt;
    auto credential = found->second.find(id);
    if (credential == found->second.end()) return std::nullopt;
    const cluster::ScramCredentialImage& stored = credential->second;
    return security::ScramCredential{stored.salt, stored.stored_key, stored.server_key,
                                     stored.iterations};
  };
  return std::make_unique<security::ScramServer>(*scram, std::move(lookup));
}

std::string api_name(int16_t api_key) {
  const protocol::ApiInfo* api = protocol::find_api(api_key);
  return api != nullptr ? api->name : "API " + std::to_string(api_key);
}

void warn_closing(const net::ConnectionInfo& connection, const std::string& why) {
  request_warnings().warn("sasl " + why, "closing connection {} from {} on listener {}: {}",
                          connection.connection_id, connection.peer_address,
                          connection.listener_name, why);
}

// One step of the exchange: the token to send back, or the failure (the
// session's exchange then ends; the caller closes the connection).
struct StepOutcome {
  security::SaslStep step;
  bool completed = false;
};

StepOutcome evaluate(Session& session, const net::ConnectionInfo& connection, Bytes token) {
  security::SaslServer& server = *session.exchange();
  StepOutcome outcome{server.step(token)};
  if (!outcome.step.ok()) {
    // Rate-limited: a client with a wrong password retries in a loop.
    request_warnings().warn("authentication failed",
                            "failed authentication with {} ({} on listener {}): {}",
                            connection.peer_address, session.mechanism(), connection.listener_name,
                            outcome.step.failure->log_reason);
    return outcome;
  }
  if (!server.complete()) return outcome;
  const std::string user = server.username();
  // KIP-368: a re-authentication must keep the principal.
  if (session.reauthenticating() && user != session.principal_name()) {
    const std::string message = "Cannot change principals during re-authentication from " +
                                session.principal() + ": User:" + user;
    outcome.step = security::SaslStep::fail(message, message);
    return outcome;
  }
  session.authenticate(user, session.security()->reauth_ms, Session::Clock::now());
  outcome.completed = true;
  spdlog::debug("connection {} from {} authenticated as User:{} ({})", connection.connection_id,
                connection.peer_address, user, session.mechanism());
  return outcome;
}

net::Response bare_token_response(const std::vector<uint8_t>& token) {
  net::Response response;
  response.body.write_raw(Bytes(token.data(), token.size()));
  return response;
}

}  // namespace

std::shared_ptr<net::ConnectionState> open_session(const Broker& broker,
                                                   const net::ConnectionInfo& connection) {
  const auto& listeners = broker.config().listener_security;
  auto found = listeners.find(connection.listener_name);
  const ListenerSecurity* security = found == listeners.end() ? nullptr : &found->second;
  if (security == nullptr || net::uses_sasl(connection.security_protocol))
    return std::make_shared<Session>(security, "ANONYMOUS",
                                     !net::uses_sasl(connection.security_protocol));
  if (connection.tls_peer_subject.empty() || !security->principal_mapper)
    return std::make_shared<Session>(security, "ANONYMOUS", true);
  auto name = security->principal_mapper->map(connection.tls_peer_subject);
  if (!name) {
    warn_closing(connection,
                 "client certificate " + connection.tls_peer_subject +
                     " matches no ssl.principal.mapping.rules rule: " + name.status().message());
    return std::make_shared<Session>(security, "", false);  // served nothing
  }
  return std::make_shared<Session>(security, *name, true);
}

bool authentication_allows(const net::ConnectionInfo& connection, int16_t api_key) {
  const Session* session = session_of(connection);
  if (session == nullptr) return true;
  if (session->session_valid(Session::Clock::now())) return true;
  const bool sasl_api =
      api_key == kApiVersions || api_key == kSaslHandshake || api_key == kSaslAuthenticate;
  if (session->security() != nullptr && net::uses_sasl(session->security()->protocol) && sasl_api)
    return true;
  if (session->authenticated())
    warn_closing(connection, "its SASL session expired (connections.max.reauth.ms) and it sent " +
                                 api_name(api_key) + " without re-authenticating");
  else
    warn_closing(connection, "unexpected " + api_name(api_key) + " request before authentication");
  return false;
}

void handle_sasl_handshake(Broker& broker, RequestContext context, SaslHandshakeRequest request) {
  Session* session = session_of(context.connection());
  SaslHandshakeResponse response;
  const ListenerSecurity* security = session != nullptr ? session->security() : nullptr;
  if (security == nullptr || !net::uses_sasl(security->protocol) ||
      (session->authenticated() && context.api_version() == 0)) {
    // Kafka: a handshake where SASL is not in use, or a v0 one to
    // re-authenticate, is an illegal state; the connection closes.
    response.error_code = to_wire(ErrorCode::ILLEGAL_SASL_STATE);
    context.close_after_reply();
    context.reply(response);
    return;
  }
  response.mechanisms = security->sasl_mechanisms;
  if (!security->serves_mechanism(request.mechanism)) {
    warn_closing(context.connection(), "SASL mechanism " + request.mechanism + " is not enabled");
    response.error_code = to_wire(ErrorCode::UNSUPPORTED_SASL_MECHANISM);
    context.close_after_reply();
    context.reply(response);
    return;
  }
  session->begin_exchange(request.mechanism, make_sasl_server(broker, *security, request.mechanism),
                          context.api_version() == 0);
  context.reply(response);
}

void handle_sasl_authenticate(Broker& /*broker*/, RequestContext context,
                              SaslAuthenticateRequest request) {
  Session* session = session_of(context.connection());
  SaslAuthenticateResponse response;
  if (session == nullptr || session->exchange() == nullptr || session->expects_raw_token()) {
    response.error_code = to_wire(ErrorCode::ILLEGAL_SASL_STATE);
    response.error_message = "Unexpected SaslAuthenticate request before a SaslHandshake";
    context.close_after_reply();
    context.reply(response);
    return;
  }
  StepOutcome outcome = evaluate(*session, context.connection(),
                                 Bytes(request.auth_bytes.data(), request.auth_bytes.size()));
  if (!outcome.step.ok()) {
    response.error_code = to_wire(ErrorCode::SASL_AUTHENTICATION_FAILED);
    response.error_message = outcome.step.failure->client_message;
    session->begin_exchange("", nullptr, false);
    context.close_after_reply();
    context.reply(response);
    return;
  }
  response.auth_bytes = std::move(outcome.step.response);
  if (outcome.completed) response.session_lifetime_ms = session->security()->reauth_ms;
  context.reply(response);
}

bool handle_bare_sasl_token(Broker& /*broker*/, const net::ConnectionInfo& connection,
                            const std::shared_ptr<const FrameBuffer>& frame,
                            net::Respond& respond) {
  Session* session = session_of(connection);
  if (session == nullptr || !session->expects_raw_token()) return false;
  StepOutcome outcome = evaluate(*session, connection, Bytes(frame->data(), frame->size()));
  if (!outcome.step.ok()) {  // Kafka answers a failed bare exchange by closing
    respond(net::Response::close());
    return true;
  }
  respond(bare_token_response(outcome.step.response));
  return true;
}

}  // namespace sluice::broker
