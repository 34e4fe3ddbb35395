// The PostgreSQL connectors' plain logic (src/connect/connectors/postgres.h):
// connection.url parsing (JDBC URLs and libpq URIs), identifier quoting and
// table names, the type mapping both ways with text values, and the SQL the
// sink writes and the source runs in each mode. The connectors against a
// real server are tests/integration/connect/test_postgres.py.

#include "connect/connectors/postgres.h"

#include <gtest/gtest.h>

#include "connect/connector.h"
#include "connect/java_text.h"

namespace sluice::connect::postgres_testing {
namespace {

std::string keyword(const PgConnectionSpec& spec, const std::string& name) {
  for (const auto& [key, value] : spec.keywords) {
    if (key == name) return value;
  }
  return "<none>";
}

TEST(PostgresUrl, JdbcUrlBecomesALibpqUri) {
  auto spec = pg_connection_spec("jdbc:postgresql://db.example:5433/shop", "alice", "secret");
  ASSERT_TRUE(spec.is_ok()) << spec.status().message();
  EXPECT_EQ(keyword(*spec, "dbname"), "postgresql://db.example:5433/shop");
  EXPECT_EQ(keyword(*spec, "user"), "alice");
  EXPECT_EQ(keyword(*spec, "password"), "secret");
  EXPECT_EQ(keyword(*spec, "connect_timeout"), "10");
  EXPECT_EQ(spec->database, "shop");
}

TEST(PostgresUrl, JdbcParametersAreTranslatedOrDropped) {
  auto spec = pg_connection_spec(
      "jdbc:postgresql://h1:5432,h2:5433/db?ssl=true&connectTimeout=3&currentSchema=sales"
      "&prepareThreshold=0&ApplicationName=app%20one",
      "", "");
  ASSERT_TRUE(spec.is_ok()) << spec.status().message();
  EXPECT_EQ(keyword(*spec, "dbname"), "postgresql://h1:5432,h2:5433/db");
  EXPECT_EQ(keyword(*spec, "sslmode"), "require");
  EXPECT_EQ(keyword(*spec, "connect_timeout"), "3");
  EXPECT_EQ(keyword(*spec, "options"), "-csearch_path=sales");
  EXPECT_EQ(keyword(*spec, "application_name"), "app one");
  EXPECT_EQ(spec->ignored_parameters, std::vector<std::string>{"prepareThreshold"});
}

TEST(PostgresUrl, JdbcWithoutHostIsLocalhostAndDatabaseFallsBackToTheUser) {
  auto spec = pg_connection_spec("jdbc:postgresql:inventory", "", "");
  ASSERT_TRUE(spec.is_ok());
  EXPECT_EQ(keyword(*spec, "dbname"), "postgresql://localhost/inventory");
  EXPECT_EQ(spec->database, "inventory");
  auto no_database = pg_connection_spec("jdbc:postgresql://h/", "bob", "");
  ASSERT_TRUE(no_database.is_ok());
  EXPECT_EQ(no_database->database, "bob");
}

TEST(PostgresUrl, LibpqUrisAndKeywordStringsPassThrough) {
  auto uri = pg_connection_spec("postgresql://u@127.0.0.1:6000/orders?sslmode=disable", "", "");
  ASSERT_TRUE(uri.is_ok()) << uri.status().message();
  EXPECT_EQ(keyword(*uri, "dbname"), "postgresql://u@127.0.0.1:6000/orders?sslmode=disable");
  EXPECT_EQ(uri->database, "orders");
  auto words = pg_connection_spec("host=localhost port=5432 dbname=stock", "", "");
  ASSERT_TRUE(words.is_ok());
  EXPECT_EQ(words->database, "stock");
}

TEST(PostgresUrl, OtherUrlsAreRefusedNamingTheSetting) {
  auto mysql = pg_connection_spec("jdbc:mysql://h/db", "", "");
  ASSERT_FALSE(mysql.is_ok());
  EXPECT_EQ(mysql.status().message(),
            "Invalid value jdbc:mysql://h/db for configuration connection.url: only "
            "jdbc:postgresql: URLs are supported");
  auto bad = pg_connection_spec("postgresql://h:notaport:/x?nosuch=1", "", "");
  ASSERT_FALSE(bad.is_ok());
  EXPECT_NE(bad.status().message().find("for configuration connection.url"), std::string::npos);
}

TEST(PostgresIdentifiers, QuotedWithEmbeddedQuotesDoubled) {
  EXPECT_EQ(pg_quote_identifier("orders"), "\"orders\"");
  EXPECT_EQ(pg_quote_identifier("we\"ird"), "\"we\"\"ird\"");
  EXPECT_EQ((PgTableName{"sales", "Order Lines"}).quoted(), "\"sales\".\"Order Lines\"");
  EXPECT_EQ((PgTableName{"", "t"}).quoted(), "\"t\"");
}

TEST(PostgresIdentifiers, TableNamesParse) {
  EXPECT_EQ(*pg_parse_table_name("orders"), (PgTableName{"", "orders"}));
  EXPECT_EQ(*pg_parse_table_name("sales.orders"), (PgTableName{"sales", "orders"}));
  EXPECT_EQ(*pg_parse_table_name("shop.sales.orders"), (PgTableName{"sales", "orders"}));
  EXPECT_EQ(*pg_parse_table_name("\"a.b\".\"c\"\"d\""), (PgTableName{"a.b", "c\"d"}));
  for (const char* bad : {"", "a..b", ".a", "\"open", "a.b.c.d"}) {
    EXPECT_FALSE(pg_parse_table_name(bad).is_ok()) << bad;
  }
}

TEST(PostgresTypes, ColumnsMapToConnectSchemas) {
  EXPECT_EQ(pg_column_schema(pg_oid::kInt2, -1, true)->type, SchemaType::int16);
  EXPECT_EQ(pg_column_schema(pg_oid::kInt4, -1, true)->type, SchemaType::int32);
  EXPECT_EQ(pg_column_schema(pg_oid::kInt8, -1, true)->type, SchemaType::int64);
  EXPECT_EQ(pg_column_schema(pg_oid::kFloat4, -1, true)->type, SchemaType::float32);
  EXPECT_EQ(pg_column_schema(pg_oid::kFloat8, -1, true)->type, SchemaType::float64);
  EXPECT_EQ(pg_column_schema(pg_oid::kBool, -1, true)->type, SchemaType::boolean);
  EXPECT_EQ(pg_column_schema(pg_oid::kBytea, -1, true)->type, SchemaType::bytes);
  EXPECT_EQ(pg_column_schema(pg_oid::kVarchar, 24, true)->type, SchemaType::string);
  EXPECT_EQ(pg_column_schema(pg_oid::kUuid, -1, true)->type, SchemaType::string);
  EXPECT_TRUE(pg_column_schema(pg_oid::kText, -1, false)->optional);
  EXPECT_FALSE(pg_column_schema(pg_oid::kText, -1, true)->optional);

  // numeric(10,2): typmod (10 << 16 | 2) + 4.
  SchemaPtr decimal = pg_column_schema(pg_oid::kNumeric, ((10 << 16) | 2) + 4, false);
  EXPECT_TRUE(is_logical(*decimal, decimal_logical_name));
  EXPECT_EQ(*decimal_scale(*decimal), 2);
  EXPECT_TRUE(decimal->optional);
  EXPECT_EQ(pg_column_schema(pg_oid::kNumeric, -1, true)->type, SchemaType::string);
  EXPECT_TRUE(is_logical(*pg_column_schema(pg_oid::kDate, -1, true), date_logical_name));
  EXPECT_TRUE(is_logical(*pg_column_schema(pg_oid::kTime, -1, true), time_logical_name));
  EXPECT_TRUE(is_logical(*pg_column_schema(pg_oid::kTimestamp, -1, true), timestamp_logical_name));
  EXPECT_TRUE(
      is_logical(*pg_column_schema(pg_oid::kTimestamptz, -1, true), timestamp_logical_name));
}

Value from_text(uint32_t oid, std::string_view text, int32_t modifier = -1) {
  SchemaPtr schema = pg_column_schema(oid, modifier, true);
  auto value = pg_value_from_text(*schema, oid, text);
  EXPECT_TRUE(value.is_ok()) << text << ": " << value.status().message();
  return value.is_ok() ? *value : Value();
}

TEST(PostgresTypes, TextValuesRead) {
  EXPECT_EQ(from_text(pg_oid::kInt2, "-32768"), Value(int16_t{-32768}));
  EXPECT_EQ(from_text(pg_oid::kInt4, "42"), Value(int32_t{42}));
  EXPECT_EQ(from_text(pg_oid::kInt8, "9223372036854775807"), Value(int64_t{9223372036854775807}));
  EXPECT_EQ(from_text(pg_oid::kFloat8, "0.10000000000000001"), Value(0.1));
  EXPECT_EQ(from_text(pg_oid::kFloat4, "1.5"), Value(1.5F));
  EXPECT_EQ(from_text(pg_oid::kBool, "t"), Value(true));
  EXPECT_EQ(from_text(pg_oid::kBool, "f"), Value(false));
  EXPECT_EQ(from_text(pg_oid::kBytea, "\\x00ff41"), Value(Bytes{std::string("\0\xff"
                                                                            "A",
                                                                            3)}));
  EXPECT_EQ(from_text(pg_oid::kText, "h\u00e9llo"), Value(std::string("h\u00e9llo")));
  EXPECT_EQ(from_text(pg_oid::kNumeric, "-12.30", ((10 << 16) | 2) + 4),
            Value(*decimal_from_text("-12.30")));
  EXPECT_EQ(from_text(pg_oid::kNumeric, "7", ((10 << 16) | 2) + 4),
            Value(*decimal_from_text("7.00")));
  EXPECT_EQ(from_text(pg_oid::kDate, "1970-01-02"), Value(DateTime{86'400'000}));
  EXPECT_EQ(from_text(pg_oid::kDate, "1969-12-31"), Value(DateTime{-86'400'000}));
  EXPECT_EQ(from_text(pg_oid::kTime, "01:02:03.456789"), Value(DateTime{3'723'456}));
  EXPECT_EQ(from_text(pg_oid::kTimestamp, "2024-02-29 12:34:56.789"),
            Value(DateTime{1'709'210'096'789}));
  EXPECT_EQ(from_text(pg_oid::kTimestamptz, "2024-02-29 14:34:56.789+02"),
            Value(DateTime{1'709'210'096'789}));
  EXPECT_EQ(from_text(pg_oid::kTimestamptz, "1969-12-31 23:59:59.9995+00"), Value(DateTime{-1}));
  SchemaPtr number = pg_column_schema(pg_oid::kInt4, -1, true);
  EXPECT_FALSE(pg_value_from_text(*number, pg_oid::kInt4, "12x").is_ok());
  SchemaPtr bytes = pg_column_schema(pg_oid::kBytea, -1, true);
  EXPECT_FALSE(pg_value_from_text(*bytes, pg_oid::kBytea, "\\x0").is_ok());
  SchemaPtr stamp = pg_column_schema(pg_oid::kTimestamp, -1, true);
  EXPECT_FALSE(pg_value_from_text(*stamp, pg_oid::kTimestamp, "infinity").is_ok());
}

TEST(PostgresTypes, TimestampsRoundTripInMicroseconds) {
  for (int64_t micros : {int64_t{0}, int64_t{1}, int64_t{-1}, int64_t{1'709'210'096'789'123},
                         int64_t{-62'135'596'800'000'000}, int64_t{253'402'300'799'999'999}}) {
    const std::string text = pg_timestamp_text(micros);
    EXPECT_EQ(pg_parse_timestamp_micros(text), micros) << text;
  }
  EXPECT_EQ(pg_timestamp_text(0), "1970-01-01 00:00:00.000000");
  EXPECT_EQ(pg_timestamp_text(-1), "1969-12-31 23:59:59.999999");
  EXPECT_EQ(pg_parse_timestamp_micros("2000-01-01 00:00:00-05:30"), 946'704'600'000'000);
  EXPECT_EQ(pg_parse_timestamp_micros("2000-01-01T00:00:00"), 946'684'800'000'000);
  EXPECT_FALSE(pg_parse_timestamp_micros("2000-13-01 00:00:00"));
  EXPECT_FALSE(pg_parse_timestamp_micros("2000-01-01"));
}

std::optional<std::string> to_text(const SchemaPtr& schema, const Value& value) {
  auto text = pg_value_to_text(*schema, value);
  EXPECT_TRUE(text.is_ok()) << text.status().message();
  return text.is_ok() ? *text : std::optional<std::string>("<error>");
}

TEST(PostgresTypes, ValuesWrittenAsTextParameters) {
  EXPECT_EQ(to_text(primitive_schema(SchemaType::int8), Value(int8_t{-5})), "-5");
  EXPECT_EQ(to_text(primitive_schema(SchemaType::int64), Value(int64_t{1} << 40)), "1099511627776");
  EXPECT_EQ(to_text(primitive_schema(SchemaType::float64), Value(0.1)), "0.1");
  EXPECT_EQ(to_text(primitive_schema(SchemaType::float32), Value(1.25F)), "1.25");
  EXPECT_EQ(to_text(primitive_schema(SchemaType::float64), Value(-1.0 / 0.0)), "-Infinity");
  EXPECT_EQ(to_text(primitive_schema(SchemaType::boolean), Value(true)), "t");
  EXPECT_EQ(to_text(primitive_schema(SchemaType::string), Value("x'y")), "x'y");
  EXPECT_EQ(to_text(primitive_schema(SchemaType::bytes), Value(Bytes{std::string("\x01\xab", 2)})),
            "\\x01ab");
  EXPECT_EQ(to_text(primitive_schema(SchemaType::string, true), Value()), std::nullopt);
  EXPECT_EQ(to_text(decimal_schema(3).build_or_die(), Value(*decimal_from_text("-1.250"))),
            "-1.250");
  EXPECT_EQ(to_text(date_schema().build_or_die(), Value(DateTime{-86'400'000})), "1969-12-31");
  EXPECT_EQ(to_text(time_schema().build_or_die(), Value(DateTime{3'723'456})), "01:02:03.456000");
  EXPECT_EQ(to_text(timestamp_schema().build_or_die(), Value(DateTime{1'709'210'096'789})),
            "2024-02-29 12:34:56.789000");
  EXPECT_FALSE(
      pg_value_to_text(*primitive_schema(SchemaType::string), Value(std::string("a\0b", 3)))
          .is_ok());
  SchemaPtr list = SchemaBuilder::array(primitive_schema(SchemaType::int32)).build_or_die();
  EXPECT_FALSE(pg_value_to_text(*list, Value(List{Value(int32_t{1})})).is_ok());
}

TEST(PostgresTypes, SqlTypesForCreatedColumns) {
  EXPECT_EQ(*pg_sql_type(*primitive_schema(SchemaType::int8)), "SMALLINT");
  EXPECT_EQ(*pg_sql_type(*primitive_schema(SchemaType::int16)), "SMALLINT");
  EXPECT_EQ(*pg_sql_type(*primitive_schema(SchemaType::int32)), "INT");
  EXPECT_EQ(*pg_sql_type(*primitive_schema(SchemaType::int64)), "BIGINT");
  EXPECT_EQ(*pg_sql_type(*primitive_schema(SchemaType::float32)), "REAL");
  EXPECT_EQ(*pg_sql_type(*primitive_schema(SchemaType::float64)), "DOUBLE PRECISION");
  EXPECT_EQ(*pg_sql_type(*primitive_schema(SchemaType::boolean)), "BOOLEAN");
  EXPECT_EQ(*pg_sql_type(*primitive_schema(SchemaType::string)), "TEXT");
  EXPECT_EQ(*pg_sql_type(*primitive_schema(SchemaType::bytes)), "BYTEA");
  EXPECT_EQ(*pg_sql_type(*decimal_schema(2).build_or_die()), "DECIMAL");
  EXPECT_EQ(*pg_sql_type(*date_schema().build_or_die()), "DATE");
  EXPECT_EQ(*pg_sql_type(*time_schema().build_or_die()), "TIME");
  EXPECT_EQ(*pg_sql_type(*timestamp_schema().build_or_die()), "TIMESTAMP");
  SchemaPtr map =
      SchemaBuilder::map(primitive_schema(SchemaType::string), primitive_schema(SchemaType::string))
          .build_or_die();
  EXPECT_FALSE(pg_sql_type(*map).is_ok());
}

TEST(PostgresSql, CreateAndAlterTable) {
  const PgTableName table{"sales", "orders"};
  const std::vector<PgColumn> columns = {
      {"id", primitive_schema(SchemaType::int64)},
      {"note", primitive_schema(SchemaType::string, true)},
      {"at", timestamp_schema().build_or_die()},
  };
  EXPECT_EQ(pg_create_table_sql(table, columns, {"id"}),
            "CREATE TABLE \"sales\".\"orders\" (\n\"id\" BIGINT NOT NULL,\n\"note\" TEXT,\n"
            "\"at\" TIMESTAMP NOT NULL,\nPRIMARY KEY(\"id\"))");
  EXPECT_EQ(pg_create_table_sql({"", "t"}, {columns[1]}, {}),
            "CREATE TABLE \"t\" (\n\"note\" TEXT)");
  EXPECT_EQ(pg_add_column_sql(table, columns[1]),
            "ALTER TABLE \"sales\".\"orders\" ADD \"note\" TEXT");
}

TEST(PostgresSql, InsertUpsertUpdateDelete) {
  const PgTableName table{"", "t"};
  EXPECT_EQ(pg_insert_sql(table, {"id", "a", "b"}, {"id"}, PgInsertMode::insert, 2),
            "INSERT INTO \"t\" (\"id\",\"a\",\"b\") VALUES ($1,$2,$3),($4,$5,$6)");
  EXPECT_EQ(pg_insert_sql(table, {"k1", "k2", "v"}, {"k1", "k2"}, PgInsertMode::upsert, 1),
            "INSERT INTO \"t\" (\"k1\",\"k2\",\"v\") VALUES ($1,$2,$3) ON CONFLICT (\"k1\",\"k2\") "
            "DO UPDATE SET \"v\"=EXCLUDED.\"v\"");
  EXPECT_EQ(pg_insert_sql(table, {"k"}, {"k"}, PgInsertMode::upsert, 1),
            "INSERT INTO \"t\" (\"k\") VALUES ($1) ON CONFLICT (\"k\") DO NOTHING");
  EXPECT_EQ(pg_update_sql(table, {"id", "a", "b"}, {"id"}),
            "UPDATE \"t\" SET \"a\"=$1,\"b\"=$2 WHERE \"id\"=$3");
  EXPECT_EQ(pg_delete_sql(table, {"k1", "k2"}, 2),
            "DELETE FROM \"t\" WHERE (\"k1\",\"k2\") IN (($1,$2),($3,$4))");
}

TEST(PostgresSql, SourceQueryForEachMode) {
  const std::string base = "SELECT * FROM \"public\".\"t\"";
  EXPECT_EQ(pg_source_query(base, PgSourceMode::bulk, "", {}, 0), base);
  EXPECT_EQ(pg_source_query(base, PgSourceMode::incrementing, "id", {}, 100),
            base + " WHERE \"id\" > $1 ORDER BY \"id\" ASC LIMIT 100");
  EXPECT_EQ(pg_source_query(base, PgSourceMode::timestamp, "", {"ts"}, 100),
            base + " WHERE \"ts\" > $1 AND \"ts\" < $2 ORDER BY \"ts\" ASC");
  EXPECT_EQ(pg_source_query(base, PgSourceMode::timestamp_incrementing, "id", {"ts"}, 5),
            base +
                " WHERE \"ts\" < $1 AND ((\"ts\" = $2 AND \"id\" > $3) OR \"ts\" > $2) "
                "ORDER BY \"ts\",\"id\" ASC LIMIT 5");
  EXPECT_EQ(
      pg_source_query(base, PgSourceMode::timestamp, "", {"modified", "created"}, 0),
      base +
          " WHERE COALESCE(\"modified\",\"created\") > $1 AND COALESCE(\"modified\",\"created\") "
          "< $2 ORDER BY COALESCE(\"modified\",\"created\") ASC");
}

TEST(PostgresRegistry, ConfluentNamesAndAliases) {
  for (const char* name :
       {"io.confluent.connect.jdbc.JdbcSourceConnector", "JdbcSourceConnector", "JdbcSource"}) {
    const ConnectorPlugin* plugin = find_connector_plugin(name);
    ASSERT_NE(plugin, nullptr) << name;
    EXPECT_EQ(plugin->type, ConnectorType::source);
  }
  const ConnectorPlugin* sink = find_connector_plugin("JdbcSink");
  ASSERT_NE(sink, nullptr);
  EXPECT_EQ(sink->class_name, "io.confluent.connect.jdbc.JdbcSinkConnector");
}

// Settings refused when the connector starts, with ConfigException's words.
TEST(PostgresConfig, RefusedSettings) {
  auto start = [](const char* plugin, Properties config) {
    config["connection.url"] = config.count("connection.url") ? config["connection.url"]
                                                              : "jdbc:postgresql://127.0.0.1:1/db";
    return find_connector_plugin(plugin)->make()->start(config).message();
  };
  EXPECT_EQ(start("JdbcSink", {{"delete.enabled", "true"}}),
            "Invalid value true for configuration delete.enabled: Primary key mode must be "
            "'record_key' when delete support is enabled");
  EXPECT_EQ(
      start("JdbcSink", {{"insert.mode", "upsert"}}),
      "Invalid value none for configuration pk.mode: insert.mode upsert requires key columns: "
      "set pk.mode");
  EXPECT_EQ(start("JdbcSink", {{"insert.mode", "merge"}}),
            "Invalid value merge for configuration insert.mode: String must be one of (case "
            "insensitive): insert, upsert, update");
  EXPECT_EQ(start("JdbcSource", {{"topic.prefix", "p-"}, {"table.whitelist", "t"}}),
            "Invalid value  for configuration mode: Query mode must be specified");
  EXPECT_EQ(start("JdbcSource",
                  {{"topic.prefix", "p-"}, {"mode", "incrementing"}, {"query", "SELECT 1"}}),
            "Invalid value  for configuration incrementing.column.name: an incrementing column "
            "must be named for a query in mode incrementing");
  EXPECT_EQ(start("JdbcSource", {{"mode", "bulk"}}),
            "Missing required configuration \"topic.prefix\" which has no default value.");
  EXPECT_EQ(start("JdbcSource", {{"mode", "bulk"},
                                 {"topic.prefix", "p"},
                                 {"table.whitelist", "a"},
                                 {"table.blacklist", "b"}}),
            "table.whitelist and table.blacklist are exclusive.");
}

}  // namespace
}  // namespace sluice::connect::postgres_testing
