"""Models foil writes run in an independent runtime, ONNX Runtime, with the
same outputs: each built-in architecture trained briefly, an adversarially
trained one, an mlp on tabular data (its input normalization inside the
graph), and a model with preprocessing defenses folded in by `foil defend`.
For each, onnxruntime's outputs on random inputs in the data's range must
equal `foil predict`'s to 1e-5 of their largest magnitude.

Run by tests/test_ort_roundtrip.sh with a Python that has onnxruntime;
FOIL_BIN names foil.
"""
import os
import subprocess
import sys
import tempfile

import numpy as np

try:
    import onnxruntime
except ImportError as e:
    print(f"SKIP: onnxruntime is not importable ({e})")
    sys.exit(77)

FOIL = os.environ["FOIL_BIN"]
RTOL = 1e-5


def foil(*args):
    out = subprocess.run([FOIL, *args], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"foil {args[0]} failed: {out.stderr.strip()[-500:]}")


def models(work):
    """(name, path, one example's shape) of each model foil writes here."""
    # 1,000 images; 200 in the sanitizer build (FOIL_ATTACK_EXAMPLES < 1000), ten times slower
    limit = "1000" if int(os.environ.get("FOIL_ATTACK_EXAMPLES", "1000")) >= 1000 else "200"
    images = ["--data", "fashion-mnist", "--limit", limit, "--epochs", "1", "--quiet"]
    made = []
    for arch in ("cnn-small", "lenet5", "cnn-tanh", "resnet-mini", "mlp"):
        path = os.path.join(work, f"{arch}.onnx")
        foil("train", "--arch", arch, *images, "--output", path)
        made.append((arch, path, (1, 28, 28)))
    path = os.path.join(work, "pgd.onnx")
    foil("train", "--arch", "cnn-small", *images, "--adv", "pgd", "--eps", "0.1", "--output", path)
    made.append(("cnn-small, PGD-trained", path, (1, 28, 28)))
    path = os.path.join(work, "defended.onnx")
    foil("defend", "--model", made[0][1], "--preprocess", "squeeze:bits=4,blur:sigma=1", "--output", path, "--quiet")
    made.append(("cnn-small + squeeze and blur folded in", path, (1, 28, 28)))
    path = os.path.join(work, "tabular.onnx")
    foil("train", "--arch", "mlp", "--data", "breast-cancer", "--epochs", "5", "--quiet", "--output", path)
    made.append(("mlp on breast-cancer (normalization in the graph)", path, (30,)))
    return made


def main():
    failures = 0
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as work:
        for name, path, shape in models(work):
            x = rng.random((5, *shape), dtype=np.float32)
            if shape == (30,):  # tabular: breast-cancer's features span 0 to a few thousand
                x *= np.float32(100)
            xp, zp = os.path.join(work, "x.npy"), os.path.join(work, "z.npy")
            np.save(xp, x)
            foil("predict", "--model", path, "--input", xp, "--output", zp)
            got = np.load(zp)
            sess = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
            want = sess.run(None, {sess.get_inputs()[0].name: x})[0]
            scale = float(np.max(np.abs(want)))
            err = float(np.max(np.abs(got - want))) / scale if scale > 0 else float("inf")
            ok = got.shape == want.shape and err <= RTOL
            failures += not ok
            print(f"{'ok  ' if ok else 'FAIL'} {name}: max |foil - onnxruntime| / max |value| = {err:.2e}", flush=True)
    print(f"{failures} failure(s)" if failures else "all passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
