# `cpack -G DEB` (in a build configured with -DCMAKE_INSTALL_PREFIX=/usr): two Debian packages,
#   mandrill         the executables, systemd units, /etc/mandrill defaults, docs
#   libmandrill-dev  the C++ SDK (headers, static libraries, CMake package)
# installable with `apt install ./mandrill_*.deb` on Debian 12 (dpkg-shlibdeps writes the
# runtime Depends from what the executables link).
set(CPACK_PACKAGE_NAME mandrill)
# The package holds what `cmake --install` lays out, at the prefix the build was configured with
# (the units and /etc paths were written for it): configure with -DCMAKE_INSTALL_PREFIX=/usr.
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_PACKAGE_VENDOR "Mandrill")
set(CPACK_PACKAGE_CONTACT "Mandrill maintainers <maintainers@mandrill.example.org>")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL runtime dev)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_COMPRESSION_TYPE gzip)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME mandrill)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SHLIBDEPS ON)
# A description's first line is the package's synopsis; CPack indents the rest.
set(CPACK_DEBIAN_RUNTIME_DESCRIPTION
    "durable message broker and worker fleet with leases\nmandrill-broker keeps durable queues and hands out work on leases: acks,\nextensions, delayed nacks, redelivery and dead letters. mandrill-worker,\nmandrill-publish and mandrill-ctl use it.")
# /etc/mandrill/*.env are the operator's: upgrades keep their edits.
file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/conffiles
     "${CMAKE_INSTALL_FULL_SYSCONFDIR}/mandrill/broker.env\n"
     "${CMAKE_INSTALL_FULL_SYSCONFDIR}/mandrill/worker.env\n")
set(CPACK_DEBIAN_RUNTIME_PACKAGE_CONTROL_EXTRA ${CMAKE_CURRENT_BINARY_DIR}/conffiles)
set(CPACK_DEBIAN_DEV_PACKAGE_NAME libmandrill-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS
    "mandrill (= ${PROJECT_VERSION}), g++, cmake, pkg-config, libzmq3-dev, cppzmq-dev, libmsgpack-cxx-dev, libspdlog-dev, libfmt-dev, libcli11-dev, libsqlite3-dev, libabsl-dev, libcpp-httplib-dev, libjemalloc-dev")
set(CPACK_DEBIAN_DEV_DESCRIPTION
    "Mandrill C++ SDK: handlers, workers of your own, publishing\nHeaders, static libraries and a CMake package: find_package(Mandrill),\nthen link Mandrill::worker or Mandrill::client.")
include(CPack)
