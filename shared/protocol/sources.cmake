target_sources(mandrill_shared PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/names.cpp
  ${CMAKE_CURRENT_LIST_DIR}/encode.cpp
  ${CMAKE_CURRENT_LIST_DIR}/checks.cpp
  ${CMAKE_CURRENT_LIST_DIR}/decode.cpp
  ${CMAKE_CURRENT_LIST_DIR}/decode_bodies.cpp
  ${CMAKE_CURRENT_LIST_DIR}/deliver_writer.cpp
  ${CMAKE_CURRENT_LIST_DIR}/transport.cpp)
