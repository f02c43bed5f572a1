# The host side of the stand-in model: compiles examples/firmware/stand_in/make_testdata.cpp
# with the host compiler and runs it with --check, which recomputes the test windows and the
# outputs of tiny_fc.hpp on the host and compares them with tiny_fc_testdata.hpp. The firmware
# run compares the target with the same kExpected, so the two together show that target and
# host agree byte for byte.
#
#   cmake -DCXX=<host c++> -DSOURCE_DIR=<tsq source tree> -DWORK_DIR=<dir>
#         -P tests/firmware/host_check.cmake
cmake_minimum_required(VERSION 3.16)

if(NOT CXX OR NOT SOURCE_DIR OR NOT WORK_DIR)
  message(FATAL_ERROR "host_check: -DCXX, -DSOURCE_DIR and -DWORK_DIR are required")
endif()
set(stand_in ${SOURCE_DIR}/examples/firmware/stand_in)
file(MAKE_DIRECTORY ${WORK_DIR})
execute_process(
  COMMAND ${CXX} -std=c++17 -O1 -Wall -Wextra -Wpedantic -Werror -I${SOURCE_DIR}/include
          -I${stand_in} ${stand_in}/make_testdata.cpp -o ${WORK_DIR}/make_testdata
  RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "host_check: compiling make_testdata.cpp failed")
endif()
execute_process(COMMAND ${WORK_DIR}/make_testdata --check RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "host_check: tiny_fc_testdata.hpp does not match the host's outputs; "
                      "regenerate it with make_testdata (see its header)")
endif()
