// A PostgreSQL source configured as Confluent's JdbcSourceConnector
// (io.confluent.connect.jdbc.JdbcSourceConnector): tables (or one `query`)
// read every `poll.interval.ms` in one of four modes, each row a record
// whose value is a Struct of its columns (postgres.h maps the types), topic
// `topic.prefix` + table name (the prefix alone for a query), no key.
//
//   bulk                    the whole table at every poll
//   incrementing            rows whose `incrementing.column.name` is above
//                           the last one handed out
//   timestamp               rows whose `timestamp.column.name` is after the
//                           last one's and before the database's clock minus
//                           `timestamp.delay.interval.ms`
//   timestamp+incrementing  both: (ts, id) after the last (ts, id)
//
// Source partitions and offsets are Confluent's: {"protocol":"1",
// "table":"db.schema.table"} (or {"query": query}) and {"incrementing": id,
// "timestamp": ms, "timestamp_nanos": nanoseconds within the second}, so a
// restarted task resumes right after the last committed row. The committed
// row is known exactly (the runtime commits an offset only once Kafka has
// the record and all before it), so a restart neither loses nor repeats
// rows; in timestamp mode alone rows sharing the last timestamp that were
// committed after the query are skipped, as Confluent's are.
//
// Tables are split over `tasks.max` tasks in contiguous groups
// (ConnectorUtils.groupPartitions). A lost connection is retried (the poll
// returns what it has and reconnects `connection.backoff.ms` later); a
// table that does not exist yet is looked for again at the next interval;
// any other refused query fails the task with PostgreSQL's message.

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>

#include "connect/connectors/connectors.h"
#include "connect/connectors/postgres.h"
#include "connect/connectors/stop_signal.h"
#include "connect/errors.h"

namespace sluice::connect {
namespace {

constexpr const char* kPgSourceUrlKey = "connection.url";
constexpr const char* kPgSourceUserKey = "connection.user";
constexpr const char* kPgSourcePasswordKey = "connection.password";
constexpr const char* kPgSourceBackoffKey = "connection.backoff.ms";
constexpr const char* kPgSourceWhitelistKey = "table.whitelist";
constexpr const char* kPgSourceIncludeKey = "table.include.list";
constexpr const char* kPgSourceBlacklistKey = "table.blacklist";
constexpr const char* kPgSourceExcludeKey = "table.exclude.list";
constexpr const char* kPgSourceSchemaPatternKey = "schema.pattern";
constexpr const char* kPgSourceModeKey = "mode";
constexpr const char* kPgSourceIncrementingKey = "incrementing.column.name";
constexpr const char* kPgSourceTimestampKey = "timestamp.column.name";
constexpr const char* kPgSourceDelayKey = "timestamp.delay.interval.ms";
constexpr const char* kPgSourceInitialKey = "timestamp.initial";
constexpr const char* kPgSourcePollIntervalKey = "poll.interval.ms";
constexpr const char* kPgSourceBatchKey = "batch.max.rows";
constexpr const char* kPgSourceTablePollKey = "table.poll.interval.ms";
constexpr const char* kPgSourceTopicPrefixKey = "topic.prefix";
constexpr const char* kPgSourceQueryKey = "query";
// The fewest rows an incrementing query asks for (see rows_per_query).
constexpr size_t kPgSourceRowsPerQuery = 2000;
// The task's share of the tables (Confluent's task config key "tables").
constexpr const char* kPgSourceTablesKey = "tables";

ConfigValidator pg_source_at_least(int32_t minimum) {
  return [minimum](const ConfigValue& value) -> std::optional<ConfigProblem> {
    const auto* number = std::get_if<int32_t>(&value);
    if (number && *number >= minimum) return std::nullopt;
    return ConfigProblem{"Value must be at least " + std::to_string(minimum)};
  };
}

std::vector<ConfigKey> pg_source_config_keys() {
  return {
      {kPgSourceUrlKey, ConfigType::string, true, std::nullopt, non_empty_string()},
      {kPgSourceUserKey, ConfigType::string, false, std::nullopt, nullptr},
      {kPgSourcePasswordKey, ConfigType::string, false, std::nullopt, nullptr},
      {"connection.attempts", ConfigType::integer, false, "3", pg_source_at_least(1)},
      {kPgSourceBackoffKey, ConfigType::integer, false, "10000", pg_source_at_least(0)},
      {kPgSourceWhitelistKey, ConfigType::list, false, "", nullptr},
      {kPgSourceIncludeKey, ConfigType::list, false, "", nullptr},
      {kPgSourceBlacklistKey, ConfigType::list, false, "", nullptr},
      {kPgSourceExcludeKey, ConfigType::list, false, "", nullptr},
      {kPgSourceSchemaPatternKey, ConfigType::string, false, std::nullopt, nullptr},
      {kPgSourceModeKey, ConfigType::string, false, "",
       one_of({"", "bulk", "timestamp", "incrementing", "timestamp+incrementing"})},
      {kPgSourceIncrementingKey, ConfigType::string, false, "", nullptr},
      {kPgSourceTimestampKey, ConfigType::list, false, "", nullptr},
      {kPgSourceDelayKey, ConfigType::integer, false, "0", pg_source_at_least(0)},
      {kPgSourceInitialKey, ConfigType::string, false, std::nullopt, nullptr},
      {kPgSourcePollIntervalKey, ConfigType::integer, false, "5000", pg_source_at_least(1)},
      {kPgSourceBatchKey, ConfigType::integer, false, "100", pg_source_at_least(1)},
      {kPgSourceTablePollKey, ConfigType::integer, false, "60000", pg_source_at_least(0)},
      {kPgSourceTopicPrefixKey, ConfigType::string, true, std::nullopt, nullptr},
      {kPgSourceQueryKey, ConfigType::string, false, "", nullptr},
      {"validate.non.null", ConfigType::boolean, false, "true", nullptr},
      {"db.timezone", ConfigType::string, false, "UTC", one_of({"UTC", "Etc/UTC", "GMT"})},
  };
}

struct PgSourceSettings {
  PgConnectionSpec connection;
  PgSourceMode mode = PgSourceMode::bulk;
  std::string incrementing_column;
  std::vector<std::string> timestamp_columns;
  int64_t delay_micros = 0;
  std::optional<int64_t> initial_ms;  // timestamp.initial: -1 is "now"
  std::chrono::milliseconds poll_interval{5000};
  std::chrono::milliseconds backoff{10000};
  size_t batch_max_rows = 100;
  std::string topic_prefix;
  std::string query;
  std::vector<std::string> include, exclude;
  std::optional<std::string> schema_pattern;
};

bool pg_source_uses_incrementing(PgSourceMode mode) {
  return mode == PgSourceMode::incrementing || mode == PgSourceMode::timestamp_incrementing;
}
bool pg_source_uses_timestamp(PgSourceMode mode) {
  return mode == PgSourceMode::timestamp || mode == PgSourceMode::timestamp_incrementing;
}

// The first non-empty list of a setting and its newer name.
std::vector<std::string> pg_source_either_list(const SimpleConfig& parsed, const char* old_key,
                                               const char* new_key) {
  std::vector<std::string> list = parsed.get_list(new_key);
  return list.empty() ? parsed.get_list(old_key) : list;
}

Result<PgSourceSettings> pg_source_settings(const Properties& config) {
  auto parsed = SimpleConfig::parse(pg_source_config_keys(), config);
  if (!parsed.is_ok()) return parsed.status();
  PgSourceSettings settings;
  auto connection = pg_connection_spec(*parsed->get_string(kPgSourceUrlKey),
                                       parsed->get_string(kPgSourceUserKey).value_or(""),
                                       parsed->get_string(kPgSourcePasswordKey).value_or(""));
  if (!connection.is_ok()) return connection.status();
  settings.connection = std::move(*connection);
  const std::string mode = parsed->get_string(kPgSourceModeKey).value_or("");
  if (mode.empty()) return config_error(kPgSourceModeKey, mode, "Query mode must be specified");
  settings.mode = mode == "bulk"           ? PgSourceMode::bulk
                  : mode == "incrementing" ? PgSourceMode::incrementing
                  : mode == "timestamp"    ? PgSourceMode::timestamp
                                           : PgSourceMode::timestamp_incrementing;
  settings.incrementing_column = parsed->get_string(kPgSourceIncrementingKey).value_or("");
  settings.timestamp_columns = parsed->get_list(kPgSourceTimestampKey);
  // A table's auto-increment column is found when none is named (as
  // Confluent does); a query's cannot be.
  if (pg_source_uses_incrementing(settings.mode) && settings.incrementing_column.empty() &&
      !parsed->get_string(kPgSourceQueryKey).value_or("").empty()) {
    return config_error(kPgSourceIncrementingKey, "",
                        "an incrementing column must be named for a query in mode " + mode);
  }
  if (pg_source_uses_timestamp(settings.mode) && settings.timestamp_columns.empty()) {
    return config_error(kPgSourceTimestampKey, "",
                        "at least one timestamp column must be named for mode " + mode);
  }
  settings.delay_micros = int64_t{parsed->get_int(kPgSourceDelayKey)} * 1000;
  if (auto initial = parsed->get_string(kPgSourceInitialKey)) {
    try {
      settings.initial_ms = std::stoll(*initial);
    } catch (const std::exception&) {
      return config_error(kPgSourceInitialKey, *initial, "Not a number of type LONG");
    }
  }
  settings.poll_interval = std::chrono::milliseconds(parsed->get_int(kPgSourcePollIntervalKey));
  settings.backoff = std::chrono::milliseconds(parsed->get_int(kPgSourceBackoffKey));
  settings.batch_max_rows = static_cast<size_t>(parsed->get_int(kPgSourceBatchKey));
  settings.topic_prefix = parsed->get_string(kPgSourceTopicPrefixKey).value_or("");
  settings.query = parsed->get_string(kPgSourceQueryKey).value_or("");
  settings.include = pg_source_either_list(*parsed, kPgSourceWhitelistKey, kPgSourceIncludeKey);
  settings.exclude = pg_source_either_list(*parsed, kPgSourceBlacklistKey, kPgSourceExcludeKey);
  settings.schema_pattern = parsed->get_string(kPgSourceSchemaPatternKey);
  if (!settings.include.empty() && !settings.exclude.empty()) {
    return config_error("table.whitelist and table.blacklist are exclusive.");
  }
  if (!settings.query.empty() && (!settings.include.empty() || !settings.exclude.empty())) {
    return config_error(kPgSourceQueryKey, settings.query,
                        "a query cannot be combined with table.whitelist or table.blacklist");
  }
  return settings;
}

// A table with its schema made explicit ("public" when the name had none):
// the schema is part of its source partition.
PgTableName pg_source_qualified(PgTableName table) {
  if (table.schema.empty()) table.schema = "public";
  return table;
}

// "a,b" where names may be quoted and hold commas.
std::vector<std::string> pg_source_split_names(std::string_view text) {
  std::vector<std::string> names;
  std::string current;
  bool quoted = false;
  for (char c : text) {
    if (c == '"') quoted = !quoted;
    if (c == ',' && !quoted) {
      names.push_back(std::move(current));
      current.clear();
    } else {
      current += c;
    }
  }
  if (!current.empty()) names.push_back(std::move(current));
  return names;
}

bool pg_source_listed(const std::vector<std::string>& list, const PgTableName& table) {
  return std::any_of(list.begin(), list.end(), [&](const std::string& entry) {
    auto parsed = pg_parse_table_name(entry);
    if (!parsed.is_ok()) return false;
    return parsed->table == table.table &&
           (parsed->schema.empty() || parsed->schema == table.schema);
  });
}

int64_t pg_source_wall_micros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// One table (or the query) and where its reading stands.
struct PgQuerier {
  std::string base_sql;  // SELECT * FROM "schema"."table", or the query
  std::optional<PgTableName> table;
  std::string incrementing_column;  // named, or the table's auto-increment column
  std::string topic;
  Map partition;
  std::optional<int64_t> incrementing;  // the last row's
  int64_t timestamp_micros = 0;         // the last row's
  std::chrono::steady_clock::time_point next_due;
  std::optional<PgResult> pending;  // a result being handed out
  int next_row = 0;
  bool pending_was_full = false;  // its query hit LIMIT: more rows may follow
  // The value schema for the last result's columns.
  std::string columns_signature;
  SchemaPtr value_schema;
  std::vector<const Field*> fields;
  int incrementing_index = -1;
  std::vector<int> timestamp_indexes;
};

class PgSourceTask final : public SourceTask {
 public:
  Status start(const Properties& config, OffsetReader& offsets) override {
    auto settings = pg_source_settings(config);
    if (!settings.is_ok()) return settings.status();
    settings_ = std::move(*settings);
    if (!settings_.query.empty()) {
      PgQuerier querier;
      querier.base_sql = settings_.mode == PgSourceMode::bulk
                             ? settings_.query
                             : "SELECT * FROM (" + settings_.query + ") AS sluice_query";
      querier.topic = settings_.topic_prefix;
      querier.incrementing_column = settings_.incrementing_column;
      querier.partition = Map{{"query", "query"}};
      queriers_.push_back(std::move(querier));
    } else {
      auto tables = config.find(kPgSourceTablesKey);
      if (tables == config.end()) return config_error("Invalid configuration: no tables assigned");
      for (const std::string& name : pg_source_split_names(tables->second)) {
        auto table = pg_parse_table_name(name);
        if (!table.is_ok()) return table.status();
        add_table(pg_source_qualified(std::move(*table)));
      }
    }
    for (PgQuerier& querier : queriers_) read_stored_offset(querier, offsets);
    return Status::ok();
  }

  Result<std::vector<ConnectRecord>> poll(std::chrono::milliseconds max_wait) override {
    const auto deadline = std::chrono::steady_clock::now() + max_wait;
    while (!stop_.requested()) {
      const auto now = std::chrono::steady_clock::now();
      if (queriers_.empty()) {
        wait(deadline, deadline);
        break;
      }
      if (!connection_ && !connect(now)) {
        if (!wait(deadline, reconnect_at_)) break;
        continue;
      }
      PgQuerier& querier = *std::min_element(
          queriers_.begin(), queriers_.end(),
          [](const PgQuerier& a, const PgQuerier& b) { return a.next_due < b.next_due; });
      if (querier.next_due > now) {
        if (!wait(deadline, querier.next_due)) break;
        continue;
      }
      if (querier.pending) return hand_out(querier);
      if (Status queried = run_query(querier); !queried) return queried;
    }
    return std::vector<ConnectRecord>();
  }

  void stop() override { stop_.request(); }

 private:
  void add_table(PgTableName table) {
    PgQuerier querier;
    querier.base_sql = "SELECT * FROM " + table.quoted();
    querier.incrementing_column = settings_.incrementing_column;
    querier.topic = settings_.topic_prefix + table.table;
    querier.partition =
        Map{{"protocol", "1"},
            {"table", settings_.connection.database + "." + table.schema + "." + table.table}};
    querier.table = std::move(table);
    queriers_.push_back(std::move(querier));
  }

  void read_stored_offset(PgQuerier& querier, OffsetReader& offsets) {
    if (settings_.initial_ms) {
      querier.timestamp_micros =
          *settings_.initial_ms == -1 ? pg_source_wall_micros() : *settings_.initial_ms * 1000;
    }
    std::optional<Map> stored = offsets.offset(querier.partition);
    if (!stored && querier.table) {
      // Confluent's first offset protocol keyed tables by their name alone.
      stored = offsets.offset(Map{{"table", querier.table->table}});
    }
    if (!stored) return;
    if (const Value* id = map_find(*stored, "incrementing"))
      querier.incrementing = pg_integer_of(*id);
    const Value* millis = map_find(*stored, "timestamp");
    if (millis == nullptr || !pg_integer_of(*millis)) return;
    const int64_t ms = *pg_integer_of(*millis);
    const Value* nanos = map_find(*stored, "timestamp_nanos");
    const int64_t second_ms = ms - ((ms % 1000) + 1000) % 1000;
    const std::optional<int64_t> sub_second_nanos = nanos ? pg_integer_of(*nanos) : std::nullopt;
    querier.timestamp_micros =
        sub_second_nanos ? second_ms * 1000 + *sub_second_nanos / 1000 : ms * 1000;
  }

  // Sleeps until `until` or the poll's deadline; false when the deadline
  // (or a stop) came first.
  bool wait(std::chrono::steady_clock::time_point deadline,
            std::chrono::steady_clock::time_point until) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    stop_.sleep_until(std::min(deadline, until));
    return std::chrono::steady_clock::now() < deadline && !stop_.requested();
  }

  bool connect(std::chrono::steady_clock::time_point now) {
    if (now < reconnect_at_) return false;
    auto opened = PgConnection::open(settings_.connection);
    if (auto* error = std::get_if<PgError>(&opened)) {
      spdlog::warn("connect: PostgreSQL source: {}; retrying in {} ms", error->message,
                   settings_.backoff.count());
      reconnect_at_ = now + settings_.backoff;
      return false;
    }
    connection_ = std::move(std::get<std::unique_ptr<PgConnection>>(opened));
    return true;
  }

  void connection_lost(const PgError& error) {
    spdlog::warn("connect: PostgreSQL source lost its connection: {}; reconnecting in {} ms",
                 error.message, settings_.backoff.count());
    connection_.reset();
    reconnect_at_ = std::chrono::steady_clock::now() + settings_.backoff;
  }

  // The database's clock minus timestamp.delay.interval.ms (Confluent reads
  // the database's time too: the writers' clock, not ours).
  std::variant<int64_t, PgError> upper_bound_micros() {
    auto now =
        connection_->exec("SELECT (EXTRACT(EPOCH FROM CURRENT_TIMESTAMP) * 1000000)::bigint");
    if (auto* error = std::get_if<PgError>(&now)) return std::move(*error);
    const PgResult& result = std::get<PgResult>(now);
    int64_t micros = 0;
    const std::string_view text = result.rows() == 1 ? result.text(0, 0) : std::string_view();
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), micros);
    if (error != std::errc() || end != text.data() + text.size() || text.empty()) {
      return PgError{"cannot read the database's clock (\"" + std::string(text) + "\")", "", false};
    }
    return micros - settings_.delay_micros;
  }

  // Rows a limited query asks for: batch.max.rows bounds what one poll
  // hands out (Confluent reads on in its open ResultSet between polls);
  // asking for several polls' worth saves a query per batch.
  size_t rows_per_query() const {
    return std::max(settings_.batch_max_rows, kPgSourceRowsPerQuery);
  }

  // The table's one identity or serial column, for incrementing modes
  // without incrementing.column.name (Confluent takes the auto-increment
  // column the JDBC metadata reports).
  std::variant<std::string, PgError> auto_increment_column(const PgQuerier& querier) {
    auto answer = connection_->exec(
        "SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 "
        "AND NOT attisdropped AND (attidentity <> '' OR "
        "pg_get_serial_sequence($1::regclass::text, attname::text) IS NOT NULL) ORDER BY attnum",
        {querier.table->quoted()});
    if (auto* error = std::get_if<PgError>(&answer)) return std::move(*error);
    const PgResult& result = std::get<PgResult>(answer);
    return result.rows() == 1 ? std::string(result.text(0, 0)) : std::string();
  }

  Status run_query(PgQuerier& querier) {
    if (pg_source_uses_incrementing(settings_.mode) && querier.incrementing_column.empty()) {
      auto found = auto_increment_column(querier);
      if (auto* error = std::get_if<PgError>(&found)) {
        return query_failed(querier, *error, "finding the auto-increment column");
      }
      querier.incrementing_column = std::get<std::string>(found);
      if (querier.incrementing_column.empty()) {
        return Status(Errc::invalid_value,
                      "PostgreSQL source: table " + querier.table->quoted() +
                          " has no single auto-increment (serial or identity) column; name one in "
                          "incrementing.column.name");
      }
    }
    const bool limited = pg_source_uses_incrementing(settings_.mode);
    const size_t limit = rows_per_query();
    const std::string sql =
        pg_source_query(querier.base_sql, settings_.mode, querier.incrementing_column,
                        settings_.timestamp_columns, limited ? limit : 0);
    std::vector<std::optional<std::string>> params;
    if (pg_source_uses_timestamp(settings_.mode)) {
      auto bound = upper_bound_micros();
      if (auto* error = std::get_if<PgError>(&bound)) return query_failed(querier, *error, sql);
      const std::string end = pg_timestamp_text(std::get<int64_t>(bound));
      const std::string last = pg_timestamp_text(querier.timestamp_micros);
      if (settings_.mode == PgSourceMode::timestamp) {
        params = {last, end};
      } else {
        params = {end, last, std::to_string(querier.incrementing.value_or(-1))};
      }
    } else if (settings_.mode == PgSourceMode::incrementing) {
      params = {std::to_string(querier.incrementing.value_or(-1))};
    }
    auto answer = connection_->exec(sql, params);
    if (auto* error = std::get_if<PgError>(&answer)) return query_failed(querier, *error, sql);
    PgResult result = std::move(std::get<PgResult>(answer));
    if (result.rows() == 0) {
      querier.next_due = std::chrono::steady_clock::now() + settings_.poll_interval;
      return Status::ok();
    }
    if (Status described = describe(querier, result); !described) return described;
    querier.pending_was_full = limited && static_cast<size_t>(result.rows()) >= limit;
    querier.pending.emplace(std::move(result));
    querier.next_row = 0;
    return Status::ok();
  }

  Status query_failed(PgQuerier& querier, const PgError& error, const std::string& sql) {
    const std::string what = querier.table ? "table " + querier.table->quoted() : "the query";
    if (error.retriable()) {
      connection_lost(error);
      return Status::ok();
    }
    if (error.sqlstate == "42P01" && querier.table) {
      spdlog::warn("connect: PostgreSQL source: {} does not exist (yet); looking again in {} ms",
                   what, settings_.poll_interval.count());
      querier.next_due = std::chrono::steady_clock::now() + settings_.poll_interval;
      return Status::ok();
    }
    return Status(Errc::invalid_value, "PostgreSQL source: reading " + what +
                                           " failed: " + error.message + " (" + sql + ")");
  }

  // The value schema of a result's columns, rebuilt when they change.
  Status describe(PgQuerier& querier, const PgResult& result) {
    std::string signature;
    for (int column = 0; column < result.columns(); ++column) {
      signature += result.column_name(column) + '\0' + std::to_string(result.column_type(column)) +
                   '\0' + std::to_string(result.column_modifier(column)) + '\0';
    }
    if (signature == querier.columns_signature && querier.value_schema) return Status::ok();
    std::vector<std::string> not_null = not_null_columns(querier);
    SchemaBuilder builder = SchemaBuilder::structure();
    if (querier.table) builder.name(querier.table->table);
    querier.incrementing_index = -1;
    querier.timestamp_indexes.clear();
    for (int column = 0; column < result.columns(); ++column) {
      const std::string name = result.column_name(column);
      const bool required = std::find(not_null.begin(), not_null.end(), name) != not_null.end();
      builder.field(name, pg_column_schema(result.column_type(column),
                                           result.column_modifier(column), required));
      if (name == querier.incrementing_column) querier.incrementing_index = column;
      for (const std::string& timestamp : settings_.timestamp_columns) {
        if (name == timestamp) querier.timestamp_indexes.push_back(column);
      }
    }
    auto schema = builder.build();
    if (!schema.is_ok()) return schema.status();
    if (pg_source_uses_incrementing(settings_.mode) && querier.incrementing_index < 0) {
      return Status(Errc::invalid_value, "PostgreSQL source: no column " +
                                             querier.incrementing_column + " in the result");
    }
    if (pg_source_uses_timestamp(settings_.mode) && querier.timestamp_indexes.empty()) {
      return Status(Errc::invalid_value, "PostgreSQL source: no timestamp column in the result");
    }
    querier.value_schema = std::move(*schema);
    querier.fields.clear();
    for (const Field& field : querier.value_schema->fields) querier.fields.push_back(&field);
    querier.columns_signature = std::move(signature);
    return Status::ok();
  }

  // The table's NOT NULL columns (a result does not say which are); none
  // for a query.
  std::vector<std::string> not_null_columns(const PgQuerier& querier) {
    std::vector<std::string> names;
    if (!querier.table) return names;
    auto answer = connection_->exec(
        "SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 "
        "AND NOT attisdropped AND attnotnull",
        {querier.table->quoted()});
    if (auto* result = std::get_if<PgResult>(&answer)) {
      for (int row = 0; row < result->rows(); ++row) names.emplace_back(result->text(row, 0));
    }
    return names;
  }

  Result<std::vector<ConnectRecord>> hand_out(PgQuerier& querier) {
    std::vector<ConnectRecord> records;
    const PgResult& result = *querier.pending;
    const int end =
        std::min(result.rows(), querier.next_row + static_cast<int>(settings_.batch_max_rows));
    records.reserve(static_cast<size_t>(end - querier.next_row));
    for (; querier.next_row < end; ++querier.next_row) {
      auto record = row_record(querier, result, querier.next_row);
      if (!record.is_ok()) return record.status();
      records.push_back(std::move(*record));
    }
    if (querier.next_row >= result.rows()) {
      querier.pending.reset();
      const bool more = querier.pending_was_full;
      querier.next_due = std::chrono::steady_clock::now() +
                         (more ? std::chrono::milliseconds(0) : settings_.poll_interval);
    } else {
      querier.next_due = std::chrono::steady_clock::now();
    }
    return records;
  }

  Result<ConnectRecord> row_record(PgQuerier& querier, const PgResult& result, int row) {
    Struct value(querier.value_schema);
    for (size_t column = 0; column < querier.fields.size(); ++column) {
      const int index = static_cast<int>(column);
      if (result.is_null(row, index)) continue;
      const Field& field = *querier.fields[column];
      auto parsed =
          pg_value_from_text(*field.schema, result.column_type(index), result.text(row, index));
      if (!parsed.is_ok()) {
        return Status(Errc::invalid_value,
                      "PostgreSQL source: column " + field.name + ": " + parsed.status().message());
      }
      if (Status put = value.put(field, std::move(*parsed)); !put) return put;
    }
    if (Status advanced = advance_offset(querier, result, row); !advanced) return advanced;
    return make_source_record(querier.partition, offset_of(querier), querier.topic, std::nullopt,
                              nullptr, Value(), querier.value_schema, Value(std::move(value)));
  }

  Status advance_offset(PgQuerier& querier, const PgResult& result, int row) {
    if (pg_source_uses_incrementing(settings_.mode)) {
      const int index = querier.incrementing_index;
      if (result.is_null(row, index)) {
        return Status(Errc::invalid_value, "PostgreSQL source: null value in incrementing column " +
                                               querier.incrementing_column);
      }
      try {
        querier.incrementing = std::stoll(std::string(result.text(row, index)));
      } catch (const std::exception&) {
        return Status(Errc::invalid_value, "PostgreSQL source: incrementing column " +
                                               querier.incrementing_column + " is not an integer");
      }
    }
    if (pg_source_uses_timestamp(settings_.mode)) {
      for (int index : querier.timestamp_indexes) {
        if (result.is_null(row, index)) continue;
        auto micros = pg_parse_timestamp_micros(result.text(row, index));
        if (!micros) {
          return Status(Errc::invalid_value, "PostgreSQL source: cannot read timestamp \"" +
                                                 std::string(result.text(row, index)) + "\"");
        }
        querier.timestamp_micros = *micros;
        break;
      }
    }
    return Status::ok();
  }

  Map offset_of(const PgQuerier& querier) const {
    Map offset;
    if (pg_source_uses_incrementing(settings_.mode)) {
      offset.push_back({"incrementing", querier.incrementing.value_or(-1)});
    }
    if (pg_source_uses_timestamp(settings_.mode)) {
      const int64_t micros = querier.timestamp_micros;
      const int64_t second = micros / 1'000'000 - (micros % 1'000'000 < 0 ? 1 : 0);
      const int64_t sub_second_micros = micros - second * 1'000'000;
      offset.push_back({"timestamp", second * 1000 + sub_second_micros / 1000});
      offset.push_back({"timestamp_nanos", sub_second_micros * 1000});
    }
    return offset;
  }

  PgSourceSettings settings_;
  std::vector<PgQuerier> queriers_;
  std::unique_ptr<PgConnection> connection_;
  std::chrono::steady_clock::time_point reconnect_at_;
  StopSignal stop_;
};

class PgSourceConnector final : public Connector {
 public:
  ConnectorType type() const override { return ConnectorType::source; }
  std::vector<ConfigKey> config_keys() const override { return pg_source_config_keys(); }

  // With table.whitelist the tables are those named (no connection needed);
  // otherwise the database's tables are listed now, once (a table created
  // later is read after the connector restarts).
  Status start(const Properties& config) override {
    auto settings = pg_source_settings(config);
    if (!settings.is_ok()) return settings.status();
    config_ = config;
    tables_.clear();
    if (!settings->query.empty()) return Status::ok();
    if (!settings->include.empty()) {
      for (const std::string& name : settings->include) {
        auto table = pg_parse_table_name(name);
        if (!table.is_ok())
          return config_error(kPgSourceWhitelistKey, name, table.status().message());
        tables_.push_back(pg_source_qualified(std::move(*table)));
      }
      return Status::ok();
    }
    return discover(*settings);
  }

  std::vector<Properties> task_configs(int max_tasks) override {
    auto settings = pg_source_settings(config_);
    if (settings.is_ok() && !settings->query.empty()) return {config_};
    if (tables_.empty() || max_tasks < 1) return {};
    const size_t groups = std::min(tables_.size(), static_cast<size_t>(max_tasks));
    std::vector<Properties> configs;
    size_t next = 0;
    for (size_t group = 0; group < groups; ++group) {
      // ConnectorUtils.groupPartitions: the first (n % groups) get one more.
      const size_t size = tables_.size() / groups + (group < tables_.size() % groups ? 1 : 0);
      std::string names;
      for (size_t i = 0; i < size; ++i, ++next) {
        if (!names.empty()) names += ",";
        names += tables_[next].quoted();
      }
      Properties task = config_;
      task[kPgSourceTablesKey] = names;
      configs.push_back(std::move(task));
    }
    return configs;
  }

  std::unique_ptr<SourceTask> make_source_task() override {
    return std::make_unique<PgSourceTask>();
  }

 private:
  Status discover(const PgSourceSettings& settings) {
    auto opened = PgConnection::open(settings.connection);
    if (auto* error = std::get_if<PgError>(&opened)) {
      return Status(Errc::io_error, "PostgreSQL source: listing tables: " + error->message);
    }
    auto& connection = std::get<std::unique_ptr<PgConnection>>(opened);
    auto answer = connection->exec(
        "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
        "AND n.nspname NOT LIKE 'pg_toast%' AND ($1::text IS NULL OR n.nspname LIKE $1) "
        "ORDER BY 1, 2",
        {settings.schema_pattern});
    if (auto* error = std::get_if<PgError>(&answer)) {
      return Status(Errc::io_error, "PostgreSQL source: listing tables: " + error->message);
    }
    const PgResult& result = std::get<PgResult>(answer);
    for (int row = 0; row < result.rows(); ++row) {
      PgTableName table{std::string(result.text(row, 0)), std::string(result.text(row, 1))};
      if (pg_source_listed(settings.exclude, table)) continue;
      tables_.push_back(std::move(table));
    }
    if (tables_.empty()) spdlog::warn("connect: PostgreSQL source: no tables to read");
    return Status::ok();
  }

  Properties config_;
  std::vector<PgTableName> tables_;
};

}  // namespace

std::unique_ptr<Connector> make_postgres_source_connector() {
  return std::make_unique<PgSourceConnector>();
}

}  // namespace sluice::connect
