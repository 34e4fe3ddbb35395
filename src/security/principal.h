#pragma once
// Who a connection is: Kafka's KafkaPrincipal ("User:alice"), the mapping of
// a client certificate's subject to a name (ssl.principal.mapping.rules, as
// Kafka's SslPrincipalMapper), and that subject in RFC 2253 form as Java's
// X500Principal.getName() prints it (the input of the mapping rules).

#include <openssl/x509.h>

#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace sluice::security {

struct KafkaPrincipal {
  static constexpr std::string_view user_type = "User";

  std::string type = std::string(user_type);
  std::string name;

  std::string to_string() const { return type + ":" + name; }  // "User:alice"
  bool operator==(const KafkaPrincipal&) const = default;

  // "User:alice" as super.users and ACLs write it: split at the first ':'
  // (the name may hold more, "User:CN=a,O=b:c"). Kafka's
  // SecurityUtils.parseKafkaPrincipal: an empty string or one without ':'
  // is an error.
  static Result<KafkaPrincipal> parse(std::string_view text);
  // User:ANONYMOUS, the principal of PLAINTEXT and of SSL without a client certificate.
  static KafkaPrincipal anonymous() { return {std::string(user_type), "ANONYMOUS"}; }
  static KafkaPrincipal user(std::string name) { return {std::string(user_type), std::move(name)}; }
};

// ssl.principal.mapping.rules: a comma-separated list of DEFAULT (the DN as
// is) and RULE:<pattern>/<replacement>/[L|U]; the first rule whose pattern
// matches the whole DN gives the name (then lower- or upper-cased); no rule
// matching is an error, as in Kafka (NoMatchingRule fails the connection).
//
// Patterns are Java regular expressions run by std::regex's ECMAScript
// grammar, which agrees on what such rules use (groups, classes, lazy and
// greedy quantifiers, anchors, escapes). A leading "(?i)" is honoured
// (case-insensitive); other Java-only constructs (lookbehind, possessive
// quantifiers, named groups, \A \Z, inline flags elsewhere) are refused at
// parse time or do not compile. Replacements follow Java's replaceAll: $n
// is group n, \x a literal x; a $n beyond the pattern's groups is taken
// literally (Kafka's escapeLiteralBackReferences). L/U case ASCII letters only.
class SslPrincipalMapper {
 public:
  static Result<SslPrincipalMapper> parse(std::string_view rules);
  // The name for `distinguished_name` (RFC 2253, rfc2253_subject).
  Result<std::string> map(std::string_view distinguished_name) const;
  std::string to_string() const;  // Kafka's toString, for logs

  struct Rule {
    bool is_default = false;
    std::string pattern_text;
    std::regex pattern;
    int group_count = 0;
    std::string replacement;
    bool to_lower = false;
    bool to_upper = false;
  };

 private:
  std::vector<Rule> rules_;
};

// The subject of `cert` as Java's X500Principal.getName() (RFC 2253) prints
// it: RDNs most specific first, separated by ','; multi-valued RDNs joined
// by '+'; keywords CN, C, L, ST, O, OU, STREET, DC, UID and any other
// attribute as its dotted OID with the hex of its DER value ("#0c05...");
// ",=+<>#;\"\\" escaped with '\', NUL as "\00", leading and trailing
// spaces escaped. Values are UTF-8.
Result<std::string> rfc2253_subject(X509* cert);
Result<std::string> rfc2253_name(const X509_NAME* name);

}  // namespace sluice::security
