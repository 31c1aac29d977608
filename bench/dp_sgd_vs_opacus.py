"""DP-SGD benchmark (issue 15): foil train --dp against Opacus on the same
model, noise, clipping and sampling, 2 threads each.

The model is cnn-tanh, the end-to-end CNN Tramer and Boneh 2021 train with
DP-SGD on Fashion-MNIST (Papernot et al. 2020's network with tanh; foil's
src/model/arch.c), built here in PyTorch layer for layer. Both sides train on
the 60,000 Fashion-MNIST training images scaled to [0, 1] (no normalization,
as the paper's code), with Poisson sampling at q = BATCH / 60000 for
60000 / BATCH steps an epoch (BATCH divides 60,000, so Opacus's sampler,
rate 1 / len(loader), and foil's, rate batch / N, agree), each example's
gradient clipped to L2 norm CLIP, Gaussian noise of SIGMA x CLIP on the sum,
divided by the expected batch, SGD with momentum MOMENTUM at a constant
rate LR. SIGMA is the noise Opacus's get_noise_multiplier chooses for
epsilon TARGET_EPS at delta 1e-5 over the run, given to both. Opacus runs
its GradSampleModule (per-example gradients by hooks) and its RDP
accountant; foil its two-pass clipping and its own accountant: each side's
epsilon is printed, and they should agree.

Time per epoch: foil's is the "seconds" of each epoch in its JSON report
(the steps only, not its validation); Opacus's a timer around the epoch's
steps. The table gives the median over all epochs of all rounds, each
round training foil then Opacus from scratch (side by side), and the test
accuracy after the last epoch of each round (median).

usage: LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-pthread \\
       /opt/foil-opacus/bin/python bench/dp_sgd_vs_opacus.py FOIL_BINARY [--rounds 3] [--epochs 3]
(Opacus 1.4.0 in the venv scripts/install-deps.sh --crosscheck makes, over
Debian's torch 1.13.)
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_reference import fashion_mnist  # noqa: E402

BATCH, CLIP, LR, MOMENTUM, DELTA, TARGET_EPS = 2000, 0.1, 4.0, 0.9, 1e-5, 3.0


def cnn_tanh():
    """foil's cnn-tanh (Tramer and Boneh 2021's models.py MNIST_CNN)."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 8, stride=2, padding=2), nn.Tanh(), nn.MaxPool2d(2, 1),
        nn.Conv2d(16, 32, 4, stride=2), nn.Tanh(), nn.MaxPool2d(2, 1),
        nn.Flatten(), nn.Linear(32 * 4 * 4, 32), nn.Tanh(), nn.Linear(32, 10))


def opacus_run(x, y, xt, yt, epochs, sigma, seed, limit):
    from opacus import PrivacyEngine
    torch.manual_seed(seed)
    model = cnn_tanh()
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x[:limit], y[:limit]), batch_size=BATCH)
    engine = PrivacyEngine(accountant="rdp")
    model, opt, loader = engine.make_private(module=model, optimizer=opt, data_loader=loader,
                                             noise_multiplier=sigma, max_grad_norm=CLIP, poisson_sampling=True)
    seconds = []
    for _ in range(epochs):
        model.train()
        t0 = time.perf_counter()
        for xb, yb in loader:
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(xb), yb).backward()
            opt.step()
        seconds.append(time.perf_counter() - t0)
    model.eval()
    with torch.no_grad():
        correct = sum(int((model(xt[i:i + 1000]).argmax(1) == yt[i:i + 1000]).sum()) for i in range(0, len(xt), 1000))
    return seconds, correct / len(xt), engine.get_epsilon(DELTA), engine.accountant.history


def foil_run(foil, epochs, sigma, seed, limit):
    with tempfile.TemporaryDirectory() as tmp:
        args = [foil, "train", "--arch", "cnn-tanh", "--data", "fashion-mnist", "--output",
                os.path.join(tmp, "m.onnx"), "--dp", "--noise-multiplier", repr(sigma), "--max-grad-norm", str(CLIP),
                "--delta", str(DELTA), "--batch", str(BATCH), "--lr", str(LR), "--momentum", str(MOMENTUM),
                "--schedule", "constant", "--epochs", str(epochs), "--seed", str(seed), "--threads", "2", "--json",
                "--quiet"]
        if limit < 60000:
            args += ["--limit", str(limit)]
        out = subprocess.run(args, check=True, capture_output=True, text=True,
                             env=dict(os.environ, OMP_NUM_THREADS="2")).stdout
    r = json.loads(out.strip().splitlines()[-1])
    return [e["seconds"] for e in r["epochs"]], r["val_accuracy"], r["dp"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("foil")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--limit", type=int, default=60000, help="train on the first N images (a quick check)")
    a = ap.parse_args()
    warnings.simplefilter("ignore")
    import opacus
    from opacus.accountants.utils import get_noise_multiplier
    torch.set_num_threads(2)
    n = a.limit
    x = torch.from_numpy(fashion_mnist("train-images-idx3-ubyte.gz").astype(np.float32).reshape(-1, 1, 28, 28) / 255)
    y = torch.from_numpy(fashion_mnist("train-labels-idx1-ubyte.gz").astype(np.int64))
    xt = torch.from_numpy(fashion_mnist("t10k-images-idx3-ubyte.gz").astype(np.float32).reshape(-1, 1, 28, 28) / 255)
    yt = torch.from_numpy(fashion_mnist("t10k-labels-idx1-ubyte.gz").astype(np.int64))
    assert n % BATCH == 0, "BATCH must divide the training examples"
    steps = a.epochs * n // BATCH
    sigma = get_noise_multiplier(target_epsilon=TARGET_EPS, target_delta=DELTA, sample_rate=BATCH / n, steps=steps,
                                 accountant="rdp")
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    cpu = next((l.split(":", 1)[1].strip() for l in lscpu.splitlines() if l.startswith("Model name")), "?")
    print(f"# cnn-tanh on {n} Fashion-MNIST images, {a.epochs} epochs of DP-SGD: Poisson q = {BATCH}/{n}, "
          f"{n // BATCH} steps an epoch, clip {CLIP}, sigma {sigma:.6f} (Opacus's choice for epsilon {TARGET_EPS} "
          f"at delta {DELTA} over {steps} steps), SGD lr {LR} momentum {MOMENTUM} constant")
    print(f"# {cpu}, {os.cpu_count()} CPUs, 2 threads each; torch {torch.__version__}, Opacus {opacus.__version__}, "
          f"OpenBLAS {os.environ.get('LD_LIBRARY_PATH', 'default')}")
    f_sec, o_sec, f_acc, o_acc = [], [], [], []
    for r in range(a.rounds):
        fs, fa, fdp = foil_run(a.foil, a.epochs, sigma, r + 1, n)
        os_, oa, oeps, hist = opacus_run(x, y, xt, yt, a.epochs, sigma, r + 1, n)
        f_sec += fs
        o_sec += os_
        f_acc.append(fa), o_acc.append(oa)
        print(f"round {r + 1}: foil epochs {', '.join(f'{s:.1f}' for s in fs)} s, test accuracy {fa:.4f}, epsilon "
              f"{fdp['epsilon']:.6f} (q {fdp['sample_rate']:.6g}, {fdp['steps']} steps); Opacus epochs "
              f"{', '.join(f'{s:.1f}' for s in os_)} s, test accuracy {oa:.4f}, epsilon {oeps:.6f} "
              f"(q {hist[0][1]:.6g}, {sum(h[2] for h in hist)} steps)", flush=True)
    fm, om = statistics.median(f_sec), statistics.median(o_sec)
    print(f"\n{'':8} {'s/epoch':>8} {'img/s':>7} {'test acc':>9} {'epsilon':>9}")
    print(f"{'foil':8} {fm:8.1f} {n / fm:7.0f} {statistics.median(f_acc):9.4f} {fdp['epsilon']:9.4f}")
    print(f"{'Opacus':8} {om:8.1f} {n / om:7.0f} {statistics.median(o_acc):9.4f} {oeps:9.4f}")
    print(f"foil/Opacus time per epoch: {fm / om:.2f} (medians of {len(f_sec)} epochs each)")


if __name__ == "__main__":
    main()
