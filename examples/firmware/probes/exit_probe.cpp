// SPDX-License-Identifier: Apache-2.0
// One passing and one failing check: QEMU must end with exit status 1 and the output must name
// the failing line. The firmware tests run it to show that a failing check on the target
// fails the test (the exit code travels through semihosting's SYS_EXIT_EXTENDED).
#include "harness.hpp"

int main() {
  TSQ_FW_CHECK(1 + 1 == 2);
  TSQ_FW_CHECK_EQ(2 + 2, 5);
  return firmware::finish();
}
