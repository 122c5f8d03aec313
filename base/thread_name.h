// Names the calling thread, so `top -H`, `ps -L`, perf and gdb show what it
// does ("sl-plan", "sl-decode-1"). Linux keeps 15 bytes; longer names are
// cut. Best effort: a failure changes nothing else.
#pragma once

#include <pthread.h>

#include <string>
#include <string_view>

namespace sluice {

inline void SetThreadName(std::string_view name) {
  if (name.empty()) return;
  std::string n(name.substr(0, 15));
  (void)pthread_setname_np(pthread_self(), n.c_str());
}

}  // namespace sluice
