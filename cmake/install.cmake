# cmake --install BUILD --prefix P: the command, both libraries, the public
# headers and a pkg-config file, in the GNU layout (P/lib/<multiarch> where
# the platform has one). Included from CMakeLists.txt after the targets.
include(GNUInstallDirs)

# The installed foil and libfoil.so keep the library directories they were
# linked with outside the loader's own (Debian's openblas-openmp/,
# openmpi/lib/), as the build tree's do: foil wants the OpenMP OpenBLAS; the
# pthread one the loader may find first runs its own threads beside OpenMP's.
set_target_properties(foil libfoil_shared PROPERTIES INSTALL_RPATH_USE_LINK_PATH ON)
install(TARGETS foil RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# libfoil.so.X.Y.Z, its SONAME link libfoil.so.X and the libfoil.so link a
# -lfoil finds; libfoil.a and, for its static links, libfoil_onnx.a.
install(TARGETS libfoil_shared libfoil onnx_proto
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
file(GLOB FOIL_PUBLIC_HEADERS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/include/foil/*.h)
install(FILES ${FOIL_PUBLIC_HEADERS} ${PROJECT_BINARY_DIR}/include/foil/version.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/foil)

# foil.pc. A shared link needs -lfoil alone (libfoil.so links its own
# dependencies); pkg-config --static adds what libfoil.a's objects call.
# The paths are relative to the .pc file itself, so that the same file
# works wherever --prefix puts it.
# (Directories given as absolute paths stay as given.)
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}" OR IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(FOIL_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
  set(FOIL_PC_LIBDIR "${CMAKE_INSTALL_FULL_LIBDIR}")
  set(FOIL_PC_INCLUDEDIR "${CMAKE_INSTALL_FULL_INCLUDEDIR}")
else()
  file(RELATIVE_PATH up "/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/")
  string(REGEX REPLACE "/$" "" up "${up}")
  set(FOIL_PC_PREFIX "\${pcfiledir}/${up}")
  set(FOIL_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
  set(FOIL_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
# Libs.private holds the dependencies themselves, as this build links them,
# rather than Requires.private: the public headers include none of their
# headers, so --cflags stays -I${includedir}, and pkg-config --static would
# also demand each dependency's own static dependencies (libcurl's nghttp2,
# rtmp, ssh2, psl ..., whose development files Debian's libcurl-dev lacks),
# where libfoil.a needs only the libraries, shared or static.
set(FOIL_PC_LIBS_PRIVATE -lfoil_onnx ${OpenMP_C_FLAGS})
set(deps OPENBLAS CJSON CURL LIBJPEG LIBPNG SODIUM PROTOBUFC)
if(FOIL_HAVE_SERVE)
  list(APPEND deps MHD SQLITE3)
endif()
foreach(dep IN LISTS deps)
  list(APPEND FOIL_PC_LIBS_PRIVATE ${${dep}_LDFLAGS})
endforeach()
list(APPEND FOIL_PC_LIBS_PRIVATE -lz -lm)
if(MPI_C_FOUND AND FOIL_MPI)
  list(APPEND FOIL_PC_LIBS_PRIVATE ${MPI_C_LIBRARIES})
endif()
foreach(dir IN LISTS CMAKE_C_IMPLICIT_LINK_DIRECTORIES)
  list(REMOVE_ITEM FOIL_PC_LIBS_PRIVATE -L${dir} -L${dir}/)
endforeach()
list(REMOVE_DUPLICATES FOIL_PC_LIBS_PRIVATE)
list(JOIN FOIL_PC_LIBS_PRIVATE " " FOIL_PC_LIBS_PRIVATE)
# A sanitizer build's library calls the sanitizer runtimes, which must be
# linked into the program itself (ASan must come first among its libraries).
set(FOIL_PC_LIBS_EXTRA "")
if(FOIL_SANITIZE)
  set(FOIL_PC_LIBS_EXTRA " -fsanitize=address,undefined")
endif()
configure_file(${PROJECT_SOURCE_DIR}/cmake/foil.pc.in ${PROJECT_BINARY_DIR}/foil.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/foil.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# Man pages (share/man/man1): foil.1 and foil-COMMAND.1, made by help2man
# from foil's own --help (scripts/make-man.sh), so they say what the
# command says. Optional, as help2man is.
find_program(HELP2MAN help2man)
if(HELP2MAN)
  set(FOIL_MAN_DIR ${PROJECT_BINARY_DIR}/man)
  # A sanitizer build's foil runs here too; what it leaks at exit is no
  # reason to fail the build (the tests check leaks).
  add_custom_command(OUTPUT ${FOIL_MAN_DIR}/foil.1
    COMMAND ${CMAKE_COMMAND} -E env ASAN_OPTIONS=detect_leaks=0
            ${PROJECT_SOURCE_DIR}/scripts/make-man.sh $<TARGET_FILE:foil> ${FOIL_MAN_DIR}
    DEPENDS foil ${PROJECT_SOURCE_DIR}/scripts/make-man.sh
    COMMENT "Man pages from foil --help (help2man)")
  add_custom_target(man ALL DEPENDS ${FOIL_MAN_DIR}/foil.1)
  install(DIRECTORY ${FOIL_MAN_DIR}/ DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 FILES_MATCHING PATTERN "*.1")
else()
  message(STATUS "foil: help2man not found; no man pages (apt-get install help2man)")
endif()
