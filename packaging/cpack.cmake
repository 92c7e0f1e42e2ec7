# The .deb: `cpack -G DEB` (or `cmake --build . --target package`) in a build
# configured with -DCMAKE_INSTALL_PREFIX=/usr. Included from the top-level
# CMakeLists.txt. Library dependencies come from dpkg-shlibdeps; fuse3 is
# listed by hand (fusermount3 cleans up stale mounts, and /etc/fuse.conf).
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME memd)
set(CPACK_PACKAGE_VENDOR "memd")
set(CPACK_PACKAGE_CONTACT "memd maintainers <memd@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "emulated physical memory, shown as Linux's /proc files over FUSE")
set(CPACK_PACKAGE_DESCRIPTION
    "memd emulates a machine's physical memory the way Linux 6.18 manages it\n\
(zones, buddy allocator, migrate types, watermarks, per-cpu lists) and shows it\n\
through the kernel's files (buddyinfo, pagetypeinfo, zoneinfo, vmstat, meminfo)\n\
on a FUSE mount. memctl and a control file allocate, free and replay traces.")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
# /etc/memd/memd.toml is an absolute destination: stage everything under DESTDIR.
set(CPACK_SET_DESTDIR ON)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION utils)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "fuse3")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "systemd")
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS OFF)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_CURRENT_LIST_DIR}/deb/postinst
    ${CMAKE_CURRENT_LIST_DIR}/deb/prerm
    ${CMAKE_CURRENT_LIST_DIR}/deb/postrm
    ${CMAKE_CURRENT_LIST_DIR}/deb/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
