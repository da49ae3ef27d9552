# Runs a program and checks its exit code and output: what CTest's own properties cannot do
# together (PASS_REGULAR_EXPRESSION ignores the exit code). Invoked by CTest as
#   cmake -DPROGRAM=<file> [-DARGS=<arg|arg|...>] -DEXIT_CODE=<n> [-DEXPECT0=<regex> ... -DEXPECT9=<regex>]
#         [-DWORKDIR=<dir>] -P expect_run.cmake
# ARGS are separated by `|` (lists do not survive add_test). Every EXPECTn must match the program's
# standard output and error together.
if(NOT DEFINED PROGRAM OR NOT DEFINED EXIT_CODE)
  message(FATAL_ERROR "expect_run.cmake needs PROGRAM and EXIT_CODE")
endif()
string(REPLACE "|" ";" args "${ARGS}")
if(NOT DEFINED WORKDIR)
  set(WORKDIR ${CMAKE_CURRENT_BINARY_DIR})
endif()
file(MAKE_DIRECTORY ${WORKDIR})
execute_process(COMMAND ${PROGRAM} ${args} WORKING_DIRECTORY ${WORKDIR} RESULT_VARIABLE rc OUTPUT_VARIABLE out
                ERROR_VARIABLE err)
message("${out}${err}")
if(NOT "${rc}" STREQUAL "${EXIT_CODE}")
  message(FATAL_ERROR "exit code ${rc}, expected ${EXIT_CODE}")
endif()
foreach(i RANGE 9)
  if(DEFINED EXPECT${i} AND NOT "${out}${err}" MATCHES "${EXPECT${i}}")
    message(FATAL_ERROR "the output does not match: ${EXPECT${i}}")
  endif()
endforeach()
