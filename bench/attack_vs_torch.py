"""Attack benchmark: PGD in foil vs the same PGD in plain PyTorch.

PGD Linf, eps 0.1, step 0.01, 10 steps, random start, every step taken (no
early stop in either), on the first 1,000 Fashion-MNIST test images, with
foil's cnn-small (the same ONNX weights in both), batch 250, 2 threads each.
Both attack only the images the model classifies correctly (foil's runner
does; the PyTorch side selects them the same way, untimed); images/s is
1,000 / attack seconds in both. Rounds alternate foil and PyTorch so the
machine's noise hits both alike; the table gives medians and the ratio.

Also runs foil's Square Attack (Linf, eps 0.1, 1,000 queries per image) on
the same images and reports model queries per second.

usage: /usr/bin/python3 bench/attack_vs_torch.py BUILD_DIR [--model M.onnx] [--rounds 3]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as F

from torch_reference import cnn_small_from_onnx, fashion_mnist_test

N, BATCH, EPS, ALPHA, STEPS = 1000, 250, 0.1, 0.01, 10


def foil_run(build, model, data, extra):
    env = dict(os.environ, OMP_NUM_THREADS="2")
    cmd = [os.path.join(build, "foil"), "attack", "--model", model, "--data", data[0], "--labels", data[1],
           "--split", "all", "--batch", str(BATCH), "--threads", "2", "--quiet", "--json"] + extra
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def torch_pgd(model, x, y, seed):
    """Madry PGD with a uniform random start, every step, on x (already the
    correctly classified images), in batches of BATCH."""
    g = torch.Generator().manual_seed(seed)
    for s in range(0, len(x), BATCH):
        xb, yb = x[s:s + BATCH], y[s:s + BATCH]
        a = (xb + (2 * torch.rand(xb.shape, generator=g) - 1) * EPS).clamp(0, 1)
        for _ in range(STEPS):
            a.requires_grad_(True)
            loss = F.cross_entropy(model(a), yb, reduction="sum")
            (grad,) = torch.autograd.grad(loss, a)
            a = a.detach() + ALPHA * grad.sign()
            a = torch.min(torch.max(a, xb - EPS), xb + EPS).clamp(0, 1)
    return a


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--model", default="models/fashion-mnist-cnn-small.onnx")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    if not os.path.exists(args.model):
        sys.exit(f"{args.model} not found: run scripts/main.sh first (it trains it), or pass --model")
    torch.set_num_threads(2)
    X, Y = fashion_mnist_test(N)
    model = cnn_small_from_onnx(args.model)
    for p in model.parameters():
        p.requires_grad_(False)
    x, y = torch.from_numpy(X), torch.from_numpy(Y)
    with torch.no_grad():
        correct = model(x).argmax(1) == y
    xc, yc = x[correct], y[correct]
    foil_ips, torch_ips, square_qps = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        data = (os.path.join(tmp, "x.npy"), os.path.join(tmp, "y.npy"))
        np.save(data[0], X)
        np.save(data[1], Y)
        for r in range(args.rounds):
            res = foil_run(args.build, args.model, data, ["--attack", "pgd", "--eps", str(EPS), "--steps",
                                                          str(STEPS), "--step-size", str(ALPHA), "--params",
                                                          "early_stop=0", "--seed", str(r)])
            foil_ips.append(res["images_per_second"])
            t0 = time.perf_counter()
            torch_pgd(model, xc, yc, r)
            torch_ips.append(N / (time.perf_counter() - t0))
            sq = foil_run(args.build, args.model, data, ["--attack", "square", "--eps", str(EPS), "--queries",
                                                         "1000", "--seed", str(r)])
            attacked = sq["clean_accuracy"] * sq["examples"]
            square_qps.append(sq["mean_queries"] * attacked / sq["seconds"])
            print(f"round {r + 1}: foil PGD {foil_ips[-1]:.0f} img/s, PyTorch PGD {torch_ips[-1]:.0f} img/s, "
                  f"foil Square {square_qps[-1]:.0f} queries/s (robust {100 * sq['robust_accuracy']:.1f}%, "
                  f"{sq['mean_queries']:.0f} queries/attacked image)", flush=True)
    f, t = statistics.median(foil_ips), statistics.median(torch_ips)
    print(f"\nPGD Linf eps {EPS}, step {ALPHA}, {STEPS} steps, {N} images, batch {BATCH}, 2 threads "
          f"(medians of {args.rounds} rounds)")
    print(f"{'engine':<10} {'images/s':>10}")
    print(f"{'foil':<10} {f:>10.0f}")
    print(f"{'PyTorch':<10} {t:>10.0f}")
    print(f"{'ratio':<10} {f / t:>10.2f}x")
    print(f"\nfoil Square Attack (Linf eps {EPS}, 1000 queries/image): {statistics.median(square_qps):.0f} queries/s")


if __name__ == "__main__":
    main()
