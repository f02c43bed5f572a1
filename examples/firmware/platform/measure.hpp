// SPDX-License-Identifier: Apache-2.0
// What a model needs at run time besides its flash, measured on the target: the stack below
// the caller and the arena bytes a run touches, both as high-water marks of memory painted with
// a known pattern before the run. Also the markers that bracket code for the instruction count
// of scripts/firmware-report.sh, and a loop of known length that calibrates that count.
#pragma once

#include <cstddef>
#include <cstdint>

namespace firmware {

// The current stack pointer of the calling function.
__attribute__((always_inline)) inline std::uintptr_t stack_pointer() {
  std::uintptr_t sp;
  asm volatile("mov %0, sp" : "=r"(sp));
  return sp;
}

// Paints the free stack, from the bottom of the stack region up to the caller's frame.
void paint_stack();

// Bytes below `sp` written since paint_stack() (the deepest word that lost the pattern). A
// result equal to stack_available(sp) means the stack may have overflowed.
std::size_t stack_used_below(std::uintptr_t sp);

// Bytes between the bottom of the stack region and `sp`.
std::size_t stack_available(std::uintptr_t sp);

// Size of the stack region the linker script reserves.
std::size_t stack_reserved();

void paint(unsigned char* buffer, std::size_t size, unsigned char value);

// One past the last byte of `buffer` that no longer holds `value` (0 if none changed). A run
// that writes `value` itself into its last byte is caught by measuring with two patterns.
std::size_t high_water(const unsigned char* buffer, std::size_t size, unsigned char value);

// Exactly 2 instructions per iteration (subs, bne); `iterations` >= 1. Two brackets around
// spin(n) and spin(2 n) must count exactly 2 n instructions apart.
void spin(std::uint32_t iterations);

}  // namespace firmware

// The instruction count brackets: everything executed after firmware_trace_begin returns and
// before firmware_trace_end is entered. The report finds them by name in QEMU's execution log.
extern "C" void firmware_trace_begin();
extern "C" void firmware_trace_end();
