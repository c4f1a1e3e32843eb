# Fails unless README.md contains client/examples/quickstart.cc verbatim, so that the example a
# reader copies is the one the test command compiles and runs.
file(READ ${README} readme)
file(READ ${EXAMPLE} example)
string(FIND "${readme}" "${example}" at)
if(at EQUAL -1)
  message(FATAL_ERROR "README.md does not contain ${EXAMPLE} verbatim: paste the file into the README's C++ section")
endif()
message(STATUS "README.md shows ${EXAMPLE} verbatim")
