#pragma once
// Assertions that stay on in release builds. A failed SLUICE_ASSERT is a
// programmer error (a broken invariant), never an input error: input errors
// are values (see result.h).

#include <cstdio>
#include <cstdlib>

namespace sluice::detail {
[[noreturn]] inline void assertion_failed(const char* expression, const char* message,
                                          const char* file, int line) {
  std::fprintf(stderr, "sluice: assertion failed at %s:%d: %s (%s)\n", file, line, message,
               expression);
  std::abort();
}
}  // namespace sluice::detail

#define SLUICE_ASSERT(expression, message)                                            \
  do {                                                                                \
    if (!(expression)) [[unlikely]]                                                   \
      ::sluice::detail::assertion_failed(#expression, message, __FILE__, __LINE__); \
  } while (0)
