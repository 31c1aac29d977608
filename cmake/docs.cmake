# cmake --build build --target docs: the C API reference, by doxygen from the
# public headers (docs/api/Doxyfile.in), in build/docs/api/html/ (and XML,
# which tests/test_docs.sh reads). Optional, as doxygen is; not part of ALL.
find_program(DOXYGEN doxygen)
set(FOIL_DOCS_DIR ${PROJECT_BINARY_DIR}/docs/api)
configure_file(${PROJECT_SOURCE_DIR}/docs/api/Doxyfile.in ${PROJECT_BINARY_DIR}/docs/Doxyfile @ONLY)
if(DOXYGEN)
  add_custom_target(docs
    COMMAND ${CMAKE_COMMAND} -E make_directory ${FOIL_DOCS_DIR}
    COMMAND ${DOXYGEN} ${PROJECT_BINARY_DIR}/docs/Doxyfile
    COMMENT "The C API reference (doxygen): ${FOIL_DOCS_DIR}/html/index.html")
else()
  message(STATUS "foil: doxygen not found; no docs target (apt-get install doxygen)")
endif()
