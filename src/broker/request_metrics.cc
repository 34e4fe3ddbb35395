#include "broker/request_metrics.h"

#include <memory>
#include <vector>

#include "broker/handlers.h"
#include "protocol/api.h"

namespace sluice::broker {
namespace {

std::vector<std::unique_ptr<ApiMetrics>> make_table() {
  metrics::Registry& registry = metrics::default_registry();
  auto& requests = registry.counter_family("sluice_requests_total", "Requests dispatched, by API.", {"api"});
  auto& errors = registry.counter_family("sluice_request_errors_total", "Requests answered with an error, by API.",
                                         {"api"});
  auto& latency = registry.histogram_family("sluice_request_duration_seconds",
                                            "Time from a request's arrival to its answer, by API.", {"api"},
                                            metrics::latency_buckets_seconds());
  std::vector<std::unique_ptr<ApiMetrics>> table;
  for (const ApiHandler& handler : api_handlers()) {
    const protocol::ApiInfo* api = protocol::find_api(handler.api_key);
    std::string name = api != nullptr ? api->name : std::to_string(handler.api_key);
    size_t index = static_cast<size_t>(handler.api_key);
    if (table.size() <= index) table.resize(index + 1);
    table[index] = std::make_unique<ApiMetrics>(
        ApiMetrics{requests.labels({name}), errors.labels({name}), latency.labels({name})});
  }
  return table;
}

}  // namespace

const ApiMetrics* api_metrics(int16_t api_key) {
  static const std::vector<std::unique_ptr<ApiMetrics>> table = make_table();
  if (api_key < 0 || static_cast<size_t>(api_key) >= table.size()) return nullptr;
  return table[static_cast<size_t>(api_key)].get();
}

}  // namespace sluice::broker
