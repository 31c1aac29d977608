#!/usr/bin/env bash
# The C API reference (docs/api, `cmake --build build --target docs`):
# doxygen runs on the public headers through docs/api/doxygen-filter.sh
# without a warning, every foil_ function the headers declare is in it,
# and the headers' own comments reach it (the filter works).
set -uo pipefail
build=${FOIL_BUILD_DIR:?}
src=${FOIL_SOURCE_DIR:?}
command -v doxygen >/dev/null || { echo "SKIP: doxygen is not installed"; exit 77; }
py=/usr/bin/python3
[ -x "$py" ] || { echo "SKIP: $py is not installed"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The build's Doxyfile, with the output here instead of the build tree.
{ cat "$build/docs/Doxyfile"; echo "OUTPUT_DIRECTORY = $tmp"; echo "WARN_LOGFILE = $tmp/warnings.txt"; } |
  doxygen - >"$tmp/doxygen.log" 2>&1 || { cat "$tmp/doxygen.log"; echo "FAIL: doxygen exited $?"; exit 1; }
failures=0
if [ -s "$tmp/warnings.txt" ]; then
  echo "FAIL: doxygen warns:"; head -20 "$tmp/warnings.txt"; failures=$((failures + 1))
fi
grep -ho '\bfoil_[a-z0-9_]*[[:space:]]*(' "$src"/include/foil/*.h "$src"/include/foil/*.h.in | sed 's/[[:space:]]*($//' |
  sort -u >"$tmp/declared.txt"
"$py" - "$tmp/xml" "$tmp/declared.txt" <<'PY' || failures=$((failures + 1))
import glob, sys, xml.etree.ElementTree as ET
xml_dir, declared_file = sys.argv[1], sys.argv[2]
declared = {l.strip() for l in open(declared_file) if l.strip()}
documented, described, types = set(), {}, set()
for f in glob.glob(f"{xml_dir}/*_8h.xml"):
    for m in ET.parse(f).getroot().iter("memberdef"):
        name = m.findtext("name")
        if m.get("kind") in ("typedef", "enum"):
            types.add(name)
        elif m.get("kind") == "function":
            documented.add(name)
            described[name] = " ".join(" ".join("".join(m.find(k).itertext()).split())
                                       for k in ("briefdescription", "detaileddescription")).strip()
# "foil_status (*callback)(...)": a type before a parenthesis is no function.
declared -= types
missing = sorted(n for n in declared if n not in documented)
if missing:
    print(f"FAIL: {len(missing)} foil_ names declared in include/foil/ are not in the reference: {missing[:10]}")
    sys.exit(1)
want = "Load an ONNX classifier"
if want not in described.get("foil_model_load", ""):
    print(f"FAIL: foil_model_load's description lacks its header comment: {described.get('foil_model_load')!r}")
    sys.exit(1)
# foil_model_metadata has no comment of its own: it shares the one above
# foil_model_set_metadata (doxygen-groups.awk makes that a member group).
if "metadata" not in described.get("foil_model_metadata", ""):
    print("FAIL: foil_model_metadata did not get its group's comment (doxygen-groups.awk)")
    sys.exit(1)
with_text = sum(1 for n in declared if described.get(n))
print(f"ok   the reference holds all {len(declared)} foil_ functions the headers declare; "
      f"{with_text} with a description (the rest, such as the _free calls, have no comment in their header)")
PY
[ "$failures" = 0 ] || exit 1
echo "ok   doxygen: no warnings"
