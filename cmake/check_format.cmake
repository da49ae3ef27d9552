# Checks that pdm's C++ sources are formatted per .clang-format. Invoked by CTest with
#   cmake -DCLANG_FORMAT=... -DSOURCE_DIR=... -P check_format.cmake
file(GLOB_RECURSE sources
  ${SOURCE_DIR}/include/*.hpp ${SOURCE_DIR}/tests/*.cpp ${SOURCE_DIR}/tests/*.hpp
  ${SOURCE_DIR}/examples/*.cpp ${SOURCE_DIR}/examples/*.hpp
  ${SOURCE_DIR}/benchmarks/*.cpp ${SOURCE_DIR}/benchmarks/*.hpp
  ${SOURCE_DIR}/fuzz/*.cpp ${SOURCE_DIR}/fuzz/*.hpp)
list(FILTER sources EXCLUDE REGEX "/build/")
execute_process(COMMAND ${CLANG_FORMAT} --dry-run --Werror ${sources}
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "clang-format found unformatted code; run: clang-format -i <files>\n${err}")
endif()
list(LENGTH sources n)
message(STATUS "${n} files formatted as .clang-format says")
