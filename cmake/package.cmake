# cpack -G DEB (in the build directory): foil_<version>_<arch>.deb with the
# command, both libraries, the headers and foil.pc under /usr. Its Depends
# come from dpkg-shlibdeps (dpkg-dev, which build-essential brings), which
# names the package of every shared library foil and libfoil.so load: the
# OpenMP OpenBLAS among them, as the installed binaries' RPATH asks for it
# (cmake/install.cmake). Included from CMakeLists.txt after install.cmake.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME foil)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "adversarial machine learning: attack, harden and audit ONNX models")
set(CPACK_PACKAGE_DESCRIPTION "foil attacks a model the way an adversary would (evasion, poisoning, extraction,
inference), hardens it, certifies it and audits it, through one command, foil, and a C library, libfoil.")
set(CPACK_PACKAGE_CONTACT "foil developers <foil@localhost>")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# shlibdeps says libopenblas0, which any flavour satisfies; foil is built
# for the OpenMP one (its threads share OpenMP's pool with foil's).
set(CPACK_DEBIAN_PACKAGE_DEPENDS "libopenblas0-openmp")
# dpkg-shlibdeps resolves libraries through the binaries' RPATH, which
# names directories of the build machine: the same ones an installed foil
# uses, since both come from Debian's packages.
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS OFF)
include(CPack)
