# One exported model on every platform tsq runs on, compared by the digest of all its output
# bytes (FNV-1a over the test windows): x86-64 (the host check), aarch64 (the same check
# cross-compiled and run under qemu-aarch64) and the Cortex-M3 and Cortex-M0 firmware under
# qemu-system-arm. Each also compares against the host QuantizedModel's bytes itself; this test
# shows that all of them print the same digest.
#
#   cmake -DHOST_EXE=<tsq_firmware_host_<model>> -DMODEL=<model> -DMODEL_DIR=<headers>
#         -DSOURCE_DIR=<tsq> -DWORK_DIR=<dir> -DQEMU=qemu-system-arm -DELFS=<board>=<elf>;...
#         [-DAARCH64_CXX=aarch64-linux-gnu-g++ -DQEMU_AARCH64=qemu-aarch64]
#         -P tests/firmware/compare_platforms.cmake
cmake_minimum_required(VERSION 3.16)

foreach(required HOST_EXE MODEL MODEL_DIR SOURCE_DIR WORK_DIR QEMU ELFS)
  if(NOT ${required})
    message(FATAL_ERROR "compare_platforms: -D${required} is required")
  endif()
endforeach()

# The digest line of a program's output, or a fatal error naming the platform.
function(read_digest platform output result)
  if(NOT output MATCHES "output digest: ([0-9]+) over ([0-9]+) windows")
    message(FATAL_ERROR "compare_platforms: ${platform} printed no digest:\n${output}")
  endif()
  set(${result} "${CMAKE_MATCH_1}" PARENT_SCOPE)
endfunction()

set(platforms "")
set(digests "")

execute_process(COMMAND ${HOST_EXE} OUTPUT_VARIABLE output ERROR_VARIABLE output
                RESULT_VARIABLE status)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "compare_platforms: the x86-64 check failed:\n${output}")
endif()
read_digest(x86-64 "${output}" digest)
list(APPEND platforms x86-64)
list(APPEND digests ${digest})

if(AARCH64_CXX AND QEMU_AARCH64)
  file(MAKE_DIRECTORY ${WORK_DIR})
  set(exe ${WORK_DIR}/host_check_${MODEL}_aarch64)
  # Static, so that qemu-aarch64 needs no aarch64 loader or libraries.
  execute_process(
    COMMAND ${AARCH64_CXX} -std=c++17 -O2 -static -Wall -Wextra -Wpedantic -Werror
            -I${SOURCE_DIR}/include -I${MODEL_DIR}
            "-DTSQ_MODEL_HEADER=\"${MODEL}.hpp\"" "-DTSQ_TESTDATA_HEADER=\"${MODEL}_testdata.hpp\""
            -DTSQ_MODEL=${MODEL} -DTSQ_TESTDATA=${MODEL}_testdata
            ${SOURCE_DIR}/examples/firmware/host_check.cpp -o ${exe}
    OUTPUT_VARIABLE output ERROR_VARIABLE output RESULT_VARIABLE status)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "compare_platforms: the aarch64 build failed:\n${output}")
  endif()
  execute_process(COMMAND ${QEMU_AARCH64} ${exe} OUTPUT_VARIABLE output ERROR_VARIABLE output
                  RESULT_VARIABLE status TIMEOUT 120)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "compare_platforms: the aarch64 check failed:\n${output}")
  endif()
  read_digest(aarch64 "${output}" digest)
  list(APPEND platforms aarch64)
  list(APPEND digests ${digest})
else()
  message(STATUS "compare_platforms: no aarch64-linux-gnu-g++ or qemu-aarch64, aarch64 skipped")
endif()

foreach(entry IN LISTS ELFS)
  string(REPLACE "=" ";" pair "${entry}")
  list(GET pair 0 board)
  list(GET pair 1 elf)
  execute_process(
    COMMAND ${QEMU} -M ${board} -nographic -semihosting-config enable=on,target=native
            -kernel ${elf}
    INPUT_FILE /dev/null OUTPUT_VARIABLE output ERROR_VARIABLE output RESULT_VARIABLE status
    TIMEOUT 120)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "compare_platforms: ${board} ended with ${status}:\n${output}")
  endif()
  read_digest(${board} "${output}" digest)
  list(APPEND platforms ${board})
  list(APPEND digests ${digest})
endforeach()

list(GET digests 0 first)
set(same TRUE)
list(LENGTH platforms count)
math(EXPR last "${count} - 1")
foreach(i RANGE ${last})
  list(GET platforms ${i} platform)
  list(GET digests ${i} digest)
  message(STATUS "${MODEL} on ${platform}: output digest ${digest}")
  if(NOT digest STREQUAL first)
    set(same FALSE)
  endif()
endforeach()
if(NOT same)
  message(FATAL_ERROR "compare_platforms: ${MODEL}: the platforms disagree")
endif()
message(STATUS "${MODEL}: the same output bytes on all ${count} platforms")
