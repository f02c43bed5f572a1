// SPDX-License-Identifier: Apache-2.0
#include "semihosting.h"

#include <stdint.h>

enum {
  kSysWriteC = 0x03,
  kSysWrite0 = 0x04,
  kSysGetCmdline = 0x15,
  kSysExit = 0x18,
  kSysExitExtended = 0x20,
};

// The reasons of SYS_EXIT; only ApplicationExit carries an exit code.
#define ADP_STOPPED_APPLICATION_EXIT 0x20026u
#define ADP_STOPPED_RUN_TIME_ERROR_UNKNOWN 0x20023u

// The operation goes in r0 and its argument (a value or the address of a parameter block) in
// r1; the result comes back in r0. "memory": the host reads and writes the blocks.
static uintptr_t semihosting_call(uintptr_t operation, const void* argument) {
  register uintptr_t r0 __asm__("r0") = operation;
  register const void* r1 __asm__("r1") = argument;
  __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}

void semihosting_write0(const char* text) { semihosting_call(kSysWrite0, text); }

void semihosting_writec(char c) { semihosting_call(kSysWriteC, &c); }

size_t semihosting_command_line(char* buffer, size_t capacity) {
  if (capacity == 0) return 0;
  // In: the buffer and its size; out: the length of the command line written to it.
  uintptr_t block[2] = {(uintptr_t)buffer, capacity};
  if (semihosting_call(kSysGetCmdline, block) != 0) {
    buffer[0] = '\0';
    return 0;
  }
  return block[1];
}

void semihosting_exit(int code) {
  const uintptr_t block[2] = {ADP_STOPPED_APPLICATION_EXIT, (uintptr_t)code};
  semihosting_call(kSysExitExtended, block);
  // A host without SYS_EXIT_EXTENDED returns here. Plain SYS_EXIT still tells success from
  // failure: QEMU exits with 0 for ApplicationExit and 1 for any other reason.
  semihosting_call(kSysExit,
                   (const void*)(uintptr_t)(code == 0 ? ADP_STOPPED_APPLICATION_EXIT
                                                      : ADP_STOPPED_RUN_TIME_ERROR_UNKNOWN));
  for (;;) {
  }
}
