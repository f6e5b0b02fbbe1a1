# Run by `cmake --install` (dist/CMakeLists.txt): CMAKE_INSTALL_PREFIX is the
# prefix of this installation. Paths as GNUInstallDirs makes them absolute
# (a prefix of /usr keeps its configuration in /etc).
function(l1_full var rel)
  if(IS_ABSOLUTE "${rel}")
    set(${var} "${rel}" PARENT_SCOPE)
  elseif(var STREQUAL "SYSCONFDIR" AND CMAKE_INSTALL_PREFIX STREQUAL "/usr")
    set(${var} "/${rel}" PARENT_SCOPE)
  else()
    set(${var} "${CMAKE_INSTALL_PREFIX}/${rel}" PARENT_SCOPE)
  endif()
endfunction()
l1_full(BINDIR "${L1_BINDIR}")
l1_full(SYSCONFDIR "${L1_SYSCONFDIR}")
l1_full(MANDIR "${L1_MANDIR}")
l1_full(UNITDIR "${L1_UNITDIR}")

configure_file("${L1_DIST}/l1vmm.1.in" "${L1_WORK}/l1vmm.1" @ONLY)
configure_file("${L1_DIST}/l1vmm@.service.in" "${L1_WORK}/l1vmm@.service" @ONLY)
file(INSTALL "${L1_WORK}/l1vmm.1" DESTINATION "${MANDIR}/man1")
file(INSTALL "${L1_WORK}/l1vmm@.service" DESTINATION "${UNITDIR}")
file(INSTALL "${L1_DIST}/example" DESTINATION "${SYSCONFDIR}/l1vmm")
