// The PostgreSQL connectors' shared parts (postgres.h): connection settings,
// identifiers, the type mapping, text values both ways, the SQL both
// connectors write, and the libpq connection.

#include "connect/connectors/postgres.h"

#include <libpq-fe.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "connect/errors.h"
#include "connect/java_text.h"

namespace sluice::connect {
namespace {

constexpr const char* kPgUrlKey = "connection.url";
constexpr int64_t kPgMicrosPerSecond = 1'000'000;
constexpr int64_t kPgMicrosPerDay = 86'400 * kPgMicrosPerSecond;

bool pg_starts_with_ci(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(text[i])) != prefix[i]) return false;
  }
  return true;
}

// %XX decoding of a URI component (database names, parameter values).
std::string pg_percent_decode(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() &&
        std::isxdigit(static_cast<unsigned char>(text[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

// A JDBC URL parameter in libpq's terms: the keyword and value, or nullopt
// when libpq has no such setting.
std::optional<std::pair<std::string, std::string>> pg_libpq_parameter(const std::string& name,
                                                                      const std::string& value) {
  if (name == "user" || name == "password" || name == "sslmode" || name == "sslcert" ||
      name == "sslkey" || name == "sslrootcert" || name == "options") {
    return std::pair{name, value};
  }
  if (name == "ssl") {
    if (value == "true") return std::pair<std::string, std::string>{"sslmode", "require"};
    return std::nullopt;
  }
  if (name == "connectTimeout" || name == "loginTimeout") {
    return std::pair<std::string, std::string>{"connect_timeout", value};
  }
  if (name == "ApplicationName")
    return std::pair<std::string, std::string>{"application_name", value};
  if (name == "currentSchema") {
    return std::pair<std::string, std::string>{"options", "-csearch_path=" + value};
  }
  return std::nullopt;
}

// jdbc:postgresql://hosts/db?params or jdbc:postgresql:db as a libpq URI.
Result<PgConnectionSpec> pg_spec_from_jdbc(const std::string& url) {
  std::string_view rest = std::string_view(url).substr(std::string_view("jdbc:postgresql:").size());
  std::string hosts = "localhost";
  std::string_view path = rest;
  if (rest.starts_with("//")) {
    rest.remove_prefix(2);
    const size_t slash = rest.find_first_of("/?");
    hosts = std::string(rest.substr(0, slash));
    path = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
    if (path.starts_with('/')) path.remove_prefix(1);
    if (hosts.empty()) hosts = "localhost";
  }
  const size_t question = path.find('?');
  const std::string database = pg_percent_decode(path.substr(0, question));
  PgConnectionSpec spec;
  spec.database = database;
  std::string uri = "postgresql://" + hosts + "/" + std::string(path.substr(0, question));
  std::vector<std::pair<std::string, std::string>> parameters;
  if (question != std::string_view::npos) {
    std::string_view query = path.substr(question + 1);
    while (!query.empty()) {
      const size_t amp = query.find('&');
      const std::string_view pair = query.substr(0, amp);
      query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
      if (pair.empty()) continue;
      const size_t equals = pair.find('=');
      const std::string name = pg_percent_decode(pair.substr(0, equals));
      const std::string value =
          equals == std::string_view::npos ? "" : pg_percent_decode(pair.substr(equals + 1));
      if (auto translated = pg_libpq_parameter(name, value)) {
        parameters.push_back(std::move(*translated));
      } else {
        spec.ignored_parameters.push_back(name);
      }
    }
  }
  spec.keywords.emplace_back("dbname", uri);
  for (auto& parameter : parameters) spec.keywords.push_back(std::move(parameter));
  return spec;
}

// The database a libpq URI or key=value string names ("" when none).
std::string pg_database_of_libpq(const std::string& url) {
  PQconninfoOption* options = PQconninfoParse(url.c_str(), nullptr);
  std::string database;
  if (options == nullptr) return database;
  for (PQconninfoOption* option = options; option->keyword != nullptr; ++option) {
    if (std::string_view(option->keyword) == "dbname" && option->val != nullptr) {
      database = option->val;
    }
  }
  PQconninfoFree(options);
  return database;
}

// Howard Hinnant's days_from_civil / civil_from_days (proleptic Gregorian).
int64_t pg_days_from_civil(int64_t year, unsigned month, unsigned day) {
  year -= month <= 2 ? 1 : 0;
  const int64_t era = (year >= 0 ? year : year - 399) / 400;
  const auto year_of_era = static_cast<unsigned>(year - era * 400);
  const unsigned day_of_year = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
  const unsigned day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + static_cast<int64_t>(day_of_era) - 719468;
}

struct PgCivilDate {
  int64_t year;
  unsigned month;
  unsigned day;
};

PgCivilDate pg_civil_from_days(int64_t days) {
  days += 719468;
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const auto day_of_era = static_cast<unsigned>(days - era * 146097);
  const unsigned year_of_era =
      (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  const unsigned day_of_year =
      day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const unsigned mp = (5 * day_of_year + 2) / 153;
  const unsigned day = day_of_year - (153 * mp + 2) / 5 + 1;
  const unsigned month = mp < 10 ? mp + 3 : mp - 9;
  return {static_cast<int64_t>(year_of_era) + era * 400 + (month <= 2 ? 1 : 0), month, day};
}

int64_t pg_floor_div(int64_t a, int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

// Reads `count` digits at `position` (advancing it).
std::optional<int64_t> pg_read_digits(std::string_view text, size_t& position, size_t count) {
  if (position + count > text.size()) return std::nullopt;
  int64_t number = 0;
  for (size_t i = 0; i < count; ++i) {
    const char c = text[position + i];
    if (c < '0' || c > '9') return std::nullopt;
    number = number * 10 + (c - '0');
  }
  position += count;
  return number;
}

// "YYYY-MM-DD" (the year may be longer): days since the epoch.
std::optional<int64_t> pg_parse_date_days(std::string_view text, size_t& position) {
  size_t year_digits = 0;
  while (position + year_digits < text.size() &&
         std::isdigit(static_cast<unsigned char>(text[position + year_digits]))) {
    ++year_digits;
  }
  if (year_digits < 4) return std::nullopt;
  auto year = pg_read_digits(text, position, year_digits);
  if (!year || position >= text.size() || text[position++] != '-') return std::nullopt;
  auto month = pg_read_digits(text, position, 2);
  if (!month || position >= text.size() || text[position++] != '-') return std::nullopt;
  auto day = pg_read_digits(text, position, 2);
  if (!day || *month < 1 || *month > 12 || *day < 1 || *day > 31) return std::nullopt;
  return pg_days_from_civil(*year, static_cast<unsigned>(*month), static_cast<unsigned>(*day));
}

// "HH:MM:SS[.ffffff]": microseconds since midnight.
std::optional<int64_t> pg_parse_time_micros(std::string_view text, size_t& position) {
  auto hours = pg_read_digits(text, position, 2);
  if (!hours || position >= text.size() || text[position++] != ':') return std::nullopt;
  auto minutes = pg_read_digits(text, position, 2);
  if (!minutes || position >= text.size() || text[position++] != ':') return std::nullopt;
  auto seconds = pg_read_digits(text, position, 2);
  if (!seconds) return std::nullopt;
  int64_t micros = ((*hours * 60 + *minutes) * 60 + *seconds) * kPgMicrosPerSecond;
  if (position < text.size() && text[position] == '.') {
    ++position;
    int64_t scale = 100'000;
    while (position < text.size() && std::isdigit(static_cast<unsigned char>(text[position]))) {
      micros += (text[position] - '0') * scale;
      scale /= 10;
      ++position;
    }
  }
  return micros;
}

// "+HH[:MM[:SS]]" or "-..." at `position`: seconds east of UTC.
std::optional<int64_t> pg_parse_zone_seconds(std::string_view text, size_t& position) {
  if (position >= text.size()) return 0;
  const char sign = text[position];
  if (sign != '+' && sign != '-') return std::nullopt;
  ++position;
  auto hours = pg_read_digits(text, position, 2);
  if (!hours) return std::nullopt;
  int64_t seconds = *hours * 3600;
  for (int64_t unit : {60, 1}) {
    if (position >= text.size() || text[position] != ':') break;
    ++position;
    auto part = pg_read_digits(text, position, 2);
    if (!part) return std::nullopt;
    seconds += *part * unit;
  }
  return sign == '-' ? -seconds : seconds;
}

Result<Decimal> pg_decimal_at_scale(std::string_view text, int32_t scale) {
  auto decimal = decimal_from_text(text);
  if (!decimal) return data_error("Cannot read \"" + std::string(text) + "\" as a decimal");
  if (decimal->scale == scale) return *decimal;
  // PostgreSQL prints numeric(p,s) with exactly s digits; anything else is
  // brought to the schema's scale through its text.
  std::string plain = decimal_to_text(*decimal);
  const size_t dot = plain.find('.');
  std::string integer = dot == std::string::npos ? plain : plain.substr(0, dot);
  std::string fraction = dot == std::string::npos ? "" : plain.substr(dot + 1);
  if (static_cast<int32_t>(fraction.size()) > scale) {
    return data_error("\"" + std::string(text) + "\" has more than " + std::to_string(scale) +
                      " decimal places");
  }
  fraction.append(static_cast<size_t>(scale) - fraction.size(), '0');
  auto rescaled = decimal_from_text(fraction.empty() ? integer : integer + "." + fraction);
  if (!rescaled) return data_error("Cannot read \"" + std::string(text) + "\" as a decimal");
  return *rescaled;
}

template <class Number>
Result<Value> pg_number(std::string_view text) {
  Number number{};
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (error != std::errc() || end != text.data() + text.size()) {
    return data_error("Cannot read \"" + std::string(text) + "\" as a number");
  }
  return Value(number);
}

Result<Value> pg_float_value(std::string_view text, bool single) {
  double number = 0;
  if (text == "NaN") {
    number = std::nan("");
  } else if (text == "Infinity") {
    number = HUGE_VAL;
  } else if (text == "-Infinity") {
    number = -HUGE_VAL;
  } else {
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
    if (error != std::errc() || end != text.data() + text.size()) {
      return data_error("Cannot read \"" + std::string(text) + "\" as a number");
    }
  }
  if (single) return Value(static_cast<float>(number));
  return Value(number);
}

Result<Value> pg_bytea_value(std::string_view text) {
  if (!text.starts_with("\\x") || text.size() % 2 != 0) {
    return data_error("Cannot read a bytea value not in hex form");
  }
  std::string bytes;
  bytes.reserve((text.size() - 2) / 2);
  for (size_t i = 2; i < text.size(); i += 2) {
    unsigned value = 0;
    const auto [end, error] = std::from_chars(text.data() + i, text.data() + i + 2, value, 16);
    if (error != std::errc() || end != text.data() + i + 2) {
      return data_error("Cannot read a bytea value not in hex form");
    }
    bytes += static_cast<char>(value);
  }
  return Value(Bytes{std::move(bytes)});
}

std::string pg_date_text(int64_t days) {
  const PgCivilDate date = pg_civil_from_days(days);
  std::array<char, 32> buffer{};
  std::snprintf(buffer.data(), buffer.size(), "%04lld-%02u-%02u", static_cast<long long>(date.year),
                date.month, date.day);
  return buffer.data();
}

std::string pg_time_text(int64_t micros_of_day) {
  const int64_t seconds = micros_of_day / kPgMicrosPerSecond;
  std::array<char, 32> buffer{};
  std::snprintf(buffer.data(), buffer.size(), "%02lld:%02lld:%02lld.%06lld",
                static_cast<long long>(seconds / 3600), static_cast<long long>(seconds / 60 % 60),
                static_cast<long long>(seconds % 60),
                static_cast<long long>(micros_of_day % kPgMicrosPerSecond));
  return buffer.data();
}

std::string pg_join_quoted(const std::vector<std::string>& names, std::string_view separator,
                           std::string_view suffix = "") {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += separator;
    out += pg_quote_identifier(names[i]);
    out += suffix;
  }
  return out;
}

// "($1,$2),($3,$4)" for `rows` rows of `width` parameters from $`first`.
std::string pg_parameter_rows(size_t rows, size_t width, size_t first = 1) {
  std::string out;
  size_t number = first;
  for (size_t row = 0; row < rows; ++row) {
    out += row == 0 ? "(" : ",(";
    for (size_t column = 0; column < width; ++column) {
      if (column > 0) out += ',';
      out += '$';
      out += std::to_string(number++);
    }
    out += ')';
  }
  return out;
}

bool pg_connection_sqlstate(std::string_view sqlstate) {
  // Class 08 (connection exception), 57P01-57P03 (the server shutting down
  // or not yet accepting connections).
  return sqlstate.starts_with("08") || sqlstate == "57P01" || sqlstate == "57P02" ||
         sqlstate == "57P03";
}

std::string pg_trimmed_message(const char* message) {
  std::string text = message == nullptr ? "" : message;
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  return text;
}

}  // namespace

// --- connection settings ---

Result<PgConnectionSpec> pg_connection_spec(const std::string& url, const std::string& user,
                                            const std::string& password) {
  PgConnectionSpec spec;
  if (pg_starts_with_ci(url, "jdbc:postgresql:")) {
    auto jdbc = pg_spec_from_jdbc(url);
    if (!jdbc.is_ok()) return jdbc.status();
    spec = std::move(*jdbc);
  } else if (pg_starts_with_ci(url, "jdbc:")) {
    return config_error(kPgUrlKey, url, "only jdbc:postgresql: URLs are supported");
  } else {
    char* problem = nullptr;
    PQconninfoOption* options = PQconninfoParse(url.c_str(), &problem);
    if (options == nullptr) {
      std::string message = problem != nullptr ? pg_trimmed_message(problem) : "not a libpq URI";
      if (problem != nullptr) PQfreemem(problem);
      return config_error(kPgUrlKey, url, message);
    }
    PQconninfoFree(options);
    spec.database = pg_database_of_libpq(url);
    spec.keywords.emplace_back("dbname", url);
  }
  if (!user.empty()) spec.keywords.emplace_back("user", user);
  if (!password.empty()) spec.keywords.emplace_back("password", password);
  if (spec.database.empty()) spec.database = user.empty() ? "postgres" : user;
  bool has_timeout = false;
  for (const auto& [keyword, value] : spec.keywords) has_timeout |= keyword == "connect_timeout";
  if (!has_timeout) spec.keywords.emplace_back("connect_timeout", "10");
  spec.keywords.emplace_back("application_name", "sluice-connect");
  return spec;
}

// --- identifiers ---

std::string pg_quote_identifier(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

std::string PgTableName::quoted() const {
  return schema.empty() ? pg_quote_identifier(table)
                        : pg_quote_identifier(schema) + "." + pg_quote_identifier(table);
}

Result<PgTableName> pg_parse_table_name(std::string_view text) {
  std::vector<std::string> parts(1);
  bool quoted = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '"') {
      if (quoted && i + 1 < text.size() && text[i + 1] == '"') {
        parts.back() += '"';
        ++i;
      } else {
        quoted = !quoted;
      }
    } else if (c == '.' && !quoted) {
      parts.emplace_back();
    } else {
      parts.back() += c;
    }
  }
  const bool bad =
      quoted || parts.size() > 3 ||
      std::any_of(parts.begin(), parts.end(), [](const std::string& part) { return part.empty(); });
  if (bad) {
    return config_error("\"" + std::string(text) +
                        "\" is not a table name (table, schema.table or database.schema.table)");
  }
  if (parts.size() == 1) return PgTableName{"", parts[0]};
  return PgTableName{parts[parts.size() - 2], parts.back()};
}

// --- types ---

SchemaPtr pg_column_schema(uint32_t type_oid, int32_t type_modifier, bool not_null) {
  auto finish = [not_null](SchemaBuilder builder) {
    if (!not_null) builder.optional();
    return builder.build_or_die();
  };
  switch (type_oid) {
    case pg_oid::kInt2:
      return primitive_schema(SchemaType::int16, !not_null);
    case pg_oid::kInt4:
      return primitive_schema(SchemaType::int32, !not_null);
    case pg_oid::kInt8:
    case pg_oid::kOid:
      return primitive_schema(SchemaType::int64, !not_null);
    case pg_oid::kFloat4:
      return primitive_schema(SchemaType::float32, !not_null);
    case pg_oid::kFloat8:
      return primitive_schema(SchemaType::float64, !not_null);
    case pg_oid::kBool:
      return primitive_schema(SchemaType::boolean, !not_null);
    case pg_oid::kBytea:
      return primitive_schema(SchemaType::bytes, !not_null);
    case pg_oid::kNumeric:
      // typmod = ((precision << 16) | scale) + 4; -1 when unconstrained.
      if (type_modifier >= 4) return finish(decimal_schema((type_modifier - 4) & 0xffff));
      return primitive_schema(SchemaType::string, !not_null);
    case pg_oid::kDate:
      return finish(date_schema());
    case pg_oid::kTime:
    case pg_oid::kTimetz:
      return finish(time_schema());
    case pg_oid::kTimestamp:
    case pg_oid::kTimestamptz:
      return finish(timestamp_schema());
    default:
      return primitive_schema(SchemaType::string, !not_null);
  }
}

Result<Value> pg_value_from_text(const Schema& schema, uint32_t type_oid, std::string_view text) {
  if (is_logical(schema, decimal_logical_name)) {
    auto scale = decimal_scale(schema);
    if (!scale.is_ok()) return scale.status();
    auto decimal = pg_decimal_at_scale(text, *scale);
    if (!decimal.is_ok()) return decimal.status();
    return Value(std::move(*decimal));
  }
  if (is_logical(schema, date_logical_name)) {
    size_t position = 0;
    auto days = pg_parse_date_days(text, position);
    if (!days || position != text.size()) {
      return data_error("Cannot read \"" + std::string(text) + "\" as a date");
    }
    return Value(DateTime{*days * millis_per_day});
  }
  if (is_logical(schema, time_logical_name)) {
    size_t position = 0;
    auto micros = pg_parse_time_micros(text, position);
    // timetz's zone is dropped: Connect's Time is a time of day in UTC.
    if (!micros) return data_error("Cannot read \"" + std::string(text) + "\" as a time");
    return Value(DateTime{*micros / 1000});
  }
  if (is_logical(schema, timestamp_logical_name)) {
    auto micros = pg_parse_timestamp_micros(text);
    if (!micros) return data_error("Cannot read \"" + std::string(text) + "\" as a timestamp");
    return Value(DateTime{pg_floor_div(*micros, 1000)});
  }
  switch (schema.type) {
    case SchemaType::int16:
      return pg_number<int16_t>(text);
    case SchemaType::int32:
      return pg_number<int32_t>(text);
    case SchemaType::int64:
      return pg_number<int64_t>(text);
    case SchemaType::float32:
      return pg_float_value(text, true);
    case SchemaType::float64:
      return pg_float_value(text, false);
    case SchemaType::boolean:
      return Value(text == "t" || text == "true");
    case SchemaType::bytes:
      return pg_bytea_value(text);
    default:
      (void)type_oid;
      return Value(std::string(text));
  }
}

Result<std::optional<std::string>> pg_value_to_text(const Schema& schema, const Value& value) {
  using Text = std::optional<std::string>;
  if (value.is_null()) return Text();
  if (value.is<Decimal>()) return Text(decimal_to_text(value.as<Decimal>()));
  if (value.is<DateTime>()) {
    const int64_t millis = value.as<DateTime>().millis;
    if (is_logical(schema, date_logical_name)) {
      return Text(pg_date_text(pg_floor_div(millis, millis_per_day)));
    }
    if (is_logical(schema, time_logical_name)) return Text(pg_time_text(millis * 1000));
    return Text(pg_timestamp_text(millis * 1000));
  }
  const auto& data = value.data();
  if (const auto* flag = std::get_if<bool>(&data)) return Text(*flag ? "t" : "f");
  if (const auto* n = std::get_if<int8_t>(&data)) return Text(std::to_string(*n));
  if (const auto* n = std::get_if<int16_t>(&data)) return Text(std::to_string(*n));
  if (const auto* n = std::get_if<int32_t>(&data)) return Text(std::to_string(*n));
  if (const auto* n = std::get_if<int64_t>(&data)) return Text(std::to_string(*n));
  if (const auto* f = std::get_if<float>(&data)) {
    if (std::isnan(*f)) return Text("NaN");
    if (std::isinf(*f)) return Text(*f > 0 ? "Infinity" : "-Infinity");
    std::array<char, 64> buffer{};
    auto [end, error] = std::to_chars(buffer.data(), buffer.data() + buffer.size(), *f);
    return Text(std::string(buffer.data(), end));
  }
  if (const auto* d = std::get_if<double>(&data)) {
    if (std::isnan(*d)) return Text("NaN");
    if (std::isinf(*d)) return Text(*d > 0 ? "Infinity" : "-Infinity");
    std::array<char, 64> buffer{};
    auto [end, error] = std::to_chars(buffer.data(), buffer.data() + buffer.size(), *d);
    return Text(std::string(buffer.data(), end));
  }
  if (const auto* text = std::get_if<std::string>(&data)) {
    if (text->find('\0') != std::string::npos) {
      return data_error("PostgreSQL text cannot hold a NUL character");
    }
    return Text(*text);
  }
  if (const auto* bytes = std::get_if<Bytes>(&data)) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out = "\\x";
    out.reserve(2 + bytes->data.size() * 2);
    for (unsigned char c : bytes->data) {
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
    return Text(std::move(out));
  }
  return data_error(std::string("Unsupported value of type ") + schema_type_name(schema.type) +
                    " for a PostgreSQL column");
}

Result<std::string> pg_sql_type(const Schema& schema) {
  if (is_logical(schema, decimal_logical_name)) return std::string("DECIMAL");
  if (is_logical(schema, date_logical_name)) return std::string("DATE");
  if (is_logical(schema, time_logical_name)) return std::string("TIME");
  if (is_logical(schema, timestamp_logical_name)) return std::string("TIMESTAMP");
  switch (schema.type) {
    case SchemaType::int8:
    case SchemaType::int16:
      return std::string("SMALLINT");
    case SchemaType::int32:
      return std::string("INT");
    case SchemaType::int64:
      return std::string("BIGINT");
    case SchemaType::float32:
      return std::string("REAL");
    case SchemaType::float64:
      return std::string("DOUBLE PRECISION");
    case SchemaType::boolean:
      return std::string("BOOLEAN");
    case SchemaType::string:
      return std::string("TEXT");
    case SchemaType::bytes:
      return std::string("BYTEA");
    default:
      return data_error(std::string("No SQL type for schema type ") +
                        schema_type_name(schema.type) + " (PostgreSQL)");
  }
}

std::string pg_timestamp_text(int64_t epoch_micros) {
  const int64_t days = pg_floor_div(epoch_micros, kPgMicrosPerDay);
  return pg_date_text(days) + " " + pg_time_text(epoch_micros - days * kPgMicrosPerDay);
}

std::optional<int64_t> pg_parse_timestamp_micros(std::string_view text) {
  size_t position = 0;
  auto days = pg_parse_date_days(text, position);
  if (!days || position >= text.size() || (text[position] != ' ' && text[position] != 'T')) {
    return std::nullopt;
  }
  ++position;
  auto micros = pg_parse_time_micros(text, position);
  if (!micros) return std::nullopt;
  auto zone = pg_parse_zone_seconds(text, position);
  if (!zone || position != text.size()) return std::nullopt;
  return *days * kPgMicrosPerDay + *micros - *zone * kPgMicrosPerSecond;
}

// --- SQL the sink writes ---

namespace {
// The sink checks every column's type when it builds a layout; TEXT is
// never reached.
std::string pg_sql_type_or_text(const Schema& schema) {
  auto type = pg_sql_type(schema);
  return type.is_ok() ? *type : std::string("TEXT");
}
}  // namespace

std::string pg_create_table_sql(const PgTableName& table, const std::vector<PgColumn>& columns,
                                const std::vector<std::string>& key_columns) {
  std::string sql = "CREATE TABLE " + table.quoted() + " (";
  for (size_t i = 0; i < columns.size(); ++i) {
    const PgColumn& column = columns[i];
    if (i > 0) sql += ",";
    sql += "\n" + pg_quote_identifier(column.name) + " " + pg_sql_type_or_text(*column.schema);
    const bool key =
        std::find(key_columns.begin(), key_columns.end(), column.name) != key_columns.end();
    if (key || !column.schema->optional) sql += " NOT NULL";
  }
  if (!key_columns.empty()) sql += ",\nPRIMARY KEY(" + pg_join_quoted(key_columns, ",") + ")";
  sql += ")";
  return sql;
}

std::string pg_add_column_sql(const PgTableName& table, const PgColumn& column) {
  return "ALTER TABLE " + table.quoted() + " ADD " + pg_quote_identifier(column.name) + " " +
         pg_sql_type_or_text(*column.schema) + (column.schema->optional ? "" : " NOT NULL");
}

std::string pg_insert_sql(const PgTableName& table, const std::vector<std::string>& columns,
                          const std::vector<std::string>& key_columns, PgInsertMode mode,
                          size_t rows) {
  std::string sql = "INSERT INTO " + table.quoted() + " (" + pg_join_quoted(columns, ",") +
                    ") VALUES " + pg_parameter_rows(rows, columns.size());
  if (mode != PgInsertMode::upsert || key_columns.empty()) return sql;
  sql += " ON CONFLICT (" + pg_join_quoted(key_columns, ",") + ") DO ";
  std::string updates;
  for (const std::string& column : columns) {
    if (std::find(key_columns.begin(), key_columns.end(), column) != key_columns.end()) continue;
    if (!updates.empty()) updates += ",";
    updates += pg_quote_identifier(column) + "=EXCLUDED." + pg_quote_identifier(column);
  }
  sql += updates.empty() ? "NOTHING" : "UPDATE SET " + updates;
  return sql;
}

std::string pg_update_sql(const PgTableName& table, const std::vector<std::string>& columns,
                          const std::vector<std::string>& key_columns) {
  std::string sets;
  size_t number = 1;
  for (const std::string& column : columns) {
    if (std::find(key_columns.begin(), key_columns.end(), column) != key_columns.end()) continue;
    if (!sets.empty()) sets += ",";
    sets += pg_quote_identifier(column) + "=$" + std::to_string(number++);
  }
  std::string where;
  for (const std::string& key : key_columns) {
    if (!where.empty()) where += " AND ";
    where += pg_quote_identifier(key) + "=$" + std::to_string(number++);
  }
  return "UPDATE " + table.quoted() + " SET " + sets + " WHERE " + where;
}

std::string pg_delete_sql(const PgTableName& table, const std::vector<std::string>& key_columns,
                          size_t rows) {
  return "DELETE FROM " + table.quoted() + " WHERE (" + pg_join_quoted(key_columns, ",") +
         ") IN (" + pg_parameter_rows(rows, key_columns.size()) + ")";
}

// --- SQL the source runs ---

std::string pg_source_query(const std::string& base, PgSourceMode mode,
                            const std::string& incrementing_column,
                            const std::vector<std::string>& timestamp_columns, size_t limit) {
  const std::string inc = pg_quote_identifier(incrementing_column);
  const std::string ts = timestamp_columns.size() == 1
                             ? pg_quote_identifier(timestamp_columns[0])
                             : "COALESCE(" + pg_join_quoted(timestamp_columns, ",") + ")";
  std::string sql = base;
  switch (mode) {
    case PgSourceMode::bulk:
      return sql;
    case PgSourceMode::incrementing:
      sql += " WHERE " + inc + " > $1 ORDER BY " + inc + " ASC";
      break;
    case PgSourceMode::timestamp:
      sql += " WHERE " + ts + " > $1 AND " + ts + " < $2 ORDER BY " + ts + " ASC";
      return sql;  // ties at the last timestamp: no LIMIT (see postgres.h)
    case PgSourceMode::timestamp_incrementing:
      sql += " WHERE " + ts + " < $1 AND ((" + ts + " = $2 AND " + inc + " > $3) OR " + ts +
             " > $2) ORDER BY " + ts + "," + inc + " ASC";
      break;
  }
  if (limit > 0) sql += " LIMIT " + std::to_string(limit);
  return sql;
}

// --- the connection ---

bool PgError::retriable() const {
  return connection_lost || sqlstate == "40001" || sqlstate == "40P01";
}

void PgResult::Clear::operator()(pg_result* result) const { PQclear(result); }
int PgResult::rows() const { return PQntuples(result_.get()); }
int PgResult::columns() const { return PQnfields(result_.get()); }
std::string PgResult::column_name(int column) const { return PQfname(result_.get(), column); }
uint32_t PgResult::column_type(int column) const { return PQftype(result_.get(), column); }
int32_t PgResult::column_modifier(int column) const { return PQfmod(result_.get(), column); }
bool PgResult::is_null(int row, int column) const {
  return PQgetisnull(result_.get(), row, column) != 0;
}
std::string_view PgResult::text(int row, int column) const {
  return {PQgetvalue(result_.get(), row, column),
          static_cast<size_t>(PQgetlength(result_.get(), row, column))};
}

std::variant<std::unique_ptr<PgConnection>, PgError> PgConnection::open(
    const PgConnectionSpec& spec) {
  std::vector<const char*> keywords;
  std::vector<const char*> values;
  for (const auto& [keyword, value] : spec.keywords) {
    keywords.push_back(keyword.c_str());
    values.push_back(value.c_str());
  }
  keywords.push_back(nullptr);
  values.push_back(nullptr);
  pg_conn* connection = PQconnectdbParams(keywords.data(), values.data(), 1);
  if (connection == nullptr) return PgError{"out of memory", "", true};
  if (PQstatus(connection) != CONNECTION_OK) {
    PgError error{"cannot connect to PostgreSQL: " + pg_trimmed_message(PQerrorMessage(connection)),
                  "08001", true};
    PQfinish(connection);
    return error;
  }
  std::unique_ptr<PgConnection> opened(new PgConnection(connection));
  auto set = opened->exec(
      "SET TimeZone='UTC'; SET DateStyle='ISO, YMD'; SET extra_float_digits=3; "
      "SET bytea_output='hex'");
  if (auto* error = std::get_if<PgError>(&set)) return std::move(*error);
  return opened;
}

PgConnection::~PgConnection() { PQfinish(connection_); }

std::variant<PgResult, PgError> PgConnection::exec(
    const std::string& sql, const std::vector<std::optional<std::string>>& params) {
  pg_result* raw = nullptr;
  if (params.empty()) {
    raw = PQexec(connection_, sql.c_str());
  } else {
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const auto& param : params) values.push_back(param ? param->c_str() : nullptr);
    raw = PQexecParams(connection_, sql.c_str(), static_cast<int>(params.size()), nullptr,
                       values.data(), nullptr, nullptr, 0);
  }
  PgResult result(raw);
  const ExecStatusType status = raw == nullptr ? PGRES_FATAL_ERROR : PQresultStatus(raw);
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_EMPTY_QUERY) {
    return result;
  }
  PgError error;
  const char* sqlstate = raw == nullptr ? nullptr : PQresultErrorField(raw, PG_DIAG_SQLSTATE);
  error.sqlstate = sqlstate == nullptr ? "" : sqlstate;
  error.message =
      pg_trimmed_message(raw != nullptr ? PQresultErrorMessage(raw) : PQerrorMessage(connection_));
  if (error.message.empty()) error.message = pg_trimmed_message(PQerrorMessage(connection_));
  error.connection_lost = PQstatus(connection_) != CONNECTION_OK ||
                          pg_connection_sqlstate(error.sqlstate) || error.sqlstate.empty();
  return error;
}

bool PgConnection::broken() const { return PQstatus(connection_) != CONNECTION_OK; }

std::string PgConnection::database() const { return PQdb(connection_); }

std::optional<int64_t> pg_integer_of(const Value& value) {
  if (value.is<int64_t>()) return value.as<int64_t>();
  if (value.is<int32_t>()) return value.as<int32_t>();
  if (value.is<int16_t>()) return value.as<int16_t>();
  if (value.is<int8_t>()) return value.as<int8_t>();
  return std::nullopt;
}

}  // namespace sluice::connect
