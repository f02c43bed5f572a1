# Configures, builds and runs tests/package/consumer against tsq in one mode, in a fresh tree.
#
#   cmake -DMODE=<find_package|add_subdirectory|fetchcontent>
#         -DTSQ_SOURCE_DIR=<tsq source tree> -DWORK_DIR=<scratch dir, wiped first>
#         [-DTSQ_BINARY_DIR=<configured tsq build tree>]     (find_package: installed from here)
#         [-DCXX_COMPILER=...] [-DCXX_FLAGS=...] [-DGENERATOR=...] [-DMAKE_PROGRAM=...]
#         [-DCONFIG=<build type>] -P run_consumer.cmake
#
# find_package mode first runs `cmake --install` of TSQ_BINARY_DIR into WORK_DIR/install, checks
# that every header of include/ is there, builds the consumer with find_package(tsq 0.1), and
# checks that find_package(tsq 9.0) is rejected by tsqConfigVersion.cmake.
cmake_minimum_required(VERSION 3.16)

foreach(required MODE TSQ_SOURCE_DIR WORK_DIR)
  if(NOT DEFINED ${required} OR "${${required}}" STREQUAL "")
    message(FATAL_ERROR "run_consumer.cmake: -D${required}=... is required")
  endif()
endforeach()
if(MODE STREQUAL "find_package" AND NOT TSQ_BINARY_DIR)
  message(FATAL_ERROR "run_consumer.cmake: find_package mode needs -DTSQ_BINARY_DIR=...")
endif()

set(consumer_source "${CMAKE_CURRENT_LIST_DIR}/consumer")
set(install_prefix "${WORK_DIR}/install")

# Runs a command (echoed), stops the test with a clear message when it fails.
function(run_step step)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE result COMMAND_ECHO STDOUT)
  if(NOT result STREQUAL "0")
    string(REPLACE ";" " " command "${ARGN}")
    message(FATAL_ERROR "tsq package test [${MODE}]: ${step} failed (${result}).\n"
                        "  command: ${command}\n  (its output is above)")
  endif()
endfunction()

# Arguments shared by every configure of the consumer: same compiler, flags and generator as the
# tsq build tree that runs the test.
set(configure_args -S "${consumer_source}" "-DTSQ_CONSUMER_MODE=${MODE}")
if(GENERATOR)
  list(APPEND configure_args -G "${GENERATOR}")
endif()
if(MAKE_PROGRAM)
  list(APPEND configure_args "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}")
endif()
if(CXX_COMPILER)
  list(APPEND configure_args "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}")
endif()
if(CXX_FLAGS)
  list(APPEND configure_args "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}")
endif()
if(CONFIG)
  list(APPEND configure_args "-DCMAKE_BUILD_TYPE=${CONFIG}")
  set(config_args --config "${CONFIG}")
else()
  set(config_args "")
endif()

file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

if(MODE STREQUAL "find_package")
  run_step("install of tsq" "${CMAKE_COMMAND}" --install "${TSQ_BINARY_DIR}" ${config_args}
           --prefix "${install_prefix}")

  # The package must hold every public header and the three CMake package files.
  file(GLOB_RECURSE source_headers RELATIVE "${TSQ_SOURCE_DIR}/include"
       "${TSQ_SOURCE_DIR}/include/*")
  set(missing "")
  foreach(header IN LISTS source_headers)
    if(NOT EXISTS "${install_prefix}/include/${header}")
      list(APPEND missing "include/${header}")
    endif()
  endforeach()
  foreach(file_name tsqConfig.cmake tsqConfigVersion.cmake tsqTargets.cmake)
    file(GLOB_RECURSE found "${install_prefix}/*/cmake/tsq/${file_name}")
    if(NOT found)
      list(APPEND missing "<libdir>/cmake/tsq/${file_name}")
    endif()
  endforeach()
  if(missing)
    string(REPLACE ";" "\n  " missing "${missing}")
    message(FATAL_ERROR "tsq package test [find_package]: the install into ${install_prefix} "
                        "lacks:\n  ${missing}")
  endif()
  list(LENGTH source_headers header_count)
  message(STATUS "install holds all ${header_count} files of include/ and the package files")

  list(APPEND configure_args "-DCMAKE_PREFIX_PATH=${install_prefix}"
       "-DTSQ_EXPECTED_PREFIX=${install_prefix}")

  # tsqConfigVersion.cmake must turn down an incompatible version (SameMajorVersion).
  execute_process(
    COMMAND "${CMAKE_COMMAND}" ${configure_args} -B "${WORK_DIR}/version-9.0"
            -DTSQ_REQUIRED_VERSION=9.0
    RESULT_VARIABLE result OUTPUT_VARIABLE output ERROR_VARIABLE output)
  if(result STREQUAL "0")
    message(FATAL_ERROR "tsq package test [find_package]: find_package(tsq 9.0) succeeded "
                        "against tsq 0.1; tsqConfigVersion.cmake does not check versions.\n"
                        "${output}")
  endif()
  # CMake wraps this message over lines.
  if(NOT output MATCHES "compatible[ \t\r\n]+with[ \t\r\n]+requested[ \t\r\n]+version[ \t\r\n]+\"9\\.0\"")
    message(FATAL_ERROR "tsq package test [find_package]: find_package(tsq 9.0) failed, but "
                        "not because of the version:\n${output}")
  endif()
  message(STATUS "find_package(tsq 9.0) is rejected as expected")
else()
  list(APPEND configure_args "-DTSQ_SOURCE_DIR=${TSQ_SOURCE_DIR}")
  if(MODE STREQUAL "fetchcontent")
    list(APPEND configure_args -DFETCHCONTENT_UPDATES_DISCONNECTED=ON)
  endif()
endif()

set(build_dir "${WORK_DIR}/build")
run_step("configure of the consumer" "${CMAKE_COMMAND}" ${configure_args} -B "${build_dir}")
run_step("build of the consumer" "${CMAKE_COMMAND}" --build "${build_dir}" ${config_args})

set(executable "${build_dir}/tsq_consumer${CMAKE_EXECUTABLE_SUFFIX}")
if(CONFIG AND NOT EXISTS "${executable}")
  set(executable "${build_dir}/${CONFIG}/tsq_consumer${CMAKE_EXECUTABLE_SUFFIX}")  # multi-config
endif()
execute_process(COMMAND "${executable}" RESULT_VARIABLE result OUTPUT_VARIABLE output
                ERROR_VARIABLE output)
message("${output}")
if(NOT result STREQUAL "0" OR NOT output MATCHES "tsq consumer OK")
  message(FATAL_ERROR "tsq package test [${MODE}]: the consumer ${executable} failed (${result})")
endif()
