#pragma once
// `sluice bench produce | consume | e2e`: runs one workload against a broker,
// against librdkafka's in-process mock cluster (--against-mock), or both
// (--compare-mock), and prints the summary (and with --json, one JSON object
// as the last line of stdout).

#include "cli/bench/bench_options.h"

namespace sluice::cli::bench {

// Returns the process exit code: 0 when every record went through, 1 when a
// run failed or lost records, 2 for unusable options.
int run_bench(const BenchOptions& options);

}  // namespace sluice::cli::bench
