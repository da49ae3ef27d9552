# Fails when a generated file in the source tree is stale: runs GENERATOR to write ACTUAL and
# compares it with EXPECTED. Invoked by CTest as
#   cmake -DGENERATOR=... -DEXPECTED=... -DACTUAL=... -P check_generated.cmake
execute_process(COMMAND ${GENERATOR} ${ACTUAL} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${GENERATOR} failed (${rc})")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${EXPECTED} ${ACTUAL} RESULT_VARIABLE differ)
if(NOT differ EQUAL 0)
  message(FATAL_ERROR "${EXPECTED} is stale: regenerate it with `cmake --build --preset gcc --target "
                      "update-config-reference` (the new text is in ${ACTUAL})")
endif()
