# Configures and builds examples/firmware for one model and board (the firmware tests'
# fixture; see tests/firmware/CMakeLists.txt):
#
#   cmake -DSOURCE_DIR=<tsq source tree> -DBUILD_DIR=<dir> -DBOARD=mps2-an385|microbit
#         [-DMODEL=tiny_fc -DMODEL_DIR=<folder of the model headers>] [-DSTACK_BYTES=<n>]
#         [-DGENERATOR=Ninja -DMAKE_PROGRAM=<ninja>] [-DTARGETS=<targets>]
#         -P tests/firmware/build_firmware.cmake
#
# An existing folder is re-configured and built incrementally.
cmake_minimum_required(VERSION 3.16)

foreach(variable SOURCE_DIR BUILD_DIR BOARD)
  if(NOT ${variable})
    message(FATAL_ERROR "build_firmware: -D${variable}=... is required")
  endif()
endforeach()
set(cpu_mps2-an385 cortex-m3)
set(cpu_microbit cortex-m0)
set(cpu ${cpu_${BOARD}})
if(NOT cpu)
  message(FATAL_ERROR "build_firmware: unknown board '${BOARD}' (mps2-an385, microbit)")
endif()

set(configure_args
  -S ${SOURCE_DIR}/examples/firmware -B ${BUILD_DIR}
  -DCMAKE_TOOLCHAIN_FILE=${SOURCE_DIR}/cmake/toolchains/arm-none-eabi.cmake
  -DTSQ_FIRMWARE_BOARD=${BOARD} -DTSQ_FIRMWARE_CPU=${cpu})
if(MODEL)
  list(APPEND configure_args -DTSQ_FIRMWARE_MODEL=${MODEL})
endif()
if(MODEL_DIR)
  list(APPEND configure_args -DTSQ_FIRMWARE_MODEL_DIR=${MODEL_DIR})
endif()
# Empty: the board's default (also when a previous configure set one).
list(APPEND configure_args -DTSQ_FIRMWARE_STACK_BYTES=${STACK_BYTES})
if(GENERATOR AND NOT EXISTS ${BUILD_DIR}/CMakeCache.txt)
  list(APPEND configure_args -G ${GENERATOR})
  if(MAKE_PROGRAM)
    list(APPEND configure_args -DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM})
  endif()
endif()

execute_process(COMMAND ${CMAKE_COMMAND} ${configure_args} RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "build_firmware: configuring ${BUILD_DIR} failed")
endif()
set(target_args "")
if(TARGETS)
  set(target_args --target ${TARGETS})
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${BUILD_DIR} ${target_args} --parallel 2
  RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "build_firmware: building ${BUILD_DIR} failed")
endif()
