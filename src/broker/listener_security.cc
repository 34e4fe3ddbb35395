#include "broker/listener_security.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

#include "broker/broker_config.h"
#include "security/jaas.h"
#include "security/principal.h"

namespace sluice::broker {
namespace {

constexpr std::string_view kListenerPrefix = "listener.name.";
constexpr std::string_view kJaasSuffix = ".sasl.jaas.config";

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return text;
}

bool settable_per_listener(const std::string& key) {
  if (key == "connections.max.reauth.ms" || key == "principal.builder.class") return true;
  if (key.rfind("ssl.", 0) != 0 && key.rfind("sasl.", 0) != 0) return false;
  return broker_config_defs().find(key) != nullptr;
}

// `<mechanism>.sasl.jaas.config`: the JAAS entry of one mechanism.
bool is_mechanism_jaas_key(const std::string& key) {
  return key.size() > kJaasSuffix.size() &&
         key.compare(key.size() - kJaasSuffix.size(), kJaasSuffix.size(), kJaasSuffix) == 0 &&
         key.find('.') == key.size() - kJaasSuffix.size();
}

class ListenerSettings {
 public:
  ListenerSettings(const BrokerConfig& config, const std::string& listener)
      : config_(config), listener_(listener), lower_listener_(lower(listener)) {}

  // The per-listener value, else the broker-wide one (explicit or default).
  std::optional<std::string> get(const std::string& key) const {
    auto listener = config_.listener_overrides.find(lower_listener_);
    if (listener != config_.listener_overrides.end()) {
      auto found = listener->second.find(key);
      if (found != listener->second.end()) return found->second;
    }
    if (broker_config_defs().find(key) == nullptr) return std::nullopt;
    return config_.values.text(key);
  }
  std::string text(const std::string& key) const { return get(key).value_or(""); }
  std::vector<std::string> list(const std::string& key) const { return split_list(text(key)); }
  bool is_set(const std::string& key) const {
    auto listener = config_.listener_overrides.find(lower_listener_);
    bool per_listener =
        listener != config_.listener_overrides.end() && listener->second.count(key) != 0;
    return per_listener ||
           (broker_config_defs().find(key) != nullptr && config_.values.is_set(key));
  }
  const std::string& name() const { return listener_; }
  const std::string& lower_name() const { return lower_listener_; }
  const BrokerConfig& config() const { return config_; }

 private:
  const BrokerConfig& config_;
  std::string listener_;
  std::string lower_listener_;
};

Status listener_error(const ListenerSettings& settings, const std::string& what) {
  return Status(Errc::invalid_value, "listener " + settings.name() + ": " + what);
}

// Kafka reads PEM stores only with ssl.*store.type=PEM; Sluice reads PEM
// only, so an unset type means PEM and another explicit one is an error.
Status check_store_type(const ListenerSettings& settings, const std::string& key) {
  if (!settings.is_set(key)) return Status::ok();
  std::string type = settings.text(key);
  if (lower(type) == "pem") return Status::ok();
  return listener_error(settings,
                        key + "=" + type + ": Sluice reads PEM stores only (set " + key +
                            "=PEM; convert a JKS or PKCS12 store with keytool and openssl)");
}

Result<std::shared_ptr<net::TlsContext>> tls_context(const ListenerSettings& settings) {
  for (const char* key : {"ssl.keystore.type", "ssl.truststore.type"})
    if (Status status = check_store_type(settings, key); !status) return status;
  net::TlsSettings tls;
  tls.listener_name = settings.name();
  tls.keystore_location = settings.text("ssl.keystore.location");
  tls.keystore_key = settings.text("ssl.keystore.key");
  tls.keystore_certificate_chain = settings.text("ssl.keystore.certificate.chain");
  tls.key_password = settings.is_set("ssl.key.password") ? settings.text("ssl.key.password")
                                                         : settings.text("ssl.keystore.password");
  tls.truststore_location = settings.text("ssl.truststore.location");
  tls.truststore_certificates = settings.text("ssl.truststore.certificates");
  auto client_auth = net::parse_tls_client_auth(settings.text("ssl.client.auth"));
  if (!client_auth) return listener_error(settings, client_auth.status().message());
  tls.client_auth = *client_auth;
  tls.enabled_protocols = settings.list("ssl.enabled.protocols");
  tls.cipher_suites = settings.list("ssl.cipher.suites");
  return net::TlsContext::create(std::move(tls));
}

Result<std::string> read_file(const std::string& path, const char* key) {
  std::ifstream in(path);
  if (!in) return Status(Errc::invalid_value, std::string(key) + ": cannot read " + path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// PLAIN's users: the listener's plain.sasl.jaas.config, else sasl.jaas.config,
// else the `<listener>.KafkaServer` or `KafkaServer` section of
// sluice.sasl.jaas.file (Kafka's JAAS file layout).
Result<std::shared_ptr<const security::PlainUsers>> plain_users(const ListenerSettings& settings) {
  std::vector<security::JaasEntry> entries;
  const std::string prefixed = "plain.sasl.jaas.config";
  if (auto text = settings.get(prefixed); text && settings.is_set(prefixed)) {
    auto parsed = security::parse_jaas_entries(*text);
    if (!parsed)
      return listener_error(settings, "plain.sasl.jaas.config: " + parsed.status().message());
    entries = std::move(parsed.value());
  } else if (settings.is_set("sasl.jaas.config")) {
    auto parsed = security::parse_jaas_entries(settings.text("sasl.jaas.config"));
    if (!parsed) return listener_error(settings, "sasl.jaas.config: " + parsed.status().message());
    entries = std::move(parsed.value());
  } else if (std::string path = settings.text("sluice.sasl.jaas.file"); !path.empty()) {
    auto text = read_file(path, "sluice.sasl.jaas.file");
    if (!text) return text.status();
    auto sections = security::parse_jaas_file(*text);
    if (!sections)
      return Status(Errc::invalid_value,
                    "sluice.sasl.jaas.file " + path + ": " + sections.status().message());
    const security::JaasSection* section =
        security::find_jaas_section(*sections, settings.lower_name() + ".KafkaServer");
    if (section == nullptr) section = security::find_jaas_section(*sections, "KafkaServer");
    if (section != nullptr) entries = section->entries;
  }
  auto users =
      std::make_shared<const security::PlainUsers>(security::plain_users_from_jaas(entries));
  if (users->empty())
    return listener_error(settings,
                          "PLAIN is enabled but no JAAS entry of " +
                              std::string(security::plain_login_module) +
                              " names users (user_<name>=\"<password>\"): set listener.name." +
                              settings.lower_name() +
                              ".plain.sasl.jaas.config, sasl.jaas.config or sluice.sasl.jaas.file");
  return users;
}

Result<std::vector<std::string>> sasl_mechanisms(const ListenerSettings& settings) {
  std::vector<std::string> mechanisms = settings.list("sasl.enabled.mechanisms");
  for (const std::string& mechanism : mechanisms)
    if (mechanism != sasl_plain && mechanism != sasl_scram_sha_256 &&
        mechanism != sasl_scram_sha_512)
      return listener_error(settings,
                            "sasl.enabled.mechanisms names " + mechanism +
                                "; Sluice serves PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 "
                                "(Kafka's default GSSAPI needs Kerberos, which Sluice has not)");
  if (mechanisms.empty()) return listener_error(settings, "sasl.enabled.mechanisms is empty");
  return mechanisms;
}

Result<ListenerSecurity> resolve_listener(const BrokerConfig& config, const std::string& name,
                                          const std::map<std::string, std::string>& protocols) {
  ListenerSettings settings(config, name);
  ListenerSecurity security;
  security.listener_name = name;
  // A name the map does not list is PLAINTEXT, as Sluice always took it
  // (Kafka refuses it); one the map gives an unknown protocol is an error.
  auto mapped = protocols.find(name);
  auto protocol = mapped == protocols.end() ? std::optional(net::SecurityProtocol::plaintext)
                                            : security_protocol_named(mapped->second);
  if (!protocol) return listener_error(settings, "unknown security protocol " + mapped->second);
  security.protocol = *protocol;
  security.reauth_ms = std::stoll(settings.text("connections.max.reauth.ms"));
  if (net::uses_tls(security.protocol)) {
    auto tls = tls_context(settings);
    if (!tls) return tls.status();
    security.tls = std::move(tls.value());
    auto mapper = security::SslPrincipalMapper::parse(settings.text("ssl.principal.mapping.rules"));
    if (!mapper)
      return listener_error(settings, "ssl.principal.mapping.rules: " + mapper.status().message());
    security.principal_mapper =
        std::make_shared<const security::SslPrincipalMapper>(std::move(mapper.value()));
  }
  if (net::uses_sasl(security.protocol)) {
    auto mechanisms = sasl_mechanisms(settings);
    if (!mechanisms) return mechanisms.status();
    security.sasl_mechanisms = std::move(mechanisms.value());
    if (security.serves_mechanism(sasl_plain)) {
      auto users = plain_users(settings);
      if (!users) return users.status();
      security.plain_users = std::move(users.value());
    }
  }
  return security;
}

}  // namespace

bool ListenerSecurity::serves_mechanism(const std::string& name) const {
  return std::find(sasl_mechanisms.begin(), sasl_mechanisms.end(), name) != sasl_mechanisms.end();
}

std::map<std::string, std::string> effective_protocol_map(const BrokerConfig& config) {
  std::map<std::string, std::string> out;
  for (const std::string& item : config.values.get_list("listener.security.protocol.map")) {
    size_t colon = item.find(':');
    if (colon != std::string::npos) out[item.substr(0, colon)] = item.substr(colon + 1);
  }
  if (!config.values.is_set("listener.security.protocol.map"))
    for (const std::string& name : config.controller_listener_names) out.emplace(name, "PLAINTEXT");
  return out;
}

std::optional<net::SecurityProtocol> security_protocol_named(const std::string& name) {
  if (name == "PLAINTEXT") return net::SecurityProtocol::plaintext;
  if (name == "SSL") return net::SecurityProtocol::ssl;
  if (name == "SASL_PLAINTEXT") return net::SecurityProtocol::sasl_plaintext;
  if (name == "SASL_SSL") return net::SecurityProtocol::sasl_ssl;
  return std::nullopt;
}

Result<ListenerOverrides> take_listener_overrides(std::map<std::string, std::string>& values) {
  ListenerOverrides out;
  for (auto it = values.begin(); it != values.end();) {
    const std::string& key = it->first;
    if (key.rfind(kListenerPrefix, 0) != 0) {
      ++it;
      continue;
    }
    const std::string rest = key.substr(kListenerPrefix.size());
    const size_t dot = rest.find('.');
    const std::string listener = dot == std::string::npos ? "" : rest.substr(0, dot);
    const std::string setting = dot == std::string::npos ? "" : rest.substr(dot + 1);
    if (listener.empty() || (!settable_per_listener(setting) && !is_mechanism_jaas_key(setting)))
      return Status(Errc::invalid_value,
                    "unknown configuration '" + key +
                        "' (per listener: listener.name.<listener>.<ssl.*, sasl.* "
                        "or <mechanism>.sasl.jaas.config>)");
    out[lower(listener)][setting] = it->second;
    it = values.erase(it);
  }
  return out;
}

// The node's own connections (replica fetchers, the quorum, transaction
// markers, to itself too) use net's client, which has no TLS or SASL yet:
// the listeners they dial must be PLAINTEXT, or they would be refused at
// run time, silently for the user.
Status check_internal_listeners(const BrokerConfig& config,
                                const std::map<std::string, ListenerSecurity>& listeners) {
  auto check = [&](const std::string& name, const char* key) -> Status {
    auto found = listeners.find(name);
    if (found == listeners.end() || found->second.protocol == net::SecurityProtocol::plaintext)
      return Status::ok();
    return Status(
        Errc::invalid_value,
        std::string(key) + ": listener " + name +
            " is not PLAINTEXT; Sluice's inter-node client speaks PLAINTEXT only so far: give "
            "brokers and controllers a PLAINTEXT listener of their own (e.g. INTERNAL:PLAINTEXT "
            "on a private address) and keep SSL and SASL for clients");
  };
  if (Status status = check(config.quorum.inter_broker_listener_name, "inter.broker.listener.name");
      !status)
    return status;
  for (const std::string& name : config.controller_listener_names)
    if (Status status = check(name, "controller.listener.names"); !status) return status;
  return Status::ok();
}

Result<std::map<std::string, ListenerSecurity>> resolve_listener_security(
    const BrokerConfig& config) {
  const std::map<std::string, std::string> protocols = effective_protocol_map(config);
  std::map<std::string, ListenerSecurity> out;
  for (const ListenerAddress& address : config.listeners) {
    auto security = resolve_listener(config, address.name, protocols);
    if (!security) return security.status();
    out[address.name] = std::move(security.value());
  }
  if (Status status = check_internal_listeners(config, out); !status) return status;
  return out;
}

}  // namespace sluice::broker
