#include "streams/dsl.h"

#include <fmt/format.h>

namespace sluice::streams {

std::string StreamsBuilder::new_processor_name(const std::string& prefix) {
  return fmt::format("{}{:010d}", prefix, index_++);
}

}  // namespace sluice::streams
