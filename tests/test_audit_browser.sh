#!/usr/bin/env bash
# report.html in a real browser (Debian's chromium, headless): a small audit's
# report is loaded, inside a checking page, with file access allowed, and
#   - every image (the example grid and the backdoor scan's trigger, inline
#     PNGs) has loaded with a size,
#   - every chart (inline SVG: two curves, the backdoor scan's bars, the
#     privacy section's ROC curves on log-log axes) has drawn with a size,
#   - the page has no scripts and the browser logged no script error;
# then a screenshot of the whole report is saved to
# $FOIL_BUILD_DIR/audit-report-screenshot.png for a person to look at.
# Skips (77) where chromium is not installed (CI installs it:
# scripts/install-deps.sh --crosscheck).
set -uo pipefail
FOIL=${FOIL_BIN:?}
MODEL=${FOIL_ATTACK_MODEL:?}
source "${FOIL_SOURCE_DIR:?}/tests/cli_helpers.sh"
need_fashion_mnist
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
  echo "SKIP: chromium is not installed (scripts/install-deps.sh --crosscheck installs it)"
  exit 77
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
headless() { timeout 120 "$browser" --headless --no-sandbox --disable-gpu --no-first-run --user-data-dir="$dir/profile" "$@"; }

check "small audit" 0 "report:" -- "$FOIL" audit --model "$MODEL" --data fashion-mnist --out "$dir/a" \
  --limit 40 --eps-linf 0.1 --eps-l2 1 --queries 100 --quiet --backdoor-steps 40

# The checking page reads the report's document once everything has loaded
# (the window's load waits for the frame) and writes what it found.
cat >"$dir/check.html" <<'HTML'
<!DOCTYPE html><html><body><iframe id="r" src="a/report.html" style="width:1200px;height:900px"></iframe>
<pre id="result">no result</pre>
<script>
window.addEventListener("load", function () {
  var out = document.getElementById("result");
  try {
    var doc = document.getElementById("r").contentDocument;
    var imgs = doc.images, broken = 0;
    for (var i = 0; i < imgs.length; i++)
      if (!imgs[i].complete || imgs[i].naturalWidth === 0 || imgs[i].getBoundingClientRect().width === 0) broken++;
    var svgs = doc.querySelectorAll("svg"), blank = 0;
    for (var j = 0; j < svgs.length; j++) {
      var box = svgs[j].getBoundingClientRect();
      // drawn: grid lines, and a curve or a bar besides the background and the frame
      if (box.width === 0 || box.height === 0 || svgs[j].querySelectorAll("path,polyline,line").length === 0 ||
          svgs[j].querySelectorAll("polyline,rect").length < 3) blank++;
    }
    out.textContent = "RESULT images=" + imgs.length + " broken=" + broken + " charts=" + svgs.length +
      " blank=" + blank + " scripts=" + doc.scripts.length + " title=" + doc.title.length;
  } catch (e) {
    out.textContent = "RESULT error " + e;
  }
});
</script></body></html>
HTML
headless --allow-file-access-from-files --virtual-time-budget=10000 --enable-logging=stderr --v=0 \
  --dump-dom "file://$dir/check.html" >"$dir/dom.html" 2>"$dir/browser.log" || fail "chromium --dump-dom: $(tail -3 "$dir/browser.log")"
result=$(sed -n 's/.*<pre id="result">\(RESULT[^<]*\)<.*/\1/p' "$dir/dom.html")
echo "$result"
images=$(sed -n 's/.*images=\([0-9]*\).*/\1/p' <<<"$result")
[ -n "$images" ] && [ "$images" -ge 13 ] || fail "the report shows the example and trigger images (got: ${result:-no result})"
grep -q " broken=0 " <<<"$result" || fail "broken images in report.html: $result"
grep -q "charts=4 blank=0 " <<<"$result" || fail "the four charts render: $result"
grep -q "scripts=0 " <<<"$result" || fail "report.html has no scripts: $result"
if grep -E "Uncaught|CONSOLE.*[Ee]rror" "$dir/browser.log" | grep -q "report.html"; then
  fail "script errors in report.html: $(grep -E 'Uncaught|CONSOLE' "$dir/browser.log" | head -3)"
fi

shot=${FOIL_BUILD_DIR:-$dir}/audit-report-screenshot.png
rm -f "$shot"
headless --hide-scrollbars --window-size=1200,4000 --screenshot="$shot" "file://$dir/a/report.html" \
  >"$dir/shot.log" 2>&1 || fail "chromium --screenshot: $(tail -3 "$dir/shot.log")"
size=$(stat -c %s "$shot" 2>/dev/null || echo 0)
[ "$(head -c 8 "$shot" 2>/dev/null | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] && [ "$size" -gt 20000 ] ||
  fail "the screenshot $shot ($size bytes) is not a full-page PNG"
echo "screenshot: $shot ($size bytes)"
[ "$failures" = 0 ] || { echo "$failures failure(s)"; exit 1; }
