#!/usr/bin/env python3
"""foil's poisoned-data scans beside ART's (issue 14): spectral signatures
(Tran, Li and Madry 2018) and activation clustering (Chen et al. 2018), on
the same poisoned training set and the same backdoored model, with
precision and recall against foil poison's manifest and the wall time.

  bench/poison_scans_vs_art.py [--foil BIN] [--threads 2] [--eps 0.1] SET...

Each SET is a directory that `foil poison` wrote (train_x.npy, train_y.npy,
manifest.json) with the model trained on it beside it as SET.onnx, as
bench/poisoning_fashion_mnist.sh leaves them. ART (adversarial-robustness-
toolbox from PyPI) runs on PyTorch with the ONNX file's weights
(bench/torch_reference.py), torch and foil on the same number of threads.

What each runs, as its documentation describes it:
  foil spectral      per label, the top right singular vector of the centred
                     penultimate activations; the 1.5 eps n highest scores
  ART spectral       SpectralSignatureDefense(expected_pp_poison=eps,
                     eps_multiplier=1.5), on the activations of the layer ART
                     picks (the classifier's last)
  foil clustering    penultimate activations, PCA to 10 dimensions, 2-means,
                     the smaller cluster flagged when at most 35% of its label
  ART clustering     ActivationDefence.detect_poison(nb_clusters=2,
                     nb_dims=10, reduce="PCA"), cluster_analysis "smaller"
  foil trusted       foil clustering decided by --trusted (default the
                     built-in Fashion-MNIST's test split) instead of size
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def scores(flagged, poisoned):
    tp = len(flagged & poisoned)
    return (tp / len(flagged) if flagged else 0.0), (tp / len(poisoned) if poisoned else 1.0), len(flagged)


def foil_scan(binary, d, method, eps, threads, trusted=None):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    out = os.path.join(d, f"bench-scan-{method}{'-trusted' if trusted else ''}")
    extra = ["--trusted", trusted] if trusted else []
    t = time.perf_counter()
    subprocess.run([binary, "scan", "--model", d.rstrip("/") + ".onnx", "--method", method, "--eps", str(eps),
                    "--data", os.path.join(d, "train_x.npy"), "--labels", os.path.join(d, "train_y.npy"),
                    "--output-dir", out, "--json", *extra], check=True, capture_output=True, env=env)
    seconds = time.perf_counter() - t
    return set(json.load(open(os.path.join(out, "flagged.json")))), seconds


def art_scans(d, eps, threads):
    import torch
    from art.defences.detector.poison import ActivationDefence, SpectralSignatureDefense
    from art.estimators.classification import PyTorchClassifier
    from torch_reference import cnn_small_from_onnx

    torch.set_num_threads(threads)
    x = np.load(os.path.join(d, "train_x.npy"))
    y = np.load(os.path.join(d, "train_y.npy"))
    onehot = np.eye(10, dtype=np.float32)[y]
    model = cnn_small_from_onnx(d.rstrip("/") + ".onnx")
    clf = PyTorchClassifier(model=model, loss=torch.nn.CrossEntropyLoss(), input_shape=(1, 28, 28), nb_classes=10,
                            clip_values=(0.0, 1.0))
    out = {}
    t = time.perf_counter()
    _, is_clean = SpectralSignatureDefense(clf, x, onehot, batch_size=256, eps_multiplier=1.5,
                                           expected_pp_poison=eps).detect_poison()
    out["spectral"] = (set(np.where(np.asarray(is_clean) == 0)[0].tolist()), time.perf_counter() - t)
    t = time.perf_counter()
    _, is_clean = ActivationDefence(clf, x, onehot).detect_poison(nb_clusters=2, nb_dims=10, reduce="PCA")
    out["clustering"] = (set(np.where(np.asarray(is_clean) == 0)[0].tolist()), time.perf_counter() - t)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("sets", nargs="+")
    ap.add_argument("--foil", default=os.path.join(os.path.dirname(HERE), "build", "foil"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3, help="runs of each scan; the median time is printed")
    ap.add_argument("--eps", type=float, default=0.1)
    ap.add_argument("--trusted", default="fashion-mnist", help="foil's clustering with this clean reference too")
    a = ap.parse_args()
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    cpu = next((l.split(":", 1)[1].strip() for l in lscpu.splitlines() if l.startswith("Model name")), "?")
    import art
    print(f"# {cpu}, {a.threads} threads; eps {a.eps}; ART {art.__version__}; seconds: median of {a.repeats} runs")
    print(f"{'poisoned set':<28} {'scan':<16} {'flagged':>8} {'precision':>9} {'recall':>7} {'seconds':>8}")
    for d in a.sets:
        m = json.load(open(os.path.join(d, "manifest.json")))
        poisoned = set(m["index"])
        name = f"{os.path.basename(d.rstrip('/'))} ({m['poisoned']} of {m['examples']})"
        runs = [art_scans(d, a.eps, a.threads) for _ in range(a.repeats)]
        theirs = {m: (runs[-1][m][0], statistics.median(r[m][1] for r in runs)) for m in runs[-1]}

        def ours(method, trusted=None):
            runs = [foil_scan(a.foil, d, method, a.eps, a.threads, trusted) for _ in range(a.repeats)]
            return runs[-1][0], statistics.median(r[1] for r in runs)

        for method in ("spectral", "clustering"):
            flagged, seconds = ours(method)
            p, r, n = scores(flagged, poisoned)
            print(f"{name:<28} {'foil ' + method:<16} {n:>8} {p:>9.3f} {r:>7.3f} {seconds:>8.2f}")
            flagged, seconds = theirs[method]
            p, r, n = scores(flagged, poisoned)
            print(f"{name:<28} {'ART ' + method:<16} {n:>8} {p:>9.3f} {r:>7.3f} {seconds:>8.2f}", flush=True)
        flagged, seconds = ours("clustering", a.trusted)
        p, r, n = scores(flagged, poisoned)
        print(f"{name:<28} {'foil trusted':<16} {n:>8} {p:>9.3f} {r:>7.3f} {seconds:>8.2f}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
