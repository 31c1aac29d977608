"""Side-by-side benchmark of several foil builds (e.g. a -march=native build
against the portable build that picks its kernels at run time).

Each round runs, for every build in turn (so the machine's noise hits all
alike), the attack and training workloads of bench/attack_vs_torch.py and
bench/train_vs_torch.py:

  - PGD Linf, eps 0.1, step 0.01, 10 steps, every step taken, on the first
    1,000 Fashion-MNIST test images, batch 250 (images/s);
  - the Square Attack, Linf eps 0.1, 1,000 queries per image (queries/s);
  - one training epoch of cnn-small on Fashion-MNIST, batch 128, Adam lr 1e-3
    constant (seconds, foil's own epoch timer);
  - bench_engine forward and forward + input gradient at batch 1 and 256.

It prints medians over the rounds and each build's ratio to the first one's
(per workload: time ratio, below 1 is faster), plus the kernel set each build
reports (`foil --version`).

usage: /usr/bin/python3 bench/builds_side_by_side.py BUILD [BUILD ...]
           [--model M.onnx] [--rounds 5] [--no-train]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

import numpy as np

from torch_reference import fashion_mnist_test

N, BATCH, EPS, ALPHA, STEPS = 1000, 250, 0.1, 0.01, 10
ENV = dict(os.environ, OMP_NUM_THREADS="2")


def run_json(cmd):
    return json.loads(subprocess.run(cmd, env=ENV, check=True, capture_output=True, text=True).stdout)


def attack(build, model, data, extra):
    return run_json([os.path.join(build, "foil"), "attack", "--model", model, "--data", data[0], "--labels", data[1],
                     "--split", "all", "--batch", str(BATCH), "--threads", "2", "--quiet", "--json"] + extra)


def pgd_images_per_s(build, model, data, seed):
    r = attack(build, model, data, ["--attack", "pgd", "--eps", str(EPS), "--steps", str(STEPS), "--step-size",
                                    str(ALPHA), "--params", "early_stop=0", "--seed", str(seed)])
    return r["images_per_second"]


def square_queries_per_s(build, model, data, seed):
    r = attack(build, model, data, ["--attack", "square", "--eps", str(EPS), "--queries", "1000", "--seed",
                                    str(seed)])
    return r["mean_queries"] * r["clean_accuracy"] * r["examples"] / r["seconds"]


def train_epoch_s(build, seed):
    with tempfile.TemporaryDirectory() as tmp:
        r = run_json([os.path.join(build, "foil"), "train", "--arch", "cnn-small", "--data", "fashion-mnist",
                      "--epochs", "1", "--batch", "128", "--optimizer", "adam", "--lr", "1e-3", "--schedule",
                      "constant", "--seed", str(seed), "--threads", "2", "--quiet", "--json", "--output",
                      os.path.join(tmp, "m.onnx")])
    return r["epochs"][0]["seconds"]


def engine_images_per_s(build, model, batch):
    """{pass: images/s} from bench_engine (medians of its own repeats)."""
    out = subprocess.run([os.path.join(build, "bench_engine"), model, str(batch), "20"], env=ENV, check=True,
                         capture_output=True, text=True).stdout
    result = {}
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 5 and f[0] == "foil":
            result[f"{f[1]} b{batch}"] = float(f[4])
    return result


def kernel_set(build):
    out = subprocess.run([os.path.join(build, "foil"), "--version"], env=ENV, capture_output=True, text=True)
    return out.stdout.strip() or out.stderr.strip()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("builds", nargs="+")
    ap.add_argument("--model", default="models/fashion-mnist-cnn-small.onnx")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--no-train", action="store_true")
    args = ap.parse_args()
    if not os.path.exists(args.model):
        sys.exit(f"{args.model} not found: run scripts/main.sh first (it trains it), or pass --model")
    for b in args.builds:
        print(f"{b}: {kernel_set(b)}")
    X, Y = fashion_mnist_test(N)
    # metric -> build -> list of values; "higher" says whether more is faster
    higher = {"PGD-10 images/s": True, "Square queries/s": True, "train epoch s": False}
    values = {}
    with tempfile.TemporaryDirectory() as tmp:
        data = (os.path.join(tmp, "x.npy"), os.path.join(tmp, "y.npy"))
        np.save(data[0], X)
        np.save(data[1], Y)
        for r in range(args.rounds):
            for b in args.builds:
                got = {"PGD-10 images/s": pgd_images_per_s(b, args.model, data, r),
                       "Square queries/s": square_queries_per_s(b, args.model, data, r)}
                if not args.no_train:
                    got["train epoch s"] = train_epoch_s(b, r)
                for batch in (1, 256):
                    for k, v in engine_images_per_s(b, args.model, batch).items():
                        higher[f"engine {k} images/s"] = True
                        got[f"engine {k} images/s"] = v
                for k, v in got.items():
                    values.setdefault(k, {}).setdefault(b, []).append(v)
                print(f"round {r + 1} {b}: " + ", ".join(f"{k} {v:.1f}" for k, v in got.items()), flush=True)
    print(f"\nmedians of {args.rounds} rounds, builds alternating; ratio = time of this build / time of "
          f"{args.builds[0]} (below 1: faster)")
    head = f"{'workload':<34}" + "".join(f"{os.path.basename(b.rstrip('/')):>22}" for b in args.builds)
    print(head + "".join(f"{'ratio ' + os.path.basename(b.rstrip('/')):>22}" for b in args.builds[1:]))
    for k, per_build in values.items():
        med = [statistics.median(per_build[b]) for b in args.builds]
        ratios = [(med[0] / m if higher[k] else m / med[0]) for m in med[1:]]
        print(f"{k:<34}" + "".join(f"{m:>22.1f}" for m in med) + "".join(f"{q:>22.3f}" for q in ratios))


if __name__ == "__main__":
    main()
