"""Randomized-smoothing throughput: noisy forward passes per second, foil vs
PyTorch vs ONNX Runtime, on the same cnn-small ONNX model, batch and threads.

Each engine does what certification does for one image: draw `batch` noisy
copies of it, classify them, count the predicted classes, until n0 + n
copies (Cohen et al.'s CERTIFY). foil runs `foil certify` (the grid-exact
sampler of foil/certify.h, its time from the JSON, model loading excluded);
PyTorch and ONNX Runtime run the usual smoothing loop, x + sigma * randn in
float32 (the unsound floating-point sampler foil avoids: foil does more work
per copy, not less). Rounds alternate between the engines so the machine's
noise hits all alike; prints the median images/s of each and the ratios.

usage: OMP_NUM_THREADS=2 LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-pthread \
         /work/venv/bin/python bench/smoothing_throughput.py BUILD_DIR MODEL.onnx
       [--images 5] [--n 10000] [--batch 1000] [--rounds 3] [--threads 2]
(onnxruntime from PyPI in a virtual environment; PyTorch from Debian.)
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_reference import cnn_small_from_onnx, fashion_mnist_test  # noqa: E402


def counts_torch(model, x, sigma, total, batch, gen):
    counts = torch.zeros(10, dtype=torch.int64)
    xt = torch.from_numpy(x).unsqueeze(0)
    with torch.no_grad():
        done = 0
        while done < total:
            b = min(batch, total - done)
            noisy = xt.repeat(b, 1, 1, 1) + sigma * torch.randn(b, *x.shape, generator=gen)
            counts += torch.bincount(model(noisy).argmax(1), minlength=10)
            done += b
    return counts


def counts_ort(session, x, sigma, total, batch, rng):
    counts = np.zeros(10, dtype=np.int64)
    name = session.get_inputs()[0].name
    done = 0
    while done < total:
        b = min(batch, total - done)
        noisy = x[None] + np.float32(sigma) * rng.standard_normal((b, *x.shape), dtype=np.float32)
        (logits,) = session.run(None, {name: noisy})
        counts += np.bincount(logits.argmax(1), minlength=10)
        done += b
    return counts


def run_foil(build, model, a):
    cmd = [os.path.join(build, "foil"), "certify", "--model", model, "--data", "fashion-mnist", "--sigma",
           str(a.sigma), "--n0", "100", "--n", str(a.n), "--batch", str(a.batch), "--limit", str(a.images),
           "--threads", str(a.threads), "--json", "--quiet"]
    # foil links the OpenMP OpenBLAS; LD_LIBRARY_PATH (set for PyTorch's
    # pthread OpenBLAS) must not swap it under foil's own OpenMP threads.
    env = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    return a.images * (100 + a.n) / json.loads(out)["seconds"]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("build")
    p.add_argument("model")
    p.add_argument("--images", type=int, default=5)
    p.add_argument("--n", type=int, default=10000)
    p.add_argument("--batch", type=int, default=1000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--sigma", type=float, default=0.25)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    try:
        import onnxruntime as ort
    except ImportError:
        ort = None
        print("onnxruntime is not installed (pip install onnxruntime in a virtual environment): its column is empty")
    model = cnn_small_from_onnx(a.model)
    session = None
    if ort:
        so = ort.SessionOptions()
        so.intra_op_num_threads = a.threads
        so.inter_op_num_threads = 1
        session = ort.InferenceSession(a.model, so, providers=["CPUExecutionProvider"])
    x, _ = fashion_mnist_test(a.images)
    total = 100 + a.n
    rates = {"foil": [], "pytorch": [], "onnxruntime": []}
    for r in range(a.rounds):
        rates["foil"].append(run_foil(a.build, a.model, a))
        gen = torch.Generator().manual_seed(r)
        t0 = time.perf_counter()
        for i in range(a.images):
            counts_torch(model, x[i], a.sigma, total, a.batch, gen)
        rates["pytorch"].append(a.images * total / (time.perf_counter() - t0))
        if session:
            rng = np.random.default_rng(r)
            t0 = time.perf_counter()
            for i in range(a.images):
                counts_ort(session, x[i], a.sigma, total, a.batch, rng)
            rates["onnxruntime"].append(a.images * total / (time.perf_counter() - t0))
        print("round %d: " % (r + 1) + ", ".join("%s %.0f img/s" % (k, v[-1]) for k, v in rates.items() if v),
              flush=True)
    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    med = {k: statistics.median(v) for k, v in rates.items() if v}
    print("\nnoisy forward passes per second (cnn-small, batch %d, %d threads, %d images x %d copies, median of %d "
          "rounds; %s; torch %s%s)" % (a.batch, a.threads, a.images, total, a.rounds, cpu, torch.__version__,
                                       ", onnxruntime " + ort.__version__ if ort else ""))
    print("| engine | img/s | foil / engine |")
    print("|---|---|---|")
    for k, v in med.items():
        print("| %s | %.0f | %.2fx |" % (k, v, med["foil"] / v))


if __name__ == "__main__":
    main()
