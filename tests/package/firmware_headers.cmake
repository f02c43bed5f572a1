# Compiles every header under include/tsq/{core,quant,tensor}/ (recursively, globbed when the
# script runs, so new headers are covered without re-configuring) on its own for a Cortex-M0:
#
#   cmake [-DCOMPILER=arm-none-eabi-g++] [-DSOURCE_DIR=<tsq source tree>] [-DWORK_DIR=<dir>]
#         -P tests/package/firmware_headers.cmake
#
# Each header gets a one-line .cpp that includes it (twice, to check its include guard), compiled
# with -c -std=c++17 -mcpu=cortex-m0 -mthumb -fno-exceptions -fno-rtti -Wall -Wextra -Wpedantic
# -Werror against newlib's libstdc++. These folders must stay usable on a microcontroller; a
# header that needs Eigen, xsimd or other host-only code belongs elsewhere.
cmake_minimum_required(VERSION 3.16)

if(NOT COMPILER)
  find_program(COMPILER arm-none-eabi-g++)
  if(NOT COMPILER)
    message(FATAL_ERROR "firmware_headers: arm-none-eabi-g++ not found (Debian: gcc-arm-none-eabi "
                        "libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib)")
  endif()
endif()
if(NOT SOURCE_DIR)
  get_filename_component(SOURCE_DIR "${CMAKE_CURRENT_LIST_DIR}/../.." ABSOLUTE)
endif()
if(NOT WORK_DIR)
  set(WORK_DIR "${SOURCE_DIR}/build-firmware-headers")
endif()
set(FOLDERS core quant tensor kernels/reference kernels/mcu)
set(FLAGS -std=c++17 -mcpu=cortex-m0 -mthumb -fno-exceptions -fno-rtti
          -Wall -Wextra -Wpedantic -Werror)

set(include_dir "${SOURCE_DIR}/include")
set(headers "")
foreach(folder IN LISTS FOLDERS)
  file(GLOB_RECURSE found RELATIVE "${include_dir}" "${include_dir}/tsq/${folder}/*.hpp"
       "${include_dir}/tsq/${folder}/*.h")
  list(APPEND headers ${found})
endforeach()
list(SORT headers)
list(LENGTH headers header_count)
if(header_count EQUAL 0)
  message(FATAL_ERROR "firmware_headers: no headers found under ${include_dir}/tsq/{core,quant,tensor}")
endif()

file(REMOVE_RECURSE "${WORK_DIR}")
string(REPLACE ";" " " flag_text "${FLAGS}")
message(STATUS "${COMPILER} ${flag_text}: ${header_count} headers")

set(failed "")
foreach(header IN LISTS headers)
  set(source "${WORK_DIR}/${header}.cpp")
  file(WRITE "${source}" "#include <${header}>\n#include <${header}>\n")
  execute_process(
    COMMAND "${COMPILER}" ${FLAGS} "-I${include_dir}" -c "${source}" -o "${source}.o"
    RESULT_VARIABLE result OUTPUT_VARIABLE output ERROR_VARIABLE output)
  if(result STREQUAL "0")
    message(STATUS "  ok      ${header}")
  else()
    message("  FAILED  ${header}\n${output}")
    file(STRINGS "${include_dir}/${header}" host_includes
         REGEX "^[ \t]*#[ \t]*include[ \t]*<(Eigen|xsimd|benchmark|catch2)/")
    if(host_includes)
      message("  note: ${header} includes a host-only library (${host_includes}); core/, quant/ "
              "and tensor/ headers must build for the microcontroller")
    endif()
    list(APPEND failed "${header}")
  endif()
endforeach()

file(REMOVE_RECURSE "${WORK_DIR}")
if(failed)
  list(LENGTH failed failed_count)
  string(REPLACE ";" "\n  " failed "${failed}")
  message(FATAL_ERROR "firmware_headers: ${failed_count} of ${header_count} headers do not "
                      "compile for Cortex-M0:\n  ${failed}")
endif()
message(STATUS "firmware_headers: all ${header_count} headers compile for Cortex-M0")
