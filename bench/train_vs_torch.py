"""Training benchmark: one epoch of cnn-small on Fashion-MNIST (60,000 images,
batch 128, Adam lr 1e-3 constant (foil's default schedule is cosine; PyTorch's
optimizer alone keeps lr fixed), no augmentation), foil vs PyTorch, 2 threads each.

Both read the same Debian dataset-fashion-mnist files and train the same
architecture from PyTorch-style initialization; the timed part is the epoch's
training loop only (foil's own per-epoch timer; for PyTorch a timer around
the loop). Runs alternate foil and PyTorch ROUNDS times and prints medians,
the ratio foil/PyTorch time (of the medians, and each round's, as the two
ran side by side), and the test accuracy each reached.

usage: /usr/bin/python3 bench/train_vs_torch.py BUILD_DIR [--rounds 3]
"""
import argparse
import json
import os
import statistics
import subprocess
import time

import numpy as np
import torch
import torch.nn.functional as F

from torch_reference import CnnSmall, fashion_mnist as idx  # the one definition of cnn-small in PyTorch

def torch_epoch(xtr, ytr, xte, yte, seed):
    torch.manual_seed(seed)
    model = CnnSmall()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    perm = torch.randperm(len(xtr))
    t0 = time.perf_counter()
    model.train()
    for i in range(0, len(xtr), 128):
        idx_ = perm[i:i + 128]
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(xtr[idx_]), ytr[idx_])
        loss.backward()
        opt.step()
    seconds = time.perf_counter() - t0
    model.eval()
    with torch.no_grad():
        acc = float((model(xte).argmax(1) == yte).float().mean())
    return seconds, acc


def foil_epoch(build, seed):
    env = dict(os.environ, OMP_NUM_THREADS="2")
    out = subprocess.run([os.path.join(build, "foil"), "train", "--arch", "cnn-small", "--data", "fashion-mnist",
                          "--epochs", "1", "--batch", "128", "--optimizer", "adam", "--lr", "1e-3",
                          "--schedule", "constant", "--seed", str(seed),
                          "--threads", "2", "--quiet", "--json", "--output", "/tmp/foil-bench-train.onnx"],
                         capture_output=True, text=True, env=env, check=True).stdout
    r = json.loads(out)
    return r["epochs"][0]["seconds"], r["val_accuracy"]


def torch_blas():
    """The BLAS library PyTorch loaded (the reference BLAS would make its
    linear layers many times slower and flatter foil)."""
    a = torch.randn(64, 64)
    (a @ a).sum()
    with open("/proc/self/maps") as f:
        libs = {line.split()[-1] for line in f if "blas" in line.lower() and "/" in line}
    return ", ".join(sorted(libs)) or "none found"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build_dir")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(2)
    xtr = torch.from_numpy(idx("train-images-idx3-ubyte.gz").astype(np.float32) / 255).unsqueeze(1)
    ytr = torch.from_numpy(idx("train-labels-idx1-ubyte.gz").astype(np.int64))
    xte = torch.from_numpy(idx("t10k-images-idx3-ubyte.gz").astype(np.float32) / 255).unsqueeze(1)
    yte = torch.from_numpy(idx("t10k-labels-idx1-ubyte.gz").astype(np.int64))
    print(f"PyTorch's BLAS: {torch_blas()}")
    ft, tt, fa, ta = [], [], [], []
    for r in range(args.rounds):
        s, a = foil_epoch(args.build_dir, r)
        ft.append(s), fa.append(a)
        s, a = torch_epoch(xtr, ytr, xte, yte, r)
        tt.append(s), ta.append(a)
        print(f"round {r + 1}: foil {ft[-1]:.1f} s (test acc {fa[-1]:.4f}), torch {tt[-1]:.1f} s (test acc {ta[-1]:.4f})")
    f, t = statistics.median(ft), statistics.median(tt)
    print(f"\ncnn-small, Fashion-MNIST, 1 epoch, batch 128, Adam, 2 threads, median of {args.rounds} rounds")
    print(f"{'':8}{'seconds':>10}{'img/s':>10}{'test acc':>10}")
    print(f"{'foil':8}{f:>10.1f}{60000 / f:>10.0f}{statistics.median(fa):>10.4f}")
    print(f"{'torch':8}{t:>10.1f}{60000 / t:>10.0f}{statistics.median(ta):>10.4f}")
    ratios = [a / b for a, b in zip(ft, tt)]
    print(f"foil time / torch time = {f / t:.2f} (target <= 0.67); "
          f"per round {', '.join(f'{r:.2f}' for r in ratios)}, median {statistics.median(ratios):.2f}")


if __name__ == "__main__":
    main()
