"""Cross-check foil's FGSM and PGD against PyTorch on the same ONNX model.

The model is the attack tests' fixture (foil's cnn-small, trained by ctest);
its weights are loaded into the PyTorch definition of cnn-small by name. On
the first N Fashion-MNIST test images, foil writes its adversarial examples
(`foil attack --out`) and this script computes them in PyTorch:

  FGSM:  x' = clip(x + eps * sign(grad_x CE(f(x), y)), 0, 1)
  PGD:   x_0 = x (no random start), 10 steps of
         x_{k+1} = clip(clip(x_k + a * sign(grad CE), x - eps, x + eps), 0, 1),
         every step (foil with early_stop=0), answer = the last iterate,

on the examples the model classifies correctly (foil leaves the others as
they are). The two must agree exactly, except on pixels where PyTorch's
gradient was within rounding of zero at some step: there the sign, and so
the pixel, may differ. Float32 computes the softmax probabilities in
d CE / d logits = softmax - onehot to about 1e-7 absolute, so a pixel's
gradient is only known to about 1e-7 * J (J: the largest |d logit / d pixel|
over the batch, measured here); for a confidently classified example that
is more than its gradient's own size. "Within rounding of zero": |g| below
the larger of 16 * 1.2e-7 * J and 1e-5 of the example's largest |g|.

FGSM must agree pixel for pixel on that rule. Over PGD's 10 steps a pixel
that legitimately took the other sign moves the iterate, and the next
gradients of that example differ a little everywhere, so one such pixel
can change others later; PGD is therefore checked per example: at least
90% of the attacked images must come out bit-identical, and PyTorch's
accuracy on foil's and on its own adversarial examples must agree to
within 1 percentage point.

Run by tests/test_attack_torch_crosscheck.sh; exits 77 without torch/onnx.
"""
import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
    import torch
    import torch.nn.functional as F
except ImportError as e:  # optional dependency
    print(f"SKIP: python3-torch not available ({e})")
    sys.exit(77)

sys.path.insert(0, os.path.join(os.environ["FOIL_SOURCE_DIR"], "bench"))
from torch_reference import cnn_small_from_onnx, fashion_mnist_test  # noqa: E402

FOIL = os.environ["FOIL_BIN"]
MODEL = os.environ.get("FOIL_ATTACK_MODEL", "")
N = min(int(os.environ.get("FOIL_ATTACK_EXAMPLES", "1000")), 500)
EPS, ALPHA, STEPS = 0.1, 0.01, 10
NEAR_ZERO = 1e-5


def foil_attack(tmp, name, extra):
    out = os.path.join(tmp, name + ".npy")
    cmd = [FOIL, "attack", "--model", MODEL, "--data", os.path.join(tmp, "x.npy"), "--labels",
           os.path.join(tmp, "y.npy"), "--split", "all", "--attack", name, "--eps", str(EPS), "--out", out,
           "--quiet", "--threads", "2"] + extra
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return np.load(out)


def grad_ce(model, x, y):
    x = x.clone().requires_grad_(True)
    F.cross_entropy(model(x), y, reduction="sum").backward()
    return x.grad


def logit_sensitivity(model, x):
    """max over examples, pixels and classes of |d logit_k / d pixel|."""
    x = x.clone().requires_grad_(True)
    z = model(x)
    best = 0.0
    for k in range(z.shape[1]):
        (g,) = torch.autograd.grad(z[:, k].sum(), x, retain_graph=True)
        best = max(best, g.abs().max().item())
    return best


def torch_pgd(model, x, y, steps, alpha, floor):
    """Returns the last iterate and, per pixel, whether its gradient was
    within rounding of zero at some step."""
    a, near_zero = x.clone(), torch.zeros_like(x, dtype=torch.bool)
    for _ in range(steps):
        g = grad_ce(model, a, y)
        scale = g.abs().flatten(1).max(1).values.view(-1, 1, 1, 1)
        near_zero |= g.abs() <= torch.clamp(NEAR_ZERO * scale, min=floor)
        a = a + alpha * torch.sign(g)
        a = torch.min(torch.max(a, x - EPS), x + EPS).clamp(0, 1)
    return a, near_zero


def compare(name, foil_adv, torch_adv, near_zero, attacked):
    torch_adv = np.where(attacked[:, None, None, None], torch_adv, X)
    differ = foil_adv != torch_adv
    unexplained = differ & ~near_zero
    print(f"{name}: {attacked.sum()} attacked images, {differ.sum()} of {differ.size} pixels differ, "
          f"{unexplained.sum()} of them where the gradient is not near zero; "
          f"max |difference| {np.abs(foil_adv - torch_adv).max():.3g}")
    if unexplained.any():
        i = np.argwhere(unexplained)[0]
        print(f"FAIL {name}: pixel {tuple(i)}: foil {foil_adv[tuple(i)]!r} torch {torch_adv[tuple(i)]!r}")
        return False
    # Near-zero gradients are rare; a mismatch on most pixels would mean a bug.
    if differ.mean() > 0.01:
        print(f"FAIL {name}: {100 * differ.mean():.2f}% of pixels differ")
        return False
    return True


def compare_examples(name, model, y, foil_adv, torch_adv, attacked):
    torch_adv = np.where(attacked[:, None, None, None], torch_adv, X)
    same = (foil_adv == torch_adv).reshape(len(X), -1).all(1)
    with torch.no_grad():
        acc_foil = (model(torch.from_numpy(foil_adv)).argmax(1) == y).float().mean().item()
        acc_torch = (model(torch.from_numpy(torch_adv)).argmax(1) == y).float().mean().item()
    frac = same[attacked].mean()
    print(f"{name}: {same[attacked].sum()} of {attacked.sum()} attacked images bit-identical ({100 * frac:.1f}%); "
          f"robust accuracy on foil's {100 * acc_foil:.1f}%, on PyTorch's {100 * acc_torch:.1f}%")
    if frac < 0.9:
        print(f"FAIL {name}: fewer than 90% of the images agree")
        return False
    if abs(acc_foil - acc_torch) > 0.01:
        print(f"FAIL {name}: robust accuracies differ by more than 1 point")
        return False
    return True


if not MODEL or not os.path.exists(MODEL):
    print("SKIP: FOIL_ATTACK_MODEL is not set (run through ctest)")
    sys.exit(77)
try:
    import onnx  # noqa: F401 (cnn_small_from_onnx needs it)
except ImportError:
    print("SKIP: python3-onnx not available")
    sys.exit(77)

torch.set_num_threads(2)
X, Y = fashion_mnist_test(N)
model = cnn_small_from_onnx(MODEL)
with tempfile.TemporaryDirectory() as tmp:
    np.save(os.path.join(tmp, "x.npy"), X)
    np.save(os.path.join(tmp, "y.npy"), Y)
    fgsm = foil_attack(tmp, "fgsm", [])
    pgd = foil_attack(tmp, "pgd", ["--steps", str(STEPS), "--step-size", str(ALPHA),
                                   "--params", "random_start=0,early_stop=0"])

x, y = torch.from_numpy(X), torch.from_numpy(Y)
with torch.no_grad():
    attacked = (model(x).argmax(1) == y).numpy()
floor = 16 * 1.2e-7 * logit_sensitivity(model, x)
print(f"gradient rounding floor {floor:.3g}")
torch_fgsm, nz_fgsm = torch_pgd(model, x, y, 1, EPS, floor)
torch_pgd10, _ = torch_pgd(model, x, y, STEPS, ALPHA, floor)
ok = compare("FGSM", fgsm, torch_fgsm.numpy(), nz_fgsm.numpy(), attacked)
ok &= compare_examples("PGD-10 (no random start)", model, y, pgd, torch_pgd10.numpy(), attacked)
sys.exit(0 if ok else 1)
