#pragma once
// Per-API request metrics (Kafka's RequestMetrics): requests, errors and the
// latency from a request's arrival to its answer, labelled by API name.
// The series of every served API are created once, on first use, and found
// by API key with an index: nothing is looked up by name per request.
//
//   sluice_requests_total{api}             requests dispatched to a handler
//   sluice_request_errors_total{api}       answers carrying an error (a top-level
//                                          error code, a per-partition error of
//                                          Produce/Fetch, a closed connection)
//   sluice_request_duration_seconds{api}   arrival to answer, parked time included
//                                          (a long-poll Fetch waits up to max.wait.ms)

#include <cstdint>

#include "base/metrics.h"

namespace sluice::broker {

struct ApiMetrics {
  metrics::Counter& requests;
  metrics::Counter& errors;
  metrics::Histogram& latency;
};

// The metrics of `api_key`; nullptr for a key the broker does not serve.
const ApiMetrics* api_metrics(int16_t api_key);

}  // namespace sluice::broker
