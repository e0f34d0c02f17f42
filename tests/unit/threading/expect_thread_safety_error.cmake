# Builds TARGET in BUILD_DIR and passes only if the build fails with clang's thread-safety
# diagnostic: failing for any other reason (a typo, a missing header) does not count.
execute_process(COMMAND ${CMAKE_COMMAND} --build ${BUILD_DIR} --target ${TARGET}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 110)
if(rc EQUAL 0)
  message(FATAL_ERROR "${TARGET} compiled: the thread-safety analysis is not on")
endif()
if(NOT "${out}${err}" MATCHES "requires holding mutex .mu_..*Wthread-safety")
  message(FATAL_ERROR
          "${TARGET} failed to build, but not on the thread-safety check:\n${out}${err}")
endif()
message(STATUS "${TARGET} was refused by -Wthread-safety, as intended")
