#!/usr/bin/env bash
# The Debian package: built from this build with cpack, its files and
# Depends checked, and the command run from the unpacked package alone
# (scripts/check-deb.sh; CI also installs it with apt-get: .ci/run).
exec "${FOIL_SOURCE_DIR:?}/scripts/check-deb.sh" "${FOIL_BUILD_DIR:?}"
