// SPDX-License-Identifier: Apache-2.0
// Reset and fault entry of the Cortex-M firmware: the vector table at the start of flash, a
// reset handler that lays out RAM (.data copied from flash, .bss zeroed) and calls main, and a
// fault handler that reports where the core stopped instead of leaving the test to its timeout.
//
// No constructors run: the linker script refuses any .init_array entry, so every global of the
// model and the harness must be constant-initialized (constexpr or zero) and is ready here.
// Written in C because C++ forbids calling main.
#include <stdint.h>
#include <string.h>

#include "semihosting.h"

// From the linker script.
extern uint32_t __data_load[];
extern uint32_t __data_start[];
extern uint32_t __data_end[];
extern uint32_t __bss_start[];
extern uint32_t __bss_end[];
extern uint32_t __stack_limit[];
extern uint32_t __stack_top[];

int main(void);

// Exit status of a program stopped by a fault (a failing check gives 1).
enum { kFaultExitCode = 3 };

_Noreturn void Reset_Handler(void) {
  // memcpy and memset touch neither .data nor .bss, so they are safe before both exist.
  memcpy(__data_start, __data_load, (size_t)((char*)__data_end - (char*)__data_start));
  memset(__bss_start, 0, (size_t)((char*)__bss_end - (char*)__bss_start));
  semihosting_exit(main());
}

static void write_hex(uint32_t value) {
  char text[11] = "0x";
  for (int i = 0; i < 8; ++i) {
    const uint32_t digit = (value >> (28 - 4 * i)) & 0xFu;
    text[2 + i] = (char)(digit < 10 ? '0' + digit : 'a' + digit - 10);
  }
  text[10] = '\0';
  semihosting_write0(text);
}

// The core pushed r0-r3, r12, lr, pc, xPSR on the stack it was using (the main stack: the
// firmware never switches to the process stack), unless that stack had overflowed.
void firmware_report_fault(const uint32_t* frame, uint32_t exception) {
  semihosting_write0("\nfault: exception ");
  write_hex(exception);
  if (frame < __stack_limit) {
    semihosting_write0(", stack overflow: sp ");
    write_hex((uint32_t)(uintptr_t)frame);
    semihosting_write0(" is below the stack region (raise TSQ_FIRMWARE_STACK_BYTES)\n");
  } else {
    semihosting_write0(" at pc ");
    write_hex(frame[6]);
    semihosting_write0(", lr ");
    write_hex(frame[5]);
    semihosting_write0("\n");
  }
  semihosting_exit(kFaultExitCode);
}

// The stack of the fault report: the fault may be a stack overflow (and a second fault inside
// a HardFault handler locks the core up), and the frame on the main stack must stay intact.
__attribute__((aligned(8))) uint32_t firmware_fault_stack[64];

// Every exception but reset: hands the stacked frame and the exception number to the report.
__attribute__((naked)) void Fault_Handler(void) {
  __asm__ volatile(
      "mrs r0, msp\n"
      "mrs r1, ipsr\n"
      "ldr r2, =firmware_fault_stack + 256\n"
      "mov sp, r2\n"
      "ldr r2, =firmware_report_fault\n"
      "bx r2\n"
      ".ltorg\n");
}

typedef void (*Handler)(void);

// The 16 system exceptions of ARMv6-M and ARMv7-M; no interrupt is ever enabled, so the
// device-specific vectors that follow on a real board are not needed.
struct VectorTable {
  uint32_t* initial_stack_pointer;
  Handler handlers[15];  // reset, then exceptions 2..15; 0 marks a reserved slot
};

__attribute__((section(".vectors"), used)) const struct VectorTable firmware_vector_table = {
    __stack_top,
    {
        Reset_Handler,
        Fault_Handler,  // NMI
        Fault_Handler,  // HardFault
        Fault_Handler,  // MemManage (ARMv7-M)
        Fault_Handler,  // BusFault (ARMv7-M)
        Fault_Handler,  // UsageFault (ARMv7-M)
        0, 0, 0, 0,
        Fault_Handler,  // SVCall
        Fault_Handler,  // DebugMonitor (ARMv7-M)
        0,
        Fault_Handler,  // PendSV
        Fault_Handler,  // SysTick
    },
};
