#include "connect/runtime/distributed_herder.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "connect/runtime/kafka_admin.h"
#include "connect/runtime/kafka_clients.h"

namespace sluice::connect {
namespace {

using SteadyClock = std::chrono::steady_clock;
constexpr auto kReadTimeout = std::chrono::seconds(30);

RestError unknown_connector(const std::string& name) {
  return {404, "Connector " + name + " not found"};
}

RestError no_leader() {
  return {409,
          "Cannot complete request momentarily due to no known leader URL, likely because a "
          "rebalance was underway."};
}

net::GroupMember::Options group_options(const DistributedSettings& settings,
                                        const std::string& id) {
  net::GroupMember::Options options;
  options.bootstrap = net::parse_bootstrap_servers(settings.worker.bootstrap_servers);
  options.group_id = settings.group_id;
  options.client_id = "connect-" + id;
  options.protocol_type = "connect";
  options.thread_name = "connect-group";
  // Heartbeats come from the herder's loop (heartbeat()), between its work.
  options.background_heartbeat_interval = std::chrono::milliseconds(0);
  options.session_timeout = settings.session_timeout;
  options.rebalance_timeout = settings.rebalance_timeout;
  return options;
}

const ConnectorPlugin* plugin_of(const Properties& config) {
  auto it = config.find("connector.class");
  return it == config.end() ? nullptr : find_connector_plugin(it->second);
}

RestError unknown_plugin(const std::string& name, const std::string& class_name) {
  if (class_name.empty()) return {400, "Connector config " + name + " contains no connector type"};
  return {400, "Failed to find any class that implements Connector and which name matches " +
                   class_name};
}

// "http://host:port/" -> "http://host:port" (httplib's base).
std::string base_of(const std::string& url) {
  std::string base = url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base;
}

}  // namespace

DistributedHerder::DistributedHerder(DistributedSettings settings, DistributedStores stores,
                                     std::string worker_id, std::string url)
    : settings_(std::move(settings)),
      stores_(std::move(stores)),
      worker_id_(std::move(worker_id)),
      url_(std::move(url)),
      worker_(settings_.worker, *stores_.offsets, worker_id_),
      member_(group_options(settings_, worker_id_)) {
  worker_.set_status_listener(
      [this](const std::string& connector, std::optional<int> task, const StateInfo& state) {
        write_status(connector, task, state);
      });
}

DistributedHerder::~DistributedHerder() { stop(); }

Status DistributedHerder::start() {
  if (Status read = read_config_to_end(); !read) return read;
  if (Status read = stores_.offsets->read_to_end(); !read) return read;
  {
    std::lock_guard lock(mutex_);
    snapshot_.restarts.clear();  // requests of the past are done
    initial_read_done_ = true;
  }
  thread_ = std::thread([this] { run(); });
  return Status::ok();
}

void DistributedHerder::stop() {
  if (stopping_.exchange(true)) return;
  member_.cancel_waits();
  if (thread_.joinable()) thread_.join();
  worker_.stop_all();
  member_.leave("the worker is stopping");
}

std::string DistributedHerder::kafka_cluster_id() const {
  return cluster_id(client_settings(settings_.worker.properties, {}, ClientKind::admin, {}));
}

// ---- the herder's thread ----

void DistributedHerder::run() {
  while (!stopping_) {
    const auto now = SteadyClock::now();
    if (!member_.in_group() || need_rejoin_ || (rejoin_at_ && now >= *rejoin_at_)) {
      rebalance();
      continue;
    }
    if (now - last_heartbeat_ >= settings_.heartbeat_interval) {
      last_heartbeat_ = now;
      if (const ErrorCode error = member_.heartbeat(); error != ErrorCode::NONE) {
        spdlog::info("connect: heartbeat answered {}, rejoining the group", error_name(error));
        need_rejoin_ = true;
        continue;
      }
    }
    poll_config(std::chrono::milliseconds(100));
    reconcile();
  }
}

void DistributedHerder::rebalance() {
  if (Status read = read_config_to_end(); !read) {
    spdlog::warn("connect: {}", read.message());
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    return;
  }
  WorkerMetadata metadata;
  {
    std::lock_guard lock(mutex_);
    metadata.config_offset = snapshot_.offset;
  }
  metadata.url = url_;
  ConnectAssignment current;
  current.assigned = held_;
  metadata.allocation = current;
  std::vector<net::GroupMember::Protocol> protocols;
  metadata.version = kConnectProtocolSessioned;
  protocols.push_back(net::GroupMember::Protocol{"sessioned", encode_metadata(metadata)});
  metadata.version = kConnectProtocolCompatible;
  protocols.push_back(net::GroupMember::Protocol{"compatible", encode_metadata(metadata)});

  auto joined = member_.join(
      protocols,
      [this](const std::string& protocol, const std::vector<net::GroupMember::JoinedMember>& all) {
        return assign_group(protocol, all);
      });
  if (!joined.is_ok()) {
    spdlog::info("connect: joining the group failed ({}); trying again", joined.status().message());
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    return;
  }
  auto assignment = decode_assignment(joined->assignment);
  if (!assignment.is_ok()) {
    spdlog::error("connect: the leader's assignment does not decode: {}",
                  assignment.status().message());
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    return;
  }
  if (assignment->error != kAssignmentNoError) {
    spdlog::info("connect: the leader's config is ahead of ours; reading it and rejoining");
    need_rejoin_ = true;
    return;
  }
  {
    std::lock_guard lock(mutex_);
    leader_ = Leader{true, joined->leader_id == joined->member_id, assignment->leader_url};
    generation_ = joined->generation;
  }
  spdlog::info(
      "connect: joined group {} generation {} as {} (leader {}): {} connectors and {} tasks "
      "assigned, {} revoked",
      settings_.group_id, joined->generation, joined->member_id, assignment->leader_url,
      assignment->assigned.connectors.size(), assignment->assigned.tasks.size(),
      assignment->revoked.size());
  // The assignment may name work in records this worker has not read yet.
  if (Status read = read_config_to_end(); !read) spdlog::warn("connect: {}", read.message());
  apply_assignment(*assignment);
  last_heartbeat_ = SteadyClock::now();
}

std::map<std::string, std::vector<uint8_t>> DistributedHerder::assign_group(
    const std::string& protocol, const std::vector<net::GroupMember::JoinedMember>& members) {
  // The leader assigns from the newest configuration.
  if (Status read = read_config_to_end(); !read) spdlog::warn("connect: {}", read.message());
  Allocation configured;
  int64_t config_offset = -1;
  {
    std::lock_guard lock(mutex_);
    configured = snapshot_.all_work();
    config_offset = snapshot_.offset;
  }
  std::vector<AssignorMember> assignor_members;
  for (const auto& member : members) {
    AssignorMember one{member.id, {}};
    auto metadata = decode_metadata(member.metadata);
    if (metadata.is_ok() && metadata->allocation) one.held = metadata->allocation->assigned;
    assignor_members.push_back(std::move(one));
  }
  const int64_t now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now().time_since_epoch())
          .count();
  AssignorResult result =
      assign(assignor_members, configured, memory_, now_ms, settings_.max_rebalance_delay.count());
  std::map<std::string, std::vector<uint8_t>> out;
  for (const auto& member : assignor_members) {
    ConnectAssignment assignment;
    assignment.version =
        protocol == "compatible" ? kConnectProtocolCompatible : kConnectProtocolSessioned;
    assignment.leader = member_.member_id();
    assignment.leader_url = url_;
    assignment.config_offset = config_offset;
    assignment.assigned = result.assigned[member.id];
    assignment.revoked = result.revoked[member.id];
    assignment.delay_ms = result.delay_ms;
    out[member.id] = encode_assignment(assignment);
  }
  return out;
}

void DistributedHerder::apply_assignment(const ConnectAssignment& assignment) {
  // Revoked first: a task moves only after its old owner committed and
  // stopped it.
  for (const auto& id : assignment.revoked.tasks) {
    worker_.stop_task(id);
    held_.tasks.erase(id);
    started_tasks_.erase(id);
  }
  for (const auto& name : assignment.revoked.connectors) {
    worker_.stop_connector(name);
    held_.connectors.erase(name);
    started_connectors_.erase(name);
  }
  for (const auto& name : assignment.assigned.connectors) {
    held_.connectors.insert(name);
    start_connector_here(name);
  }
  for (const auto& id : assignment.assigned.tasks) {
    held_.tasks.insert(id);
    start_task_here(id);
  }
  // Members that gave something up rejoin at once: the follow-up round
  // hands it to its new owner.
  need_rejoin_ = !assignment.revoked.empty();
  rejoin_at_.reset();
  if (assignment.delay_ms > 0) {
    rejoin_at_ = SteadyClock::now() + std::chrono::milliseconds(assignment.delay_ms);
  }
  assigned_config_offset_ = assignment.config_offset;
  // Work created after the leader's snapshot is not in this assignment.
  std::lock_guard lock(mutex_);
  if (work_changed_offset_ > assigned_config_offset_) need_rejoin_ = true;
}

void DistributedHerder::start_connector_here(const std::string& name) {
  auto connector = snapshot_of(name);
  if (!connector) return;
  applied_targets_[name] = connector->target;
  if (connector->target == TargetState::stopped) {
    worker_.stop_connector(name);
    started_connectors_.erase(name);
    write_status(name, std::nullopt, StateInfo{TaskState::stopped, worker_id_, ""});
    return;
  }
  spdlog::info("connect: starting connector {}", name);
  worker_.start_connector(name, connector->config, connector->target == TargetState::paused);
  started_connectors_[name] = connector->config;
}

void DistributedHerder::start_task_here(const TaskId& id) {
  auto connector = snapshot_of(id.first);
  if (!connector || id.second < 0 || static_cast<size_t>(id.second) >= connector->tasks.size()) {
    return;
  }
  const Properties& task_config = connector->tasks[static_cast<size_t>(id.second)];
  spdlog::info("connect: starting task {}-{}", id.first, id.second);
  worker_.start_task(id, connector->config, task_config, connector->target == TargetState::paused);
  started_tasks_[id] = {connector->config, task_config};
}

// Brings what runs here in line with the config topic: changed configs
// restart, target states pause, resume or stop, and a change in the set of
// connectors or tasks starts a rebalance.
void DistributedHerder::reconcile() {
  std::vector<RestartRequest> restarts;
  {
    std::lock_guard lock(mutex_);
    restarts.swap(snapshot_.restarts);
    if (config_version_ == reconciled_version_ && restarts.empty()) return;
    reconciled_version_ = config_version_;
    if (work_changed_offset_ > assigned_config_offset_) need_rejoin_ = true;
  }
  for (const std::string& name : std::set<std::string>(held_.connectors)) {
    auto connector = snapshot_of(name);
    if (!connector) {
      worker_.stop_connector(name);  // deleted: the rebalance revokes it
      started_connectors_.erase(name);
      continue;
    }
    auto started = started_connectors_.find(name);
    const bool target_changed = applied_targets_[name] != connector->target;
    if (connector->target == TargetState::stopped) {
      if (target_changed || started != started_connectors_.end()) start_connector_here(name);
      continue;
    }
    if (started == started_connectors_.end() || started->second != connector->config) {
      start_connector_here(name);
    } else if (target_changed) {
      applied_targets_[name] = connector->target;
      worker_.set_paused(name, connector->target == TargetState::paused);
    }
  }
  for (const TaskId& id : std::set<TaskId>(held_.tasks)) {
    auto connector = snapshot_of(id.first);
    if (!connector || static_cast<size_t>(id.second) >= connector->tasks.size()) {
      worker_.stop_task(id);
      started_tasks_.erase(id);
      continue;
    }
    auto started = started_tasks_.find(id);
    const Properties& task_config = connector->tasks[static_cast<size_t>(id.second)];
    if (started == started_tasks_.end() || started->second.first != connector->config ||
        started->second.second != task_config) {
      start_task_here(id);
    } else if (!held_.connectors.contains(id.first)) {
      // The connector runs elsewhere: its target state still applies here.
      worker_.set_paused(id.first, connector->target == TargetState::paused);
    }
  }
  handle_restarts(restarts);
}

void DistributedHerder::handle_restarts(const std::vector<RestartRequest>& restarts) {
  for (const RestartRequest& request : restarts) {
    read_statuses();
    std::map<std::string, StateInfo> statuses;
    {
      std::lock_guard lock(status_mutex_);
      statuses = statuses_;
    }
    auto failed = [&](const std::string& key) {
      auto it = statuses.find(key);
      return it != statuses.end() && it->second.state == TaskState::failed;
    };
    if (held_.connectors.contains(request.connector) &&
        (!request.only_failed || failed(status_key(request.connector, std::nullopt)))) {
      start_connector_here(request.connector);
    }
    if (!request.include_tasks) continue;
    for (const TaskId& id : held_.tasks) {
      if (id.first != request.connector) continue;
      if (request.only_failed && !failed(status_key(id.first, id.second))) continue;
      start_task_here(id);
    }
  }
}

void DistributedHerder::write_status(const std::string& connector, std::optional<int> task,
                                     const StateInfo& state) {
  int32_t generation = -1;
  {
    std::lock_guard lock(mutex_);
    generation = generation_;
  }
  stores_.writer->send(settings_.status_topic, status_key(connector, task),
                       status_value(state, generation));
}

// ---- the topics ----

void DistributedHerder::apply_config_record(int64_t offset, const std::string& key,
                                            const std::optional<std::string>& value) {
  std::lock_guard lock(mutex_);
  snapshot_.apply(key, value);
  snapshot_.offset = offset;
  ++config_version_;
  // Connectors and task counts change only with these records (a stop
  // writes a commit of no tasks).
  if (key.starts_with("connector-") || key.starts_with("commit-")) work_changed_offset_ = offset;
}

Status DistributedHerder::read_config_to_end() {
  std::lock_guard lock(config_read_mutex_);
  return stores_.config->read_to_end(
      [this](int64_t offset, const std::string& key, const std::optional<std::string>& value) {
        apply_config_record(offset, key, value);
      },
      kReadTimeout);
}

void DistributedHerder::poll_config(std::chrono::milliseconds max_wait) {
  std::lock_guard lock(config_read_mutex_);
  (void)stores_.config->poll(max_wait, [this](int64_t offset, const std::string& key,
                                              const std::optional<std::string>& value) {
    apply_config_record(offset, key, value);
  });
}

void DistributedHerder::read_statuses() {
  std::lock_guard lock(status_mutex_);
  Status read = stores_.status->read_to_end(
      [this](int64_t, const std::string& key, const std::optional<std::string>& value) {
        if (!value) {
          statuses_.erase(key);
          return;
        }
        if (auto state = parse_status_value(*value)) statuses_[key] = *state;
      },
      kReadTimeout);
  if (!read) spdlog::warn("connect: {}", read.message());
}

std::optional<ConnectorSnapshot> DistributedHerder::snapshot_of(const std::string& name) {
  std::lock_guard lock(mutex_);
  const ConnectorSnapshot* connector = snapshot_.find(name);
  if (connector == nullptr) return std::nullopt;
  return *connector;
}

// ---- REST ----

DistributedHerder::Leader DistributedHerder::leader() const {
  std::lock_guard lock(mutex_);
  return leader_;
}

RestStatus DistributedHerder::write_config(
    const std::vector<std::pair<std::string, std::optional<std::string>>>& records) {
  auto written = stores_.writer->write(settings_.config_topic, records);
  if (!written.is_ok()) return RestError{500, written.status().message()};
  // Shown only once read back.
  const auto deadline = SteadyClock::now() + kReadTimeout;
  while (SteadyClock::now() < deadline) {
    {
      std::lock_guard lock(mutex_);
      if (snapshot_.offset >= *written) return std::nullopt;
    }
    poll_config(std::chrono::milliseconds(50));
  }
  return RestError{500, "the configuration was written but not read back in time"};
}

RestResult<int> DistributedHerder::forward(const std::string& base_url, const std::string& method,
                                           const std::string& path, const std::string& body) {
  httplib::Client client(base_of(base_url));
  client.set_connection_timeout(std::chrono::seconds(5));
  client.set_read_timeout(std::chrono::seconds(90));
  httplib::Result result = method == "POST"     ? client.Post(path, body, "application/json")
                           : method == "PUT"    ? client.Put(path, body, "application/json")
                           : method == "DELETE" ? client.Delete(path)
                                                : client.Get(path);
  if (!result) {
    return RestError{
        500, "IO Error trying to forward REST request: " + httplib::to_string(result.error())};
  }
  if (result->status >= 400) {
    auto json = nlohmann::json::parse(result->body, nullptr, false);
    std::string message = result->body;
    if (json.is_object() && json.contains("message") && json["message"].is_string()) {
      message = json["message"];
    }
    return RestError{result->status, message};
  }
  return result->status;
}

RestResult<int> DistributedHerder::forward_to_leader(const std::string& method,
                                                     const std::string& path,
                                                     const std::string& body) {
  const Leader now = leader();
  if (!now.known || now.url.empty()) return no_leader();
  auto answer = forward(now.url, method, path, body);
  // The leader wrote it: read it here too before answering.
  if (std::holds_alternative<int>(answer)) (void)read_config_to_end();
  return answer;
}

std::vector<std::string> DistributedHerder::connectors() {
  std::lock_guard lock(mutex_);
  std::vector<std::string> names;
  for (const auto& [name, connector] : snapshot_.connectors()) names.push_back(name);
  return names;
}

RestResult<ConnectorInfo> DistributedHerder::connector_info(const std::string& name) {
  auto connector = snapshot_of(name);
  if (!connector) return unknown_connector(name);
  const ConnectorPlugin* plugin = plugin_of(connector->config);
  return ConnectorInfo{name, connector->config, static_cast<int>(connector->tasks.size()),
                       plugin ? plugin->type : ConnectorType::source};
}

std::vector<Properties> DistributedHerder::generate_task_configs(const Properties& config) {
  const ConnectorPlugin* plugin = plugin_of(config);
  if (plugin == nullptr) return {};
  std::unique_ptr<Connector> connector = plugin->make();
  if (Status started = connector->start(config); !started) {
    spdlog::warn("connect: connector {} cannot make task configurations: {}", config.at("name"),
                 started.message());
    return {};
  }
  std::vector<Properties> tasks = connector->task_configs(tasks_max_of(config));
  connector->stop();
  return tasks;
}

RestResult<PutResult> DistributedHerder::put_connector_config(const std::string& name,
                                                              const Properties& given,
                                                              bool allow_replace) {
  Properties config = given;
  config["name"] = name;
  const std::string class_name =
      config.contains("connector.class") ? config.at("connector.class") : "";
  const ConnectorPlugin* plugin = find_connector_plugin(class_name);
  if (plugin == nullptr) return unknown_plugin(name, class_name);
  ConfigInfos infos = validate_connector_config(*plugin, config);
  if (infos.error_count > 0) return RestError{400, invalid_config_message(infos)};

  if (!leader().me) {
    nlohmann::json body = nlohmann::json::object();
    for (const auto& [key, value] : given) body[key] = value;
    auto answer = allow_replace
                      ? forward_to_leader("PUT", "/connectors/" + name + "/config", body.dump())
                      : forward_to_leader("POST", "/connectors",
                                          nlohmann::json{{"name", name}, {"config", body}}.dump());
    if (const auto* error = std::get_if<RestError>(&answer)) return *error;
    auto info = connector_info(name);
    if (const auto* error = std::get_if<RestError>(&info)) return *error;
    return PutResult{std::get<int>(answer) == 201, std::get<ConnectorInfo>(info)};
  }

  std::lock_guard write_lock(write_mutex_);
  if (Status read = read_config_to_end(); !read) return RestError{500, read.message()};
  auto existing = snapshot_of(name);
  if (existing && !allow_replace) return RestError{409, "Connector " + name + " already exists"};
  const TargetState target = existing ? existing->target : TargetState::started;
  std::vector<std::pair<std::string, std::optional<std::string>>> records;
  records.emplace_back(connector_config_key(name), properties_value(config));
  const std::vector<Properties> tasks =
      target == TargetState::stopped ? std::vector<Properties>{} : generate_task_configs(config);
  for (size_t i = 0; i < tasks.size(); ++i) {
    records.emplace_back(task_config_key(name, static_cast<int>(i)), properties_value(tasks[i]));
  }
  records.emplace_back(commit_tasks_key(name), commit_tasks_value(static_cast<int>(tasks.size())));
  if (auto error = write_config(records)) return *error;
  spdlog::info("connect: connector {} {}", name, existing ? "reconfigured" : "created");
  auto info = connector_info(name);
  if (const auto* error = std::get_if<RestError>(&info)) return *error;
  return PutResult{!existing, std::get<ConnectorInfo>(info)};
}

RestStatus DistributedHerder::delete_connector(const std::string& name) {
  if (!leader().me) {
    auto answer = forward_to_leader("DELETE", "/connectors/" + name, "");
    if (const auto* error = std::get_if<RestError>(&answer)) return *error;
    return std::nullopt;
  }
  std::lock_guard write_lock(write_mutex_);
  (void)read_config_to_end();
  auto existing = snapshot_of(name);
  if (!existing) return unknown_connector(name);
  if (auto error = write_config(
          {{connector_config_key(name), std::nullopt}, {target_state_key(name), std::nullopt}})) {
    return *error;
  }
  // The statuses go with it (Kafka's tombstones).
  stores_.writer->send(settings_.status_topic, status_key(name, std::nullopt), std::nullopt);
  for (size_t i = 0; i < existing->tasks.size(); ++i) {
    stores_.writer->send(settings_.status_topic, status_key(name, static_cast<int>(i)),
                         std::nullopt);
  }
  spdlog::info("connect: connector {} deleted", name);
  return std::nullopt;
}

ConnectorStatus DistributedHerder::status_of(const std::string& name,
                                             const ConnectorSnapshot& connector) {
  ConnectorStatus status;
  status.name = name;
  const ConnectorPlugin* plugin = plugin_of(connector.config);
  status.type = plugin ? plugin->type : ConnectorType::source;
  std::lock_guard lock(status_mutex_);
  auto state_of = [&](const std::string& key) {
    auto it = statuses_.find(key);
    return it == statuses_.end() ? StateInfo{} : it->second;
  };
  status.connector = state_of(status_key(name, std::nullopt));
  if (connector.target == TargetState::stopped) status.connector.state = TaskState::stopped;
  for (size_t i = 0; i < connector.tasks.size(); ++i) {
    const int id = static_cast<int>(i);
    status.tasks.push_back(TaskStatus{id, state_of(status_key(name, id))});
  }
  return status;
}

RestResult<ConnectorStatus> DistributedHerder::connector_status(const std::string& name) {
  auto connector = snapshot_of(name);
  if (!connector) return unknown_connector(name);
  read_statuses();
  return status_of(name, *connector);
}

RestResult<std::vector<TaskInfo>> DistributedHerder::task_configs(const std::string& name) {
  auto connector = snapshot_of(name);
  if (!connector) return unknown_connector(name);
  std::vector<TaskInfo> tasks;
  for (size_t i = 0; i < connector->tasks.size(); ++i) {
    tasks.push_back(TaskInfo{static_cast<int>(i), connector->tasks[i]});
  }
  return tasks;
}

RestStatus DistributedHerder::change_target(const std::string& name, TargetState target,
                                            const char* verb) {
  if (!leader().me) {
    auto answer = forward_to_leader("PUT", "/connectors/" + name + "/" + verb, "");
    if (const auto* error = std::get_if<RestError>(&answer)) return *error;
    return std::nullopt;
  }
  std::lock_guard write_lock(write_mutex_);
  (void)read_config_to_end();
  auto existing = snapshot_of(name);
  if (!existing) return unknown_connector(name);
  // Kafka: pausing a stopped connector leaves it stopped.
  if (target == TargetState::paused && existing->target == TargetState::stopped)
    return std::nullopt;
  std::vector<std::pair<std::string, std::optional<std::string>>> records;
  if (target == TargetState::stopped) {
    // A stopped connector has no tasks (Kafka writes an empty task set).
    records.emplace_back(commit_tasks_key(name), commit_tasks_value(0));
  } else if (existing->target == TargetState::stopped) {
    const std::vector<Properties> tasks = generate_task_configs(existing->config);
    for (size_t i = 0; i < tasks.size(); ++i) {
      records.emplace_back(task_config_key(name, static_cast<int>(i)), properties_value(tasks[i]));
    }
    records.emplace_back(commit_tasks_key(name),
                         commit_tasks_value(static_cast<int>(tasks.size())));
  }
  records.emplace_back(target_state_key(name), target_state_value(target));
  if (auto error = write_config(records)) return *error;
  return std::nullopt;
}

RestStatus DistributedHerder::pause_connector(const std::string& name) {
  return change_target(name, TargetState::paused, "pause");
}
RestStatus DistributedHerder::resume_connector(const std::string& name) {
  return change_target(name, TargetState::started, "resume");
}
RestStatus DistributedHerder::stop_connector(const std::string& name) {
  return change_target(name, TargetState::stopped, "stop");
}

RestResult<ConnectorStatus> DistributedHerder::restart_connector(const std::string& name,
                                                                 bool include_tasks,
                                                                 bool only_failed) {
  auto connector = snapshot_of(name);
  if (!connector) return unknown_connector(name);
  read_statuses();
  ConnectorStatus plan = status_of(name, *connector);
  if (connector->target == TargetState::stopped) return plan;
  if (!leader().me) {
    const std::string path = "/connectors/" + name +
                             "/restart?includeTasks=" + (include_tasks ? "true" : "false") +
                             "&onlyFailed=" + (only_failed ? "true" : "false");
    auto answer = forward_to_leader("POST", path, "");
    if (const auto* error = std::get_if<RestError>(&answer)) return *error;
  } else {
    std::lock_guard write_lock(write_mutex_);
    if (auto error = write_config({{restart_key(name), restart_value(include_tasks, only_failed)}}))
      return *error;
  }
  // Kafka's RestartPlan: what restarts shows RESTARTING in the answer.
  if (!only_failed || plan.connector.state == TaskState::failed) {
    plan.connector.state = TaskState::restarting;
  }
  for (TaskStatus& task : plan.tasks) {
    if (include_tasks && (!only_failed || task.state.state == TaskState::failed)) {
      task.state.state = TaskState::restarting;
    }
  }
  return plan;
}

RestStatus DistributedHerder::restart_task(const std::string& name, int task) {
  auto connector = snapshot_of(name);
  if (!connector) return unknown_connector(name);
  if (task < 0 || static_cast<size_t>(task) >= connector->tasks.size()) {
    return RestError{404, "Task " + name + "-" + std::to_string(task) + " not found"};
  }
  read_statuses();
  std::string owner;
  {
    std::lock_guard lock(status_mutex_);
    if (auto it = statuses_.find(status_key(name, task)); it != statuses_.end())
      owner = it->second.worker_id;
  }
  if (owner == worker_id_ && worker_.has_task({name, task})) {
    worker_.start_task({name, task}, connector->config, connector->tasks[static_cast<size_t>(task)],
                       connector->target == TargetState::paused);
    return std::nullopt;
  }
  if (owner.empty() || owner == worker_id_) {
    return RestError{409,
                     "Cannot complete request because of a conflicting operation (e.g. worker "
                     "rebalance)"};
  }
  // Kafka forwards to the worker that runs the task.
  auto answer = forward("http://" + owner + "/", "POST",
                        "/connectors/" + name + "/tasks/" + std::to_string(task) + "/restart", "");
  if (const auto* error = std::get_if<RestError>(&answer)) return *error;
  return std::nullopt;
}

RestResult<std::vector<ConnectorOffset>> DistributedHerder::connector_offsets(
    const std::string& name) {
  auto connector = snapshot_of(name);
  if (!connector) return unknown_connector(name);
  const ConnectorPlugin* plugin = plugin_of(connector->config);
  if (plugin != nullptr && plugin->type == ConnectorType::sink) {
    auto offsets =
        list_group_offsets(client_settings(settings_.worker.properties, {}, ClientKind::admin, {}),
                           sink_group_id(name));
    if (!offsets.is_ok()) return RestError{500, offsets.status().message()};
    return std::move(*offsets);
  }
  std::vector<ConnectorOffset> offsets;
  for (const auto& [key, value] : stores_.offsets->entries_of(name)) {
    auto parsed_key = parse_offset_key(key);
    auto parsed_value = parse_offset_value(value);
    if (!parsed_key || !parsed_value) continue;
    offsets.push_back(ConnectorOffset{parsed_key->source_partition, *parsed_value});
  }
  return offsets;
}

RestStatus DistributedHerder::alter_connector_offsets(const std::string& name,
                                                      const std::vector<ConnectorOffset>& offsets) {
  auto connector = snapshot_of(name);
  if (!connector) return unknown_connector(name);
  if (connector->target != TargetState::stopped) {
    return RestError{400,
                     "Connectors must be in the STOPPED state before their offsets can be "
                     "modified. This can be done for the specified connector by issuing a "
                     "'PUT' request to the '/connectors/" +
                         name + "/stop' endpoint"};
  }
  const ConnectorPlugin* plugin = plugin_of(connector->config);
  const Properties admin = client_settings(settings_.worker.properties, {}, ClientKind::admin, {});
  if (plugin != nullptr && plugin->type == ConnectorType::sink) {
    Status done = offsets.empty() ? reset_group_offsets(admin, sink_group_id(name))
                                  : alter_group_offsets(admin, sink_group_id(name), offsets);
    if (!done) return RestError{done.code() == Errc::invalid_value ? 400 : 500, done.message()};
    return std::nullopt;
  }
  std::vector<std::pair<std::string, std::optional<std::string>>> batch;
  if (offsets.empty()) {
    for (const auto& [key, value] : stores_.offsets->entries_of(name))
      batch.emplace_back(key, std::nullopt);
  }
  for (const ConnectorOffset& offset : offsets) {
    batch.emplace_back(offset_key(name, offset.partition),
                       offset.offset ? std::optional(offset_value(*offset.offset)) : std::nullopt);
  }
  if (Status stored = stores_.offsets->put(batch); !stored) {
    return RestError{500, stored.message()};
  }
  return std::nullopt;
}

RestStatus DistributedHerder::reset_connector_offsets(const std::string& name) {
  return alter_connector_offsets(name, {});
}

RestResult<ConfigInfos> DistributedHerder::validate(const std::string& plugin_class,
                                                    const Properties& config) {
  return validate_plugin_config(plugin_class, config);
}

}  // namespace sluice::connect
