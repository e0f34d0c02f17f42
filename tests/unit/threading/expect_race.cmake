# Runs PROGRAM under TSan with the suite's SUPPRESSIONS file; passes only if TSan reported a data
# race in racy_program.cpp (exit code 66 and the race in its report).
set(ENV{TSAN_OPTIONS} "suppressions=${SUPPRESSIONS}:exitcode=66:halt_on_error=0")
execute_process(COMMAND ${PROGRAM} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err
                TIMEOUT 50)
if(NOT rc EQUAL 66 OR NOT err MATCHES "WARNING: ThreadSanitizer: data race"
   OR NOT err MATCHES "racy_program.cpp")
  message(FATAL_ERROR "TSan did not report the deliberate race (exit ${rc}):\n${err}")
endif()
message(STATUS "TSan reported the deliberate race with ${SUPPRESSIONS} in force")
