# Checks that a page of the docs quotes a program's output truthfully: runs the program, takes the
# ``` block after the line MARKER in DOC, and requires every line of that block to appear in the
# output, in the same order (other lines may come between them). In the quote, `<port>` and `<n>`
# stand for any number. Invoked by CTest as
#   cmake -DPROGRAM=<file> [-DARGS=<arg|arg|...>] -DWORKDIR=<dir> -DDOC=<file.md> -DMARKER=<line> -P check_quoted_output.cmake
string(REPLACE "|" ";" args "${ARGS}")
file(MAKE_DIRECTORY ${WORKDIR})
execute_process(COMMAND ${PROGRAM} ${args} WORKING_DIRECTORY ${WORKDIR} RESULT_VARIABLE rc OUTPUT_VARIABLE out
                ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${PROGRAM} failed (${rc}):\n${out}${err}")
endif()

file(READ ${DOC} doc)
string(FIND "${doc}" "${MARKER}\n" at)
if(at EQUAL -1)
  message(FATAL_ERROR "${DOC} has no line ${MARKER}")
endif()
string(SUBSTRING "${doc}" ${at} -1 doc)
string(FIND "${doc}" "```" open)
string(SUBSTRING "${doc}" ${open} -1 doc)
string(FIND "${doc}" "\n" first_newline)
math(EXPR body_start "${first_newline} + 1")
string(SUBSTRING "${doc}" ${body_start} -1 doc)
string(FIND "${doc}" "```" close)
string(SUBSTRING "${doc}" 0 ${close} quote)

# Line by line (the quote holds no `;`, `[` or `]`, which CMake lists would mangle).
string(REPLACE "\n" ";" lines "${quote}")
set(rest "${out}")
foreach(line IN LISTS lines)
  if(line STREQUAL "")
    continue()
  endif()
  # The line as a regex: special characters escaped, placeholders as numbers.
  string(REGEX REPLACE "([][.*+?^$()|\\\\])" "\\\\\\1" regex "${line}")
  string(REPLACE "<port>" "[0-9]+" regex "${regex}")
  string(REPLACE "<n>" "[0-9]+" regex "${regex}")
  string(REGEX MATCH "(^|\n)${regex}\n" found "${rest}")
  if(found STREQUAL "")
    message(FATAL_ERROR "${DOC} quotes a line the output does not have (in that order):\n  ${line}\n\nThe output:\n${out}")
  endif()
  string(FIND "${rest}" "${found}" pos)
  string(LENGTH "${found}" length)
  math(EXPR pos "${pos} + ${length} - 1")
  string(SUBSTRING "${rest}" ${pos} -1 rest)
endforeach()
