target_sources(mandrill_shared PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/broker_targets.cpp
  ${CMAKE_CURRENT_LIST_DIR}/cell_map.cpp
  ${CMAKE_CURRENT_LIST_DIR}/credit_split.cpp
  ${CMAKE_CURRENT_LIST_DIR}/rendezvous.cpp)
