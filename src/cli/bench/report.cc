#include "cli/bench/report.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

namespace sluice::cli::bench {
namespace {

struct PercentileField {
  const char* name;
  double percentile;
};
constexpr PercentileField kPercentiles[] = {
    {"p50_ms", 50}, {"p95_ms", 95}, {"p99_ms", 99}, {"p999_ms", 99.9}};

double ms(uint64_t ns) { return static_cast<double>(ns) / 1e6; }

// Fixed notation with trailing zeros trimmed: "2000", "0.25", never "2e+06".
std::string number(double value) {
  char text[64];
  std::snprintf(text, sizeof text, "%.6f", value);
  std::string out = text;
  out.erase(out.find_last_not_of('0') + 1);
  if (out.back() == '.') out.pop_back();
  return out;
}

std::string quoted(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char escape[8];
      std::snprintf(escape, sizeof escape, "\\u%04x", c);
      out += escape;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

void append_result_fields(std::string& out, const BenchResult& result) {
  out += "\"records\":" + std::to_string(result.records);
  out += ",\"bytes\":" + std::to_string(result.bytes);
  out += ",\"seconds\":" + number(result.seconds);
  out += ",\"records_per_sec\":" + number(result.records_per_sec());
  out += ",\"mb_per_sec\":" + number(result.mb_per_sec());
  out += ",\"errors\":" + std::to_string(result.errors);
  for (const PercentileField& field : kPercentiles) {
    out += ",\"" + std::string(field.name) + "\":";
    out += result.has_latency ? number(ms(result.latency_ns.value_at_percentile(field.percentile)))
                              : "null";
  }
  out += ",\"max_ms\":";
  out += result.has_latency ? number(ms(result.latency_ns.max())) : "null";
  out += ",\"mean_ms\":";
  out += result.has_latency ? number(result.latency_ns.mean() / 1e6) : "null";
}

}  // namespace

std::string format_summary(const std::string& label, const BenchResult& result) {
  char line[512];
  std::snprintf(line, sizeof line,
                "%s: %llu records in %.3f s: %.0f records/s, %.2f MB/s (%llu errors)\n",
                label.c_str(), static_cast<unsigned long long>(result.records), result.seconds,
                result.records_per_sec(), result.mb_per_sec(),
                static_cast<unsigned long long>(result.errors));
  std::string out = line;
  if (result.has_latency && result.latency_ns.count() > 0) {
    const LatencyHistogram& h = result.latency_ns;
    std::snprintf(line, sizeof line,
                  "%s: latency ms: p50 %.3f  p95 %.3f  p99 %.3f  p99.9 %.3f  max %.3f  "
                  "mean %.3f\n",
                  label.c_str(), ms(h.value_at_percentile(50)), ms(h.value_at_percentile(95)),
                  ms(h.value_at_percentile(99)), ms(h.value_at_percentile(99.9)), ms(h.max()),
                  h.mean() / 1e6);
    out += line;
  }
  if (!result.first_error.empty()) out += label + ": first error: " + result.first_error + "\n";
  return out;
}

std::string format_json(const Report& report) {
  std::string out = "{\"mode\":" + quoted(report.mode) + ",\"target\":" + quoted(report.target) + ",";
  append_result_fields(out, report.result);
  if (report.rounds > 1) out += ",\"rounds\":" + std::to_string(report.rounds);
  if (report.mock) {
    out += ",\"mock_records_per_sec\":" + number(report.mock->records_per_sec());
    out += ",\"mock_mb_per_sec\":" + number(report.mock->mb_per_sec());
    double ratio = report.ratio_to_mock ? *report.ratio_to_mock
                   : report.mock->records_per_sec() > 0
                       ? report.result.records_per_sec() / report.mock->records_per_sec()
                       : 0;
    out += ",\"ratio_to_mock\":" + number(ratio);
    if (report.mock->has_latency) {
      out += ",\"mock_p99_ms\":" + number(ms(report.mock->latency_ns.value_at_percentile(99)));
    }
  }
  return out + "}";
}

const BenchResult& median_round(const std::vector<BenchResult>& rounds, RoundRank rank) {
  auto key = [rank](const BenchResult* round) {
    return rank == RoundRank::kLatency ? static_cast<double>(round->latency_ns.value_at_percentile(99))
                                       : round->records_per_sec();
  };
  std::vector<const BenchResult*> sorted;
  for (const BenchResult& round : rounds) sorted.push_back(&round);
  std::sort(sorted.begin(), sorted.end(),
            [&key](const BenchResult* a, const BenchResult* b) { return key(a) < key(b); });
  return *sorted[(sorted.size() - 1) / 2];
}

double median_of(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  size_t middle = values.size() / 2;
  return values.size() % 2 == 1 ? values[middle] : (values[middle - 1] + values[middle]) / 2;
}

ProgressLine::ProgressLine(std::string label, const std::atomic<uint64_t>& records, bool enabled)
    : label_(std::move(label)), records_(records) {
  if (enabled && isatty(STDERR_FILENO)) thread_ = std::thread([this] { run(); });
}

ProgressLine::~ProgressLine() {
  stop_ = true;
  if (thread_.joinable()) {
    thread_.join();
    std::fprintf(stderr, "\r\033[K");
  }
}

void ProgressLine::run() {
  using Clock = std::chrono::steady_clock;
  Clock::time_point start = Clock::now();
  Clock::time_point last = start;
  uint64_t last_records = 0;
  while (!stop_) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    Clock::time_point now = Clock::now();
    if (now - last < std::chrono::milliseconds(500)) continue;
    uint64_t records = records_.load(std::memory_order_relaxed);
    double interval_sec = std::chrono::duration<double>(now - last).count();
    std::fprintf(stderr, "\r\033[K%s: %llu records, %.0f records/s, %.1f s", label_.c_str(),
                 static_cast<unsigned long long>(records),
                 (records - last_records) / interval_sec,
                 std::chrono::duration<double>(now - start).count());
    std::fflush(stderr);
    last = now;
    last_records = records;
  }
}

}  // namespace sluice::cli::bench
