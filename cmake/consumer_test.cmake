# Builds and runs a downstream project against pdm, as a user would.
#   MODE=find_package: installs pdm from PDM_SOURCE into a fresh prefix, then builds
#                      CONSUMER with CMAKE_PREFIX_PATH pointing at it.
#   MODE=add_subdirectory: builds CONSUMER with PDM_SOURCE passed for add_subdirectory().
foreach(var MODE PDM_SOURCE CONSUMER WORK_DIR CXX)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "consumer_test: ${var} is not set")
  endif()
endforeach()

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "command failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
endfunction()

file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})
set(consumer_args -DCMAKE_CXX_COMPILER=${CXX} -DCMAKE_BUILD_TYPE=Release)
if(MODE STREQUAL "find_package")
  run(${CMAKE_COMMAND} -S ${PDM_SOURCE} -B ${WORK_DIR}/pdm-build -DCMAKE_CXX_COMPILER=${CXX}
      -DPDM_BUILD_TESTS=OFF -DPDM_BUILD_BENCHMARKS=OFF -DPDM_BUILD_EXAMPLES=OFF
      -DCMAKE_INSTALL_PREFIX=${WORK_DIR}/prefix)
  run(${CMAKE_COMMAND} --install ${WORK_DIR}/pdm-build)
  if(NOT EXISTS ${WORK_DIR}/prefix/share/cmake/pdm/pdmConfig.cmake)
    message(FATAL_ERROR "install did not produce share/cmake/pdm/pdmConfig.cmake")
  endif()
  list(APPEND consumer_args -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix)
elseif(MODE STREQUAL "add_subdirectory")
  list(APPEND consumer_args -DPDM_SOURCE=${PDM_SOURCE})
else()
  message(FATAL_ERROR "consumer_test: unknown MODE ${MODE}")
endif()
run(${CMAKE_COMMAND} -S ${CONSUMER} -B ${WORK_DIR}/consumer-build ${consumer_args})
run(${CMAKE_COMMAND} --build ${WORK_DIR}/consumer-build)
execute_process(COMMAND ${WORK_DIR}/consumer-build/consumer RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR NOT out MATCHES "consumer ok")
  message(FATAL_ERROR "consumer program failed (${rc}):\n${out}\n${err}")
endif()
message(STATUS "consumer (${MODE}) built and ran: ${out}")
