#pragma once
// What the PostgreSQL source and sink (Confluent's JdbcSourceConnector and
// JdbcSinkConnector) share: the connection settings (`connection.url` as a
// JDBC URL or a libpq URI), a libpq connection that tells connection
// failures (worth reconnecting) from refused statements, the mapping
// between PostgreSQL's column types and Connect's schemas, values in
// PostgreSQL's text format both ways, and the SQL both connectors write.
// Everything but PgConnection is plain logic (tests/unit/connect/postgres_test.cc).
//
// Values travel as text (PQexecParams with text parameters and results):
// every session sets TimeZone=UTC, DateStyle=ISO and extra_float_digits=3,
// so timestamps, dates and floats read back exactly as they were written.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "base/result.h"
#include "connect/data.h"

struct pg_conn;
struct pg_result;

namespace sluice::connect {

// --- connection settings ---

// `connection.url` with `connection.user` and `connection.password`, as the
// keywords PQconnectdbParams takes (`dbname` holds a libpq URI or
// key=value string, expanded by libpq).
struct PgConnectionSpec {
  std::vector<std::pair<std::string, std::string>> keywords;
  std::string database;                         // for source partitions' "db.schema.table"
  std::vector<std::string> ignored_parameters;  // JDBC-only URL parameters dropped
};

// Accepts `jdbc:postgresql://host[:port][,host2...]/db?params`,
// `jdbc:postgresql:db`, `postgresql://...`/`postgres://...` URIs and libpq's
// `key=value` strings. JDBC parameters libpq knows are translated (user,
// password, sslmode, ssl=true, connectTimeout, ApplicationName,
// currentSchema); others are dropped and listed. The message names
// `connection.url` as ConfigException does.
Result<PgConnectionSpec> pg_connection_spec(const std::string& url, const std::string& user,
                                            const std::string& password);

// --- identifiers ---

// "name" with embedded quotes doubled (quote.sql.identifiers=always).
std::string pg_quote_identifier(std::string_view name);

// A table as schema and name; `schema` empty means the search path's.
struct PgTableName {
  std::string schema;
  std::string table;
  std::string quoted() const;  // "schema"."table" or "table"
  friend bool operator==(const PgTableName&, const PgTableName&) = default;
};
// "table" or "schema.table" (a third part, the database, is dropped as
// Confluent's TableId does when it names the connected database); a quoted
// part may hold dots. Empty parts are an error.
Result<PgTableName> pg_parse_table_name(std::string_view text);

// --- types ---

// PostgreSQL's built-in type oids (pg_type.dat) the mapping knows.
namespace pg_oid {
inline constexpr uint32_t kBool = 16, kBytea = 17, kName = 19, kInt8 = 20, kInt2 = 21, kInt4 = 23,
                          kText = 25, kOid = 26, kJson = 114, kFloat4 = 700, kFloat8 = 701,
                          kBpchar = 1042, kVarchar = 1043, kDate = 1082, kTime = 1083,
                          kTimestamp = 1114, kTimestamptz = 1184, kTimetz = 1266, kNumeric = 1700,
                          kUuid = 2950, kJsonb = 3802;
}

// A result column's schema (JDBC source's DataConverter): int2 INT16, int4
// INT32, int8 INT64, float4 FLOAT32, float8 FLOAT64, bool BOOLEAN, bytea
// BYTES, numeric(p,s) Decimal(s) (an unconstrained numeric is a STRING:
// Connect's Decimal has one scale), date Date, time Time, timestamp and
// timestamptz Timestamp; text, varchar, char, uuid, json and every other
// type STRING (their text form). Optional unless `not_null`.
SchemaPtr pg_column_schema(uint32_t type_oid, int32_t type_modifier, bool not_null);

// A value in PostgreSQL's text output (the session's settings above) as the
// value of `schema`, a schema pg_column_schema made for that type.
Result<Value> pg_value_from_text(const Schema& schema, uint32_t type_oid, std::string_view text);

// A value as a text parameter; nullopt is SQL NULL. Structs, arrays and
// maps are refused (no column type holds them).
Result<std::optional<std::string>> pg_value_to_text(const Schema& schema, const Value& value);

// The column type CREATE TABLE and ALTER TABLE ADD use for a field
// (PostgreSqlDatabaseDialect): INT8/INT16 SMALLINT, INT32 INT, INT64
// BIGINT, FLOAT32 REAL, FLOAT64 DOUBLE PRECISION, BOOLEAN, STRING TEXT,
// BYTES BYTEA, Decimal DECIMAL, Date DATE, Time TIME, Timestamp TIMESTAMP.
Result<std::string> pg_sql_type(const Schema& schema);

// Microseconds since the epoch, UTC <-> "YYYY-MM-DD HH:MM:SS.ffffff" (a
// timestamptz's "+00" and other offsets are read too; " BC" and infinities are not).
std::string pg_timestamp_text(int64_t epoch_micros);
std::optional<int64_t> pg_parse_timestamp_micros(std::string_view text);

// --- SQL the sink writes ---

struct PgColumn {
  std::string name;
  SchemaPtr schema;
};

std::string pg_create_table_sql(const PgTableName& table, const std::vector<PgColumn>& columns,
                                const std::vector<std::string>& key_columns);
std::string pg_add_column_sql(const PgTableName& table, const PgColumn& column);

enum class PgInsertMode { insert, upsert, update };

// INSERT of `rows` rows ($1.. numbered row by row, columns in `columns`'
// order, key columns first); upsert adds ON CONFLICT (key) DO UPDATE SET
// every other column = EXCLUDED's (DO NOTHING when every column is a key).
std::string pg_insert_sql(const PgTableName& table, const std::vector<std::string>& columns,
                          const std::vector<std::string>& key_columns, PgInsertMode mode,
                          size_t rows);
// UPDATE ... SET non-key columns WHERE key columns (parameters: non-key
// columns, then key columns).
std::string pg_update_sql(const PgTableName& table, const std::vector<std::string>& columns,
                          const std::vector<std::string>& key_columns);
// DELETE ... WHERE (key) IN ((..),(..)) for `rows` keys.
std::string pg_delete_sql(const PgTableName& table, const std::vector<std::string>& key_columns,
                          size_t rows);

// --- SQL the source runs ---

enum class PgSourceMode { bulk, incrementing, timestamp, timestamp_incrementing };

// Confluent's query per mode, with the parameters' order it documents:
//   bulk:                   SELECT * FROM t
//   incrementing:           ... WHERE "id" > $1 ORDER BY "id" ASC
//   timestamp:              ... WHERE "ts" > $1 AND "ts" < $2 ORDER BY "ts" ASC
//   timestamp+incrementing: ... WHERE "ts" < $1 AND (("ts" = $2 AND "id" > $3) OR "ts" > $2)
//                           ORDER BY "ts","id" ASC
// `base` is `SELECT * FROM t` or the `query` setting (wrapped as a
// subquery so its own WHERE stays intact). `limit` > 0 adds LIMIT (only
// where the order is total: incrementing and timestamp+incrementing).
// Several timestamp columns are read as COALESCE("a","b"), as Confluent's.
std::string pg_source_query(const std::string& base, PgSourceMode mode,
                            const std::string& incrementing_column,
                            const std::vector<std::string>& timestamp_columns, size_t limit);

// --- the connection ---

// A failed statement: `connection_lost` when the server went away or could
// not be reached (the caller reconnects and tries again), else a refusal
// (SQL error) with its SQLSTATE.
struct PgError {
  std::string message;
  std::string sqlstate;
  bool connection_lost = false;
  bool retriable() const;  // connection lost, serialization failure, deadlock
};

class PgResult {
 public:
  explicit PgResult(pg_result* result) : result_(result) {}
  int rows() const;
  int columns() const;
  std::string column_name(int column) const;
  uint32_t column_type(int column) const;
  int32_t column_modifier(int column) const;
  bool is_null(int row, int column) const;
  std::string_view text(int row, int column) const;

 private:
  struct Clear {
    void operator()(pg_result* result) const;
  };
  std::unique_ptr<pg_result, Clear> result_;
};

class PgConnection {
 public:
  // Connects and sets the session (UTC, ISO dates, exact floats).
  static std::variant<std::unique_ptr<PgConnection>, PgError> open(const PgConnectionSpec& spec);
  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  // One statement with text parameters (nullopt: NULL).
  std::variant<PgResult, PgError> exec(const std::string& sql,
                                       const std::vector<std::optional<std::string>>& params = {});
  bool broken() const;
  std::string database() const;

 private:
  explicit PgConnection(pg_conn* connection) : connection_(connection) {}
  pg_conn* connection_;
};

// Java-style shared helpers for the two connectors' settings.
std::optional<int64_t> pg_integer_of(const Value& value);

}  // namespace sluice::connect
