// SPDX-License-Identifier: Apache-2.0
// Float arithmetic on a core without an FPU: the compiler calls libgcc's soft-float helpers
// (__aeabi_fmul, __aeabi_f2iz), which the symbol check of the firmware tests must report.
#include "harness.hpp"

volatile float scale = 0.5f;
volatile int value = 10;

int main() {
  TSQ_FW_CHECK(static_cast<int>(scale * static_cast<float>(value)) == 5);
  return firmware::finish();
}
