"""Shadow-model benchmark (issue 15): the time to train LiRA's 16 shadow
models, cnn-small on random halves of 2,000 Fashion-MNIST candidates
(1,000 images each), EPOCHS epochs, batch 64, SGD with momentum 0.9 at lr
0.05 on a cosine schedule, then each model's logits on all 2,000
candidates: foil vs PyTorch, 2 threads each.

foil's time is what the shadow models add to a membership-inference run:
the wall time of `foil infer --shadows 16 --attack lira-online` minus that
of the same run with no shadow models (`--shadows 0 --attack loss`: the
target alone); both runs load the data, draw the same candidates and train
the same target. PyTorch's is a timer around its 16 trainings and
predictions, with the data already in memory. Rounds alternate foil and
PyTorch and the table gives medians, the ratio of the medians, and each
round's ratio (the two ran side by side).

usage: LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-pthread \\
       /usr/bin/python3 bench/shadow_models_vs_torch.py BUILD_DIR [--rounds 3] [--epochs 20]
"""
import argparse
import math
import os
import statistics
import subprocess
import time

import numpy as np
import torch
import torch.nn.functional as F

from torch_reference import CnnSmall, fashion_mnist

SHADOWS, POOL, BATCH = 16, 2000, 64


def torch_shadows(x, y, epochs, seed):
    """16 models, each on its random half of the pool; their logits on the pool."""
    rng = np.random.RandomState(seed)
    t0 = time.perf_counter()
    logits = []
    for k in range(SHADOWS):
        torch.manual_seed(seed * 100 + k)
        half = torch.from_numpy(rng.permutation(POOL)[:POOL // 2])
        model = CnnSmall()
        opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        steps = epochs * math.ceil(len(half) / BATCH)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
        model.train()
        for _ in range(epochs):
            order = half[torch.randperm(len(half))]
            for i in range(0, len(order), BATCH):
                b = order[i:i + BATCH]
                opt.zero_grad(set_to_none=True)
                F.cross_entropy(model(x[b]), y[b]).backward()
                opt.step()
                sched.step()
        model.eval()
        with torch.no_grad():
            logits.append(model(x))
    return time.perf_counter() - t0


def foil_run(build, epochs, seed, shadows):
    args = [os.path.join(build, "foil"), "infer", "--data", "fashion-mnist", "--arch", "cnn-small", "--pool",
            str(POOL), "--epochs", str(epochs), "--seed", str(seed), "--threads", "2", "--quiet", "--shadows",
            str(shadows), "--attack", "lira-online" if shadows else "loss"]
    t0 = time.perf_counter()
    subprocess.run(args, check=True, capture_output=True, env=dict(os.environ, OMP_NUM_THREADS="2"))
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("build")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=20)
    a = ap.parse_args()
    torch.set_num_threads(2)
    images = fashion_mnist("train-images-idx3-ubyte.gz")[:POOL].astype(np.float32) / 255.0
    x = torch.from_numpy(images.reshape(POOL, 1, 28, 28))
    y = torch.from_numpy(fashion_mnist("train-labels-idx1-ubyte.gz")[:POOL].astype(np.int64))
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    cpu = next((l.split(":", 1)[1].strip() for l in lscpu.splitlines() if l.startswith("Model name")), "?")
    print(f"# {SHADOWS} shadow models, cnn-small on {POOL // 2} Fashion-MNIST images each, {a.epochs} epochs, batch "
          f"{BATCH}, SGD 0.05 momentum 0.9 cosine; {cpu}, 2 threads each; torch {torch.__version__}")
    foil_s, torch_s, ratios = [], [], []
    for r in range(a.rounds):
        with_shadows = foil_run(a.build, a.epochs, r, SHADOWS)
        target_only = foil_run(a.build, a.epochs, r, 0)
        f = with_shadows - target_only
        t = torch_shadows(x, y, a.epochs, r)
        foil_s.append(f), torch_s.append(t), ratios.append(f / t)
        print(f"round {r + 1}: foil {f:.1f} s ({with_shadows:.1f} - {target_only:.1f}), PyTorch {t:.1f} s, "
              f"foil/PyTorch {f / t:.2f}", flush=True)
    fm, tm = statistics.median(foil_s), statistics.median(torch_s)
    print(f"{'':10} {'median s':>9} {'per model s':>12}")
    print(f"{'foil':10} {fm:9.1f} {fm / SHADOWS:12.2f}")
    print(f"{'PyTorch':10} {tm:9.1f} {tm / SHADOWS:12.2f}")
    print(f"foil/PyTorch: {fm / tm:.2f} (medians); per round {', '.join(f'{q:.2f}' for q in ratios)}")


if __name__ == "__main__":
    main()
