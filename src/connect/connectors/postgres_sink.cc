// A PostgreSQL sink configured as Confluent's JdbcSinkConnector
// (io.confluent.connect.jdbc.JdbcSinkConnector): each record's Struct value
// becomes a row of the table `table.name.format` names (`${topic}` is the
// record's topic), written by `insert.mode`:
//
//   insert  INSERT INTO t (cols) VALUES ($1,..),($n,..)   (batch.size rows a statement)
//   upsert  the same with ON CONFLICT (key) DO UPDATE SET col=EXCLUDED.col
//   update  UPDATE t SET cols WHERE key, one row a statement
//
// The key columns come from `pk.mode`: none; kafka (__connect_topic,
// __connect_partition, __connect_offset, or the three `pk.fields`);
// record_key (the key's fields, or a primitive key as one column named by
// `pk.fields`, `__connect_key` by default); record_value (fields of the
// value). `fields.whitelist` limits the value's columns. With
// `delete.enabled` (which requires pk.mode=record_key) a tombstone deletes
// the row of its key. `auto.create` creates a missing table from the
// schemas (with the key columns as its primary key), `auto.evolve` adds
// missing columns; otherwise a missing table or column fails the task.
//
// Every put is one transaction (statements with placeholders, values as
// text parameters), so when put returns the records are committed and
// flush has nothing left to do. A lost connection (and a serialization
// failure or deadlock) rolls the transaction back and the whole put is
// tried again on a new connection, `retry.backoff.ms` apart, up to
// `max.retries` times; a statement PostgreSQL refuses fails the task with
// its message, as does a record without a Struct value and schema.

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include "connect/connectors/connectors.h"
#include "connect/connectors/postgres.h"
#include "connect/connectors/stop_signal.h"
#include "connect/errors.h"

namespace sluice::connect {
namespace {

constexpr const char* kPgSinkUrlKey = "connection.url";
constexpr const char* kPgSinkUserKey = "connection.user";
constexpr const char* kPgSinkPasswordKey = "connection.password";
constexpr const char* kPgSinkInsertModeKey = "insert.mode";
constexpr const char* kPgSinkPkModeKey = "pk.mode";
constexpr const char* kPgSinkPkFieldsKey = "pk.fields";
constexpr const char* kPgSinkFieldsWhitelistKey = "fields.whitelist";
constexpr const char* kPgSinkAutoCreateKey = "auto.create";
constexpr const char* kPgSinkAutoEvolveKey = "auto.evolve";
constexpr const char* kPgSinkTableFormatKey = "table.name.format";
constexpr const char* kPgSinkBatchSizeKey = "batch.size";
constexpr const char* kPgSinkDeleteKey = "delete.enabled";
constexpr const char* kPgSinkMaxRetriesKey = "max.retries";
constexpr const char* kPgSinkRetryBackoffKey = "retry.backoff.ms";
// PostgreSQL's limit on a statement's parameters (a 16-bit count).
constexpr size_t kPgSinkMaxParameters = 65535;
// Layouts remembered per (topic, key schema, value schema); emptied when full.
constexpr size_t kPgSinkLayoutCacheSize = 256;

ConfigValidator pg_sink_at_least(int32_t minimum) {
  return [minimum](const ConfigValue& value) -> std::optional<ConfigProblem> {
    const auto* number = std::get_if<int32_t>(&value);
    if (number && *number >= minimum) return std::nullopt;
    return ConfigProblem{"Value must be at least " + std::to_string(minimum)};
  };
}

std::vector<ConfigKey> pg_sink_config_keys() {
  return {
      {kPgSinkUrlKey, ConfigType::string, true, std::nullopt, non_empty_string()},
      {kPgSinkUserKey, ConfigType::string, false, std::nullopt, nullptr},
      {kPgSinkPasswordKey, ConfigType::string, false, std::nullopt, nullptr},
      {"connection.attempts", ConfigType::integer, false, "3", pg_sink_at_least(1)},
      {"connection.backoff.ms", ConfigType::integer, false, "10000", pg_sink_at_least(0)},
      {kPgSinkInsertModeKey, ConfigType::string, false, "insert",
       one_of_case_insensitive({"insert", "upsert", "update"})},
      {kPgSinkPkModeKey, ConfigType::string, false, "none",
       one_of_case_insensitive({"none", "kafka", "record_key", "record_value"})},
      {kPgSinkPkFieldsKey, ConfigType::list, false, "", nullptr},
      {kPgSinkFieldsWhitelistKey, ConfigType::list, false, "", nullptr},
      {kPgSinkAutoCreateKey, ConfigType::boolean, false, "false", nullptr},
      {kPgSinkAutoEvolveKey, ConfigType::boolean, false, "false", nullptr},
      {kPgSinkTableFormatKey, ConfigType::string, false, "${topic}", non_empty_string()},
      {kPgSinkBatchSizeKey, ConfigType::integer, false, "3000", pg_sink_at_least(1)},
      {kPgSinkDeleteKey, ConfigType::boolean, false, "false", nullptr},
      {kPgSinkMaxRetriesKey, ConfigType::integer, false, "10", pg_sink_at_least(0)},
      {kPgSinkRetryBackoffKey, ConfigType::integer, false, "3000", pg_sink_at_least(0)},
      {"db.timezone", ConfigType::string, false, "UTC", one_of({"UTC", "Etc/UTC", "GMT"})},
  };
}

enum class PgPkMode { none, kafka, record_key, record_value };

struct PgSinkSettings {
  std::string connector_name;
  PgConnectionSpec connection;
  PgInsertMode insert_mode = PgInsertMode::insert;
  PgPkMode pk_mode = PgPkMode::none;
  std::vector<std::string> pk_fields;
  std::vector<std::string> fields_whitelist;
  bool auto_create = false;
  bool auto_evolve = false;
  std::string table_format = "${topic}";
  size_t batch_size = 3000;
  bool delete_enabled = false;
  int32_t max_retries = 10;
  std::chrono::milliseconds retry_backoff{3000};
};

std::string pg_sink_lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

Result<PgSinkSettings> pg_sink_settings(const Properties& config) {
  auto parsed = SimpleConfig::parse(pg_sink_config_keys(), config);
  if (!parsed.is_ok()) return parsed.status();
  PgSinkSettings settings;
  if (auto name = config.find("name"); name != config.end()) settings.connector_name = name->second;
  auto connection = pg_connection_spec(*parsed->get_string(kPgSinkUrlKey),
                                       parsed->get_string(kPgSinkUserKey).value_or(""),
                                       parsed->get_string(kPgSinkPasswordKey).value_or(""));
  if (!connection.is_ok()) return connection.status();
  settings.connection = std::move(*connection);
  const std::string insert_mode = pg_sink_lower(*parsed->get_string(kPgSinkInsertModeKey));
  settings.insert_mode = insert_mode == "upsert"   ? PgInsertMode::upsert
                         : insert_mode == "update" ? PgInsertMode::update
                                                   : PgInsertMode::insert;
  const std::string pk_mode = pg_sink_lower(*parsed->get_string(kPgSinkPkModeKey));
  settings.pk_mode = pk_mode == "kafka"          ? PgPkMode::kafka
                     : pk_mode == "record_key"   ? PgPkMode::record_key
                     : pk_mode == "record_value" ? PgPkMode::record_value
                                                 : PgPkMode::none;
  settings.pk_fields = parsed->get_list(kPgSinkPkFieldsKey);
  settings.fields_whitelist = parsed->get_list(kPgSinkFieldsWhitelistKey);
  settings.auto_create = parsed->get_bool(kPgSinkAutoCreateKey);
  settings.auto_evolve = parsed->get_bool(kPgSinkAutoEvolveKey);
  settings.table_format = *parsed->get_string(kPgSinkTableFormatKey);
  settings.batch_size = static_cast<size_t>(parsed->get_int(kPgSinkBatchSizeKey));
  settings.delete_enabled = parsed->get_bool(kPgSinkDeleteKey);
  settings.max_retries = parsed->get_int(kPgSinkMaxRetriesKey);
  settings.retry_backoff = std::chrono::milliseconds(parsed->get_int(kPgSinkRetryBackoffKey));
  if (settings.delete_enabled && settings.pk_mode != PgPkMode::record_key) {
    return config_error(kPgSinkDeleteKey, "true",
                        "Primary key mode must be 'record_key' when delete support is enabled");
  }
  if (settings.insert_mode != PgInsertMode::insert && settings.pk_mode == PgPkMode::none) {
    return config_error(kPgSinkPkModeKey, "none",
                        "insert.mode " + insert_mode + " requires key columns: set pk.mode");
  }
  if (settings.pk_mode == PgPkMode::kafka && !settings.pk_fields.empty() &&
      settings.pk_fields.size() != 3) {
    return config_error(kPgSinkPkFieldsKey, "",
                        "PK mode for table is KAFKA so there should either be no field names "
                        "defined for defaults __connect_topic, __connect_partition, "
                        "__connect_offset to be used, or exactly 3");
  }
  return settings;
}

// Where a column's value comes from.
enum class PgColumnSource {
  kafka_topic,
  kafka_partition,
  kafka_offset,
  key,
  key_field,
  value_field
};

struct PgSinkColumn {
  PgColumn column;
  PgColumnSource source = PgColumnSource::value_field;
  const Field* field = nullptr;  // key_field, value_field
};

// The columns one (topic, key schema, value schema) writes: key columns
// first. `deletes` layouts hold the key columns only.
struct PgSinkLayout {
  PgTableName table;
  std::vector<PgSinkColumn> columns;
  std::vector<std::string> column_names;
  std::vector<std::string> key_names;
  bool deletes = false;
  SchemaPtr key_schema, value_schema;  // held so the cache's pointers stay unique
};

// A failure of a put: `retriable` ones are tried again on a new connection.
struct PgSinkFailure {
  std::string message;
  bool retriable = false;
};

std::string pg_sink_position(const ConnectRecord& record) {
  const auto* origin = std::get_if<SinkOrigin>(&record.origin);
  return "(topic='" + record.topic +
         "',partition=" + std::to_string(record.kafka_partition.value_or(-1)) +
         ",offset=" + std::to_string(origin ? origin->kafka_offset : -1) +
         ",timestamp=" + (record.timestamp ? std::to_string(*record.timestamp) : "null") + ")";
}

std::string pg_sink_kind(const SchemaPtr& schema, const Value& value) {
  const std::string value_kind = value.is_null() ? "null" : java_class_name(value);
  const std::string schema_kind = schema ? schema_type_name(schema->type) : "null";
  return "a " + value_kind + " value and " + schema_kind + " value schema";
}

class PgSinkTask final : public SinkTask {
 public:
  Status start(const Properties& config) override {
    auto settings = pg_sink_settings(config);
    if (!settings.is_ok()) return settings.status();
    settings_ = std::move(*settings);
    return Status::ok();
  }

  Status put(std::vector<ConnectRecord> records) override {
    if (records.empty()) return Status::ok();
    for (int32_t retry = 0;; ++retry) {
      std::optional<PgSinkFailure> failure = write(records);
      if (!failure) return Status::ok();
      if (!failure->retriable || retry >= settings_.max_retries) {
        const std::string tries =
            failure->retriable ? " (after " + std::to_string(retry) + " retries)" : "";
        return Status(failure->retriable ? Errc::io_error : Errc::invalid_value,
                      "PostgreSQL sink: " + failure->message + tries);
      }
      spdlog::warn("connect: PostgreSQL sink: {}; retrying in {} ms", failure->message,
                   settings_.retry_backoff.count());
      connection_.reset();
      tables_.clear();  // what was learnt about the tables may have been rolled back
      if (!stop_.sleep_until(std::chrono::steady_clock::now() + settings_.retry_backoff)) {
        return Status(Errc::io_error,
                      "PostgreSQL sink: " + failure->message + " (stopped while retrying)");
      }
    }
  }

  // Every put committed its own transaction.
  Status flush() override { return Status::ok(); }

  void stop() override { stop_.request(); }

 private:
  // One statement being gathered: rows of the same layout and kind.
  struct Pending {
    const PgSinkLayout* layout = nullptr;
    std::vector<std::optional<std::string>> params;
    size_t rows = 0;
    std::set<std::vector<std::optional<std::string>>> keys;  // upserts: a key once a statement
  };

  std::optional<PgSinkFailure> write(const std::vector<ConnectRecord>& records) {
    if (!connection_) {
      auto opened = PgConnection::open(settings_.connection);
      if (auto* error = std::get_if<PgError>(&opened)) return PgSinkFailure{error->message, true};
      connection_ = std::move(std::get<std::unique_ptr<PgConnection>>(opened));
    }
    // Layouts and tables first (DDL in its own transactions), then the rows.
    // The cache is emptied only here: the layouts below point into it.
    if (layouts_.size() >= kPgSinkLayoutCacheSize) layouts_.clear();
    std::vector<const PgSinkLayout*> layouts;
    layouts.reserve(records.size());
    for (const ConnectRecord& record : records) {
      auto layout = layout_of(record);
      if (!layout.is_ok()) return PgSinkFailure{layout.status().message(), false};
      if (*layout != nullptr) {
        if (auto failure = prepare_table(**layout)) return failure;
      }
      layouts.push_back(*layout);
    }
    if (auto failure = run("BEGIN", {})) return failure;
    Pending pending;
    for (size_t i = 0; i < records.size(); ++i) {
      const PgSinkLayout* layout = layouts[i];
      if (layout == nullptr || (layout->deletes && missing_tables_.count(layout->table.quoted()))) {
        continue;  // a tombstone for a table that does not exist: nothing to delete
      }
      auto failure = add_row(pending, *layout, records[i]);
      if (failure) return rollback(*failure);
    }
    if (auto failure = send(pending)) return rollback(*failure);
    if (auto failure = run("COMMIT", {})) return rollback(*failure);
    return std::nullopt;
  }

  std::optional<PgSinkFailure> rollback(PgSinkFailure failure) {
    if (connection_ && !connection_->broken()) (void)connection_->exec("ROLLBACK");
    return failure;
  }

  std::optional<PgSinkFailure> run(const std::string& sql,
                                   const std::vector<std::optional<std::string>>& params) {
    auto answer = connection_->exec(sql, params);
    if (auto* error = std::get_if<PgError>(&answer)) {
      return PgSinkFailure{
          error->message + (error->retriable() ? "" : " (" + sql.substr(0, 300) + ")"),
          error->retriable()};
    }
    return std::nullopt;
  }

  std::optional<PgSinkFailure> add_row(Pending& pending, const PgSinkLayout& layout,
                                       const ConnectRecord& record) {
    std::vector<std::optional<std::string>> row;
    row.reserve(layout.columns.size());
    for (const PgSinkColumn& column : layout.columns) {
      auto text = column_text(column, record);
      if (!text.is_ok()) {
        return PgSinkFailure{"record at " + pg_sink_position(record) + ", column " +
                                 column.column.name + ": " + text.status().message(),
                             false};
      }
      row.push_back(std::move(*text));
    }
    const bool upsert = settings_.insert_mode == PgInsertMode::upsert && !layout.deletes;
    std::vector<std::optional<std::string>> key(
        row.begin(), row.begin() + static_cast<long>(layout.key_names.size()));
    const size_t width = std::max<size_t>(1, layout.columns.size());
    const size_t most_rows = settings_.insert_mode == PgInsertMode::update && !layout.deletes
                                 ? 1
                                 : std::min(settings_.batch_size, kPgSinkMaxParameters / width);
    if (pending.layout != &layout || pending.rows >= most_rows ||
        (upsert && pending.keys.count(key))) {
      if (auto failure = send(pending)) return failure;
    }
    pending.layout = &layout;
    pending.params.insert(pending.params.end(), std::make_move_iterator(row.begin()),
                          std::make_move_iterator(row.end()));
    ++pending.rows;
    if (upsert) pending.keys.insert(std::move(key));
    return std::nullopt;
  }

  std::optional<PgSinkFailure> send(Pending& pending) {
    if (pending.rows == 0) return std::nullopt;
    const PgSinkLayout& layout = *pending.layout;
    std::string sql;
    if (layout.deletes) {
      sql = pg_delete_sql(layout.table, layout.key_names, pending.rows);
    } else if (settings_.insert_mode == PgInsertMode::update) {
      sql = pg_update_sql(layout.table, layout.column_names, layout.key_names);
      // UPDATE takes the non-key columns first, then the key.
      const size_t keys = layout.key_names.size();
      std::rotate(pending.params.begin(), pending.params.begin() + static_cast<long>(keys),
                  pending.params.end());
    } else {
      sql = pg_insert_sql(layout.table, layout.column_names, layout.key_names,
                          settings_.insert_mode, pending.rows);
    }
    auto failure = run(sql, pending.params);
    pending = Pending();
    return failure;
  }

  Result<std::optional<std::string>> column_text(const PgSinkColumn& column,
                                                 const ConnectRecord& record) const {
    using Text = std::optional<std::string>;
    const auto* origin = std::get_if<SinkOrigin>(&record.origin);
    switch (column.source) {
      case PgColumnSource::kafka_topic:
        return Text(record.topic);
      case PgColumnSource::kafka_partition:
        return Text(std::to_string(record.kafka_partition.value_or(-1)));
      case PgColumnSource::kafka_offset:
        return Text(std::to_string(origin ? origin->kafka_offset : -1));
      case PgColumnSource::key:
        return pg_value_to_text(*column.column.schema, record.key);
      case PgColumnSource::key_field:
        return pg_value_to_text(*column.column.schema, record.key.as<Struct>().get(*column.field));
      case PgColumnSource::value_field:
        return pg_value_to_text(*column.column.schema,
                                record.value.as<Struct>().get(*column.field));
    }
    return Text();
  }

  // --- layouts ---

  std::string table_name_for(const std::string& topic) const {
    std::string name = settings_.table_format;
    const std::string placeholder = "${topic}";
    for (size_t at = name.find(placeholder); at != std::string::npos;
         at = name.find(placeholder, at + topic.size())) {
      name.replace(at, placeholder.size(), topic);
    }
    return name;
  }

  // The layout a record is written with; what the settings cannot write
  // (no Struct value, no key for record_key) is refused with Confluent's message.
  Result<const PgSinkLayout*> layout_of(const ConnectRecord& record) {
    const bool tombstone = record.value.is_null();
    if (tombstone && settings_.delete_enabled) {
      if (record.key.is_null()) return data_error(requirement("a non-null key", record));
    } else if (!record.value_schema || record.value_schema->type != SchemaType::structure ||
               !record.value.is<Struct>()) {
      return data_error(requirement("a non-null Struct value and non-null Struct schema", record));
    }
    if (settings_.pk_mode == PgPkMode::record_key && (!record.key_schema || record.key.is_null())) {
      return data_error(requirement("a non-null key and key schema", record));
    }
    const auto cache_key = std::make_tuple(record.topic, record.key_schema.get(),
                                           tombstone ? nullptr : record.value_schema.get());
    if (auto found = layouts_.find(cache_key); found != layouts_.end()) return found->second.get();
    auto layout = build_layout(record, tombstone);
    if (!layout.is_ok()) return layout.status();
    auto& slot = layouts_[cache_key];
    slot = std::make_unique<PgSinkLayout>(std::move(*layout));
    return slot.get();
  }

  std::string requirement(const std::string& what, const ConnectRecord& record) const {
    return "Sink connector '" + settings_.connector_name +
           "' is configured with 'delete.enabled=" + (settings_.delete_enabled ? "true" : "false") +
           "' and 'pk.mode=" + pk_mode_name() + "' and therefore requires records with " + what +
           ", but found record at " + pg_sink_position(record) + " with " +
           pg_sink_kind(record.value_schema, record.value) + ".";
  }

  const char* pk_mode_name() const {
    switch (settings_.pk_mode) {
      case PgPkMode::none:
        return "none";
      case PgPkMode::kafka:
        return "kafka";
      case PgPkMode::record_key:
        return "record_key";
      case PgPkMode::record_value:
        return "record_value";
    }
    return "none";
  }

  Result<PgSinkLayout> build_layout(const ConnectRecord& record, bool deletes) {
    auto table = pg_parse_table_name(table_name_for(record.topic));
    if (!table.is_ok()) return table.status();
    PgSinkLayout layout;
    layout.table = std::move(*table);
    layout.deletes = deletes;
    layout.key_schema = record.key_schema;
    layout.value_schema = deletes ? nullptr : record.value_schema;
    if (Status keys = add_key_columns(layout, record); !keys) return keys;
    if (!deletes) {
      for (const Field& field : record.value_schema->fields) {
        if (is_key(layout, field.name)) continue;
        if (!settings_.fields_whitelist.empty() &&
            std::find(settings_.fields_whitelist.begin(), settings_.fields_whitelist.end(),
                      field.name) == settings_.fields_whitelist.end()) {
          continue;
        }
        layout.columns.push_back({{field.name, field.schema}, PgColumnSource::value_field, &field});
      }
    }
    for (const PgSinkColumn& column : layout.columns) {
      if (auto type = pg_sql_type(*column.column.schema); !type.is_ok()) {
        return data_error("column " + column.column.name + ": " + type.status().message());
      }
      layout.column_names.push_back(column.column.name);
    }
    if (layout.columns.empty()) return data_error("no columns to write for topic " + record.topic);
    return layout;
  }

  static bool is_key(const PgSinkLayout& layout, const std::string& name) {
    return std::find(layout.key_names.begin(), layout.key_names.end(), name) !=
           layout.key_names.end();
  }

  Status add_key_columns(PgSinkLayout& layout, const ConnectRecord& record) {
    auto add = [&layout](PgColumn column, PgColumnSource source, const Field* field) {
      layout.key_names.push_back(column.name);
      layout.columns.push_back({std::move(column), source, field});
    };
    const std::vector<std::string>& fields = settings_.pk_fields;
    switch (settings_.pk_mode) {
      case PgPkMode::none:
        return Status::ok();
      case PgPkMode::kafka:
        add({fields.empty() ? "__connect_topic" : fields[0], primitive_schema(SchemaType::string)},
            PgColumnSource::kafka_topic, nullptr);
        add({fields.empty() ? "__connect_partition" : fields[1],
             primitive_schema(SchemaType::int32)},
            PgColumnSource::kafka_partition, nullptr);
        add({fields.empty() ? "__connect_offset" : fields[2], primitive_schema(SchemaType::int64)},
            PgColumnSource::kafka_offset, nullptr);
        return Status::ok();
      case PgPkMode::record_key: {
        const Schema& key = *record.key_schema;
        if (key.type != SchemaType::structure) {
          if (fields.size() > 1) {
            return config_error(
                "Need exactly one PK column defined since the key schema for "
                "records is a primitive type, defined columns are: " +
                join(fields));
          }
          add({fields.empty() ? "__connect_key" : fields[0], record.key_schema},
              PgColumnSource::key, nullptr);
          return Status::ok();
        }
        return add_struct_keys(add, key, fields, PgColumnSource::key_field, "key");
      }
      case PgPkMode::record_value:
        return add_struct_keys(add, *record.value_schema, fields, PgColumnSource::value_field,
                               "value");
    }
    return Status::ok();
  }

  template <class Add>
  static Status add_struct_keys(Add& add, const Schema& schema,
                                const std::vector<std::string>& fields, PgColumnSource source,
                                const std::string& side) {
    if (fields.empty()) {
      for (const Field& field : schema.fields) add({field.name, field.schema}, source, &field);
      return Status::ok();
    }
    for (const std::string& name : fields) {
      const Field* field = schema.field(name);
      if (field == nullptr) {
        return config_error("PK mode for table is record_" + side + " with configured PK fields " +
                            join(fields) + ", but record " + side +
                            " schema does not contain field: " + name);
      }
      add({field->name, field->schema}, source, field);
    }
    return Status::ok();
  }

  static std::string join(const std::vector<std::string>& names) {
    std::string out = "[";
    for (size_t i = 0; i < names.size(); ++i) out += (i > 0 ? ", " : "") + names[i];
    return out + "]";
  }

  // --- tables ---

  // Makes sure the layout's table has its columns (auto.create, auto.evolve).
  std::optional<PgSinkFailure> prepare_table(const PgSinkLayout& layout) {
    const std::string name = layout.table.quoted();
    auto known = tables_.find(name);
    if (known == tables_.end()) {
      auto columns = table_columns(name);
      if (auto* failure = std::get_if<PgSinkFailure>(&columns)) return *failure;
      known = tables_.emplace(name, std::get<std::optional<std::set<std::string>>>(columns)).first;
    }
    if (!known->second) {
      if (layout.deletes) {
        missing_tables_.insert(name);
        return std::nullopt;
      }
      if (!settings_.auto_create) {
        return PgSinkFailure{"Table " + name + " is missing and auto-creation is disabled", false};
      }
      std::vector<PgColumn> columns;
      for (const PgSinkColumn& column : layout.columns) columns.push_back(column.column);
      if (auto failure = run(pg_create_table_sql(layout.table, columns, layout.key_names), {})) {
        return failure;
      }
      spdlog::info("connect: PostgreSQL sink created table {}", name);
      known->second = std::set<std::string>(layout.column_names.begin(), layout.column_names.end());
      missing_tables_.erase(name);
      return std::nullopt;
    }
    missing_tables_.erase(name);
    std::vector<const PgSinkColumn*> missing;
    for (const PgSinkColumn& column : layout.columns) {
      if (!known->second->count(column.column.name)) missing.push_back(&column);
    }
    if (missing.empty()) return std::nullopt;
    std::string names;
    for (const PgSinkColumn* column : missing)
      names += (names.empty() ? "" : ", ") + column->column.name;
    if (!settings_.auto_evolve) {
      return PgSinkFailure{
          "Table " + name + " is missing fields (" + names + ") and auto-evolution is disabled",
          false};
    }
    for (const PgSinkColumn* column : missing) {
      const Schema& schema = *column->column.schema;
      if (!schema.optional && !schema.default_value) {
        return PgSinkFailure{"Cannot ALTER TABLE " + name + " to add missing field " +
                                 column->column.name +
                                 ", as the field is not optional and does not have a default value",
                             false};
      }
      if (auto failure = run(pg_add_column_sql(layout.table, column->column), {})) return failure;
      known->second->insert(column->column.name);
    }
    spdlog::info("connect: PostgreSQL sink added column(s) {} to {}", names, name);
    return std::nullopt;
  }

  // The table's columns, or nullopt when there is no such table.
  std::variant<std::optional<std::set<std::string>>, PgSinkFailure> table_columns(
      const std::string& quoted_name) {
    auto answer = connection_->exec(
        "SELECT a.attname FROM (SELECT to_regclass($1) AS oid) t "
        "LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped "
        "WHERE t.oid IS NOT NULL",
        {quoted_name});
    if (auto* error = std::get_if<PgError>(&answer)) {
      return PgSinkFailure{error->message, error->retriable()};
    }
    const PgResult& result = std::get<PgResult>(answer);
    if (result.rows() == 0) return std::optional<std::set<std::string>>();
    std::set<std::string> columns;
    for (int row = 0; row < result.rows(); ++row) {
      if (!result.is_null(row, 0)) columns.emplace(result.text(row, 0));
    }
    return std::optional<std::set<std::string>>(std::move(columns));
  }

  PgSinkSettings settings_;
  std::unique_ptr<PgConnection> connection_;
  std::map<std::tuple<std::string, const Schema*, const Schema*>, std::unique_ptr<PgSinkLayout>>
      layouts_;
  std::map<std::string, std::optional<std::set<std::string>>> tables_;  // quoted name -> columns
  std::set<std::string> missing_tables_;
  StopSignal stop_;
};

class PgSinkConnector final : public Connector {
 public:
  ConnectorType type() const override { return ConnectorType::sink; }
  std::vector<ConfigKey> config_keys() const override { return pg_sink_config_keys(); }

  Status start(const Properties& config) override {
    auto settings = pg_sink_settings(config);
    if (!settings.is_ok()) return settings.status();
    config_ = config;
    return Status::ok();
  }

  std::vector<Properties> task_configs(int max_tasks) override {
    return std::vector<Properties>(static_cast<size_t>(std::max(0, max_tasks)), config_);
  }

  std::unique_ptr<SinkTask> make_sink_task() override { return std::make_unique<PgSinkTask>(); }

 private:
  Properties config_;
};

}  // namespace

std::unique_ptr<Connector> make_postgres_sink_connector() {
  return std::make_unique<PgSinkConnector>();
}

}  // namespace sluice::connect
