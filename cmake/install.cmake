# Install rules: headers under include/xgrad/, the library, a CMake package
# (find_package(xgrad) -> xgrad::xgrad) and a pkg-config file.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

foreach(folder autograd nn datasets dist train)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/xgrad/${folder} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/xgrad
          FILES_MATCHING PATTERN "*.hpp")
endforeach()
install(FILES ${PROJECT_SOURCE_DIR}/xgrad/xgrad.hpp ${PROJECT_SOURCE_DIR}/xgrad/nn.hpp ${PROJECT_SOURCE_DIR}/xgrad/xtensor_config.hpp
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/xgrad)

install(TARGETS xgrad EXPORT xgradTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
set(XGRAD_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/xgrad)
install(EXPORT xgradTargets NAMESPACE xgrad:: DESTINATION ${XGRAD_CMAKE_DIR})

set(XGRAD_WITH_LIBARCHIVE ${LibArchive_FOUND})
set(XGRAD_WITH_MPI_DEP ${XGRAD_WITH_MPI})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/xgradConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/xgradConfig.cmake INSTALL_DESTINATION ${XGRAD_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/xgradConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/xgradConfig.cmake ${PROJECT_BINARY_DIR}/xgradConfigVersion.cmake
        DESTINATION ${XGRAD_CMAKE_DIR})

# pkg-config: a static library lists everything it needs in Libs.
if(LibArchive_FOUND)
  set(XGRAD_PC_ARCHIVE_LIBS "-larchive -lz")
endif()
if(XGRAD_WITH_MPI)
  string(APPEND XGRAD_PC_ARCHIVE_LIBS " ${MPI_CXX_LINK_FLAGS}")
  foreach(lib ${MPI_CXX_LIBRARIES})
    string(APPEND XGRAD_PC_ARCHIVE_LIBS " ${lib}")
  endforeach()
endif()
# Relocatable: the prefix is found from the .pc file's own place, so a
# package installed with `cmake --install --prefix P` works from P.
file(RELATIVE_PATH XGRAD_PC_TO_PREFIX "/prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/prefix")
if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(XGRAD_PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
else()
  set(XGRAD_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(XGRAD_PC_LIBDIR "${CMAKE_INSTALL_LIBDIR}")
else()
  set(XGRAD_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
endif()
configure_file(${PROJECT_SOURCE_DIR}/cmake/xgrad.pc.in ${PROJECT_BINARY_DIR}/xgrad.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/xgrad.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
