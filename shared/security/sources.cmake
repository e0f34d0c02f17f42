target_sources(mandrill_shared PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/curve_keys.cpp)
