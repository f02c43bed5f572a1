# Bare-metal Arm Cortex-M with the GNU Arm Embedded toolchain (Debian: gcc-arm-none-eabi,
# libnewlib-arm-none-eabi, libstdc++-arm-none-eabi-newlib):
#
#   cmake -S examples/firmware -B build/fw-m0 \
#         -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/arm-none-eabi.cmake -DTSQ_FIRMWARE_CPU=cortex-m0
#
# TSQ_FIRMWARE_CPU picks -mcpu (and with it newlib's multilib); cores without an FPU get the
# soft-float ABI, so any float arithmetic left in the code shows up as __aeabi_f*/__aeabi_d*
# calls that the firmware tests look for. The flags here only describe the target; the firmware
# project adds its own (-Os, sections, no exceptions, linker script).
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR arm)

# A test executable cannot link without a startup file and a linker script.
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)

set(TSQ_FIRMWARE_CPU "cortex-m3" CACHE STRING "Arm core to compile for (-mcpu)")
set_property(CACHE TSQ_FIRMWARE_CPU PROPERTY STRINGS
  cortex-m0 cortex-m0plus cortex-m3 cortex-m4 cortex-m7 cortex-m23 cortex-m33)
# try_compile projects re-read this file; they must see the same core.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES TSQ_FIRMWARE_CPU)

find_program(TSQ_ARM_NONE_EABI_GCC arm-none-eabi-gcc)
find_program(TSQ_ARM_NONE_EABI_GXX arm-none-eabi-g++)
if(NOT TSQ_ARM_NONE_EABI_GCC OR NOT TSQ_ARM_NONE_EABI_GXX)
  message(FATAL_ERROR "arm-none-eabi-gcc/g++ not found (Debian: gcc-arm-none-eabi "
                      "libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib)")
endif()
set(CMAKE_C_COMPILER ${TSQ_ARM_NONE_EABI_GCC})
set(CMAKE_CXX_COMPILER ${TSQ_ARM_NONE_EABI_GXX})
set(CMAKE_ASM_COMPILER ${TSQ_ARM_NONE_EABI_GCC})

# -mfloat-abi=soft: also on cores with an FPU, so that the no-float check means the same thing
# everywhere (a core's hard-float build would hide float math in VFP instructions).
set(tsq_target_flags "-mcpu=${TSQ_FIRMWARE_CPU} -mthumb -mfloat-abi=soft")
set(CMAKE_C_FLAGS_INIT "${tsq_target_flags}")
set(CMAKE_CXX_FLAGS_INIT "${tsq_target_flags}")
set(CMAKE_ASM_FLAGS_INIT "${tsq_target_flags}")
# newlib-nano for the few libc functions used (memcpy, memset); nosys for stubs of the system
# calls, none of which the firmware references.
set(CMAKE_EXE_LINKER_FLAGS_INIT "${tsq_target_flags} --specs=nano.specs --specs=nosys.specs")

set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
