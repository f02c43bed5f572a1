# The SIMD tests on aarch64: tests/simd cross-compiled with aarch64-linux-gnu-g++ for ARMv8.2
# with the dot-product extension (the neon_dot path next to the scalar one) and run under
# qemu-aarch64, so that the NEON sdot kernels are checked bit for bit against the reference
# as the x86 paths are.
#
#   cmake -DCXX=aarch64-linux-gnu-g++ -DQEMU=qemu-aarch64 -DSOURCE_DIR=<tsq> -DWORK_DIR=<dir>
#         -DCATCH2_INCLUDE=<folder holding catch2/catch.hpp> -P tests/simd/aarch64_check.cmake
cmake_minimum_required(VERSION 3.16)

foreach(required CXX QEMU SOURCE_DIR WORK_DIR CATCH2_INCLUDE)
  if(NOT ${required})
    message(FATAL_ERROR "aarch64_check: -D${required} is required")
  endif()
endforeach()

file(MAKE_DIRECTORY ${WORK_DIR})
set(flags -std=c++17 -O2 -march=armv8.2-a+dotprod -Wall -Wextra -Wpedantic -Werror)
set(objects "")
# Catch2's main once (the slowest file), then the tests; static, so that qemu-aarch64 needs no
# aarch64 loader or libraries.
# Every tests/simd/simd_*_test.cpp, as tsq_simd_test has them.
file(GLOB simd_tests ${SOURCE_DIR}/tests/simd/simd_*_test.cpp)
list(SORT simd_tests)
foreach(source ${SOURCE_DIR}/tests/catch_main.cpp ${simd_tests})
  get_filename_component(name ${source} NAME_WE)
  set(object ${WORK_DIR}/${name}.o)
  # Catch2's main is compiled once per build tree; the tests every time (their headers change).
  if(NOT EXISTS ${object} OR NOT name STREQUAL "catch_main")
    execute_process(
      COMMAND ${CXX} ${flags} -I${SOURCE_DIR}/include -isystem ${CATCH2_INCLUDE} -c ${source}
              -o ${object}
      RESULT_VARIABLE status OUTPUT_VARIABLE output ERROR_VARIABLE output)
    if(NOT status EQUAL 0)
      message(FATAL_ERROR "aarch64_check: compiling ${source} failed:\n${output}")
    endif()
  endif()
  list(APPEND objects ${object})
endforeach()
set(exe ${WORK_DIR}/tsq_simd_test_aarch64)
execute_process(COMMAND ${CXX} -static ${objects} -o ${exe}
                RESULT_VARIABLE status OUTPUT_VARIABLE output ERROR_VARIABLE output)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "aarch64_check: linking failed:\n${output}")
endif()
execute_process(COMMAND ${QEMU} ${exe} RESULT_VARIABLE status OUTPUT_VARIABLE output
                ERROR_VARIABLE output TIMEOUT 600)
message("${output}")
if(NOT status EQUAL 0)
  message(FATAL_ERROR "aarch64_check: the SIMD tests failed under ${QEMU} (exit ${status})")
endif()
if(NOT output MATCHES "neon_dot")
  message(FATAL_ERROR "aarch64_check: the neon_dot path was not among the paths tested")
endif()
