#pragma once
// Operating errors as values. `Status` is an error code plus a message naming
// the problem; `Result<T>` is a T or a Status. Kafka wire error codes live in
// error_code.h; `Errc` is the project-internal reason, mapped to a wire code
// by the layer that answers a request.

#include <string>
#include <utility>
#include <variant>

#include "base/assert.h"

namespace sluice {

enum class Errc {
  ok = 0,
  truncated,            // input ended before a complete value
  invalid_length,       // a negative, oversized or inconsistent length
  varint_overflow,      // a varint longer than its type allows
  unknown_api_key,      // an API key no Kafka version defines
  unsupported_version,  // an API version outside the supported range
  invalid_value,        // a value the format forbids (null where not nullable, bad magic)
  corrupt_crc,          // a checksum mismatch
  unsupported_compression,
  compression_error,  // a codec failed to compress or decompress
  io_error,
  // The file system is full (ENOSPC, EDQUOT) on a write: nothing durable was
  // lost, and the same write may succeed once space is freed. Not a lost
  // disk: storage refuses appends but keeps the dir online (managed_log.h).
  no_space,
  offset_out_of_range,  // an offset outside a log's [log start, log end] (storage)
  record_too_large,     // a batch larger than the topic's max.message.bytes (storage)
  // EMFILE/ENFILE: the process (or system) is out of file descriptors. Not a
  // failing disk: the operation may be retried once descriptors are free,
  // and it never takes a log dir offline (storage/README.md).
  too_many_open_files,
  // The metadata quorum: this node does not lead it (or lost its epoch
  // before the write was committed); the caller answers NOT_CONTROLLER.
  not_leader,
  // A read that would have waited on a device (its pages are not in the page
  // cache: preadv2 RWF_NOWAIT's EAGAIN). Nothing failed: the caller retries
  // it on a thread that may wait (storage/file_system.h, File::pread_nowait).
  would_block,
};

const char* errc_name(Errc code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Errc code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok() { return {}; }
  bool is_ok() const { return code_ == Errc::ok; }
  explicit operator bool() const { return is_ok(); }
  Errc code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string to_string() const;

 private:
  Errc code_ = Errc::ok;
  std::string message_;
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Status error) : state_(std::move(error)) {  // NOLINT(google-explicit-constructor)
    SLUICE_ASSERT(!std::get<Status>(state_).is_ok(), "a Result error must not be ok");
  }

  bool is_ok() const { return std::holds_alternative<T>(state_); }
  explicit operator bool() const { return is_ok(); }

  T& value() & {
    SLUICE_ASSERT(is_ok(), "value() of an error Result");
    return std::get<T>(state_);
  }
  const T& value() const& {
    SLUICE_ASSERT(is_ok(), "value() of an error Result");
    return std::get<T>(state_);
  }
  T&& value() && {
    SLUICE_ASSERT(is_ok(), "value() of an error Result");
    return std::get<T>(std::move(state_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Status& status() const {
    static const Status ok_status;
    return is_ok() ? ok_status : std::get<Status>(state_);
  }

 private:
  std::variant<T, Status> state_;
};

}  // namespace sluice
