# Runs PROGRAM under TSan with the suite's SUPPRESSIONS file; passes only if TSan reported both
# data races of racy_program.cpp (exit code 66, and each racing function in the report).
set(ENV{TSAN_OPTIONS} "suppressions=${SUPPRESSIONS}:exitcode=66:halt_on_error=0")
execute_process(COMMAND ${PROGRAM} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err
                TIMEOUT 50)
if(NOT rc EQUAL 66 OR NOT err MATCHES "WARNING: ThreadSanitizer: data race")
  message(FATAL_ERROR "TSan reported no race (exit ${rc}):\n${err}")
endif()
foreach(racer PlainRace CountRelease)
  if(NOT err MATCHES "${racer}")
    message(FATAL_ERROR "TSan did not report the deliberate race in ${racer}:\n${err}")
  endif()
endforeach()
message(STATUS "TSan reported both deliberate races with ${SUPPRESSIONS} in force")
