#include "admin/admin_server.h"

#include <httplib.h>
#include <openssl/ssl.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <shared_mutex>
#include <thread>

#include "admin/admin_access.h"
#include "admin/collectors.h"
#include "admin/json_api.h"
#include "admin/replication_metrics.h"
#include "admin/topic_writes.h"
#include "base/rate_limited_log.h"
#include "broker/broker.h"
#include "net/tls.h"
#include "security/principal.h"

namespace sluice::admin {
namespace {

// cpp-httplib gives each connection a worker until it ends, and a client
// that sends half a request holds its worker until a read times out: with 2
// workers and 5 s reads, ten such clients kept /v1/health waiting 10 s and
// more. Workers mostly sleep (scrapes and admin calls are few), so there are
// many of them, and every read gives up quickly: a slow client holds a worker
// for about one read timeout per request, and health and metrics are served
// beside up to `worker_threads` of them.
constexpr size_t worker_threads = 16;
// The longest wait for the next bytes of a request (the line, each header,
// the body) and for the socket to take more of an answer. A local scraper
// sends its request in one segment; a peer that pauses longer is dropped.
constexpr auto read_timeout = std::chrono::seconds(1);
constexpr auto write_timeout = std::chrono::seconds(5);
// Idle keep-alive connections are dropped after this, which also bounds
// how long stop() waits for a worker parked on one.
constexpr time_t keep_alive_timeout_s = 1;
// The largest request body read (POST /v1/topics is a few hundred bytes).
constexpr size_t body_bytes_max = 64 * 1024;

void send_json(httplib::Response& response, const JsonAnswer& answer) {
  response.status = answer.http_status;
  response.set_content(answer.body.dump(), "application/json");
}

bool is_json_content(const std::string& content_type) {
  constexpr std::string_view json_type = "application/json";
  return content_type.compare(0, json_type.size(), json_type) == 0 &&
         (content_type.size() == json_type.size() || content_type[json_type.size()] == ';');
}

// 401, with Basic's challenge (RFC 7617) so browsers and curl know how to
// ask again; a refused certificate has nothing to ask for.
void send_unauthorized(httplib::Response& response, AdminAuthentication mode,
                       const std::string& message) {
  if (mode == AdminAuthentication::basic)
    response.set_header("WWW-Authenticate", R"(Basic realm="sluice")");
  send_json(response, error_json(401, "SASL_AUTHENTICATION_FAILED", message));
}

// The mtls context: TLS 1.2 or newer (as ssl.enabled.protocols' default),
// the keystore's key and chain, and client certificates required and
// verified against the truststore. The error names the setting at fault.
std::string configure_tls(SSL_CTX& context, const AdminOptions& options) {
  SSL_CTX_set_min_proto_version(&context, TLS1_2_VERSION);
  const std::string& keystore = options.keystore_location;
  if (SSL_CTX_use_certificate_chain_file(&context, keystore.c_str()) != 1)
    return "admin.ssl.keystore.location: no PEM certificate chain in " + keystore + ": " +
           net::openssl_errors();
  // OpenSSL's default password callback reads the key's password from here,
  // only while the key loads.
  std::string password = options.key_password;
  SSL_CTX_set_default_passwd_cb_userdata(&context, password.empty() ? nullptr : password.data());
  const int key_loaded = SSL_CTX_use_PrivateKey_file(&context, keystore.c_str(), SSL_FILETYPE_PEM);
  SSL_CTX_set_default_passwd_cb_userdata(&context, nullptr);
  if (key_loaded != 1 || SSL_CTX_check_private_key(&context) != 1)
    return "admin.ssl.keystore.location: no private key matching the certificate in " + keystore +
           " (or a wrong admin.ssl.key.password): " + net::openssl_errors();
  const std::string& truststore = options.truststore_location;
  if (SSL_CTX_load_verify_locations(&context, truststore.c_str(), nullptr) != 1)
    return "admin.ssl.truststore.location: no PEM CA certificates in " + truststore + ": " +
           net::openssl_errors();
  SSL_CTX_set_verify(&context, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  return {};
}

// An HTTP server, or with mtls an HTTPS one.
Result<std::unique_ptr<httplib::Server>> make_http_server(const AdminOptions& options) {
  if (options.authentication != AdminAuthentication::mtls)
    return std::make_unique<httplib::Server>();
  std::string failure;
  auto server = std::make_unique<httplib::SSLServer>([&](SSL_CTX& context) {
    failure = configure_tls(context, options);
    return failure.empty();
  });
  if (!server->is_valid())
    return Status(Errc::invalid_value, failure.empty() ? "admin: no TLS context" : failure);
  return std::unique_ptr<httplib::Server>(std::move(server));
}

// Once at start: what the port asks of its clients, and a warning when it
// is open beyond this host.
void log_authentication(const AdminOptions& options) {
  const std::string& where = options.address.host;
  switch (options.authentication) {
    case AdminAuthentication::basic:
      spdlog::info(
          "admin: HTTP Basic authentication against the SCRAM users is required on {} "
          "(admin.authentication)",
          where);
      return;
    case AdminAuthentication::mtls:
      spdlog::info(
          "admin: HTTPS with a client certificate is required on {} "
          "(admin.authentication)",
          where);
      return;
    case AdminAuthentication::none:
      if (!is_loopback_host(where))
        spdlog::warn(
            "admin: {} is not a loopback address and admin.authentication is none: "
            "anyone who reaches it is served as User:ANONYMOUS",
            where);
      return;
  }
}

}  // namespace

Result<AdminAddress> parse_admin_listener(const std::string& text) {
  size_t colon = text.rfind(':');
  if (colon == std::string::npos)
    return Status(Errc::invalid_value, "admin.listener: expected host:port, got '" + text + "'");
  AdminAddress address;
  address.host = text.substr(0, colon);
  if (address.host.size() >= 2 && address.host.front() == '[' && address.host.back() == ']')
    address.host = address.host.substr(1, address.host.size() - 2);
  if (address.host.empty()) address.host = "0.0.0.0";
  std::string port = text.substr(colon + 1);
  char* end = nullptr;
  long number = std::strtol(port.c_str(), &end, 10);
  if (port.empty() || *end != '\0' || number < 0 || number > 65535)
    return Status(Errc::invalid_value, "admin.listener: invalid port in '" + text + "'");
  address.port = static_cast<uint16_t>(number);
  return address;
}

Result<AdminOptions> parse_admin_options(const AdminSettings& settings) {
  auto address = parse_admin_listener(settings.listener);
  if (!address) return address.status();
  auto mode = resolve_admin_authentication(settings.authentication, address->host);
  if (!mode) return mode.status();
  if (*mode == AdminAuthentication::mtls &&
      (settings.keystore_location.empty() || settings.truststore_location.empty()))
    return Status(Errc::invalid_value,
                  "admin.authentication=mtls needs admin.ssl.keystore.location and "
                  "admin.ssl.truststore.location (PEM files)");
  return AdminOptions{*address,
                      *mode,
                      settings.keystore_location,
                      settings.key_password,
                      settings.truststore_location,
                      settings.principal_mapping_rules};
}

struct AdminServer::Impl {
  Impl(std::unique_ptr<httplib::Server> server, AdminAuthentication mode,
       std::optional<security::SslPrincipalMapper> mapper)
      : http_server(std::move(server)),
        http(*http_server),
        authentication(mode),
        principal_mapper(std::move(mapper)) {}

  std::unique_ptr<httplib::Server> http_server;
  httplib::Server& http;
  const AdminAuthentication authentication;
  const std::optional<security::SslPrincipalMapper> principal_mapper;  // with mtls
  BasicAuthenticator authenticator;
  RateLimitedLog failed_logins;
  std::thread thread;
  std::atomic<bool> listen_returned{false};
  std::shared_mutex broker_mutex;  // shared: a request using the broker; unique: attach/detach
  broker::Broker* broker = nullptr;
  std::vector<metrics::CollectorHandle> broker_collectors;
  std::unique_ptr<MetadataCatchUp> catch_up;  // of the attached broker
  metrics::CollectorHandle process_collector;

  // The caller's user name ("ANONYMOUS" when the port asks no credentials),
  // or nullopt with `response` refusing it. broker_mutex is held shared.
  std::optional<std::string> authenticate(const httplib::Request& request,
                                          httplib::Response& response) {
    if (authentication == AdminAuthentication::none) return "ANONYMOUS";
    if (authentication == AdminAuthentication::mtls) return certificate_user(request, response);
    const auto credentials = parse_basic_authorization(request.get_header_value("Authorization"));
    if (!credentials) {
      send_unauthorized(response, authentication,
                        "HTTP Basic credentials of a SCRAM user are required");
      return std::nullopt;
    }
    if (broker == nullptr) {
      send_json(response, error_json(503, "BROKER_NOT_AVAILABLE",
                                     "the broker is starting or stopping: credentials cannot be "
                                     "checked yet"));
      return std::nullopt;
    }
    const cluster::MetadataImagePtr image = broker->metadata_image();
    if (!authenticator.authenticate(image->scram_credentials, *credentials)) {
      // The user's name only: never the password.
      failed_logins.warn("admin authentication failed",
                         "admin: authentication failed for user '{}' from {} ({} {})",
                         credentials->user, request.remote_addr, request.method, request.path);
      send_unauthorized(response, authentication, "Authentication failed: invalid credentials");
      return std::nullopt;
    }
    return credentials->user;
  }

  // The name ssl.principal.mapping.rules give the client certificate's
  // subject (the TLS handshake verified the certificate), as an SSL
  // listener names its client.
  std::optional<std::string> certificate_user(const httplib::Request& request,
                                              httplib::Response& response) {
    // httplib hands the connection's SSL as const; reading the peer's
    // certificate does not change it.
    const std::string subject =
        request.ssl != nullptr ? net::peer_subject(const_cast<SSL*>(request.ssl)) : "";
    auto name = subject.empty() ? Result<std::string>(Status(Errc::invalid_value, "no certificate"))
                                : principal_mapper->map(subject);
    if (!name) {
      failed_logins.warn("admin certificate refused",
                         "admin: client certificate '{}' from {} refused: {}", subject,
                         request.remote_addr, name.status().message());
      send_unauthorized(response, authentication,
                        "the client certificate matches no ssl.principal.mapping.rules rule");
      return std::nullopt;
    }
    return *name;
  }

  // Runs `serve(user)` for an authenticated caller, with the broker lock
  // held shared (the broker may be absent).
  template <class Serve>
  void authenticated(const httplib::Request& request, httplib::Response& response, Serve serve) {
    std::shared_lock lock(broker_mutex);
    if (std::optional<std::string> user = authenticate(request, response)) serve(*user);
  }

  // Sends `answer(broker, caller)` for an authenticated caller, or 503
  // while there is no broker.
  template <class Answer>
  void with_caller(const httplib::Request& request, httplib::Response& response, Answer answer) {
    authenticated(request, response, [&](const std::string& user) {
      if (broker == nullptr) {
        send_json(response,
                  error_json(503, "BROKER_NOT_AVAILABLE", "the broker is starting or stopping"));
        return;
      }
      const AdminAccess caller(broker->authorization(), user, request.remote_addr,
                               request.remote_port);
      send_json(response, answer(*broker, caller));
    });
  }

  void route() {
    http.Get("/metrics", [this](const httplib::Request& request, httplib::Response& response) {
      authenticated(request, response, [&](const std::string&) {  // collectors read the broker
        response.set_content(metrics::default_registry().render(),
                             "text/plain; version=0.0.4; charset=utf-8");
      });
    });
    http.Get("/v1/health", [this](const httplib::Request& request, httplib::Response& response) {
      authenticated(request, response, [&](const std::string&) {
        if (broker == nullptr) {
          send_json(response, {503, {{"status", "starting"}}});
          return;
        }
        send_json(response, health_json(*broker, *catch_up));
      });
    });
    route_reads();
    route_writes();
    http.set_error_handler([](const httplib::Request& request, httplib::Response& response) {
      if (response.status == 404 && response.body.empty())
        send_json(response, error_json(404, "NOT_FOUND", "no endpoint " + request.path));
    });
    http.set_exception_handler([](const httplib::Request& request, httplib::Response& response,
                                  std::exception_ptr error) {
      std::string what = "unknown error";
      try {
        std::rethrow_exception(error);
      } catch (const std::exception& e) {
        what = e.what();
      } catch (...) {
      }
      spdlog::warn("admin: {} {} failed: {}", request.method, request.path, what);
      send_json(response, error_json(500, "UNKNOWN_SERVER_ERROR", what));
    });
  }

  void route_reads() {
    using Request = httplib::Request;
    get_json("/v1/cluster", [](broker::Broker& b, const AdminAccess& caller, const Request&) {
      return cluster_json(b, caller);
    });
    get_json("/v1/topics", [](broker::Broker& b, const AdminAccess& caller, const Request&) {
      return topics_json(b, caller);
    });
    get_json(R"(/v1/topics/([^/]+))",
             [](broker::Broker& b, const AdminAccess& caller, const Request& request) {
               return topic_json(b, caller, request.matches[1]);
             });
    get_json("/v1/partitions",
             [](broker::Broker& b, const AdminAccess& caller, const Request& request) {
               return partitions_json(b, caller, request.get_param_value("filter"));
             });
    get_json("/v1/groups", [](broker::Broker& b, const AdminAccess& caller, const Request&) {
      return groups_json(b, caller);
    });
    get_json(R"(/v1/groups/([^/]+))",
             [](broker::Broker& b, const AdminAccess& caller, const Request& request) {
               return group_json(b, caller, request.matches[1]);
             });
  }

  // The broker's CreateTopics / DeleteTopics path (topic_writes.h); the
  // worker waits for the controller's answer, no reactor does.
  void route_writes() {
    http.Post("/v1/topics", [this](const httplib::Request& request, httplib::Response& response) {
      with_caller(request, response, [&](broker::Broker& b, const AdminAccess& caller) {
        // A web page can make a browser POST text/plain to a loopback port
        // without asking (no CORS preflight); application/json needs one,
        // which this port never grants.
        if (!is_json_content(request.get_header_value("Content-Type")))
          return error_json(415, "INVALID_REQUEST", "Content-Type must be application/json");
        return create_topic(b, caller, request.body);
      });
    });
    http.Delete(R"(/v1/topics/([^/]+))",
                [this](const httplib::Request& request, httplib::Response& response) {
                  with_caller(request, response, [&](broker::Broker& b, const AdminAccess& caller) {
                    return delete_topic(b, caller, request.matches[1]);
                  });
                });
  }

  template <class Build>
  void get_json(const std::string& pattern, Build build) {
    http.Get(pattern, [this, build](const httplib::Request& request, httplib::Response& response) {
      with_caller(request, response, [&](broker::Broker& b, const AdminAccess& caller) {
        return build(b, caller, request);
      });
    });
  }
};

AdminServer::AdminServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

AdminServer::~AdminServer() {
  detach();
  stop();
}

Result<std::unique_ptr<AdminServer>> AdminServer::start(const AdminOptions& options) {
  const AdminAddress& address = options.address;
  std::optional<security::SslPrincipalMapper> mapper;
  if (options.authentication == AdminAuthentication::mtls) {
    auto parsed = security::SslPrincipalMapper::parse(options.principal_mapping_rules);
    if (!parsed)
      return Status(Errc::invalid_value,
                    "ssl.principal.mapping.rules: " + parsed.status().message());
    mapper = std::move(*parsed);
  }
  auto http_server = make_http_server(options);
  if (!http_server) return http_server.status();
  auto impl =
      std::make_unique<Impl>(std::move(*http_server), options.authentication, std::move(mapper));
  impl->http.new_task_queue = [] { return new httplib::ThreadPool(worker_threads); };
  // SO_REUSEADDR only: httplib's default adds SO_REUSEPORT, with which a
  // second broker would share the port instead of failing to start.
  impl->http.set_socket_options([](socket_t socket) {
    int yes = 1;
    setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  impl->http.set_keep_alive_timeout(keep_alive_timeout_s);
  impl->http.set_read_timeout(read_timeout);
  impl->http.set_write_timeout(write_timeout);
  impl->http.set_payload_max_length(body_bytes_max);
  impl->route();
  int port = address.port;
  if (address.port == 0) {
    port = impl->http.bind_to_any_port(address.host);
    if (port < 0) port = 0;
  } else if (!impl->http.bind_to_port(address.host, address.port)) {
    port = 0;
  }
  if (port == 0)
    return Status(Errc::io_error, "admin.listener: cannot listen on " + address.host + ":" +
                                      std::to_string(address.port) +
                                      " (port in use or address not local?); set admin.listener to a "
                                      "free host:port, or empty to disable the admin port");
  std::unique_ptr<AdminServer> server(new AdminServer(std::move(impl)));
  server->bound_port_ = static_cast<uint16_t>(port);
  server->impl_->process_collector = add_process_collector(metrics::default_registry());
  log_authentication(options);
  Impl* running = server->impl_.get();
  server->impl_->thread = std::thread([running] {
    running->http.listen_after_bind();
    running->listen_returned = true;
  });
  // httplib's stop() does nothing until the listening loop has begun: wait
  // for it, so that a stop() right after start() cannot miss it.
  while (!running->http.is_running() && !running->listen_returned)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return server;
}

void AdminServer::attach(broker::Broker& broker) {
  std::unique_lock lock(impl_->broker_mutex);
  impl_->broker = &broker;
  impl_->broker_collectors.push_back(add_partition_collector(metrics::default_registry(), broker));
  impl_->broker_collectors.push_back(add_group_collector(metrics::default_registry(), broker));
  impl_->broker_collectors.push_back(add_quorum_collector(metrics::default_registry(), broker));
  impl_->broker_collectors.push_back(
      add_replication_collector(metrics::default_registry(), broker));
  impl_->catch_up = std::make_unique<MetadataCatchUp>();
  if (impl_->authentication == AdminAuthentication::basic &&
      broker.metadata_image()->scram_credentials.empty())
    spdlog::warn(
        "admin: no SCRAM user exists yet: the admin port answers 401 to every request "
        "until one is created (sluice user create)");
}

void AdminServer::detach() {
  if (!impl_) return;
  std::unique_lock lock(impl_->broker_mutex);  // waits for requests using the broker
  impl_->broker_collectors.clear();
  impl_->broker = nullptr;
}

void AdminServer::stop() {
  if (!impl_ || !impl_->thread.joinable()) return;
  impl_->http.stop();
  impl_->thread.join();
  impl_->process_collector.reset();
}

}  // namespace sluice::admin
