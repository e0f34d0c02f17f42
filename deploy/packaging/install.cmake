# `cmake --install`: the executables, systemd units and default settings (component runtime,
# Debian package `mandrill`), and the C++ SDK (component dev, package `libmandrill-dev`): the
# handler API's headers, the libraries behind them and a CMake package, so a project outside
# this tree does `find_package(Mandrill)` and links Mandrill::worker (docs/clients.md).
include(CMakePackageConfigHelpers)

install(TARGETS mandrill-broker mandrill-worker mandrill-publish mandrill-ctl
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime)

# Manual pages, made at install time from each executable's --help (help2man), so they say
# what the binary does.
find_program(MANDRILL_HELP2MAN help2man)
if(MANDRILL_HELP2MAN)
  file(MAKE_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/man)
  foreach(page
      "mandrill-broker|durable queues that hand out work on leases"
      "mandrill-worker|lease messages from a mandrill-broker and run a handler on each"
      "mandrill-publish|publish messages to a mandrill-broker and report what was confirmed"
      "mandrill-ctl|look at and manage mandrill-brokers")
    string(REPLACE "|" ";" page "${page}")
    list(GET page 0 exe)
    list(GET page 1 what)
    set(out ${CMAKE_CURRENT_BINARY_DIR}/man/${exe}.1)
    install(CODE "
      execute_process(COMMAND \"${MANDRILL_HELP2MAN}\" --no-info --no-discard-stderr
                              --version-string=${PROJECT_VERSION} \"--name=${what}\"
                              --output=${out} \"$<TARGET_FILE:${exe}>\" RESULT_VARIABLE rc)
      if(rc)
        message(FATAL_ERROR \"help2man ${exe} failed: \${rc}\")
      endif()
      execute_process(COMMAND gzip -9nf ${out})" COMPONENT runtime)
    install(FILES ${out}.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT runtime)
  endforeach()
else()
  message(STATUS "help2man not found: cmake --install makes no manual pages")
endif()

# The units name /usr/local/bin (a hand install, as they explain); installed ones name the
# prefix the package puts the executables in.
foreach(unit mandrill-broker.service mandrill-worker@.service)
  file(READ ${PROJECT_SOURCE_DIR}/deploy/systemd/${unit} text)
  string(REPLACE "/usr/local/bin/" "${CMAKE_INSTALL_FULL_BINDIR}/" text "${text}")
  string(REPLACE "/usr/local/share/doc/mandrill/" "${CMAKE_INSTALL_FULL_DOCDIR}/" text "${text}")
  string(REPLACE "/etc/mandrill/" "${CMAKE_INSTALL_FULL_SYSCONFDIR}/mandrill/" text "${text}")
  file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/systemd/${unit} "${text}")
  install(FILES ${CMAKE_CURRENT_BINARY_DIR}/systemd/${unit}
          DESTINATION lib/systemd/system COMPONENT runtime)  # systemd looks in lib/, never lib/<multiarch>/
endforeach()
# The default settings the units read. GNUInstallDirs puts SYSCONFDIR at /etc for prefix /usr.
install(FILES ${PROJECT_SOURCE_DIR}/deploy/packaging/broker.env
              ${PROJECT_SOURCE_DIR}/deploy/packaging/worker.env
        DESTINATION ${CMAKE_INSTALL_FULL_SYSCONFDIR}/mandrill COMPONENT runtime)
install(FILES ${PROJECT_SOURCE_DIR}/docs/operations.md ${PROJECT_SOURCE_DIR}/docs/handlers.md
              ${PROJECT_SOURCE_DIR}/docs/security.md ${PROJECT_SOURCE_DIR}/docs/clients.md
              ${PROJECT_SOURCE_DIR}/docs/protocol.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT runtime)

# Debian wants a copyright file and a changelog in each package's doc dir.
execute_process(COMMAND gzip -9nc ${PROJECT_SOURCE_DIR}/deploy/packaging/changelog
                OUTPUT_FILE ${CMAKE_CURRENT_BINARY_DIR}/changelog.gz)
foreach(pkg_component mandrill:runtime libmandrill-dev:dev)
  string(REPLACE ":" ";" pair ${pkg_component})
  list(GET pair 0 pkg)
  list(GET pair 1 component)
  install(FILES ${PROJECT_SOURCE_DIR}/deploy/packaging/copyright ${CMAKE_CURRENT_BINARY_DIR}/changelog.gz
          DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/${pkg} COMPONENT ${component})
endforeach()

# The SDK. Exported names: Mandrill::worker (handler API + Main, worker_main.h), Mandrill::client
# (publish_client.h); the rest are what those link.
set(sdk_targets mandrill_runtime mandrill_shared mandrill_metrics mandrill_worker_core
    mandrill_client mandrill_malloc)
set_target_properties(mandrill_worker_core PROPERTIES EXPORT_NAME worker)
set_target_properties(mandrill_client PROPERTIES EXPORT_NAME client)
set_target_properties(mandrill_runtime PROPERTIES EXPORT_NAME runtime)
set_target_properties(mandrill_shared PROPERTIES EXPORT_NAME shared)
set_target_properties(mandrill_metrics PROPERTIES EXPORT_NAME metrics)
set_target_properties(mandrill_malloc PROPERTIES EXPORT_NAME malloc)
# A worker built on the SDK allocates as mandrill-worker does (jemalloc: ~13% less CPU per
# message in worker_bench sdk than glibc's malloc), so it runs at mandrill-worker's speed.
target_link_libraries(mandrill_worker_core INTERFACE $<INSTALL_INTERFACE:Mandrill::malloc>)
if(MANDRILL_SANITIZE)
  # A sanitized tree's libraries need the sanitizer runtime in whatever links them, and its
  # headers the same choices (frame_pool.h) in whatever includes them.
  target_link_options(mandrill_shared INTERFACE
                      $<INSTALL_INTERFACE:-fsanitize=${MANDRILL_SANITIZE}>)
  target_compile_options(mandrill_shared INTERFACE
                         $<INSTALL_INTERFACE:-fsanitize=${MANDRILL_SANITIZE}>)
  target_compile_definitions(mandrill_shared INTERFACE $<INSTALL_INTERFACE:MANDRILL_SANITIZED=1>)
endif()
install(TARGETS ${sdk_targets} EXPORT MandrillTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev)
# The public headers and every project header they include (sdk_headers.cmake; the
# out-of-tree test build, tests/sdk, fails if one is missing).
include(${CMAKE_CURRENT_LIST_DIR}/sdk_headers.cmake)
foreach(header ${MANDRILL_SDK_HEADERS})
  get_filename_component(dir ${header} DIRECTORY)
  install(FILES ${PROJECT_SOURCE_DIR}/${header}
          DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/mandrill/${dir} COMPONENT dev)
endforeach()
set(cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/Mandrill)
install(EXPORT MandrillTargets NAMESPACE Mandrill:: DESTINATION ${cmake_dir} COMPONENT dev)
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/MandrillConfig.cmake.in
                              ${CMAKE_CURRENT_BINARY_DIR}/MandrillConfig.cmake
                              INSTALL_DESTINATION ${cmake_dir})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/MandrillConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/MandrillConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/MandrillConfigVersion.cmake
        DESTINATION ${cmake_dir} COMPONENT dev)
