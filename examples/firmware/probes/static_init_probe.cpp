// SPDX-License-Identifier: Apache-2.0
// A global that needs a constructor at startup, which the firmware never runs: the linker
// script refuses the .init_array entry, so the link must fail. The test
// firmware_probe_<board>_static_init builds it and expects the linker script's message.
#include "harness.hpp"

struct Counter {
  Counter() : value(firmware::checks_run() + 1) {}
  std::uint32_t value;
};

Counter counter;

int main() {
  TSQ_FW_CHECK(counter.value == 1);
  return firmware::finish();
}
