#!/bin/sh
# Doxygen's input filter for include/foil/*.h: foil's headers document each
# declaration in a plain C comment just above it (and each struct field in
# one after it), as SQLite's do; this turns those into Doxygen's comments on
# the fly, so the headers stay as they are:
#   line 1 "/*"           -> "/** @file"  (the header's own description)
#   "/* ..." at a line's start -> "/** ..." (the declaration below)
#   "...; /* ..." after a field or constant -> "...; /**< ..." (that member)
# Section rules ("/* ---- the ONNX graph model ---- */") stay plain comments.
# First, a comment over several declarations becomes a member group's
# (doxygen-groups.awk), whose comment each of them then shows.
awk -f "$(dirname "$0")/doxygen-groups.awk" "$1" |
  sed -e '1s|^/\*$|/** @file|' \
      -e '/\/\* ----/!s|^\([[:space:]]*\)/\* |\1/** |' \
      -e '/\/\* ----/!s|^\([[:space:]]*\)/\*$|\1/**|' \
      -e 's|\([;,{]\)\([[:space:]]*\)/\* |\1\2/**< |'
