#include "security/jaas.h"

#include <optional>

namespace sluice::security {

namespace {

struct Token {
  enum class Kind { end, word, quoted, number, symbol } kind = Kind::end;
  std::string text;  // the word or string; the symbol's character
  int line = 1;
  int column = 1;

  // What Java's StreamTokenizer has as `sval`: words and quoted strings.
  bool has_string() const { return kind == Kind::word || kind == Kind::quoted; }
  bool is(char c) const { return kind == Kind::symbol && text.size() == 1 && text[0] == c; }
};

bool is_word_start(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '$' || c >= 0x80;
}
bool is_number_start(unsigned char c) { return (c >= '0' && c <= '9') || c == '.' || c == '-'; }
bool is_word_char(unsigned char c) { return is_word_start(c) || is_number_start(c); }

class Tokenizer {
 public:
  explicit Tokenizer(std::string_view text) : text_(text) {}

  // The next token, or an error (unterminated string or comment).
  Result<Token> next() {
    if (Status skipped = skip_blanks(); !skipped) return skipped;
    Token token;
    token.line = line_;
    token.column = column_;
    if (position_ >= text_.size()) return token;
    unsigned char c = static_cast<unsigned char>(text_[position_]);
    if (c == '"' || c == '\'') return quoted(token);
    if (is_word_start(c) || is_number_start(c)) {
      token.kind = is_word_start(c) ? Token::Kind::word : Token::Kind::number;
      while (position_ < text_.size() && is_word_char(static_cast<unsigned char>(text_[position_])))
        token.text += advance();
      return token;
    }
    token.kind = Token::Kind::symbol;
    token.text = std::string(1, advance());
    return token;
  }

  std::string where(const Token& token) const {
    return "line " + std::to_string(token.line) + " column " + std::to_string(token.column);
  }

 private:
  char advance() {
    char c = text_[position_++];
    if (c == '\n') {
      ++line_;
      column_ = 1;
    } else {
      ++column_;
    }
    return c;
  }
  bool peek(std::string_view prefix) const {
    return text_.substr(position_).substr(0, prefix.size()) == prefix;
  }

  Status skip_blanks() {
    while (position_ < text_.size()) {
      unsigned char c = static_cast<unsigned char>(text_[position_]);
      if (c <= ' ') {
        advance();
      } else if (peek("//")) {
        while (position_ < text_.size() && text_[position_] != '\n') advance();
      } else if (peek("/*")) {
        int line = line_, column = column_;
        advance();
        advance();
        while (position_ < text_.size() && !peek("*/")) advance();
        if (position_ >= text_.size())
          return Status(Errc::invalid_value, "JAAS config: comment opened at line " +
                                                 std::to_string(line) + " column " +
                                                 std::to_string(column) + " is not closed");
        advance();
        advance();
      } else {
        break;
      }
    }
    return Status::ok();
  }

  // A string between quotes, with StreamTokenizer's escapes (\n \t \r \b \f
  // \a \v, octal \ooo, any other \c is c). A line end inside is an error
  // (Java would end the string there silently).
  Result<Token> quoted(Token token) {
    char quote = advance();
    token.kind = Token::Kind::quoted;
    while (true) {
      if (position_ >= text_.size() || text_[position_] == '\n')
        return Status(Errc::invalid_value,
                      "JAAS config: string opened at " + where(token) + " is not closed");
      char c = advance();
      if (c == quote) return token;
      if (c != '\\' || position_ >= text_.size()) {
        token.text += c;
        continue;
      }
      char escaped = advance();
      switch (escaped) {
        case 'a':
          token.text += '\a';
          break;
        case 'b':
          token.text += '\b';
          break;
        case 'f':
          token.text += '\f';
          break;
        case 'n':
          token.text += '\n';
          break;
        case 'r':
          token.text += '\r';
          break;
        case 't':
          token.text += '\t';
          break;
        case 'v':
          token.text += '\v';
          break;
        default:
          if (escaped >= '0' && escaped <= '7') {
            // Up to three octal digits, the first at most 3 when there are three.
            int value = escaped - '0';
            int max_digits = escaped <= '3' ? 3 : 2;
            for (int i = 1; i < max_digits && position_ < text_.size() && text_[position_] >= '0' &&
                            text_[position_] <= '7';
                 ++i)
              value = value * 8 + (advance() - '0');
            token.text += static_cast<char>(value);
          } else {
            token.text += escaped;
          }
      }
    }
  }

  std::string_view text_;
  size_t position_ = 0;
  int line_ = 1;
  int column_ = 1;
};

Status error_at(const Tokenizer& tokenizer, const Token& token, const std::string& message) {
  return Status(Errc::invalid_value, "JAAS config " + tokenizer.where(token) + ": " + message);
}

std::optional<JaasControlFlag> parse_flag(std::string_view text) {
  std::string lower(text);
  for (char& c : lower)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  if (lower == "required") return JaasControlFlag::required;
  if (lower == "requisite") return JaasControlFlag::requisite;
  if (lower == "sufficient") return JaasControlFlag::sufficient;
  if (lower == "optional") return JaasControlFlag::optional;
  return std::nullopt;
}

// One entry whose login module name is `first` (already read), through its ';'.
Result<JaasEntry> parse_entry(Tokenizer& tokenizer, const Token& first) {
  JaasEntry entry;
  if (!first.has_string()) return error_at(tokenizer, first, "expected a login module class name");
  entry.login_module = first.text;
  Result<Token> flag = tokenizer.next();
  if (!flag) return flag.status();
  if (flag->kind == Token::Kind::end)
    return error_at(tokenizer, *flag, "Login module control flag not specified in JAAS config");
  std::optional<JaasControlFlag> parsed =
      flag->has_string() ? parse_flag(flag->text) : std::nullopt;
  if (!parsed)
    return error_at(tokenizer, *flag,
                    "Invalid login module control flag '" + flag->text +
                        "' in JAAS config (required, requisite, sufficient or optional)");
  entry.flag = *parsed;
  while (true) {
    Result<Token> key = tokenizer.next();
    if (!key) return key.status();
    if (key->kind == Token::Kind::end)
      return error_at(tokenizer, *key, "JAAS config entry not terminated by semi-colon");
    if (key->is(';')) return entry;
    if (!key->has_string())
      return error_at(tokenizer, *key, "expected an option name or ';', got '" + key->text + "'");
    Result<Token> equals = tokenizer.next();
    if (!equals) return equals.status();
    if (!equals->is('='))
      return error_at(tokenizer, *equals, "Value not specified for key '" + key->text + "'");
    Result<Token> value = tokenizer.next();
    if (!value) return value.status();
    if (!value->has_string())
      return error_at(tokenizer, *value,
                      "Value not specified for key '" + key->text +
                          "' (a value starting with a digit, '.' or '-' must be quoted)");
    entry.options[key->text] = value->text;
  }
}

}  // namespace

Result<std::vector<JaasEntry>> parse_jaas_entries(std::string_view text) {
  Tokenizer tokenizer(text);
  std::vector<JaasEntry> entries;
  while (true) {
    Result<Token> first = tokenizer.next();
    if (!first) return first.status();
    if (first->kind == Token::Kind::end) break;
    Result<JaasEntry> entry = parse_entry(tokenizer, *first);
    if (!entry) return entry.status();
    entries.push_back(std::move(entry).value());
  }
  if (entries.empty())
    return Status(Errc::invalid_value, "Login module not specified in JAAS config");
  return entries;
}

Result<JaasEntry> parse_jaas_config(std::string_view text) {
  Result<std::vector<JaasEntry>> entries = parse_jaas_entries(text);
  if (!entries) return entries.status();
  if (entries->size() != 1)
    return Status(Errc::invalid_value, "JAAS config property contains " +
                                           std::to_string(entries->size()) +
                                           " login modules, should be 1 module");
  return std::move(entries->front());
}

Result<std::vector<JaasSection>> parse_jaas_file(std::string_view text) {
  Tokenizer tokenizer(text);
  std::vector<JaasSection> sections;
  while (true) {
    Result<Token> name = tokenizer.next();
    if (!name) return name.status();
    if (name->kind == Token::Kind::end) break;
    if (!name->has_string()) return error_at(tokenizer, *name, "expected a section name");
    Result<Token> open = tokenizer.next();
    if (!open) return open.status();
    if (!open->is('{'))
      return error_at(tokenizer, *open, "expected '{' after section name '" + name->text + "'");
    // Java's ConfigFile refuses a second section of one name.
    if (find_jaas_section(sections, name->text) != nullptr)
      return error_at(tokenizer, *name, "Can not specify multiple entries for " + name->text);
    JaasSection* section = &sections.emplace_back(JaasSection{name->text, {}});
    while (true) {
      Result<Token> first = tokenizer.next();
      if (!first) return first.status();
      if (first->is('}')) break;
      if (first->kind == Token::Kind::end)
        return error_at(tokenizer, *first, "section '" + section->name + "' is not closed by '}'");
      Result<JaasEntry> entry = parse_entry(tokenizer, *first);
      if (!entry) return entry.status();
      section->entries.push_back(std::move(entry).value());
    }
    Result<Token> semicolon = tokenizer.next();
    if (!semicolon) return semicolon.status();
    if (!semicolon->is(';'))
      return error_at(tokenizer, *semicolon,
                      "expected ';' after the '}' of section '" + section->name + "'");
    if (section->entries.empty())
      return error_at(tokenizer, *name, "section '" + section->name + "' has no login module");
  }
  return sections;
}

const JaasSection* find_jaas_section(const std::vector<JaasSection>& sections,
                                     std::string_view name) {
  for (const JaasSection& section : sections)
    if (section.name == name) return &section;
  return nullptr;
}

std::map<std::string, std::string, std::less<>> plain_users_from_jaas(
    const std::vector<JaasEntry>& entries) {
  constexpr std::string_view prefix = "user_";
  std::map<std::string, std::string, std::less<>> users;
  for (const JaasEntry& entry : entries) {
    if (entry.login_module != plain_login_module) continue;
    for (const auto& [key, value] : entry.options)
      if (key.size() > prefix.size() && key.starts_with(prefix))
        users.emplace(key.substr(prefix.size()), value);
  }
  return users;
}

}  // namespace sluice::security
