"""Zoo benchmark (issue 17): a torchvision model (ResNet-18 by default) in
foil, PyTorch and ONNX Runtime side by side: load, forward, and forward +
input gradient, at batch 32 and 224x224, the same threads in all three.

The model is torchvision's, random weights (seed 0, no downloads), its
batch-norm statistics taken from three train-mode passes over uniform
inputs (as tests/zoo_crosscheck.py does: a trained model has such
statistics, and the logits are not degenerate), then eval mode; it is
exported by torch.onnx at opset 13 with a dynamic batch axis. All three
engines run that model: foil and ONNX Runtime the ONNX file, PyTorch the
nn.Module and a state dict saved next to it.

Before timing, the three are checked against each other on the benchmark's
batch: foil's logits (`foil predict`) against PyTorch's and ONNX Runtime's,
as max |diff| / max |reference| (must be <= --tol, else exit 1), and foil's
input gradient (`foil grad`) against PyTorch's autograd in float64, example
by example: a ReLU input within float32 rounding of zero sends an example's
gradient one way or the other in any float32 engine (PyTorch's float32
gradient misses its own float64 one on 8 of the 32 examples at 224x224),
so the median example must agree to --tol and foil may miss on no more
examples than PyTorch's float32 does, plus one in eight.

What is timed (R rounds, the engines one after another in each round, so
the machine's noise hits all alike; median and min over the rounds):

  forward         the batch's logits. foil: build/bench_engine (the engine
                  alone, in process: foil_model_predict, no process start,
                  no file I/O), one timed run after its 3 warm-ups, one
                  bench_engine process a round; PyTorch: model(x) under
                  torch.no_grad(), eval mode; ONNX Runtime: session.run.
                  PyTorch and ONNX Runtime also get 3 warm-up calls a round.
  forward+grad    the gradient of the summed softmax cross-entropy (labels
                  n % 10) with respect to the input, no weight gradients.
                  foil: bench_engine (foil_model_loss_input_grad); PyTorch:
                  torch.autograd.grad with parameters frozen. ONNX Runtime
                  has no gradient: n/a.
  load            from the file on disk to the first batch-1 logits, minus
                  one warm batch-1 forward (the median of warm ones), so
                  that it holds reading, building and planning the model and
                  the first call's one-off work, in all three alike.
                  foil: the wall time of a `foil predict` process on one
                  image, minus that of a `foil --version` process (process
                  start-up and dynamic linking), minus bench_engine's warm
                  batch-1 forward; it also holds reading one 588 KiB NPY
                  image and writing 4 KiB of logits. PyTorch: torchvision's
                  constructor (it initializes the weights at random first),
                  torch.load + load_state_dict, eval(), the first forward.
                  ONNX Runtime: InferenceSession (graph optimizations on, as
                  by default) and the first run. The bare construction times
                  of PyTorch and ONNX Runtime (no first call) are printed
                  too, and foil's in process (bench_engine --load:
                  foil_model_load and the first batch-1 forward, minus a
                  warm one; no process start, no NPY).

Threads: --threads (default: all cores) for all three: foil through
OMP_NUM_THREADS and --threads, PyTorch through torch.set_num_threads and
OMP_NUM_THREADS, ONNX Runtime through intra_op_num_threads (inter-op 1).

PyTorch at its best: where Debian's libopenblas0-pthread is installed, the
script re-executes itself with LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/
openblas-pthread, so PyTorch's BLAS is the pthread OpenBLAS (the OpenMP one
that foil links would share OpenMP's pool with PyTorch's own); foil's
processes run without that variable (foil's RUNPATH names the OpenMP
OpenBLAS it was built with). The report says which BLAS PyTorch loaded.

usage: /opt/foil-ml/bin/python bench/zoo_vs_torch.py BUILD_DIR
           [--model resnet18] [--batch 32] [--side 224] [--reps 5] [--threads N]
(PyTorch and torchvision from Debian; onnxruntime from PyPI in a virtual
environment that sees Debian's packages, e.g. the ML venv of
scripts/install-deps.sh --crosscheck. Without onnxruntime its column is n/a.)
"""
import argparse
import copy
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time

PTHREAD_BLAS = "/usr/lib/x86_64-linux-gnu/openblas-pthread"
REEXEC_MARK = "FOIL_ZOO_BENCH_CHILD"
CORETYPE_MARK = "FOIL_ZOO_BENCH_SET_CORETYPE"
WARMUPS = 3  # bench_engine's own, given to PyTorch and ONNX Runtime too


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("build", help="foil's build directory (holds foil and bench_engine)")
    ap.add_argument("--model", default="resnet18", help="a torchvision.models constructor (default resnet18)")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--side", type=int, default=224, help="input height and width (default 224)")
    ap.add_argument("--reps", type=int, default=5, help="rounds; median and min over them (default 5)")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--opset", type=int, default=13)
    ap.add_argument("--tol", type=float, default=1e-3,
                    help="largest max|diff|/max|reference| the check accepts (default 1e-3)")
    a = ap.parse_args()
    if a.batch < 1 or a.reps < 1 or a.threads < 1 or a.side < 32:
        ap.error("--batch, --reps and --threads must be at least 1, --side at least 32")
    return a


def reexec(a):
    """Once, before torch is imported: the thread count for every OpenMP
    runtime, and PyTorch's pthread OpenBLAS where it is installed (the
    dynamic loader reads LD_LIBRARY_PATH only at process start)."""
    if os.environ.get(REEXEC_MARK):
        return
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads))
    env[REEXEC_MARK] = "1"
    if os.path.isdir(PTHREAD_BLAS):
        old = env.get("LD_LIBRARY_PATH", "")
        if PTHREAD_BLAS not in old.split(":"):
            env["LD_LIBRARY_PATH"] = PTHREAD_BLAS + (":" + old if old else "")
    # OpenBLAS takes a CPU newer than it knows for Prescott (SSE3 kernels);
    # foil has it choose again when it loads and says so in --version. PyTorch
    # gets the same kernels through OPENBLAS_CORETYPE, which foil's own
    # processes run without (foil_env), so that they show foil's choice.
    if "OPENBLAS_CORETYPE" not in env:
        version = subprocess.run([os.path.join(a.build, "foil"), "--version"], capture_output=True, text=True).stdout
        m = re.search(r"BLAS: OpenBLAS, (\w+) kernels \(OpenBLAS took this CPU for", version)
        if m:
            env["OPENBLAS_CORETYPE"] = m.group(1)
            env[CORETYPE_MARK] = "1"
    os.execve(sys.executable, [sys.executable, os.path.abspath(__file__)] + sys.argv[1:], env)


ARGS = parse_args()
reexec(ARGS)

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import torchvision  # noqa: E402

try:
    import onnxruntime as ort  # noqa: E402
except ImportError:
    ort = None


def foil_env(threads):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    env.pop(REEXEC_MARK, None)
    if env.pop(CORETYPE_MARK, None):
        env.pop("OPENBLAS_CORETYPE", None)
    path = [p for p in env.get("LD_LIBRARY_PATH", "").split(":") if p and p != PTHREAD_BLAS]
    if path:
        env["LD_LIBRARY_PATH"] = ":".join(path)
    else:
        env.pop("LD_LIBRARY_PATH", None)
    return env


def run(cmd, env):
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode:
        sys.exit(f"{' '.join(cmd[:2])} failed ({r.returncode}): {r.stderr.strip()[-800:]}")
    return r.stdout


def ms_since(t0):
    return (time.perf_counter() - t0) * 1e3


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown"


def torch_blas():
    """The BLAS library files this process (PyTorch) has mapped."""
    a = torch.randn(64, 64)
    (a @ a).sum()
    with open("/proc/self/maps") as f:
        libs = {line.split()[-1] for line in f if "blas" in line.lower() and "/" in line}
    return ", ".join(sorted(libs)) or "none found"


# ---------------------------------------------------------------- the model

def make_model(name):
    return getattr(torchvision.models, name)(weights=None)


def build_model(name, side):
    """Random weights, batch-norm statistics of uniform inputs, eval mode
    (tests/zoo_crosscheck.py's recipe)."""
    torch.manual_seed(0)
    model = make_model(name)
    for m in model.modules():  # zero-initialized heads (ViT's) would give zero logits
        if isinstance(m, torch.nn.Linear) and not m.weight.detach().abs().max() > 0:
            torch.nn.init.normal_(m.weight, std=0.02)
    with torch.no_grad():
        model.train()
        for _ in range(3):
            model(torch.rand(8, 3, side, side))
    model.eval()
    return model


def freeze(model):
    for p in model.parameters():
        p.requires_grad_(False)
    return model


# ---------------------------------------------------------------- PyTorch

def torch_forward(model, x):
    with torch.no_grad():
        return model(x)


def torch_grad(model, x, y):
    xg = x.clone().requires_grad_(True)
    loss = F.cross_entropy(model(xg), y, reduction="sum")
    (g,) = torch.autograd.grad(loss, xg)
    return g


def torch_load(name, pt_path, x1):
    """(ms to a ready model, ms to its first batch-1 logits) and the model."""
    t0 = time.perf_counter()
    model = make_model(name)
    model.load_state_dict(torch.load(pt_path))
    model.eval()
    ready = ms_since(t0)
    torch_forward(model, x1)
    return ready, ms_since(t0), freeze(model)


def timed(fn, *args):
    for _ in range(WARMUPS):
        fn(*args)
    t0 = time.perf_counter()
    fn(*args)
    return ms_since(t0)


# ---------------------------------------------------------------- ONNX Runtime

def ort_session(path, threads):
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def ort_load(path, threads, x1):
    t0 = time.perf_counter()
    s = ort_session(path, threads)
    ready = ms_since(t0)
    s.run(None, {"x": x1})
    return ready, ms_since(t0), s


# ---------------------------------------------------------------- foil

def bench_engine(build, onnx_path, batch, repeats, side, env, load=False):
    """{'forward': ms, 'forward+grad': ms}: bench_engine's medians over
    `repeats` timed runs (after its 3 warm-ups), the engine in process;
    with load, also 'load' (bench_engine --load)."""
    out = run([os.path.join(build, "bench_engine"), onnx_path, str(batch), str(repeats), "3", str(side), str(side)]
              + (["--load"] if load else []), env)
    res = {}
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 5 and f[0] == "foil":
            res[f[1]] = float(f[3])
    if set(res) != {"forward", "forward+grad"} | ({"load"} if load else set()):
        sys.exit(f"bench_engine printed something unexpected:\n{out}")
    return res


def foil_load(build, onnx_path, x1_path, z1_path, threads, env):
    """ms of a `foil predict` process on one image minus that of `foil --version`."""
    foil = os.path.join(build, "foil")
    t0 = time.perf_counter()
    run([foil, "--version"], env)
    startup = ms_since(t0)
    t0 = time.perf_counter()
    run([foil, "predict", "--model", onnx_path, "--input", x1_path, "--output", z1_path, "--batch", "1",
         "--threads", str(threads), "--quiet"], env)
    return ms_since(t0) - startup


# ---------------------------------------------------------------- report

def rel_diff(got, want):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    d = float(np.max(np.abs(got - want)))
    scale = float(np.max(np.abs(want)))
    return d, (d / scale if scale > 0 else float("inf"))


def off_examples(got, want, tol):
    """Per example, max |diff| / max |reference| of its gradient; returns how
    many examples are beyond tol, and the median and worst of those ratios."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    rel = []
    for g, w in zip(got, want):
        scale = float(np.max(np.abs(w)))
        rel.append(float(np.max(np.abs(g - w))) / scale if scale > 0 else float("inf"))
    return sum(r > tol for r in rel), statistics.median(rel), max(rel)


def stat(v):
    return (statistics.median(v), min(v)) if v else None


def cell(s):
    return f"{s[0]:.1f} ({s[1]:.1f})" if s else "n/a"


def ratio(other, foil):
    return f"{other[0] / foil[0]:.2f}x" if other and foil else "n/a"


def main():
    a = ARGS
    torch.set_num_threads(a.threads)
    for tool in ("foil", "bench_engine"):
        if not os.access(os.path.join(a.build, tool), os.X_OK):
            sys.exit(f"{os.path.join(a.build, tool)} not found: build foil first (cmake --build {a.build})")
    fenv = foil_env(a.threads)
    foil_version = run([os.path.join(a.build, "foil"), "--version"], fenv).strip()
    B, S = a.batch, a.side
    print(f"# {a.model}, batch {B}, {S}x{S}, {a.threads} thread(s), {a.reps} round(s); {cpu_name()}, "
          f"{os.cpu_count()} CPUs", flush=True)
    print(f"# {foil_version}")
    coretype = os.environ.get("OPENBLAS_CORETYPE")
    print(f"# torch {torch.__version__}, torchvision {torchvision.__version__}, BLAS: {torch_blas()}"
          + (f", OPENBLAS_CORETYPE={coretype}" if coretype else ""))
    if not os.path.isdir(PTHREAD_BLAS):
        print(f"# note: {PTHREAD_BLAS} is missing (Debian's libopenblas0-pthread): PyTorch runs with the BLAS above")
    print(f"# onnxruntime {ort.__version__}" if ort else "# onnxruntime is not importable: its column is n/a")

    model = build_model(a.model, S)
    g = torch.Generator().manual_seed(1)
    x = torch.rand(B, 3, S, S, generator=g)
    y = torch.arange(B) % 10  # bench_engine's labels
    x1 = x[:1].contiguous()
    with tempfile.TemporaryDirectory() as work:
        onnx_path = os.path.join(work, f"{a.model}.onnx")
        pt_path = os.path.join(work, f"{a.model}.pt")
        paths = {k: os.path.join(work, f"{k}.npy") for k in ("x", "y", "x1", "z", "z1", "g")}
        torch.onnx.export(model, x1, onnx_path, opset_version=a.opset, input_names=["x"], output_names=["logits"],
                          dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}})
        torch.save(model.state_dict(), pt_path)
        np.save(paths["x"], x.numpy())
        np.save(paths["y"], y.numpy().astype(np.int64))
        np.save(paths["x1"], x1.numpy())
        print(f"# {os.path.getsize(onnx_path) / 2**20:.1f} MiB ONNX (opset {a.opset}, dynamic batch)", flush=True)

        # ---- agreement, on the benchmark's own batch
        freeze(model)
        t_logits = torch_forward(model, x).numpy()
        t_grad = torch_grad(model, x, y).numpy()
        foil = os.path.join(a.build, "foil")
        common = ["--batch", str(B), "--threads", str(a.threads), "--quiet"]
        run([foil, "predict", "--model", onnx_path, "--input", paths["x"], "--output", paths["z"]] + common, fenv)
        run([foil, "grad", "--model", onnx_path, "--input", paths["x"], "--labels", paths["y"], "--output",
             paths["g"]] + common, fenv)
        f_logits, f_grad = np.load(paths["z"]), np.load(paths["g"])
        checks = [("logits foil vs PyTorch", rel_diff(f_logits, t_logits))]
        if ort:
            o_logits = ort_session(onnx_path, a.threads).run(None, {"x": x.numpy()})[0]
            checks += [("logits foil vs ONNX Runtime", rel_diff(f_logits, o_logits)),
                       ("logits PyTorch vs ONNX Runtime", rel_diff(t_logits, o_logits))]
        bad = False
        print(f"\nagreement on the batch (max |logit| {np.abs(t_logits).max():.3g}, "
              f"max |gradient| {np.abs(t_grad).max():.3g}):")
        for what, (d, r) in checks:
            ok = r <= a.tol
            bad |= not ok
            print(f"  {'ok  ' if ok else 'FAIL'} {what:<32} max |diff| {d:.3g}, relative {r:.2e}")
        # The input gradient against PyTorch in float64. A ReLU whose input
        # lies within float32 rounding of zero (a kink; at 224x224 a few
        # examples in a batch have one) passes the gradient in one engine and
        # not in another, and that example's whole gradient differs: PyTorch
        # in float32 differs from itself in float64 on such examples too. So
        # the check asks for the median example to agree, and for foil to
        # miss float64's answer on no more examples than PyTorch's float32
        # does, plus one in eight.
        g64 = torch_grad(copy.deepcopy(model).double(), x.double(), y).numpy()
        f_off, f_med, f_worst = off_examples(f_grad, g64, a.tol)
        t_off, t_med, t_worst = off_examples(t_grad, g64, a.tol)
        grad_ok = f_med <= a.tol and f_off <= t_off + B // 8
        bad |= not grad_ok
        print(f"  {'ok  ' if grad_ok else 'FAIL'} {'input gradient foil vs PyTorch64':<32} per example: median "
              f"relative {f_med:.2e}, worst {f_worst:.2e}, {f_off} of {B} beyond --tol")
        print(f"       {'PyTorch float32 vs float64':<32} per example: median relative {t_med:.2e}, "
              f"worst {t_worst:.2e}, {t_off} of {B} beyond --tol (the ReLU kinks above)")
        if bad:
            print(f"the engines disagree beyond --tol {a.tol:g}: no timings")
            return 1
        del model

        # ---- warm batch-1 forward, subtracted from every load
        fb1 = bench_engine(a.build, onnx_path, 1, max(3, a.reps), S, fenv)["forward"]
        tm = freeze(torch_load(a.model, pt_path, x1)[2])
        tb1 = statistics.median(timed(torch_forward, tm, x1) for _ in range(max(3, a.reps)))
        del tm
        ob1 = None
        if ort:
            s = ort_session(onnx_path, a.threads)
            ob1 = statistics.median(timed(s.run, None, {"x": x1.numpy()}) for _ in range(max(3, a.reps)))
            del s

        # ---- rounds
        T = {k: [] for k in ("foil load", "foil load in process", "foil forward", "foil forward+grad", "torch ready", "torch load",
                             "torch forward", "torch forward+grad", "ort ready", "ort load", "ort forward")}
        xn, x1n = x.numpy(), x1.numpy()
        for r in range(a.reps):
            f = bench_engine(a.build, onnx_path, B, 1, S, fenv, load=True)
            T["foil load in process"].append(f["load"])
            T["foil forward"].append(f["forward"])
            T["foil forward+grad"].append(f["forward+grad"])
            T["foil load"].append(foil_load(a.build, onnx_path, paths["x1"], paths["z1"], a.threads, fenv) - fb1)
            ready, first, tm = torch_load(a.model, pt_path, x1)
            T["torch ready"].append(ready)
            T["torch load"].append(first - tb1)
            T["torch forward"].append(timed(torch_forward, tm, x))
            T["torch forward+grad"].append(timed(torch_grad, tm, x, y))
            del tm
            line = (f"round {r + 1}: foil load {T['foil load'][-1]:.1f} fwd {f['forward']:.1f} "
                    f"fwd+grad {f['forward+grad']:.1f} | PyTorch load {T['torch load'][-1]:.1f} "
                    f"fwd {T['torch forward'][-1]:.1f} fwd+grad {T['torch forward+grad'][-1]:.1f}")
            if ort:
                ready, first, s = ort_load(onnx_path, a.threads, x1n)
                T["ort ready"].append(ready)
                T["ort load"].append(first - ob1)
                T["ort forward"].append(timed(s.run, None, {"x": xn}))
                del s
                line += f" | ORT load {T['ort load'][-1]:.1f} fwd {T['ort forward'][-1]:.1f}"
            print(line + " (ms)", flush=True)

    St = {k: stat(v) for k, v in T.items()}
    print(f"\n{a.model}, batch {B}, 3x{S}x{S}, {a.threads} thread(s); {cpu_name()}")
    print(f"milliseconds, median (min) of {a.reps} round(s); ratios are speed ratios, the other engine's median "
          f"time / foil's (above 1: foil faster)")
    head = f"{'':<18}{'foil':>18}{'PyTorch':>18}{'ONNX Runtime':>18}{'foil/PyTorch':>14}{'foil/ORT':>10}"
    print(head)
    print("-" * len(head))
    for row, key in (("load", "load"), ("forward", "forward"), ("forward+gradient", "forward+grad")):
        f, t, o = St[f"foil {key}"], St[f"torch {key}"], St.get(f"ort {key}")
        print(f"{row:<18}{cell(f):>18}{cell(t):>18}{cell(o):>18}{ratio(t, f):>14}{ratio(o, f):>10}")
    fwd_img = {k: B / St[f"{k} forward"][0] * 1e3 for k in ("foil", "torch", "ort") if St.get(f"{k} forward")}
    print("forward images/s: " + ", ".join(f"{k} {v:.1f}" for k, v in fwd_img.items()))
    print(f"\nload = file on disk to the first batch-1 logits, minus a warm batch-1 forward (foil {fb1:.1f}, "
          f"PyTorch {tb1:.1f}" + (f", ONNX Runtime {ob1:.1f}" if ob1 is not None else "") + " ms).")
    print("  foil: `foil predict` process on one image minus a `foil --version` process (start-up), so it also "
          f"holds the NPY read/write; in process (bench_engine --load) {cell(St['foil load in process'])} ms;")
    print(f"  PyTorch: constructor + torch.load + load_state_dict + first call; constructor + state dict alone "
          f"{cell(St['torch ready'])} ms;")
    if ort:
        print(f"  ONNX Runtime: InferenceSession + first run; InferenceSession alone {cell(St['ort ready'])} ms.")
    print("forward, forward+gradient: foil from bench_engine (engine only, in process, each timed run after its 3 "
          "warm-ups);\n  PyTorch and ONNX Runtime from this process, each timed call after 3 warm-ups; input "
          "gradient of the summed cross-entropy, no weight gradients.")
    tf, tg = St["foil forward+grad"], St["torch forward+grad"]
    goals = [f"forward+gradient ahead of PyTorch: {'met' if tg[0] > tf[0] else 'not met'} ({tg[0] / tf[0]:.2f}x)"]
    if St.get("ort forward"):
        of, ff = St["ort forward"], St["foil forward"]
        goals.append(f"forward at least ONNX Runtime's speed: {'met' if of[0] >= ff[0] else 'not met'} "
                     f"({of[0] / ff[0]:.2f}x)")
    print("targets (issue 17): " + "; ".join(goals))
    return 0


if __name__ == "__main__":
    sys.exit(main())
