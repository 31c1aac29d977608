#!/usr/bin/env python3
"""Evading a gradient-boosted spam filter under feature constraints (issue
17): XGBoost and LightGBM classifiers trained on Spambase (from
../shared/data), exported to ONNX with onnxmltools, attacked through foil's
black-box attacks (HopSkipJump, SimBA) on the test split's spam that each
model catches, with the spammer's constraints in a rules file:

  - bounds: the 54 word and character frequencies are percentages, 0 to
    100; the three capital-run statistics at least 1;
  - integer: the longest capital run and the total of capitals (f55, f56);
  - immutable: the capital-run statistics (f54 to f56), which the message's
    formatting fixes.

Prints, for each model, attack and Linf budget (in percentage points of
word frequency), the share of the caught spam foil's attack got through,
how many of them the library's own model (XGBClassifier.predict,
LGBMClassifier.predict, not foil's reading of the export) calls ham, the
mean queries, the median Linf change and the mean features changed. Runs in the cross-check venv (scripts/install-deps.sh --crosscheck:
/opt/foil-ml), seeded.

  /opt/foil-ml/bin/python bench/tree_evasion_spambase.py [--foil BIN] [--work DIR] [--limit N]
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--foil", default=os.path.join(HERE, "build", "foil"))
    ap.add_argument("--work", default="tree-evasion-work")
    ap.add_argument("--data", default=os.path.join(HERE, "..", "shared", "data", "spambase", "spambase.data"))
    ap.add_argument("--limit", type=int, default=100, help="caught spam attacked per model")
    ap.add_argument("--eps", default="0.1,0.5,2")
    a = ap.parse_args()
    import lightgbm
    import onnxmltools
    import xgboost
    from onnxmltools.convert.common.data_types import FloatTensorType

    os.makedirs(a.work, exist_ok=True)
    data = np.loadtxt(a.data, delimiter=",", dtype=np.float64)
    x, y = data[:, :57].astype(np.float32), data[:, 57].astype(np.int64)
    order = np.random.RandomState(0).permutation(len(y))
    test = order[: len(y) // 4]
    train = order[len(y) // 4:]
    header = ",".join(f"f{i}" for i in range(57)) + ",spam"
    rules = os.path.join(a.work, "spammer.rules")
    with open(rules, "w") as f:
        f.write("# what a spammer can change in a Spambase message's features\n")
        for i in range(54):
            f.write(f"bounds f{i} 0 100\n")
        for i in range(54, 57):
            f.write(f"bounds f{i} 1 100000\n")
        f.write("integer f55,f56\nimmutable f54,f55,f56\n")
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    cpu = next((l.split(":", 1)[1].strip() for l in lscpu.splitlines() if l.startswith("Model name")), "?")
    print(f"# Spambase, {len(train)} training and {len(test)} test messages (seeded); {cpu}")
    models = {
        "xgboost": xgboost.XGBClassifier(n_estimators=200, max_depth=4, learning_rate=0.1, random_state=0),
        "lightgbm": lightgbm.LGBMClassifier(n_estimators=200, num_leaves=15, learning_rate=0.1, random_state=0,
                                            verbose=-1),
    }
    print(f"{'model':<9} {'attack':<12} {'eps':>5} {'foil says':>10} {'library':>9} {'queries':>9} "
          f"{'median Linf':>10} {'features':>8}")
    for name, clf in models.items():
        clf.fit(x[train], y[train])
        pred = clf.predict(x[test])
        accuracy = float(np.mean(pred == y[test]))
        caught = test[(y[test] == 1) & (pred == 1)][: a.limit]
        onx = onnxmltools.convert_xgboost(clf, initial_types=[("x", FloatTensorType([None, 57]))]) if name == "xgboost" \
            else onnxmltools.convert_lightgbm(clf, initial_types=[("x", FloatTensorType([None, 57]))], zipmap=False)
        path = os.path.join(a.work, f"{name}.onnx")
        with open(path, "wb") as f:
            f.write(onx.SerializeToString())
        csv = os.path.join(a.work, f"{name}-caught.csv")
        np.savetxt(csv, np.column_stack([x[caught], y[caught]]), delimiter=",", header=header, comments="",
                   fmt=["%.6g"] * 57 + ["%d"])
        print(f"# {name}: test accuracy {100 * accuracy:.2f}%, spam caught "
              f"{100 * np.mean(pred[y[test] == 1] == 1):.2f}%; attacking {len(caught)} caught spam")
        for attack in ("hsj", "simba-pixel"):
            for eps in a.eps.split(","):
                adv = os.path.join(a.work, f"{name}-{attack}-{eps}.npy")
                out = subprocess.run([a.foil, "attack", "--model", path, "--data", csv, "--label-column", "spam",
                                      "--attack", attack, "--eps", eps, "--constraints", rules, "--queries", "2000",
                                      "--seed", "1", "--json", "--quiet", "--out", adv], capture_output=True, text=True)
                if out.returncode != 0:
                    print(f"{name:<9} {attack:<12} failed: {out.stderr.strip()[-300:]}")
                    continue
                r = json.loads(out.stdout)
                # The library's own model, not foil's reading of its export, judges the adversarial messages.
                evaded = int(np.sum(clf.predict(np.load(adv)) == 0))
                print(f"{name:<9} {attack:<12} {eps:>5} {r['success_rate'] * 100:>9.1f}% "
                      f"{evaded:>4}/{len(caught):<4} {r['mean_queries']:>9.1f} {r['median_norm']:>10.3f} "
                      f"{r['mean_features_changed']:>8.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
