// SPDX-License-Identifier: Apache-2.0
// Allocates with new and with malloc, so its link must fail: the firmware link turns every
// allocation function into an undefined __wrap_ symbol. The test firmware_no_heap_* builds it
// and expects the linker's "undefined reference to `__wrap_...'".
#include <cstdlib>

#include "harness.hpp"

int* volatile sink = nullptr;

int main() {
  sink = new int[4];
  std::free(std::malloc(16));
  return firmware::finish();
}
