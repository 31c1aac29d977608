"""Engine benchmark: foil vs PyTorch on the Fashion-MNIST-sized CNN.

cnn-small: Conv 1-32 3x3 pad 1, ReLU, MaxPool 2, Conv 32-64 3x3 pad 1, ReLU,
MaxPool 2, Flatten, Gemm 3136-128, ReLU, Gemm 128-10.

Times, for batch 256 and batch 1, the forward pass and forward + gradient of
the summed cross-entropy with respect to the input (what a white-box attack
does each step; no weight gradients, in both engines), with 2 threads each.
Both run in this one process's session, alternating rounds, so the machine's
noise hits both alike. Prints medians and the foil/PyTorch speed ratio.

usage: /usr/bin/python3 bench/engine_vs_torch.py BUILD_DIR [--rounds 5] [--repeats 20]
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

import torch
import torch.nn.functional as F


from torch_reference import CnnSmall  # the one definition of cnn-small in PyTorch


def torch_times(model, batch, repeats):
    x = torch.rand(batch, 1, 28, 28)
    y = torch.arange(batch) % 10
    out = {}
    with torch.no_grad():
        for _ in range(3):
            model(x)
        ts = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            model(x)
            ts.append((time.perf_counter() - t0) * 1e3)
    out["forward"] = statistics.median(ts)
    ts = []
    for k in range(repeats + 3):
        t0 = time.perf_counter()
        xg = x.clone().requires_grad_(True)
        loss = F.cross_entropy(model(xg), y, reduction="sum")
        (g,) = torch.autograd.grad(loss, xg)
        if k >= 3:
            ts.append((time.perf_counter() - t0) * 1e3)
    out["forward+grad"] = statistics.median(ts)
    return out


def foil_times(bench, model_path, batch, repeats):
    env = dict(os.environ, OMP_NUM_THREADS="2")
    r = subprocess.run([bench, model_path, str(batch), str(repeats)], capture_output=True, text=True, env=env)
    if r.returncode:
        sys.exit(f"bench_engine failed: {r.stderr}")
    out = {}
    for line in r.stdout.splitlines():
        _, mode, _, ms, _ = line.split()
        out[mode] = float(ms)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build_dir")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=20)
    args = ap.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(0)
    model = CnnSmall().eval()
    for p in model.parameters():
        p.requires_grad_(False)
    bench = os.path.join(args.build_dir, "bench_engine")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "cnn_small.onnx")
        torch.onnx.export(model, torch.rand(1, 1, 28, 28), path, opset_version=13, input_names=["x"],
                          output_names=["logits"], dynamic_axes={"x": {0: "N"}, "logits": {0: "N"}})
        results = {}
        for batch in (256, 1):
            reps = args.repeats if batch > 1 else args.repeats * 10
            for _ in range(args.rounds):
                t = torch_times(model, batch, reps)
                f = foil_times(bench, path, batch, reps)
                for mode in ("forward", "forward+grad"):
                    results.setdefault((batch, mode), ([], []))
                    results[(batch, mode)][0].append(f[mode])
                    results[(batch, mode)][1].append(t[mode])
    print(f"cnn-small, 2 threads, medians of {args.rounds} rounds (each itself a median of repeated runs)")
    print(f"torch {torch.__version__}, BLAS: {torch.__config__.show().count('OpenBLAS') and 'OpenBLAS' or 'other'}")
    print(f"{'batch':>5} {'pass':<13} {'foil img/s':>12} {'torch img/s':>12} {'foil/torch':>10}")
    for (batch, mode), (fms, tms) in results.items():
        fm, tm = statistics.median(fms), statistics.median(tms)
        print(f"{batch:>5} {mode:<13} {batch / fm * 1e3:>12.0f} {batch / tm * 1e3:>12.0f} {tm / fm:>10.2f}")


if __name__ == "__main__":
    main()
