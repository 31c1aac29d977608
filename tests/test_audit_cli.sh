#!/usr/bin/env bash
# foil audit on the fixture models, small samples and short eps lists:
#   - report.json has the schema's parts, every accuracy inside its 95%
#     interval, each attack's robust accuracy at most the clean one, and
#     the worst case at each eps at most every attack run there (it is the
#     per-example worst case); report.html holds the charts and the gates;
#   - requirements gate: one the model meets passes (exit 0), one it misses
#     exits 3 naming it (and fails in the JUnit XML), a figure the audit
#     lacks fails, and
#     --require-confident judges the interval's low end, so a threshold
#     between that end and the figure passes without it and fails with it;
#   - the example grid: one correctly classified image per class, each
#     adversarial example within eps and misclassified, its PNGs on disk
#     and inside report.html, integrated gradients within 5% of
#     completeness (the paper's check);
#   - every report validates against docs/schema/foil-audit-1.schema.json,
#     and a report with a wrong type or a bad image path does not;
#   - a declared defense (bit-depth squeezing and median smoothing) is
#     attacked as given and adaptively (BPDA): the adaptive attacks break
#     it, the report flags gradient masking, and the worst case takes the
#     adaptive figures;
#   - detectors are scored against every attack at the headline eps, and
#     the attacker who knows them (orthogonal and selective PGD) gets most
#     examples through them on an undefended model;
#   - a model behind --command (no gradients) gets the black-box attacks
#     only, examples without saliency maps, and the report says why;
#   - tabular data gets Linf only and SimBA as its score-based attack;
#   - the backdoor scan (Neural Cleanse, few steps: the structure, not the
#     verdict, which test_audit.c checks on a toy model with and without a
#     backdoor): per-class arrays, the trigger's PNGs on disk and inline,
#     the bar chart; --require 'backdoor-anomaly<=V' judges its index (exit
#     3 when it is above V), an audit without the scan fails the gate, and
#     black-box models, tabular data and declared defenses skip it, saying
#     why;
#   - the privacy section (membership inference): on Fashion-MNIST the
#     members are the training split, assumed, the non-members the test
#     split, 1,000 each, their indices and SHA-256 in report.json, every
#     attack's figures consistent with its ROC curve, the log-log chart in
#     report.html; a --require on a membership figure fails when violated
#     and has no interval; --no-privacy leaves it out saying so; a user's
#     file without --members says the audit cannot tell, and with
#     --members FILE draws members from it; bad privacy options are refused;
#   - --compare finds no change between a report and itself, calls a
#     10-point fall on 1,000 examples worse (exit 3) and a 1-point one
#     noise, shows the backdoor scans beside the figures (with or without
#     one), and refuses a file that is not an audit report;
#   - bad options are refused (exit 2) with a message naming them.
set -uo pipefail
FOIL=${FOIL_BIN:?}
MODEL=${FOIL_ATTACK_MODEL:?}
TABULAR=${FOIL_ATTACK_TABULAR_MODEL:?}
source "${FOIL_SOURCE_DIR:?}/tests/cli_helpers.sh"
need_fashion_mnist
py=/usr/bin/python3
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
# the backdoor scan has its own audit below: the others leave it out (it costs tens of seconds)
# (the privacy section, a second or two, runs in the first audit and the one on a missing figure)
small=(--limit 60 --eps-linf 0.05,0.1 --eps-l2 1 --queries 300 --quiet --no-backdoor-scan)

check "audit, requirement met" 0 "requirement clean>=0.5 +pass" -- \
  "$FOIL" audit --model "$MODEL" --data fashion-mnist --out "$dir/a" "${small[@]}" --require 'clean>=0.5'
"$py" - "$dir/a" <<'PY' || fail "report.json figures"
import json, sys
d = sys.argv[1]
r = json.load(open(d + "/report.json"))
assert r["schema"] == "foil-audit/1" and r["profile"] == "quick" and r["passed"] is True, r["schema"]
assert r["data"]["examples"] == 60 and r["data"]["classes"] == 10
f = r["figures"]
for key, fig in f.items():
    assert fig["ci_low"] <= fig["value"] <= fig["ci_high"], (key, fig)
    assert abs(fig["value"] - fig["correct"] / fig["examples"]) < 1e-12, key
clean = f["clean"]["value"]
runs = r["runs"]
# Linf: fgsm, pgd, apgd-ce, apgd-dlr at 2 eps; L2: pgd, apgd-ce at 1; square and hsj at the headline 0.1
keys = [x["key"] for x in runs]
assert len(runs) == 12 and "square-linf@0.1" in keys and "hsj-linf@0.1" in keys, keys
assert all(x["queries"] == 300 for x in runs if x["attack"] in ("square", "hsj")), runs
for x in runs:
    assert x["robust_accuracy"]["value"] <= clean + 1e-12, x["key"]
    worst = f["worst-%s@%g" % (x["norm"], x["eps"])]["value"]
    assert worst <= x["robust_accuracy"]["value"] + 1e-12, (x["key"], worst)
    assert (x["steps"] is None) == (x["attack"] in ("fgsm", "square", "hsj")), x
assert f["worst-linf@0.1"]["value"] < 0.5 * clean, "an undefended model at eps 0.1 should fall"
assert f["worst-linf@0.05"]["value"] >= f["worst-linf@0.1"]["value"]
# verified accuracy: CROWN on the sample's first 20, from the smallest eps
v = r["verification"]
assert v["method"] == "crown" and v["examples"] == 20 and v["eps"][0]["figure"] == "verified-linf@0.05", v
for e in v["eps"]:
    assert f[e["figure"]]["examples"] == 20, e
assert len(v["eps"]) == 2 or "none was verified at a smaller one" in " ".join(r["skipped"]), (v, r["skipped"])
pc = r["per_class"]
assert pc["robust_figure"] == "worst-linf@0.1" and len(pc["classes"]) == 10
assert r["requirements"][0]["passed"] and r["requirements"][0]["value"] == clean
html = open(d + "/report.html").read()
assert html.count("<svg") == 3 and "Robust accuracy against linf eps" in html and "Requirements" in html
print("report ok: clean %.3f, worst-linf@0.1 %.3f" % (clean, f["worst-linf@0.1"]["value"]))
PY
"$py" - "$dir/a" <<'PY' || fail "the privacy section"
import json, sys
d = sys.argv[1]
r = json.load(open(d + "/report.json"))
p = r["privacy"]
m, o = p["members"], p["non_members"]
assert p["seed"] == r["data"]["seed"] and p["method"] == "threshold attacks", p["method"]
assert (m["data"], m["split"], m["assumed"]) == ("fashion-mnist", "train", True), m["split"]
assert (o["data"], o["split"], o["examples"]) == ("fashion-mnist", "test", 1000), o["split"]
for s, total in ((m, 60000), (o, 10000)):
    ix = s["index"]
    assert s["examples"] == len(ix) == 1000 and all(0 <= a < b < total for a, b in zip(ix, ix[1:])), s["data"]
    assert len(s["sha256"]) == 64 and int(s["sha256"], 16) >= 0
acc = p["accuracy"]
assert acc["members"]["examples"] == 1000 and abs(acc["gap"] - (acc["members"]["value"] - acc["non_members"]["value"])) < 1e-12
attacks = [a["attack"] for a in p["attacks"]]
assert attacks == ["loss", "confidence", "entropy", "modified-entropy"], attacks
for a in p["attacks"]:
    fpr, tpr = a["roc"]["fpr"], a["roc"]["tpr"]
    assert fpr[0] <= 0.001 + 1e-12 and fpr[-1] == 1 and tpr[-1] == 1, (a["attack"], fpr[:3])
    assert all(x <= y for x, y in zip(fpr, fpr[1:])) and all(x <= y for x, y in zip(tpr, tpr[1:])), a["attack"]
    # the TPR at 1% FPR lies between the curve's points on either side of 1% FPR
    below = max(t for f, t in zip(fpr, tpr) if f <= 0.01 + 1e-12)
    above = min(t for f, t in zip(fpr, tpr) if f > 0.01 + 1e-12)
    assert below <= a["tpr_at_1%_fpr"] <= above, (a["attack"], below, a["tpr_at_1%_fpr"], above)
    assert a["tpr_at_0.1%_fpr"] <= a["tpr_at_1%_fpr"] and 0.5 <= a["balanced_accuracy"] <= 1, a
    assert p["figures"]["membership-%s-auc" % a["attack"]] == a["auc"], a["attack"]
assert p["figures"]["membership-auc"] == max(a["auc"] for a in p["attacks"])
# a model trained one epoch on 60,000 images leaks little to a threshold
assert 0.4 < p["figures"]["membership-auc"] < 0.7, p["figures"]["membership-auc"]
html = open(d + "/report.html").read()
assert "Privacy: membership inference" in html and "ROC curves (log-log)" in html and "foil infer" in html
assert "<b>assumed</b>" in html and ">0.1%<" in html and ">100%<" in html
print("privacy ok: membership-auc %.4f, tpr@0.1%%fpr %.4f" % (p["figures"]["membership-auc"], p["figures"]["membership-tpr@0.1%fpr"]))
PY
"$py" - "$dir/a" <<'PY' || fail "the example grid"
import json, sys
d = sys.argv[1]
r = json.load(open(d + "/report.json"))
ex = r["examples"]
assert ex["eps"] == 0.1 and ex["saliency_steps"] >= 20, ex["eps"]
items = ex["items"]
assert [x["label"] for x in items] == sorted({x["label"] for x in items}) and len(items) >= 5, [x["label"] for x in items]
html = open(d + "/report.html").read()
images = 0
for x in items:
    c, a = x["clean"], x["adversarial"]
    assert c["predicted"] == x["label"] and 0 < c["confidence"] <= 1, x
    paths = [c["image"], c["saliency"]["image"]]
    assert c["saliency"]["completeness_gap"] is None or c["saliency"]["completeness_gap"] < 0.05, c
    if a is not None:
        assert a["predicted"] != x["label"] and a["linf_distance"] <= 0.1 + 1e-6, a
        assert a["saliency"]["class"] == a["predicted"], a
        assert a["saliency"]["completeness_gap"] is None or a["saliency"]["completeness_gap"] < 0.05, a
        paths += [a["image"], a["perturbation_image"], a["saliency"]["image"]]
    for p in paths:
        assert open(d + "/" + p, "rb").read(8) == b"\x89PNG\r\n\x1a\n", p
    images += len(paths)
assert sum(a is not None for a in (x["adversarial"] for x in items)) >= len(items) // 2, "eps 0.1 fools most"
assert html.count('src="data:image/png;base64,') == images, (html.count("data:image/png"), images)
print("examples ok: %d images, %d examples" % (images, len(items)))
PY
# the gates on a smaller audit: one eps per norm, 30 examples
tiny=(--limit 30 --eps-linf 0.1 --eps-l2 1 --queries 100 --quiet --no-backdoor-scan --no-privacy)
check "audit, requirement missed" 3 "requirement not met: worst-linf@0.1>=0.99" -- \
  "$FOIL" audit --model "$MODEL" --data fashion-mnist --out "$dir/b" "${tiny[@]}" \
  --require 'clean>=0.5' --require 'worst-linf@0.1>=0.99' --junit "$dir/b.xml"
"$py" - "$dir/b.xml" <<'PY' || fail "JUnit XML"
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
assert root.tag == "testsuites" and root.get("tests") == "2" and root.get("failures") == "1", root.attrib
cases = root.findall("./testsuite/testcase")
assert [c.get("name") for c in cases] == ["clean>=0.5", "worst-linf@0.1>=0.99"], [c.get("name") for c in cases]
assert cases[0].find("failure") is None
msg = cases[1].find("failure").get("message")
assert msg.startswith("worst-linf@0.1 is ") and msg.endswith("below 0.9900"), msg
PY
"$py" -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["passed"] is False and [q["passed"] for q in r["requirements"]] == [True, False]' \
  "$dir/b/report.json" || fail "report.json records the failed requirement"
grep -q 'class="fail">FAIL' "$dir/b/report.html" || fail "report.html shows the failed requirement"
"$py" -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["privacy"] is None and "membership inference (privacy): turned off (--no-privacy)" in r["skipped"], r["skipped"]' \
  "$dir/b/report.json" || fail "--no-privacy: no privacy section, and the report says why"
mid=$("$py" -c 'import json,sys; f=json.load(open(sys.argv[1]))["figures"]["clean"]; print((f["value"] + f["ci_low"]) / 2)' \
  "$dir/b/report.json")
# this one with the privacy section, 200 members and 200 non-members: a
# membership gate met, one missed, one on an attack that did not run
check "figure the audit lacks" 3 "requirement not met: pgd-linf@0.7>=0.1 \(no such figure" -- \
  "$FOIL" audit --model "$MODEL" --data fashion-mnist --out "$dir/c" "${tiny[@]/--no-privacy/--privacy-examples=200}" \
  --require 'pgd-linf@0.7>=0.1' --require 'backdoor-anomaly<=2' --require 'membership-tpr@1%fpr<=1' \
  --require 'membership-auc<=0.01' --require 'membership-gap-auc<=1' --require-confident
grep -q "requirement not met: backdoor-anomaly<=2 (no such figure" <<<"$out" ||
  fail "an audit without the backdoor scan fails its gate"
grep -q "requirement not met: membership-auc<=0.01 (see the report)" <<<"$out" &&
  grep -q "requirement not met: membership-gap-auc<=1 (no such figure" <<<"$out" &&
  grep -qE "^  membership-auc +0\.[0-9]{4}  \(the strongest of 4 threshold attacks, 200 members and 200 non-members\)" <<<"$out" ||
  fail "the membership gates and summary lines: $(grep membership <<<"$out" | head -3)"
"$py" - "$dir/c/report.json" <<'PY' || fail "the membership requirements in report.json"
import json, sys
r = json.load(open(sys.argv[1]))
q = {x["figure"]: x for x in r["requirements"]}
f = r["privacy"]["figures"]
assert r["privacy"]["members"]["examples"] == 200, r["privacy"]["members"]["examples"]
assert q["membership-tpr@1%fpr"]["passed"] and not q["membership-auc"]["passed"], q
# no interval: judged by the figure itself even under --require-confident
assert q["membership-auc"]["value"] == f["membership-auc"] and not q["membership-auc"]["confident"], q["membership-auc"]
assert not q["membership-gap-auc"]["found"], q["membership-gap-auc"]
PY
grep -q "not run: backdoor scan (Neural Cleanse): turned off (--no-backdoor-scan)" <<<"$out" ||
  fail "the summary says the backdoor scan was turned off"
check "threshold between the interval's end and the figure" 0 "pass" -- \
  "$FOIL" audit --model "$MODEL" --data fashion-mnist --out "$dir/d" "${tiny[@]}" --require "clean>=$mid"
check "... fails when judged by the interval" 3 "requirement not met: clean>=" -- \
  "$FOIL" audit --model "$MODEL" --data fashion-mnist --out "$dir/d" "${tiny[@]}" --require "clean>=$mid" \
  --require-confident

# --seed 1: breast-cancer's train/test split follows the seed, and the fixture trained at 1
check "tabular audit" 0 "not run: backdoor scan .*the data are not images" -- \
  "$FOIL" audit --model "$TABULAR" --data breast-cancer --out "$dir/t" --limit 40 --eps-linf 0.05,0.1 --queries 200 \
  --quiet --seed 1
"$py" - "$dir/t/report.json" <<'PY' || fail "tabular report"
import json, sys
r = json.load(open(sys.argv[1]))
attacks = sorted({(x["attack"], x["norm"]) for x in r["runs"]})
assert ("simba-pixel", "linf") in attacks and ("hsj", "linf") in attacks, attacks
assert all(n == "linf" for _, n in attacks), attacks
p = r["privacy"]  # every test example (142), and as many members
n = p["non_members"]["examples"]
assert p["members"]["split"] == "train" and n == len(p["non_members"]["index"]) == p["members"]["examples"] == 142, n
PY

# a user's file: the audit cannot know the members unless told (--members FILE)
"$py" - "$dir" <<'PY' || fail "writing the CSV files"
import sys
rows = open("/usr/lib/python3/dist-packages/sklearn/datasets/data/breast_cancer.csv").read().split("\n")[1:]
rows = [r for r in rows if r.strip()]
head = ",".join(["f%d" % i for i in range(30)] + ["label"]) + "\n"
open(sys.argv[1] + "/bc.csv", "w").write(head + "\n".join(rows[1::2]) + "\n")
open(sys.argv[1] + "/bc-members.csv", "w").write(head + "\n".join(rows[0::2]) + "\n")
PY
tab=(--limit 20 --eps-linf 0.1 --queries 50 --quiet)
check "a file's audit without --members" 0 "not run: membership inference \(privacy\): the audit does not know which examples the model trained on" -- \
  "$FOIL" audit --model "$TABULAR" --data "$dir/bc.csv" --label-column label --out "$dir/u" "${tab[@]}"
check "a file's audit with --members FILE" 0 "membership-auc " -- \
  "$FOIL" audit --model "$TABULAR" --data "$dir/bc.csv" --label-column label --out "$dir/v" "${tab[@]}" \
  --members "$dir/bc-members.csv" --privacy-examples 100
"$py" - "$dir/v/report.json" <<'PY' || fail "the privacy section of a file's audit"
import json, sys
p = json.load(open(sys.argv[1]))["privacy"]
m, o = p["members"], p["non_members"]
assert (m["data"], m["split"], m["assumed"], o["data"], o["split"]) == ("bc-members", "all", False, "bc", "all"), (m, o)
assert m["examples"] == o["examples"] == 100 and max(m["index"]) < 285 and max(o["index"]) < 284, (m["index"][-1], o["index"][-1])
PY
check "--members train on a file audited whole" 2 "--members train needs --split test" -- \
  "$FOIL" audit --model "$TABULAR" --data "$dir/bc.csv" --label-column label --out "$dir/e" --members train
check "--members that cannot be read" 1 "--members: .*nothing.csv" -- \
  "$FOIL" audit --model "$TABULAR" --data "$dir/bc.csv" --label-column label --out "$dir/e" --members "$dir/nothing.csv"
check "--no-privacy with --members" 2 "--no-privacy turns membership inference off" -- \
  "$FOIL" audit --model "$MODEL" --data fashion-mnist --out "$dir/e" --no-privacy --members train
check "--privacy-examples 0" 2 "--privacy-examples must be >= 1" -- \
  "$FOIL" audit --model "$MODEL" --data fashion-mnist --out "$dir/e" --privacy-examples 0

check "audit of a declared defense" 0 "relies on gradient masking" -- \
  "$FOIL" audit --model "$MODEL" --data fashion-mnist --out "$dir/p" "${tiny[@]}" --preprocess squeeze:bits=4,median:3
"$py" - "$dir/p/report.json" <<'PY' || fail "the defended model's report"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["defense"]["preprocess"] == "squeeze:bits=4,median:3" and r["defense"]["gradient_masking"] >= 2, r["defense"]
assert r["verification"] is None and any("declared" in s and "CROWN" in s for s in r["skipped"]), r["skipped"]
assert r["backdoor"] is None and any("Neural Cleanse" in s and "declared preprocessing" in s for s in r["skipped"]), r["skipped"]
runs = {x["key"]: x for x in r["runs"]}
f = r["figures"]
for name in ("pgd", "apgd-ce"):
    plain, adaptive = runs[name + "-linf@0.1"], runs[name + "+bpda-linf@0.1"]
    assert adaptive["adaptive"] == "bpda" and plain["adaptive"] == "", (plain["adaptive"], adaptive["adaptive"])
    gap = plain["robust_accuracy"]["value"] - adaptive["robust_accuracy"]["value"]
    assert gap > 0.2 and "gradient masking" in adaptive["warnings"], (name, gap, adaptive["warnings"])
    assert f["worst-linf@0.1"]["value"] <= adaptive["robust_accuracy"]["value"], name
PY

check "audit with detectors" 0 "detector max-softmax +ROC AUC" -- \
  "$FOIL" audit --model "$MODEL" --data fashion-mnist --out "$dir/g" "${tiny[@]}" --detector max-softmax,energy
"$py" - "$dir/g/report.json" <<'PY' || fail "the detectors' report"
import json, sys
r = json.load(open(sys.argv[1]))
det = r["detection"]
assert det["eps"] == 0.1 and det["fpr"] == 0.05 and [d["detector"] for d in det["detectors"]] == ["max-softmax", "energy"]
plain_runs = [x["attack"] for x in r["runs"] if x["eps"] == 0.1 and x["norm"] == "linf" and not x["adaptive"]]
for d in det["detectors"]:
    rows = d["attacks"]
    assert [x["attack"] for x in rows[:-1]] == plain_runs and rows[-1]["adaptive"], [x["attack"] for x in rows]
    for x in rows:
        assert x["evaded"] <= x["fooled"] <= x["attacked"], x
        assert x["roc_auc"] is None or 0 <= x["roc_auc"] <= 1, x
    adaptive = rows[-1]
    assert adaptive["evaded"] >= 0.5 * adaptive["attacked"], ("the adaptive attacker gets most through", adaptive)
PY
check "unknown detector" 2 "unknown detector 'bogus'" -- \
  "$FOIL" audit --model "$MODEL" --data fashion-mnist --out "$dir/e" --detector bogus
check "detector FPR out of range" 2 "detector-fpr must lie strictly between 0 and 1" -- \
  "$FOIL" audit --model "$MODEL" --data fashion-mnist --out "$dir/e" --detector energy --detector-fpr 1.5

# the backdoor scan, at 40 steps a class (the default 1200 takes tens of
# seconds): its figure gated twice, once passing and once not
bd=(--limit 30 --eps-linf 0.1 --eps-l2 1 --queries 100 --quiet --backdoor-steps 40 --no-privacy)
check "audit with the backdoor scan" 3 "requirement not met: backdoor-anomaly<=0 \(see the report\)" -- \
  "$FOIL" audit --model "$MODEL" --data fashion-mnist --out "$dir/k" "${bd[@]}" \
  --require 'backdoor-anomaly<=1000' --require 'backdoor-anomaly<=0' --require 'backdoor-strip-tpr<=1' \
  --require-confident --junit "$dir/k.xml"
grep -qE "^  backdoor-anomaly +[0-9.]+  \(Neural Cleanse, 30 images, 40 steps; " <<<"$out" &&
  grep -qE "^  backdoor-strip-tpr +[0-9.]+% .*\(STRIP at 5% FPR, class [0-9]'s trigger on [0-9]+ images\)" <<<"$out" ||
  fail "the summary's backdoor lines: $(grep backdoor <<<"$out" | head -2)"
"$py" - "$dir/k" <<'PY' || fail "the backdoor scan's report"
import json, math, sys, xml.etree.ElementTree as ET
d = sys.argv[1]
r = json.load(open(d + "/report.json"))
b = r["backdoor"]
assert b["method"] == "neural-cleanse" and b["figure"] == "backdoor-anomaly" and b["images"] == 30 and b["steps"] == 40, b
assert b["threshold"] == 2 and b["seed"] == r["data"]["seed"] and b["seconds"] > 0, b
pc = b["per_class"]
assert all(len(pc[k]) == 10 for k in ("mask_l1", "success", "anomaly_index")), pc
norms = [n for n in pc["mask_l1"] if n is not None]
assert len(norms) >= 3 and all(0 < n <= 784 for n in norms), pc["mask_l1"]
# the anomaly index is |norm - median| / MAD, and the figure the largest one below the median
med, mad = b["median_mask_l1"], b["mad"]
for n, a in zip(pc["mask_l1"], pc["anomaly_index"]):
    assert n is None or abs(a - abs(n - med) / mad) < 1e-6 * max(1, a), (n, a, med, mad)
below = [a for n, a in zip(pc["mask_l1"], pc["anomaly_index"]) if n is not None and n < med]
assert abs(b["anomaly_index"] - max(below)) < 1e-12, (b["anomaly_index"], below)
flagged = b["flagged"]
assert (flagged is not None) == (b["anomaly_index"] > 2) and b["verdict"] == ("suspected" if flagged is not None else "none")
t = b["trigger"]
shown = flagged if flagged is not None else min(range(10), key=lambda c: math.inf if pc["mask_l1"][c] is None else pc["mask_l1"][c])
assert t["class"] == shown and t["flagged"] == (flagged is not None), (t, shown)
s = t["strip"]
assert s["images"] >= 2 and s["overlays"] == 100 and s["fpr"] <= 0.05 and 0 <= s["success"] <= 1, s
assert s["figure"] == "backdoor-strip-tpr" and s["tpr"]["examples"] == s["images"], s
assert s["tpr"]["ci_low"] <= s["tpr"]["value"] <= s["tpr"]["ci_high"], s
assert t["stamped"]["label"] != shown, t["stamped"]
html = open(d + "/report.html").read()
for p in (t["mask_image"], t["image"], t["stamped"]["image"]):
    assert p.startswith("examples/backdoor-") and open(d + "/" + p, "rb").read(8) == b"\x89PNG\r\n\x1a\n", p
assert html.count("<svg") == 3 and "Smallest trigger per class (Neural Cleanse)" in html, html.count("<svg")
assert 'alt="backdoor trigger"' in html and ("Backdoor suspected" in html) == (flagged is not None)
req = r["requirements"]
# --require-confident: the anomaly index has no interval and is judged as it is, the TPR by its high end
assert [q["passed"] for q in req] == [True, False, True] and all(q["value"] == b["anomaly_index"] for q in req[:2]), req
assert req[1]["threshold"] == 0 and req[0]["threshold"] == 1000 and req[2]["value"] == s["tpr"]["ci_high"], req
assert [q["confident"] for q in req] == [False, False, True], req
cases = ET.parse(d + ".xml").getroot().findall("./testsuite/testcase")
msg = cases[1].find("failure").get("message")
assert cases[0].find("failure") is None and msg.startswith("backdoor-anomaly is ") and msg.endswith("above 0.0000"), msg
print("backdoor scan ok: anomaly index %.2f, flagged %s, STRIP TPR %.2f on class %d" % (b["anomaly_index"], flagged, s["tpr"]["value"], shown))
PY
check "--backdoor-steps 0" 2 "--backdoor-steps must be >= 1" -- \
  "$FOIL" audit --model "$MODEL" --data fashion-mnist --out "$dir/e" --backdoor-steps 0
check "--backdoor-steps not a number" 2 "backdoor-steps" -- \
  "$FOIL" audit --model "$MODEL" --data fashion-mnist --out "$dir/e" --backdoor-steps many
check "backdoor-anomaly below 0" 2 "an anomaly index >= 0" -- \
  "$FOIL" audit --model "$MODEL" --data fashion-mnist --out "$dir/e" --require 'backdoor-anomaly<=-1'

# every report against the schema; a wrong type and an image outside
# examples/ must not validate (the schema checks something)
"$py" - "$FOIL_SOURCE_DIR/docs/schema/foil-audit-1.schema.json" "$dir"/{a,b,k,t,p,g,c,u,v}/report.json <<'PY' || fail "schema"
import copy, json, sys
try:
    import jsonschema
except ImportError:
    print("SKIP: python3-jsonschema is not installed (scripts/install-deps.sh installs it)")
    sys.exit(0)
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
v = jsonschema.Draft202012Validator(schema)
for path in sys.argv[2:]:
    r = json.load(open(path))
    errors = ["%s: %s" % ("/".join(map(str, e.path)), e.message) for e in v.iter_errors(r)]
    assert not errors, (path, errors[:5])
r = json.load(open(sys.argv[2]))
bad = copy.deepcopy(r)
bad["figures"]["clean"]["value"] = "high"
assert not v.is_valid(bad), "a figure's value as a string validated"
bad = copy.deepcopy(r)
bad["examples"]["items"][0]["clean"]["image"] = "../outside.png"
assert not v.is_valid(bad), "an image path outside examples/ validated"
k = json.load(open(sys.argv[4]))
assert k["backdoor"] is not None and r["backdoor"] is None, "the reports with and without the backdoor scan"
bad = copy.deepcopy(k)
bad["backdoor"]["per_class"]["mask_l1"][0] = -1
assert not v.is_valid(bad), "a negative mask norm validated"
bad = copy.deepcopy(k)
bad["backdoor"]["trigger"]["image"] = "examples/../../trigger.png"
assert not v.is_valid(bad), "a trigger image outside examples/ validated"
bad = copy.deepcopy(r)
bad["privacy"]["members"]["sha256"] = "not a hash"
assert not v.is_valid(bad), "a privacy section without a SHA-256 validated"
bad = copy.deepcopy(r)
bad["privacy"]["attacks"][0]["tpr_at_0.1%_fpr"] = 1.5
assert not v.is_valid(bad), "a TPR above 1 validated"
print("schema ok: %d reports" % (len(sys.argv) - 2))
PY

# a model behind a command gives no gradients: black-box attacks only
if [ -n "${FOIL_REMOTE_SERVER:-}" ]; then
  check "audit of a --command model" 0 "not run: white-box attacks" -- \
    "$FOIL" audit --command "$FOIL_REMOTE_SERVER --stdin --model $MODEL --features 784" --input-shape 1,28,28 \
    --data fashion-mnist --out "$dir/r" --limit 20 --eps-linf 0.1 --queries 100 --quiet --no-privacy
  "$py" - "$dir/r/report.json" <<'PY' || fail "the remote model's report"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["model"]["kind"] != "onnx", r["model"]
assert sorted(x["attack"] for x in r["runs"]) == ["hsj", "square"], [x["attack"] for x in r["runs"]]
assert any("white-box" in s for s in r["skipped"]) and any("saliency" in s for s in r["skipped"]), r["skipped"]
assert r["backdoor"] is None and any("Neural Cleanse" in s and "no input gradients" in s for s in r["skipped"]), r["skipped"]
items = r["examples"]["items"]
assert items and all(x["clean"]["saliency"] is None for x in items), items[0]
PY
fi

# --compare: a report against itself changes nothing; a report whose
# figures fell by far more than their intervals is called worse (exit 3)
check "compare a report with itself" 0 "0 better, 0 worse beyond the noise" -- "$FOIL" audit --compare "$dir/a" "$dir/a/report.json"
grep -q backdoor <<<"$out" && fail "compare shows a backdoor line when neither report scanned"
grep -qE "^  membership-auc +(0\.[0-9]{4}) +\1  \(no interval; gate it with --require\)" <<<"$out" ||
  fail "compare shows both reports' membership figures: $(grep membership <<<"$out" | head -2)"
check "compare --json, the privacy sections" 0 '"privacy":\{"before":null,"after":\{"membership-auc":0\.[0-9]+' -- \
  "$FOIL" audit --compare "$dir/b" "$dir/c" --json
check "compare a report without the backdoor scan and one with it (the same sample otherwise)" 0 "backdoor-anomaly +not scanned -> [0-9.]+, (none|class [0-9] flagged)" -- \
  "$FOIL" audit --compare "$dir/b" "$dir/k"
check "compare --json, the backdoor scans" 0 '"backdoor":\{"before":null,"after":\{"anomaly_index":[0-9.]+' -- \
  "$FOIL" audit --compare "$dir/b" "$dir/k" --json
"$py" - "$dir/a/report.json" "$dir/worse.json" <<'PY' || fail "a worse report"
import json, math, sys
r = json.load(open(sys.argv[1]))
z = 1.959963984540054
def wilson(k, n):
    p, z2n = k / n, z * z / n
    c, h = (p + z2n / 2) / (1 + z2n), z / (1 + z2n) * math.sqrt(p * (1 - p) / n + z2n / (4 * n))
    return {"value": p, "correct": k, "examples": n, "ci_low": max(0, c - h), "ci_high": min(1, c + h)}
r["figures"] = {"clean": wilson(900, 1000), "worst-linf@0.1": wilson(500, 1000)}
json.dump(r, open(sys.argv[2], "w"))
r["figures"] = {"clean": wilson(800, 1000), "worst-linf@0.1": wilson(510, 1000), "pgd-linf@0.1": wilson(1, 2)}
json.dump(r, open(sys.argv[2] + ".after", "w"))
PY
check "a fall beyond the noise" 3 "clean +90.00% +80.00% +-10.00 .*WORSE" -- \
  "$FOIL" audit --compare "$dir/worse.json" "$dir/worse.json.after"
grep -qE "worst-linf@0.1 .*within noise" <<<"$out" || fail "a 1-point change on 1,000 examples is noise"
grep -q "1 worse beyond the noise, 1 within it; 0 figures only in the first report, 1 only in the second" <<<"$out" ||
  fail "compare's summary line"
check "compare --json" 3 '"verdict":"worse"' -- "$FOIL" audit --compare "$dir/worse.json" "$dir/worse.json.after" --json
"$py" -c 'import json,sys; r=json.load(open(sys.argv[1])); r["backdoor"]="scanned"; json.dump(r, open(sys.argv[2], "w"))' \
  "$dir/k/report.json" "$dir/bad-backdoor.json"
check "compare a report whose backdoor scan is malformed" 1 'bad-backdoor.json: "backdoor" is not an object' -- \
  "$FOIL" audit --compare "$dir/k" "$dir/bad-backdoor.json"
echo '{"schema": "something-else/2", "figures": {}}' >"$dir/other.json"
check "compare a file that is no audit report" 1 "other.json: not a foil audit report" -- \
  "$FOIL" audit --compare "$dir/a" "$dir/other.json"
check "compare a missing file" 1 "nothing.json: cannot read" -- "$FOIL" audit --compare "$dir/a" "$dir/nothing.json"
check "compare with one report" 2 "takes two reports" -- "$FOIL" audit --compare "$dir/a"

check "bad requirement" 2 "expected FIGURE>=VALUE" -- \
  "$FOIL" audit --model "$MODEL" --data fashion-mnist --out "$dir/e" --require 'clean=0.5'
check "requirement out of range" 2 "VALUE in" -- \
  "$FOIL" audit --model "$MODEL" --data fashion-mnist --out "$dir/e" --require 'clean>=85'
check "bad profile" 2 "--profile must be quick, standard or thorough" -- \
  "$FOIL" audit --model "$MODEL" --data fashion-mnist --out "$dir/e" --profile fast
check "eps out of order" 2 "increasing order" -- \
  "$FOIL" audit --model "$MODEL" --data fashion-mnist --out "$dir/e" --eps-linf 0.1,0.05
check "unwritable --junit" 1 "cannot write" -- \
  "$FOIL" audit --model "$MODEL" --data fashion-mnist --out "$dir/e" --junit /proc/foil.xml "${small[@]}"
check "--out is required" 2 "--out is required" -- "$FOIL" audit --model "$MODEL" --data fashion-mnist
check "unwritable --out" 1 "cannot create the directory" -- \
  "$FOIL" audit --model "$MODEL" --data fashion-mnist --out /proc/foil-audit "${small[@]}"
[ "$failures" = 0 ] || { echo "$failures failure(s)"; exit 1; }
