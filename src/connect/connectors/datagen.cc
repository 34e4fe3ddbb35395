// A data generator for demos, configured as Confluent's kafka-connect-datagen
// (io.confluent.kafka.connect.datagen.DatagenConnector): `kafka.topic`,
// `quickstart`, `max.interval`, `iterations`, `schema.keyfield`,
// `random.seed`, the task's `task.id`, and its offsets. The quickstarts are
// built in (clickstream, clickstream_users, pageviews, users, with datagen's
// field names); records are Structs with their schema, so JsonConverter writes
// its schema envelope, and the key is a STRING.
//
// Reproducibility: the generator's whole state is one 64-bit number
// (splitmix64), stored in each record's offset as datagen stores its seed,
// so a restarted task continues the very sequence it was producing and its
// iteration count. With `random.seed` two runs produce the same values
// (timestamps aside: they are the wall clock, for live demos).

#include <time.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <climits>
#include <cstdio>
#include <random>
#include <string_view>

#include "connect/connectors/connectors.h"
#include "connect/connectors/stop_signal.h"
#include "connect/errors.h"

namespace sluice::connect {
namespace {

constexpr const char* kDatagenTopicKey = "kafka.topic";
constexpr const char* kDatagenMaxIntervalKey = "max.interval";
constexpr const char* kDatagenIterationsKey = "iterations";
constexpr const char* kDatagenSchemaStringKey = "schema.string";
constexpr const char* kDatagenSchemaFilenameKey = "schema.filename";
constexpr const char* kDatagenKeyFieldKey = "schema.keyfield";
constexpr const char* kDatagenQuickstartKey = "quickstart";
constexpr const char* kDatagenRandomSeedKey = "random.seed";
// Datagen's task setting and offset fields.
constexpr const char* kDatagenTaskIdKey = "task.id";
constexpr const char* kDatagenGenerationField = "task.generation";
constexpr const char* kDatagenIterationField = "current.iteration";
constexpr const char* kDatagenSeedField = "random.seed";
// With max.interval=0 a poll hands out at most this many records, so the
// runtime gets to produce and commit between batches.
constexpr size_t kDatagenBatchMax = 1000;

// splitmix64: a small generator whose state is its only value, which is what
// lets an offset hold it. Bounded draws use modulo (a bias far below what a
// demo can show).
class DatagenRandom {
 public:
  explicit DatagenRandom(uint64_t state) : state_(state) {}
  uint64_t next() {
    state_ += 0x9e3779b97f4a7c15ULL;
    uint64_t mixed = state_;
    mixed = (mixed ^ (mixed >> 30)) * 0xbf58476d1ce4e5b9ULL;
    mixed = (mixed ^ (mixed >> 27)) * 0x94d049bb133111ebULL;
    return mixed ^ (mixed >> 31);
  }
  // Uniform in [low, high].
  int64_t between(int64_t low, int64_t high) {
    const uint64_t span = static_cast<uint64_t>(high - low) + 1;
    return low + static_cast<int64_t>(next() % span);
  }
  template <size_t N>
  std::string_view pick(const std::array<std::string_view, N>& choices) {
    return choices[static_cast<size_t>(between(0, N - 1))];
  }
  uint64_t state() const { return state_; }

 private:
  uint64_t state_;
};

// ---- quickstarts -----------------------------------------------------------

SchemaPtr datagen_string() { return primitive_schema(SchemaType::string); }
SchemaPtr datagen_int32() { return primitive_schema(SchemaType::int32); }
SchemaPtr datagen_int64() { return primitive_schema(SchemaType::int64); }

void datagen_put(Struct& row, std::string_view field, Value value) {
  Status put = row.put(field, std::move(value));
  SLUICE_ASSERT(put.is_ok(), "a datagen quickstart's value does not match its own schema");
}

std::string numbered(std::string_view prefix, int64_t number) {
  return std::string(prefix) + std::to_string(number);
}

// Apache's access log time ("10/Jun/2024:13:55:36 +0000"), as clickstream's
// `time` field holds it.
std::string apache_log_time(int64_t now_ms) {
  const time_t seconds = static_cast<time_t>(now_ms / 1000);
  struct tm utc {};
  gmtime_r(&seconds, &utc);
  static constexpr std::array<std::string_view, 12> kMonths = {
      "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  char text[40];
  std::snprintf(text, sizeof text, "%02d/%s/%04d:%02d:%02d:%02d +0000", utc.tm_mday,
                kMonths[static_cast<size_t>(utc.tm_mon)].data(), utc.tm_year + 1900, utc.tm_hour,
                utc.tm_min, utc.tm_sec);
  return text;
}

// Web server hits: who (ip, userid), what (request, status, bytes), where
// from (referrer) and with what (agent), and when (time, _time in ms).
SchemaPtr clickstream_schema() {
  static const SchemaPtr schema = SchemaBuilder::structure()
                                      .name("ksql.clickstream")
                                      .field("ip", datagen_string())
                                      .field("userid", datagen_int32())
                                      .field("remote_user", datagen_string())
                                      .field("time", datagen_string())
                                      .field("_time", datagen_int64())
                                      .field("request", datagen_string())
                                      .field("status", datagen_string())
                                      .field("bytes", datagen_string())
                                      .field("referrer", datagen_string())
                                      .field("agent", datagen_string())
                                      .build_or_die();
  return schema;
}

Struct clickstream_row(DatagenRandom& random, int64_t now_ms, int64_t /*iteration*/) {
  static constexpr std::array<std::string_view, 10> kPages = {
      "/index.html",        "/site/login.html",    "/site/user_status.html", "/site/products.html",
      "/site/cart.html",    "/site/checkout.html", "/images/logo.png",       "/images/track.png",
      "/site/article.html", "/site/search.html"};
  static constexpr std::array<std::string_view, 8> kStatuses = {"200", "200", "200", "200",
                                                                "302", "404", "405", "406"};
  static constexpr std::array<std::string_view, 5> kReferrers = {
      "-", "-", "https://www.google.com/", "https://www.confluent.io/",
      "https://kafka.apache.org/"};
  static constexpr std::array<std::string_view, 4> kAgents = {
      "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 "
      "Safari/537.36",
      "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/605.1.15 (KHTML, like Gecko) "
      "Version/17.2 Safari/605.1.15",
      "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
      "curl/8.5.0"};
  Struct row(clickstream_schema());
  datagen_put(row, "ip", "111.152.45." + std::to_string(random.between(1, 254)));
  datagen_put(row, "userid", static_cast<int32_t>(random.between(1, 40)));
  datagen_put(row, "remote_user", "-");
  datagen_put(row, "time", apache_log_time(now_ms));
  datagen_put(row, "_time", now_ms);
  datagen_put(row, "request", "GET " + std::string(random.pick(kPages)) + " HTTP/1.1");
  datagen_put(row, "status", std::string(random.pick(kStatuses)));
  datagen_put(row, "bytes", std::to_string(random.between(100, 14000)));
  datagen_put(row, "referrer", std::string(random.pick(kReferrers)));
  datagen_put(row, "agent", std::string(random.pick(kAgents)));
  return row;
}

SchemaPtr pageviews_schema() {
  static const SchemaPtr schema = SchemaBuilder::structure()
                                      .name("ksql.pageviews")
                                      .field("viewtime", datagen_int64())
                                      .field("userid", datagen_string())
                                      .field("pageid", datagen_string())
                                      .build_or_die();
  return schema;
}

Struct pageviews_row(DatagenRandom& random, int64_t now_ms, int64_t /*iteration*/) {
  Struct row(pageviews_schema());
  datagen_put(row, "viewtime", now_ms);
  datagen_put(row, "userid", numbered("User_", random.between(1, 9)));
  datagen_put(row, "pageid", numbered("Page_", random.between(1, 99)));
  return row;
}

SchemaPtr users_schema() {
  static const SchemaPtr schema = SchemaBuilder::structure()
                                      .name("ksql.users")
                                      .field("registertime", datagen_int64())
                                      .field("userid", datagen_string())
                                      .field("regionid", datagen_string())
                                      .field("gender", datagen_string())
                                      .build_or_die();
  return schema;
}

Struct users_row(DatagenRandom& random, int64_t /*now_ms*/, int64_t /*iteration*/) {
  static constexpr std::array<std::string_view, 3> kGenders = {"MALE", "FEMALE", "OTHER"};
  Struct row(users_schema());
  // Datagen's range of registration times (2017-02 to 2018-02): fixed, so a
  // seeded run repeats them.
  datagen_put(row, "registertime", random.between(1487715775521, 1519273364600));
  datagen_put(row, "userid", numbered("User_", random.between(1, 9)));
  datagen_put(row, "regionid", numbered("Region_", random.between(1, 9)));
  datagen_put(row, "gender", std::string(random.pick(kGenders)));
  return row;
}

// The users of the clickstream's web site (datagen's clickstream_users, the
// table its ksqlDB demo joins the clicks with): who (user_id, username and
// name), since when (registered_at) and what (city, level). Datagen counts
// user_id up from 1 without end; here it cycles through the clickstream's
// user ids (1 to kClickstreamUsers), so the first records describe every
// user who clicks and later ones update them (a user moves, changes level).
// The name is the user id's own, so an update keeps it.
constexpr int64_t kClickstreamUsers = 40;

SchemaPtr clickstream_users_schema() {
  static const SchemaPtr schema = SchemaBuilder::structure()
                                      .name("ksql.clickstream_users")
                                      .field("user_id", datagen_int32())
                                      .field("username", datagen_string())
                                      .field("registered_at", datagen_int64())
                                      .field("first_name", datagen_string())
                                      .field("last_name", datagen_string())
                                      .field("city", datagen_string())
                                      .field("level", datagen_string())
                                      .build_or_die();
  return schema;
}

Struct clickstream_users_row(DatagenRandom& random, int64_t /*now_ms*/, int64_t iteration) {
  static constexpr std::array<std::string_view, 10> kFirstNames = {
      "Ada", "Ben", "Chloe", "Dev", "Elif", "Farid", "Greta", "Hugo", "Ines", "Jonas"};
  static constexpr std::array<std::string_view, 8> kLastNames = {
      "Moreau", "Okafor", "Lindqvist", "Tanaka", "Rossi", "Novak", "Silva", "Byrne"};
  static constexpr std::array<std::string_view, 6> kCities = {
      "Frankfurt", "San Francisco", "London", "Raleigh", "Palo Alto", "New York"};
  static constexpr std::array<std::string_view, 3> kLevels = {"Gold", "Silver", "Platinum"};
  const int64_t user_id = 1 + iteration % kClickstreamUsers;
  // Users 10 apart share a first name and get last names 3 apart (mod 8):
  // the 40 users have 40 different names.
  const auto first = kFirstNames[static_cast<size_t>(user_id % 10)];
  const auto last = kLastNames[static_cast<size_t>((user_id / 10 + user_id) % 8)];
  Struct row(clickstream_users_schema());
  datagen_put(row, "user_id", static_cast<int32_t>(user_id));
  datagen_put(row, "username", std::string(first) + "_" + std::string(last));
  datagen_put(row, "registered_at", random.between(1407645330000, 1502339792000));
  datagen_put(row, "first_name", std::string(first));
  datagen_put(row, "last_name", std::string(last));
  datagen_put(row, "city", std::string(random.pick(kCities)));
  datagen_put(row, "level", std::string(random.pick(kLevels)));
  return row;
}

struct Quickstart {
  std::string_view name;
  // Datagen keys clickstream by ip and pageviews by viewtime; every
  // quickstart here is keyed by its user, which is what joins and
  // per-user aggregations in a demo need.
  std::string_view key_field;
  SchemaPtr (*schema)();
  // `iteration`: how many records the task made before this one.
  Struct (*row)(DatagenRandom& random, int64_t now_ms, int64_t iteration);
};

constexpr std::array<Quickstart, 4> kQuickstarts = {{
    {"clickstream", "userid", clickstream_schema, clickstream_row},
    {"clickstream_users", "user_id", clickstream_users_schema, clickstream_users_row},
    {"pageviews", "userid", pageviews_schema, pageviews_row},
    {"users", "userid", users_schema, users_row},
}};

const Quickstart* find_quickstart(std::string_view name) {
  for (const Quickstart& quickstart : kQuickstarts) {
    if (quickstart.name.size() != name.size()) continue;
    // Datagen upper-cases the setting to find its enum: any case matches.
    if (std::equal(
            name.begin(), name.end(), quickstart.name.begin(),
            [](unsigned char a, unsigned char b) { return std::tolower(a) == std::tolower(b); })) {
      return &quickstart;
    }
  }
  return nullptr;
}

// ---- configuration ---------------------------------------------------------

std::optional<int64_t> parse_long(std::string_view text) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

// random.seed is a LONG in datagen; our ConfigDef has no 64-bit type, so it
// is a string checked with Kafka's message for a LONG that does not parse.
ConfigValidator datagen_long_or_null() {
  return [](const ConfigValue& value) -> std::optional<ConfigProblem> {
    const auto* text = std::get_if<std::string>(&value);
    if (text == nullptr || parse_long(*text)) return std::nullopt;
    return ConfigProblem{"Not a number of type LONG"};
  };
}

ConfigValidator datagen_quickstart_name() {
  return [](const ConfigValue& value) -> std::optional<ConfigProblem> {
    const auto* text = std::get_if<std::string>(&value);
    if (text == nullptr || text->empty() || find_quickstart(*text)) return std::nullopt;
    return ConfigProblem{
        "Unknown quickstart; this datagen has: clickstream, clickstream_users, pageviews, users"};
  };
}

// Datagen also reads an Avro schema (schema.string, schema.filename); this
// one generates its quickstarts only, so those keys are refused when set.
ConfigValidator datagen_unsupported_schema_source() {
  return [](const ConfigValue& value) -> std::optional<ConfigProblem> {
    const auto* text = std::get_if<std::string>(&value);
    if (text == nullptr || text->empty()) return std::nullopt;
    return ConfigProblem{"Avro schemas are not supported; use quickstart"};
  };
}

std::vector<ConfigKey> datagen_config_keys() {
  return {
      {kDatagenTopicKey, ConfigType::string, true, std::nullopt, nullptr},
      {kDatagenMaxIntervalKey, ConfigType::integer, false, "500", nullptr},
      {kDatagenIterationsKey, ConfigType::integer, false, "-1", nullptr},
      {kDatagenSchemaStringKey, ConfigType::string, false, "", datagen_unsupported_schema_source()},
      {kDatagenSchemaFilenameKey, ConfigType::string, false, "",
       datagen_unsupported_schema_source()},
      {kDatagenKeyFieldKey, ConfigType::string, false, "", nullptr},
      {kDatagenQuickstartKey, ConfigType::string, false, "", datagen_quickstart_name()},
      {kDatagenRandomSeedKey, ConfigType::string, false, std::nullopt, datagen_long_or_null()},
  };
}

// Datagen's DatagenConnector.validate message when no schema source is set.
constexpr const char* kDatagenSchemaSourceError =
    "Must set exactly one of schema.string, schema.filename, quickstart";

Result<SimpleConfig> parse_datagen_config(const Properties& config) {
  auto parsed = SimpleConfig::parse(datagen_config_keys(), config);
  if (!parsed.is_ok()) return parsed.status();
  if (parsed->get_string(kDatagenQuickstartKey).value_or("").empty()) {
    return config_error(kDatagenSchemaSourceError);
  }
  return parsed;
}

// ---- the task --------------------------------------------------------------

int64_t datagen_wall_clock_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::optional<int64_t> datagen_integer(const Map& offset, std::string_view field) {
  const Value* value = map_find(offset, field);
  if (value == nullptr) return std::nullopt;
  if (value->is<int64_t>()) return value->as<int64_t>();
  if (value->is<int32_t>()) return value->as<int32_t>();
  return std::nullopt;
}

class DatagenTask final : public SourceTask {
 public:
  Status start(const Properties& config, OffsetReader& offsets) override {
    auto parsed = parse_datagen_config(config);
    if (!parsed.is_ok()) return parsed.status();
    if (Status read = read_settings(*parsed, config); !read) return read;
    seed_random(*parsed);
    restore(offsets);
    next_due_ = std::chrono::steady_clock::now();
    return Status::ok();
  }

  // The records due by now; waits (in steps stop() cuts short) up to
  // `max_wait` for the next one. After `iterations` records, only waits.
  Result<std::vector<ConnectRecord>> poll(std::chrono::milliseconds max_wait) override {
    const auto deadline = std::chrono::steady_clock::now() + max_wait;
    std::vector<ConnectRecord> records;
    while (!stop_.requested()) {
      const auto now = std::chrono::steady_clock::now();
      if (!finished() && now >= next_due_) {
        records.push_back(generate());
        next_due_ = now + next_delay();
        if (records.size() >= kDatagenBatchMax) break;
        continue;
      }
      if (!records.empty() || now >= deadline) break;
      stop_.sleep_until(finished() ? deadline : std::min(deadline, next_due_));
    }
    return records;
  }

  void stop() override { stop_.request(); }

 private:
  Status read_settings(const SimpleConfig& parsed, const Properties& config) {
    topic_ = parsed.get_string(kDatagenTopicKey).value_or("");
    max_interval_ms_ = std::max(0, parsed.get_int(kDatagenMaxIntervalKey));
    iterations_ = parsed.get_int(kDatagenIterationsKey);
    quickstart_ = find_quickstart(parsed.get_string(kDatagenQuickstartKey).value_or(""));
    SLUICE_ASSERT(quickstart_ != nullptr, "parse_datagen_config let an unknown quickstart by");
    key_field_ = parsed.get_string(kDatagenKeyFieldKey).value_or("");
    if (key_field_.empty()) key_field_ = quickstart_->key_field;
    if (quickstart_->schema()->field(key_field_) == nullptr) {
      return config_error(kDatagenKeyFieldKey, key_field_,
                          "no such field in quickstart " + std::string(quickstart_->name));
    }
    // The connector sets task.id; a task started without one is task 0.
    auto task_id = config.find(kDatagenTaskIdKey);
    if (task_id == config.end()) return Status::ok();
    std::optional<int64_t> id = parse_long(task_id->second);
    if (!id || *id < 0 || *id > INT32_MAX) {
      return config_error(kDatagenTaskIdKey, task_id->second, "not a task number");
    }
    task_id_ = static_cast<int32_t>(*id);
    return Status::ok();
  }

  // With a seed, each task draws its own sequence from it (datagen reseeds
  // once per task id), so tasks differ and runs repeat.
  void seed_random(const SimpleConfig& parsed) {
    std::optional<std::string> seed = parsed.get_string(kDatagenRandomSeedKey);
    if (!seed) {
      std::random_device entropy;
      random_ = DatagenRandom((uint64_t{entropy()} << 32) ^ entropy());
      return;
    }
    random_ = DatagenRandom(static_cast<uint64_t>(*parse_long(*seed)));
    for (int32_t i = 0; i < task_id_; ++i) random_ = DatagenRandom(random_.next());
  }

  // The stored offset is the state after the last record Kafka has: the
  // next generation, iteration and generator state, as datagen stores it.
  void restore(OffsetReader& offsets) {
    std::optional<Map> stored = offsets.offset(source_partition());
    if (!stored) return;
    std::optional<int64_t> generation = datagen_integer(*stored, kDatagenGenerationField);
    std::optional<int64_t> iteration = datagen_integer(*stored, kDatagenIterationField);
    std::optional<int64_t> seed = datagen_integer(*stored, kDatagenSeedField);
    if (!generation || !iteration || !seed) return;
    generation_ = *generation;
    count_ = *iteration;
    random_ = DatagenRandom(static_cast<uint64_t>(*seed));
  }

  bool finished() const { return iterations_ > 0 && count_ >= iterations_; }

  // Datagen sleeps a uniform [0, max.interval) before each record; the
  // timing draws use their own generator so the data does not depend on it.
  std::chrono::milliseconds next_delay() {
    if (max_interval_ms_ == 0) return std::chrono::milliseconds(0);
    std::uniform_int_distribution<int32_t> delay(0, max_interval_ms_ - 1);
    return std::chrono::milliseconds(delay(timing_));
  }

  Map source_partition() const { return Map{MapEntry{Value(kDatagenTaskIdKey), Value(task_id_)}}; }

  ConnectRecord generate() {
    const int64_t now_ms = datagen_wall_clock_ms();
    Struct row = quickstart_->row(random_, now_ms, count_);
    const Field* key_field = quickstart_->schema()->field(key_field_);
    std::string key = row.get(*key_field).to_string();
    Map offset{MapEntry{Value(kDatagenGenerationField), Value(generation_ + 1)},
               MapEntry{Value(kDatagenIterationField), Value(count_ + 1)},
               MapEntry{Value(kDatagenSeedField), Value(static_cast<int64_t>(random_.state()))}};
    ConnectRecord record = make_source_record(source_partition(), std::move(offset), topic_,
                                              std::nullopt, datagen_string(), Value(std::move(key)),
                                              quickstart_->schema(), Value(std::move(row)), now_ms);
    record.headers = {{kDatagenGenerationField, datagen_int64(), Value(generation_)},
                      {kDatagenTaskIdKey, datagen_int64(), Value(int64_t{task_id_})},
                      {kDatagenIterationField, datagen_int64(), Value(count_)}};
    ++count_;
    return record;
  }

  std::string topic_;
  int32_t max_interval_ms_ = 500;
  int32_t iterations_ = -1;  // less than 1: no end
  const Quickstart* quickstart_ = nullptr;
  std::string key_field_;
  int32_t task_id_ = 0;
  int64_t generation_ = 0;
  int64_t count_ = 0;  // records generated by this task over all its runs
  DatagenRandom random_{0};
  std::minstd_rand timing_{std::random_device{}()};
  std::chrono::steady_clock::time_point next_due_;
  StopSignal stop_;
};

class DatagenConnector final : public Connector {
 public:
  ConnectorType type() const override { return ConnectorType::source; }
  std::vector<ConfigKey> config_keys() const override { return datagen_config_keys(); }

  Status start(const Properties& config) override {
    auto parsed = parse_datagen_config(config);
    if (!parsed.is_ok()) return parsed.status();
    config_ = config;
    return Status::ok();
  }

  // As datagen: tasks.max tasks, each with its task.id; each generates
  // `iterations` records of its own.
  std::vector<Properties> task_configs(int max_tasks) override {
    std::vector<Properties> configs;
    for (int id = 0; id < max_tasks; ++id) {
      Properties task = config_;
      task[kDatagenTaskIdKey] = std::to_string(id);
      configs.push_back(std::move(task));
    }
    return configs;
  }

  std::unique_ptr<SourceTask> make_source_task() override {
    return std::make_unique<DatagenTask>();
  }

 private:
  Properties config_;
};

}  // namespace

std::unique_ptr<Connector> make_datagen_connector() { return std::make_unique<DatagenConnector>(); }

}  // namespace sluice::connect
