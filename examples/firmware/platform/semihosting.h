// SPDX-License-Identifier: Apache-2.0
// Arm semihosting: the debugger, here QEMU with -semihosting-config enable=on,target=native,
// carries out host calls that an M-profile core requests with BKPT 0xAB. The firmware needs
// text output, the command line (-append) and an exit code that becomes QEMU's exit status.
#pragma once

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

// SYS_WRITE0: a NUL-terminated string to the host's console.
void semihosting_write0(const char* text);

// SYS_WRITEC: one character.
void semihosting_writec(char c);

// SYS_GET_CMDLINE: the command line QEMU was given with -append (or the semihosting args), as
// a NUL-terminated string in `buffer`. Returns its length, 0 when there is none or it does
// not fit.
size_t semihosting_command_line(char* buffer, size_t capacity);

// SYS_EXIT_EXTENDED with ADP_Stopped_ApplicationExit: QEMU exits with `code` (mod 256).
__attribute__((noreturn)) void semihosting_exit(int code);

#ifdef __cplusplus
}
#endif
