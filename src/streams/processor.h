#pragma once
// The Processor API (Kafka's org.apache.kafka.streams.processor.api): a
// processor gets records one at a time, forwards records to its children,
// reads and writes the state stores connected to it, and schedules
// punctuators on stream time or wall-clock time.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "streams/record.h"
#include "streams/store.h"

namespace sluice::streams {

// A topology that cannot run as built (unknown parent, types that do not
// connect, a store no processor may use): Kafka's TopologyException.
class TopologyError : public std::logic_error {
 public:
  explicit TopologyError(const std::string& message)
      : std::logic_error("Invalid topology: " + message) {}
};

// Kafka's StreamsException: processing cannot go on (a failed processor,
// a record the handler refused).
class StreamsError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class PunctuationType {
  stream_time,      // advances with the records' timestamps
  wall_clock_time,  // the system clock (the driver's mock clock in tests)
};

using Punctuator = std::function<void(int64_t timestamp)>;

class Cancellable {
 public:
  explicit Cancellable(std::shared_ptr<bool> cancelled) : cancelled_(std::move(cancelled)) {}
  void cancel() { *cancelled_ = true; }

 private:
  std::shared_ptr<bool> cancelled_;
};

// What every processor's context offers, whatever it forwards.
class ProcessingContext {
 public:
  virtual ~ProcessingContext() = default;
  virtual const std::string& application_id() const = 0;
  // "<subtopology>_<partition>", as Kafka names tasks.
  virtual const std::string& task_id() const = 0;
  // The record being processed; nullopt inside a punctuation.
  virtual std::optional<RecordMetadata> record_metadata() const = 0;
  virtual int64_t current_stream_time_ms() const = 0;
  virtual int64_t current_system_time_ms() const = 0;
  // The first punctuation on stream time comes with the first record (the
  // schedule is aligned to 0), on wall-clock time after one interval.
  virtual Cancellable schedule(std::chrono::milliseconds interval, PunctuationType type,
                               Punctuator punctuator) = 0;
  // A store connected to this processor, or TopologyError.
  virtual StateStore& state_store(const std::string& name) = 0;

  // The typed store: `context.get_state_store<KeyValueStore<K, V>>("counts")`.
  template <class Store>
  Store& get_state_store(const std::string& name) {
    auto* typed = dynamic_cast<Store*>(&state_store(name));
    if (typed == nullptr) {
      throw TopologyError("state store " + name + " is not of the type the processor asks for");
    }
    return *typed;
  }
};

template <class KOut, class VOut>
class ProcessorContext : public ProcessingContext {
 public:
  // To every child, or to the child named `child` only.
  virtual void forward(const Record<KOut, VOut>& record) = 0;
  virtual void forward(const Record<KOut, VOut>& record, const std::string& child) = 0;
};

template <class KIn, class VIn, class KOut, class VOut>
class Processor {
 public:
  using KeyIn = KIn;
  using ValueIn = VIn;
  using KeyOut = KOut;
  using ValueOut = VOut;
  virtual ~Processor() = default;
  // The context outlives the processor; keep a reference.
  virtual void init(ProcessorContext<KOut, VOut>& context) { (void)context; }
  virtual void process(const Record<KIn, VIn>& record) = 0;
  virtual void close() {}
};

// Makes a new processor for each task (Kafka's ProcessorSupplier).
template <class KIn, class VIn, class KOut, class VOut>
using ProcessorSupplier = std::function<std::unique_ptr<Processor<KIn, VIn, KOut, VOut>>()>;

}  // namespace sluice::streams
