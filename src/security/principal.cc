// GCC 12 at -O1 with ASan (the _asan twin) reports a false
// maybe-uninitialized inside libstdc++'s <regex> compiler (std::function
// moved within _State); nothing of this file is involved.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include "security/principal.h"

#include <openssl/asn1.h>
#include <openssl/objects.h>

#include <memory>
#include <optional>

namespace sluice::security {

namespace {

// Java's \s.
bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\x0b' || c == '\f' || c == '\r';
}

Status invalid_rule(std::string_view rule, std::string_view unmatched) {
  return Status(Errc::invalid_value, "Invalid rule: `" + std::string(rule) +
                                         "`, unmatched substring: `" + std::string(unmatched) +
                                         "`");
}

// ((\\.|[^\\/])*) then '/': the text up to the next unescaped '/', kept raw.
std::optional<std::string> up_to_slash(std::string_view text, size_t& position) {
  size_t start = position;
  while (position < text.size() && text[position] != '/') {
    if (text[position] == '\\') {
      if (position + 1 >= text.size()) return std::nullopt;
      ++position;
    }
    ++position;
  }
  if (position >= text.size()) return std::nullopt;
  std::string part(text.substr(start, position - start));
  ++position;  // the '/'
  return part;
}

// Java regex constructs ECMAScript lacks or reads differently.
std::optional<std::string> java_only_construct(std::string_view pattern) {
  bool in_class = false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    char c = pattern[i];
    if (c == '\\') {
      if (i + 1 < pattern.size() &&
          std::string_view("AZzGQE").find(pattern[i + 1]) != std::string_view::npos)
        return "\\" + std::string(1, pattern[i + 1]);
      ++i;
    } else if (in_class) {
      if (c == ']') in_class = false;
    } else if (c == '[') {
      in_class = true;
      if (i + 1 < pattern.size() && pattern[i + 1] == ']') ++i;  // a leading ']' is literal
    } else if (c == '(' && i + 1 < pattern.size() && pattern[i + 1] == '?') {
      char kind = i + 2 < pattern.size() ? pattern[i + 2] : '\0';
      if (kind != ':' && kind != '=' && kind != '!') return "(?" + std::string(1, kind);
    } else if ((c == '*' || c == '+' || c == '?' || c == '}') && i + 1 < pattern.size() &&
               pattern[i + 1] == '+') {
      return "possessive quantifier " + std::string(1, c) + "+";
    }
  }
  return std::nullopt;
}

Result<SslPrincipalMapper::Rule> make_rule(std::string pattern, std::string replacement,
                                           bool to_lower, bool to_upper) {
  SslPrincipalMapper::Rule rule;
  rule.pattern_text = pattern;
  auto flags = std::regex::ECMAScript;
  std::string_view body = pattern;
  if (body.starts_with("(?i)")) {
    flags |= std::regex::icase;
    body.remove_prefix(4);
  }
  if (std::optional<std::string> construct = java_only_construct(body))
    return Status(Errc::invalid_value, "ssl.principal.mapping.rules: pattern `" + pattern +
                                           "` uses " + *construct +
                                           ", which Sluice's regular expressions do not support");
  try {
    rule.pattern = std::regex(body.begin(), body.end(), flags);
  } catch (const std::regex_error& error) {
    return Status(Errc::invalid_value, "ssl.principal.mapping.rules: invalid pattern `" + pattern +
                                           "`: " + error.what());
  }
  rule.group_count = static_cast<int>(rule.pattern.mark_count());
  rule.replacement = std::move(replacement);
  rule.to_lower = to_lower;
  rule.to_upper = to_upper;
  return rule;
}

// Kafka's escapeLiteralBackReferences: a $n naming a group the pattern does
// not have (after dropping trailing digits down to one) becomes a literal
// "\$n". Positions come from the original text, as Kafka's loop takes them.
Result<std::string> escape_literal_back_references(const std::string& unescaped, int groups) {
  if (groups == 0) return unescaped;
  std::string value = unescaped;
  for (size_t i = 0; i < unescaped.size(); ++i) {
    if (unescaped[i] != '$') continue;
    size_t start = i + 1, end = start;
    while (end < unescaped.size() && unescaped[end] >= '0' && unescaped[end] <= '9') ++end;
    if (end == start) continue;
    std::string digits = unescaped.substr(start, end - start);
    i = end - 1;
    if (digits[0] == '0') continue;
    if (digits.size() > 9)  // Java's Integer.parseInt would throw
      return Status(Errc::invalid_value, "group reference $" + digits + " is too large");
    long index = std::stol(digits);
    while (index > groups && index >= 10) index /= 10;
    if (index > groups && start - 1 <= value.size()) value.insert(start - 1, "\\");
  }
  return value;
}

// One match's replacement as Java's Matcher.appendReplacement expands it.
Result<std::string> expand(std::string_view replacement, const std::smatch& match) {
  int groups = static_cast<int>(match.size()) - 1;
  std::string out;
  for (size_t i = 0; i < replacement.size();) {
    char c = replacement[i++];
    if (c == '\\') {
      if (i >= replacement.size())
        return Status(Errc::invalid_value, "character to be escaped is missing");
      out += replacement[i++];
    } else if (c == '$') {
      if (i >= replacement.size() || replacement[i] < '0' || replacement[i] > '9')
        return Status(Errc::invalid_value, "Illegal group reference in the replacement");
      int ref = replacement[i++] - '0';
      while (i < replacement.size() && replacement[i] >= '0' && replacement[i] <= '9') {
        int next = ref * 10 + (replacement[i] - '0');
        if (next > groups) break;
        ref = next;
        ++i;
      }
      if (ref > groups) return Status(Errc::invalid_value, "No group " + std::to_string(ref));
      out += match[ref].str();
    } else {
      out += c;
    }
  }
  return out;
}

// Some rule name matched; Java's String.replaceAll over the whole DN.
Result<std::string> replace_all(const SslPrincipalMapper::Rule& rule, const std::string& input) {
  Result<std::string> replacement =
      escape_literal_back_references(rule.replacement, rule.group_count);
  if (!replacement) return replacement.status();
  std::string out;
  auto last = input.cbegin();
  for (std::sregex_iterator it(input.begin(), input.end(), rule.pattern), end; it != end; ++it) {
    out.append(last, (*it)[0].first);
    Result<std::string> expanded = expand(*replacement, *it);
    if (!expanded) return expanded.status();
    out += *expanded;
    last = (*it)[0].second;
  }
  out.append(last, input.cend());
  return out;
}

std::string ascii_case(std::string text, bool upper) {
  for (char& c : text) {
    if (upper && c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (!upper && c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return text;
}

}  // namespace

Result<KafkaPrincipal> KafkaPrincipal::parse(std::string_view text) {
  size_t colon = text.find(':');
  if (text.empty() || colon == std::string_view::npos)
    return Status(
        Errc::invalid_value,
        "expected a string in format principalType:principalName but got " + std::string(text));
  return KafkaPrincipal{std::string(text.substr(0, colon)), std::string(text.substr(colon + 1))};
}

// Kafka splits the rules with "\s*(DEFAULT|RULE:p/r/[LU]?.*?|.*?)\s*(,\s*|$)"
// and parses each with the same alternatives; this walks the text the same way.
Result<SslPrincipalMapper> SslPrincipalMapper::parse(std::string_view rules) {
  SslPrincipalMapper mapper;
  size_t position = 0;
  while (true) {
    while (position < rules.size() && is_space(rules[position])) ++position;
    if (position >= rules.size()) break;
    // A rule's text runs to the first ',' after its pattern and replacement
    // (they may hold commas), trailing blanks excluded.
    size_t start = position;
    size_t scan_from = start;
    std::optional<std::string> pattern, replacement;
    size_t after_parts = start;
    if (rules.substr(start).starts_with("RULE:")) {
      size_t cursor = start + 5;
      pattern = up_to_slash(rules, cursor);
      if (pattern) replacement = up_to_slash(rules, cursor);
      if (pattern && replacement) {
        after_parts = cursor;
        scan_from = cursor;
      } else {
        pattern.reset();
      }
    }
    size_t comma = rules.find(',', scan_from);
    size_t end = comma == std::string_view::npos ? rules.size() : comma;
    position = comma == std::string_view::npos ? rules.size() : comma + 1;
    while (end > start && is_space(rules[end - 1])) --end;
    if (!replacement && end == start) continue;  // an empty rule is ignored
    std::string_view rule = rules.substr(start, end - start);
    if (pattern && replacement) {
      std::string_view flag = rules.substr(after_parts, end > after_parts ? end - after_parts : 0);
      bool lower = flag.starts_with("L"), upper = flag.starts_with("U");
      if (lower || upper) flag.remove_prefix(1);
      if (!flag.empty()) return invalid_rule(rule, flag);
      Result<Rule> made = make_rule(*pattern, *replacement, lower, upper);
      if (!made) return made.status();
      mapper.rules_.push_back(std::move(made).value());
    } else if (rule.starts_with("DEFAULT")) {
      if (rule.size() > 7) return invalid_rule(rule, rule.substr(7));
      Rule rule_default;
      rule_default.is_default = true;
      mapper.rules_.push_back(std::move(rule_default));
    } else {
      return invalid_rule(rule, rule);
    }
  }
  return mapper;
}

Result<std::string> SslPrincipalMapper::map(std::string_view distinguished_name) const {
  std::string input(distinguished_name);
  for (const Rule& rule : rules_) {
    if (rule.is_default) return input;
    if (!std::regex_match(input, rule.pattern)) continue;
    Result<std::string> replaced = replace_all(rule, input);
    if (!replaced) return replaced.status();
    if (rule.to_lower || rule.to_upper)
      return ascii_case(std::move(replaced).value(), rule.to_upper);
    return replaced;
  }
  return Status(Errc::invalid_value, "No rules apply to " + input + ", rules " + to_string());
}

std::string SslPrincipalMapper::to_string() const {
  std::string out = "[";
  for (size_t i = 0; i < rules_.size(); ++i) {
    const Rule& rule = rules_[i];
    if (i > 0) out += ", ";
    if (rule.is_default) {
      out += "DEFAULT";
      continue;
    }
    out += "RULE:" + rule.pattern_text + "/" + rule.replacement;
    if (rule.to_lower) out += "/L";
    if (rule.to_upper) out += "/U";
  }
  return out + "]";
}

namespace {

// The attribute types Java's X500Principal prints by keyword in RFC 2253 form.
const char* rfc2253_keyword(int nid) {
  switch (nid) {
    case NID_commonName:
      return "CN";
    case NID_countryName:
      return "C";
    case NID_localityName:
      return "L";
    case NID_stateOrProvinceName:
      return "ST";
    case NID_organizationName:
      return "O";
    case NID_organizationalUnitName:
      return "OU";
    case NID_streetAddress:
      return "STREET";
    case NID_domainComponent:
      return "DC";
    case NID_userId:
      return "UID";
    default:
      return nullptr;
  }
}

// Java's AVA.isDerString(value, false): the string types printed as text.
bool is_text_type(int type) {
  switch (type) {
    case V_ASN1_PRINTABLESTRING:
    case V_ASN1_T61STRING:
    case V_ASN1_IA5STRING:
    case V_ASN1_GENERALSTRING:
    case V_ASN1_BMPSTRING:
    case V_ASN1_UTF8STRING:
      return true;
    default:
      return false;
  }
}

std::string escape_value(std::string_view value) {
  constexpr std::string_view escapees = ",=+<>#;\"\\";
  std::string escaped;
  for (char c : value) {
    if (c == '\0') {
      escaped += "\\00";
      continue;
    }
    if (escapees.find(c) != std::string_view::npos) escaped += '\\';
    escaped += c;
  }
  // Leading and trailing spaces (and CRs) get a backslash each.
  size_t lead = 0;
  while (lead < escaped.size() && (escaped[lead] == ' ' || escaped[lead] == '\r')) ++lead;
  size_t trail = escaped.size();
  while (trail > lead && (escaped[trail - 1] == ' ' || escaped[trail - 1] == '\r')) --trail;
  std::string out;
  for (size_t i = 0; i < escaped.size(); ++i) {
    if (i < lead || i >= trail) out += '\\';
    out += escaped[i];
  }
  return out;
}

Result<std::string> attribute_text(const X509_NAME_ENTRY* entry) {
  const ASN1_OBJECT* object = X509_NAME_ENTRY_get_object(entry);
  const ASN1_STRING* data = X509_NAME_ENTRY_get_data(entry);
  std::string out;
  if (const char* keyword = rfc2253_keyword(OBJ_obj2nid(object))) {
    out = keyword;
  } else {
    char oid[128];
    int size = OBJ_obj2txt(oid, sizeof oid, object, 1);
    if (size <= 0 || static_cast<size_t>(size) >= sizeof oid)
      return Status(Errc::invalid_value, "certificate subject: an attribute type's OID is invalid");
    out = oid;
  }
  out += '=';
  int type = ASN1_STRING_type(data);
  if ((out[0] >= '0' && out[0] <= '9') || !is_text_type(type)) {
    // "#" and the hex of the value's DER encoding (tag, length, contents).
    std::unique_ptr<ASN1_TYPE, decltype(&ASN1_TYPE_free)> any(ASN1_TYPE_new(), ASN1_TYPE_free);
    if (!any || ASN1_TYPE_set1(any.get(), type, data) != 1)
      return Status(Errc::invalid_value, "certificate subject: cannot encode an attribute value");
    unsigned char* der = nullptr;
    int size = i2d_ASN1_TYPE(any.get(), &der);
    if (size <= 0) return Status(Errc::invalid_value, "certificate subject: cannot encode a value");
    static constexpr char hex[] = "0123456789abcdef";
    out += '#';
    for (int i = 0; i < size; ++i) {
      out += hex[der[i] >> 4];
      out += hex[der[i] & 0xf];
    }
    OPENSSL_free(der);
    return out;
  }
  unsigned char* utf8 = nullptr;
  int size = ASN1_STRING_to_UTF8(&utf8, data);
  if (size < 0)
    return Status(Errc::invalid_value, "certificate subject: a value is not valid text");
  std::string value(reinterpret_cast<const char*>(utf8), static_cast<size_t>(size));
  OPENSSL_free(utf8);
  return out + escape_value(value);
}

}  // namespace

Result<std::string> rfc2253_name(const X509_NAME* name) {
  if (name == nullptr) return Status(Errc::invalid_value, "no subject name");
  int count = X509_NAME_entry_count(name);
  // Entries are in DER order (least specific RDN first); RFC 2253 reverses
  // the RDNs and keeps the order of the values within one.
  std::string out;
  int rdn_end = count;
  while (rdn_end > 0) {
    int set = X509_NAME_ENTRY_set(X509_NAME_get_entry(name, rdn_end - 1));
    int rdn_start = rdn_end - 1;
    while (rdn_start > 0 && X509_NAME_ENTRY_set(X509_NAME_get_entry(name, rdn_start - 1)) == set)
      --rdn_start;
    if (!out.empty()) out += ',';
    for (int i = rdn_start; i < rdn_end; ++i) {
      Result<std::string> text = attribute_text(X509_NAME_get_entry(name, i));
      if (!text) return text.status();
      if (i > rdn_start) out += '+';
      out += *text;
    }
    rdn_end = rdn_start;
  }
  return out;
}

Result<std::string> rfc2253_subject(X509* cert) {
  if (cert == nullptr) return Status(Errc::invalid_value, "no certificate");
  return rfc2253_name(X509_get_subject_name(cert));
}

}  // namespace sluice::security
