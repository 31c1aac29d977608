"""Adversarial-training benchmark: one epoch of PGD-7 adversarial training
(Madry et al. 2018) of cnn-small on Fashion-MNIST at eps 0.1 Linf, in foil
(`foil train --adv pgd`), in plain PyTorch, and in ART's
AdversarialTrainerMadryPGD (adversarial-robustness-toolbox from PyPI), 2
threads each, side by side.

The same recipe everywhere: 60,000 images, batch 128, Adam lr 1e-3 constant,
PGD with 7 steps of 0.025 from one uniform random start, the attack run with
the model in inference mode (as ART's trainer and foil do), the training step
on the adversarial batch alone. The timed part is the epoch (attack and
training); each model is then judged by one evaluator, in PyTorch: clean
accuracy on the 10,000 test images and PGD-10 accuracy (step 0.025, random
start) on the first 1,000. Runs alternate the three ROUNDS times and print
medians and the time ratios of each round, measured side by side.

Target (issue 11): foil at most 0.4x PyTorch's time.

usage: /usr/bin/python3 bench/adversarial_training_vs_torch.py BUILD_DIR [--rounds 3] [--no-art] [--baseline DIR]
       (--baseline: also time the foil of another build, e.g. the commit before a change, in the same
        rounds, so a before/after comparison sees the same machine noise)
       (ART from a virtual environment: VENV/bin/python bench/adversarial_training_vs_torch.py ...,
        with python3 -m venv --system-site-packages VENV; VENV/bin/pip install adversarial-robustness-toolbox)
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_reference import CnnSmall, cnn_small_from_onnx, fashion_mnist as idx  # noqa: E402

EPS, STEP, STEPS, BATCH = 0.1, 0.025, 7, 128


def pgd(model, x, y, eps, step, steps, gen):
    """Linf PGD on cross-entropy from a uniform random start, model in eval mode."""
    was_training = model.training
    model.eval()
    xa = (x + eps * (2 * torch.rand(x.shape, generator=gen) - 1)).clamp(0, 1)
    for _ in range(steps):
        xa.requires_grad_(True)
        loss = F.cross_entropy(model(xa), y, reduction="sum")
        (g,) = torch.autograd.grad(loss, xa)
        xa = torch.min(torch.max(xa.detach() + step * g.sign(), x - eps), x + eps).clamp(0, 1)
    model.train(was_training)
    return xa.detach()


def evaluate(model, xte, yte, seed):
    model.eval()
    with torch.no_grad():
        clean = float((model(xte).argmax(1) == yte).float().mean())
    gen = torch.Generator().manual_seed(seed)
    x, y = xte[:1000], yte[:1000]
    xa = torch.cat([pgd(model, x[i:i + 250], y[i:i + 250], EPS, STEP, 10, gen) for i in range(0, 1000, 250)])
    with torch.no_grad():
        robust = float((model(xa).argmax(1) == y).float().mean())
    return clean, robust


def torch_epoch(xtr, ytr, seed):
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = CnnSmall()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    perm = torch.randperm(len(xtr))
    t0 = time.perf_counter()
    for i in range(0, len(xtr), BATCH):
        b = perm[i:i + BATCH]
        xa = pgd(model, xtr[b], ytr[b], EPS, STEP, STEPS, gen)
        model.train()
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(xa), ytr[b]).backward()
        opt.step()
    return time.perf_counter() - t0, model


def art_epoch(xtr, ytr, seed):
    from art.defences.trainer import AdversarialTrainerMadryPGD
    from art.estimators.classification import PyTorchClassifier
    torch.manual_seed(seed)
    np.random.seed(seed)
    model = CnnSmall()
    clf = PyTorchClassifier(model=model, loss=torch.nn.CrossEntropyLoss(),
                            optimizer=torch.optim.Adam(model.parameters(), lr=1e-3), input_shape=(1, 28, 28),
                            nb_classes=10, clip_values=(0.0, 1.0))
    trainer = AdversarialTrainerMadryPGD(clf, nb_epochs=1, batch_size=BATCH, eps=EPS, eps_step=STEP,
                                         max_iter=STEPS, num_random_init=1)
    x, y = xtr.numpy(), ytr.numpy()
    t0 = time.perf_counter()
    trainer.fit(x, y)
    return time.perf_counter() - t0, model


def foil_epoch(build, seed):
    env = dict(os.environ, OMP_NUM_THREADS="2")
    path = "/tmp/foil-bench-adv.onnx"
    out = subprocess.run([os.path.join(build, "foil"), "train", "--arch", "cnn-small", "--data", "fashion-mnist",
                          "--epochs", "1", "--batch", str(BATCH), "--optimizer", "adam", "--lr", "1e-3",
                          "--schedule", "constant", "--adv", "pgd", "--eps", str(EPS), "--adv-steps", str(STEPS),
                          "--adv-step", str(STEP), "--seed", str(seed), "--threads", "2", "--quiet", "--json",
                          "--output", path], capture_output=True, text=True, env=env, check=True).stdout
    return json.loads(out)["epochs"][0]["seconds"], cnn_small_from_onnx(path)


def cpu_model():
    """The CPU's model name (as lscpu shows it), for the record: timings depend on it."""
    try:
        with open("/proc/cpuinfo") as f:
            return next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "unknown")
    except OSError:
        return "unknown"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build_dir")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--no-art", action="store_true", help="skip ART (or it is skipped when not importable)")
    ap.add_argument("--baseline", metavar="DIR", help="also time the foil of this build directory, each round")
    args = ap.parse_args()
    torch.set_num_threads(2)
    print(f"CPU: {cpu_model()}, {os.cpu_count()} CPUs; torch {torch.__version__}", flush=True)
    use_art = not args.no_art
    if use_art:
        try:
            import art  # noqa: F401
        except ImportError:
            print("ART (adversarial-robustness-toolbox) is not importable here: skipping it")
            use_art = False
    xtr = torch.from_numpy(idx("train-images-idx3-ubyte.gz").astype(np.float32) / 255).unsqueeze(1)
    ytr = torch.from_numpy(idx("train-labels-idx1-ubyte.gz").astype(np.int64))
    xte = torch.from_numpy(idx("t10k-images-idx3-ubyte.gz").astype(np.float32) / 255).unsqueeze(1)
    yte = torch.from_numpy(idx("t10k-labels-idx1-ubyte.gz").astype(np.int64))
    runs = {"foil": lambda r: foil_epoch(args.build_dir, r)}
    if args.baseline:
        runs["foil-base"] = lambda r: foil_epoch(args.baseline, r)
    runs["torch"] = lambda r: torch_epoch(xtr, ytr, r)
    if use_art:
        runs["ART"] = lambda r: art_epoch(xtr, ytr, r)
    secs = {k: [] for k in runs}
    accs = {k: [] for k in runs}
    for r in range(args.rounds):
        line = []
        for name, run in runs.items():
            s, model = run(r)
            clean, robust = evaluate(model, xte, yte, 1234)
            secs[name].append(s)
            accs[name].append((clean, robust))
            line.append(f"{name} {s:.1f} s (clean {clean:.4f}, PGD-10 {robust:.4f})")
        print(f"round {r + 1}: " + ", ".join(line), flush=True)
    print(f"\ncnn-small, Fashion-MNIST, 1 epoch of PGD-{STEPS} adversarial training at eps {EPS}, batch {BATCH}, "
          f"Adam, 2 threads, median of {args.rounds} rounds")
    print(f"{'':10}{'seconds':>8}{'img/s':>10}{'clean':>10}{'PGD-10':>10}{'time / torch':>14}")
    t = statistics.median(secs["torch"])
    for name in runs:
        s = statistics.median(secs[name])
        clean = statistics.median(a[0] for a in accs[name])
        robust = statistics.median(a[1] for a in accs[name])
        print(f"{name:10}{s:>8.1f}{60000 / s:>10.0f}{clean:>10.4f}{robust:>10.4f}{s / t:>14.2f}")
    per_round = [a / b for a, b in zip(secs["foil"], secs["torch"])]
    print(f"foil time / torch time per round: {', '.join(f'{x:.2f}' for x in per_round)} (target <= 0.40)")
    if args.baseline:
        base = [a / b for a, b in zip(secs["foil-base"], secs["torch"])]
        print(f"foil-base time / torch time per round: {', '.join(f'{x:.2f}' for x in base)}")


if __name__ == "__main__":
    main()
