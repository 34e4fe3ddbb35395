#pragma once
// Kafka's JAAS configuration text, in its two forms:
// - `sasl.jaas.config` (and its listener-prefixed forms): one login module
//   entry, `<LoginModuleClass> <flag> key="value" key2=value2;`
//   (Kafka's JaasConfig; JaasContext wants exactly one entry);
// - a JAAS file as -Djava.security.auth.login.config takes it, sections of
//   entries: `KafkaServer { entry; entry; };`,
//   `sasl_plaintext.KafkaServer { ... };`.
// Tokens follow Java's StreamTokenizer as JaasConfig sets it up: words of
// letters, digits, '.', '_', '-', '$' (not starting with a digit, '.' or
// '-': quote such values), strings in "..." or '...' with backslash escapes,
// `//` and `/* */` comments. The flag is case-insensitive.
//
// Errors name the line and column; they never quote an option's value (it
// may be a password).

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace sluice::security {

enum class JaasControlFlag { required, requisite, sufficient, optional };

struct JaasEntry {
  std::string login_module;
  JaasControlFlag flag = JaasControlFlag::required;
  std::map<std::string, std::string> options;
  bool operator==(const JaasEntry&) const = default;
};

struct JaasSection {
  std::string name;
  std::vector<JaasEntry> entries;
};

// Every entry of a JAAS config text (at least one).
Result<std::vector<JaasEntry>> parse_jaas_entries(std::string_view text);
// A `sasl.jaas.config` value: exactly one entry, as Kafka's JaasContext demands.
Result<JaasEntry> parse_jaas_config(std::string_view text);
// A JAAS file: its sections in file order (a name appears once, as Java's ConfigFile requires).
Result<std::vector<JaasSection>> parse_jaas_file(std::string_view text);
// The section named `name` (case-sensitive, as Java's), or nullptr.
const JaasSection* find_jaas_section(const std::vector<JaasSection>& sections,
                                     std::string_view name);

constexpr std::string_view plain_login_module =
    "org.apache.kafka.common.security.plain.PlainLoginModule";
constexpr std::string_view scram_login_module =
    "org.apache.kafka.common.security.scram.ScramLoginModule";

// The `user_<name>="<password>"` options of the PlainLoginModule entries:
// name -> password (Kafka's PlainServerCallbackHandler reads the same).
std::map<std::string, std::string, std::less<>> plain_users_from_jaas(
    const std::vector<JaasEntry>& entries);

}  // namespace sluice::security
