#!/usr/bin/env python3
"""Evading gradient-boosted detectors under feature constraints (issue 17):
XGBoost and LightGBM classifiers, exported to ONNX with onnxmltools,
attacked through foil's black-box attacks (HopSkipJump, SimBA) on the test
examples of the bad class each model catches, with the attacker's
constraints in a rules file. Two datasets from ../shared/data:

  spambase  a spam filter. Bounds: the 54 word and character frequencies
            are percentages, 0 to 100; the three capital-run statistics at
            least 1. Integer: the longest capital run and the total of
            capitals (f55, f56). Immutable: the capital-run statistics
            (f54 to f56), which the message's formatting fixes.
  nsl-kdd   an intrusion detector (attack vs normal; the official 20%
            training subset, tested on KDDTest+). The three symbolic
            features (protocol, service, flag) become integer codes and are
            immutable: an attack cannot change its protocol. Integer: every
            count. Bounds: rates in [0, 1], counts in [0, the training
            set's largest].

Prints, for each model, attack and Linf budget (in the features' own
units), the share of the caught examples foil's attack got through, how
many of them the library's own model (XGBClassifier.predict,
LGBMClassifier.predict, not foil's reading of the export) calls benign,
the mean queries, the median Linf change and the mean features changed.
Runs in the cross-check venv (scripts/install-deps.sh --crosscheck:
/opt/foil-ml), seeded.

  /opt/foil-ml/bin/python bench/tree_evasion.py [--dataset spambase|nsl-kdd] [--foil BIN] [--work DIR]
      [--limit N] [--eps E,...]
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(HERE, "..", "shared", "data")


def spambase(rules_path):
    """(x_train, y_train, x_test, y_test, names, description); writes the rules."""
    data = np.loadtxt(os.path.join(SHARED, "spambase", "spambase.data"), delimiter=",", dtype=np.float64)
    x, y = data[:, :57].astype(np.float32), data[:, 57].astype(np.int64)
    order = np.random.RandomState(0).permutation(len(y))
    test, train = order[: len(y) // 4], order[len(y) // 4:]
    with open(rules_path, "w") as f:
        f.write("# what a spammer can change in a Spambase message's features\n")
        for i in range(54):
            f.write(f"bounds f{i} 0 100\n")
        for i in range(54, 57):
            f.write(f"bounds f{i} 1 100000\n")
        f.write("integer f55,f56\nimmutable f54,f55,f56\n")
    names = [f"f{i}" for i in range(57)]
    return x[train], y[train], x[test], y[test], names, \
        f"Spambase, {len(train)} training and {len(test)} test messages (seeded split); spam = 1"


NSL_SYMBOLIC = (1, 2, 3)  # protocol_type, service, flag
NSL_RATES = (*range(24, 31), *range(33, 41))  # serror_rate ... srv_diff_host_rate, dst_host_same_srv_rate ...


def nsl_kdd(rules_path):
    def read(name):
        rows = [line.strip().split(",") for line in open(os.path.join(SHARED, "nsl_kdd", name)) if line.strip()]
        return rows
    train_rows, test_rows = read("KDDTrain+_20Percent.txt"), read("KDDTest+.txt")
    codes = {j: sorted({r[j] for r in train_rows + test_rows}) for j in NSL_SYMBOLIC}

    def encode(rows):
        x = np.array([[codes[j].index(r[j]) if j in codes else float(r[j]) for j in range(41)] for r in rows],
                     dtype=np.float32)
        y = np.array([r[41] != "normal" for r in rows], dtype=np.int64)
        return x, y
    x_train, y_train = encode(train_rows)
    x_test, y_test = encode(test_rows)
    names = [f"f{i}" for i in range(41)]
    with open(rules_path, "w") as f:
        f.write("# what an intruder can change in an NSL-KDD connection record\n")
        f.write("immutable " + ",".join(f"f{j}" for j in NSL_SYMBOLIC) + "\n")
        counts = [j for j in range(41) if j not in NSL_SYMBOLIC and j not in NSL_RATES]
        f.write("integer " + ",".join(f"f{j}" for j in counts) + "\n")
        for j in NSL_RATES:
            f.write(f"bounds f{j} 0 1\n")
        for j in counts:
            f.write(f"bounds f{j} 0 {float(x_train[:, j].max()):g}\n")
    return x_train, y_train, x_test, y_test, names, \
        f"NSL-KDD, {len(y_train)} training records (KDDTrain+_20Percent) and {len(y_test)} test (KDDTest+); attack = 1"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", choices=["spambase", "nsl-kdd"], default="spambase")
    ap.add_argument("--foil", default=os.path.join(HERE, "build", "foil"))
    ap.add_argument("--work", default="tree-evasion-work")
    ap.add_argument("--limit", type=int, default=100, help="caught bad examples attacked per model")
    ap.add_argument("--eps", help="Linf budgets (default 0.1,0.5,2 for spambase, 0.1,1,10 for nsl-kdd)")
    a = ap.parse_args()
    import lightgbm
    import onnxmltools
    import xgboost
    from onnxmltools.convert.common.data_types import FloatTensorType

    os.makedirs(a.work, exist_ok=True)
    rules = os.path.join(a.work, f"{a.dataset}.rules")
    x_train, y_train, x_test, y_test, names, description = (spambase if a.dataset == "spambase" else nsl_kdd)(rules)
    eps_list = a.eps or ("0.1,0.5,2" if a.dataset == "spambase" else "0.1,1,10")
    F = x_train.shape[1]
    header = ",".join(names) + ",label"
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    cpu = next((l.split(":", 1)[1].strip() for l in lscpu.splitlines() if l.startswith("Model name")), "?")
    print(f"# {description}; {cpu}")
    models = {
        "xgboost": xgboost.XGBClassifier(n_estimators=200, max_depth=4, learning_rate=0.1, random_state=0),
        "lightgbm": lightgbm.LGBMClassifier(n_estimators=200, num_leaves=15, learning_rate=0.1, random_state=0,
                                            verbose=-1),
    }
    print(f"{'model':<9} {'attack':<12} {'eps':>5} {'foil says':>10} {'library':>9} {'queries':>9} "
          f"{'median Linf':>10} {'features':>8}")
    for name, clf in models.items():
        clf.fit(x_train, y_train)
        pred = clf.predict(x_test)
        accuracy = float(np.mean(pred == y_test))
        caught = np.flatnonzero((y_test == 1) & (pred == 1))[: a.limit]
        onx = onnxmltools.convert_xgboost(clf, initial_types=[("x", FloatTensorType([None, F]))]) if name == "xgboost" \
            else onnxmltools.convert_lightgbm(clf, initial_types=[("x", FloatTensorType([None, F]))], zipmap=False)
        path = os.path.join(a.work, f"{name}.onnx")
        with open(path, "wb") as f:
            f.write(onx.SerializeToString())
        csv = os.path.join(a.work, f"{name}-caught.csv")
        np.savetxt(csv, np.column_stack([x_test[caught], y_test[caught]]), delimiter=",", header=header,
                   comments="", fmt=["%.9g"] * F + ["%d"])
        print(f"# {name}: test accuracy {100 * accuracy:.2f}%, caught "
              f"{100 * np.mean(pred[y_test == 1] == 1):.2f}% of the bad class; attacking {len(caught)} caught")
        for attack in ("hsj", "simba-pixel"):
            for eps in eps_list.split(","):
                adv = os.path.join(a.work, f"{name}-{attack}-{eps}.npy")
                out = subprocess.run([a.foil, "attack", "--model", path, "--data", csv, "--label-column", "label",
                                      "--attack", attack, "--eps", eps, "--constraints", rules, "--queries", "2000",
                                      "--seed", "1", "--json", "--quiet", "--out", adv], capture_output=True, text=True)
                if out.returncode != 0:
                    print(f"{name:<9} {attack:<12} failed: {out.stderr.strip()[-300:]}")
                    continue
                r = json.loads(out.stdout)
                # The library's own model, not foil's reading of its export, judges the adversarial messages.
                evaded = int(np.sum(clf.predict(np.load(adv)) == 0))
                norm = f"{r['median_norm']:>10.3f}" if r.get("median_norm") is not None else f"{'-':>10}"
                changed = r.get("mean_features_changed")
                changed = f"{changed:>8.1f}" if changed is not None else f"{'-':>8}"
                print(f"{name:<9} {attack:<12} {eps:>5} {r['success_rate'] * 100:>9.1f}% "
                      f"{evaded:>4}/{len(caught):<4} {r['mean_queries']:>9.1f} {norm} "
                      f"{changed}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
