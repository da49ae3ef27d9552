# Runs one compile-fail test: compiles SOURCE with COMPILER and expects failure whose output
# matches every `// EXPECT: <regex>` line of the source (and `// EXPECT-GCC:` / `// EXPECT-CLANG:`
# lines for the matching compiler only). Invoked by CTest as
#   cmake -DCOMPILER=... -DCOMPILER_ID=GNU|Clang -DSOURCE=... -DFLAGS=... -P check_compile_fail.cmake
foreach(var COMPILER COMPILER_ID SOURCE)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "check_compile_fail: ${var} is not set")
  endif()
endforeach()
separate_arguments(flag_list UNIX_COMMAND "${FLAGS}")

execute_process(
  COMMAND ${COMPILER} ${flag_list} -fsyntax-only ${SOURCE}
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
set(output "${out}${err}")
if(rc EQUAL 0)
  message(FATAL_ERROR "${SOURCE} compiled, but it must not")
endif()

file(STRINGS ${SOURCE} lines REGEX "^// EXPECT")
if(COMPILER_ID STREQUAL "GNU")
  set(mine "EXPECT-GCC")
else()
  set(mine "EXPECT-CLANG")
endif()
set(checked 0)
foreach(line IN LISTS lines)
  if(line MATCHES "^// (EXPECT|EXPECT-GCC|EXPECT-CLANG): (.*)$")
    set(kind "${CMAKE_MATCH_1}")
    set(pattern "${CMAKE_MATCH_2}")
    if(kind STREQUAL "EXPECT" OR kind STREQUAL mine)
      math(EXPR checked "${checked} + 1")
      if(NOT output MATCHES "${pattern}")
        message(FATAL_ERROR "${SOURCE}: the diagnostic does not match `${pattern}`.\nCompiler output:\n${output}")
      endif()
    endif()
  endif()
endforeach()
if(checked EQUAL 0)
  message(FATAL_ERROR "${SOURCE} has no // EXPECT: line; a compile-fail test must check its diagnostic")
endif()
# A compile-fail test must fail for its own reason only: any further error is a cascade, and a
# cascade is a bug in the library's diagnostics. MAX_ERRORS (default 1) bounds the `error:` lines.
if(NOT DEFINED MAX_ERRORS)
  set(MAX_ERRORS 1)
endif()
string(REGEX MATCHALL "error: " errors "${output}")
list(LENGTH errors n_errors)
if(n_errors GREATER MAX_ERRORS)
  message(FATAL_ERROR "${SOURCE}: ${n_errors} errors, expected at most ${MAX_ERRORS}.\n${output}")
endif()
message(STATUS "${SOURCE}: failed to compile as expected (${checked} patterns matched)")
