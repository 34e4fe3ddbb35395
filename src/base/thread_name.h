#pragma once
// Names the calling thread (pthread_setname_np; at most 15 characters are
// kept) so top -H, perf and strace -f show which of Sluice's threads did
// what: reactor-N, flusher, flush-N, scheduler, cleaner-N, delayed-ops.

#include <pthread.h>

#include <string>

namespace sluice {

inline void set_current_thread_name(const std::string& name) {
  ::pthread_setname_np(::pthread_self(), name.substr(0, 15).c_str());
}

}  // namespace sluice
