# Runs a firmware program under QEMU and checks its exit status, which the program sets
# through semihosting (SYS_EXIT_EXTENDED): 0 when every check passed, 1 when one failed, 3 on
# a fault.
#
#   cmake -DQEMU=qemu-system-arm -DBOARD=mps2-an385|microbit -DELF=<program.elf>
#         [-DEXPECTED_EXIT=0] [-DEXPECTED_OUTPUT=<regex>] [-DTIMEOUT=60]
#         [-DBUILD_DIR=<dir> -DTARGET=<target>] -P tests/firmware/run_qemu.cmake
#
# With BUILD_DIR and TARGET, builds the program first (the probes are not part of `all`).
cmake_minimum_required(VERSION 3.16)

if(NOT QEMU OR NOT BOARD OR NOT ELF)
  message(FATAL_ERROR "run_qemu: -DQEMU, -DBOARD and -DELF are required")
endif()
if(NOT DEFINED EXPECTED_EXIT)
  set(EXPECTED_EXIT 0)
endif()
if(NOT TIMEOUT)
  set(TIMEOUT 60)
endif()

if(BUILD_DIR AND TARGET)
  execute_process(COMMAND ${CMAKE_COMMAND} --build ${BUILD_DIR} --target ${TARGET}
    RESULT_VARIABLE result)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "run_qemu: building ${TARGET} in ${BUILD_DIR} failed")
  endif()
endif()
if(NOT EXISTS ${ELF})
  message(FATAL_ERROR "run_qemu: ${ELF} does not exist (did the build test run?)")
endif()

# The program's output goes to QEMU's stderr; no standard input, so that QEMU leaves the
# terminal alone.
execute_process(
  COMMAND ${QEMU} -M ${BOARD} -nographic -semihosting-config enable=on,target=native
          -kernel ${ELF}
  INPUT_FILE /dev/null
  OUTPUT_VARIABLE output ERROR_VARIABLE output
  RESULT_VARIABLE result
  TIMEOUT ${TIMEOUT})
message("${output}")

if(NOT result STREQUAL "${EXPECTED_EXIT}")
  message(FATAL_ERROR "run_qemu: ${ELF} on ${BOARD} ended with '${result}', expected exit "
                      "status ${EXPECTED_EXIT} (1: a check failed, 3: a fault, 134: QEMU "
                      "aborted, e.g. on a core lockup)")
endif()
if(DEFINED EXPECTED_OUTPUT AND NOT output MATCHES "${EXPECTED_OUTPUT}")
  message(FATAL_ERROR "run_qemu: the output lacks '${EXPECTED_OUTPUT}'")
endif()
message(STATUS "run_qemu: ${BOARD}: exit status ${result} as expected")
