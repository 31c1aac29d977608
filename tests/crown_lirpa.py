"""Cross-check foil's CROWN and IBP bounds against auto_LiRPA's.

Builds small PyTorch nets (an MLP; a CNN with Conv, ReLU, MaxPool, Flatten,
Linear; a CNN with a strided Conv, BatchNorm in eval mode and AvgPool, its
input normalized by Sub/Div), exports each to ONNX, and bounds the margins
y - j (j != y, y the clean prediction) over Linf boxes x +- eps clipped to
[0, 1], with foil (tests/bounds_tool.c: crown-only, i.e. CROWN not
intersected with IBP, and ibp) and with auto_LiRPA's
compute_bounds(method='backward') and method='IBP' on the same boxes. The
bounds must agree to RTOL relative to the bounds' scale: auto_LiRPA
computes in float32, foil in double rounded outward.

Also checks that foil's default CROWN (intersected with IBP) is never looser
than IBP.

Run by tests/test_crown_lirpa.sh with a Python that has auto_LiRPA; exits
77 (skip) when it cannot import it.
"""
import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
    import torch
    import torch.nn as nn
    from auto_LiRPA import BoundedModule, BoundedTensor
    from auto_LiRPA.perturbations import PerturbationLpNorm
except ImportError as e:  # optional dependency
    print(f"SKIP: auto_LiRPA not available ({e}); scripts/install-deps.sh --crosscheck installs it")
    sys.exit(77)

TOOL = os.environ["FOIL_BOUNDS_TOOL"]
RTOL = 1e-4


class Normalize(nn.Module):
    def __init__(self, mean, std):
        super().__init__()
        # (1, C, 1, 1) tensors: auto_LiRPA divides its conv "patches" only by 4-D constants
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1))

    def forward(self, x):
        return (x - self.mean) / self.std


def nets():
    torch.manual_seed(0)
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(12, 20), nn.ReLU(), nn.Linear(20, 16), nn.ReLU(), nn.Linear(16, 4))
    yield "mlp", mlp, (12,)
    cnn = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(4, 8, 3, padding=1), nn.ReLU(), nn.Flatten(),
                        nn.Linear(8 * 4 * 4, 24), nn.ReLU(), nn.Linear(24, 5))
    yield "cnn-maxpool", cnn, (1, 8, 8)
    bn = nn.BatchNorm1d(20)
    bn.running_mean.uniform_(-0.5, 0.5)
    bn.running_var.uniform_(0.5, 2.0)
    bn.weight.data.uniform_(0.5, 1.5)
    bn.bias.data.uniform_(-0.2, 0.2)
    cnn2 = nn.Sequential(Normalize([0.3, 0.5], [0.4, 0.25]), nn.Conv2d(2, 6, 3, stride=2, padding=1), nn.ReLU(),
                         nn.AvgPool2d(2), nn.Flatten(), nn.Linear(6 * 2 * 2, 20), bn, nn.ReLU(),
                         nn.Linear(20, 3))
    yield "cnn-bn-avgpool", cnn2, (2, 8, 8)


def margin_spec(y, classes):
    C = np.zeros((len(y), classes - 1, classes), np.float32)
    for i, yi in enumerate(y):
        others = [j for j in range(classes) if j != yi]
        for r, j in enumerate(others):
            C[i, r, yi] = 1
            C[i, r, j] = -1
    return C


def foil_bounds(tmp, onnx_path, lo, hi, C, method):
    np.save(f"{tmp}/lo.npy", lo)
    np.save(f"{tmp}/hi.npy", hi)
    np.save(f"{tmp}/C.npy", C)
    p = subprocess.run([TOOL, onnx_path, f"{tmp}/lo.npy", f"{tmp}/hi.npy", f"{tmp}/C.npy", method,
                        f"{tmp}/lb.npy", f"{tmp}/ub.npy"], capture_output=True, text=True)
    if p.returncode != 0:
        print(p.stderr)
        sys.exit(1)
    return np.load(f"{tmp}/lb.npy"), np.load(f"{tmp}/ub.npy")


def main():
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name, net, shape in nets():
            net.eval()
            path = f"{tmp}/{name}.onnx"
            x0 = torch.rand(1, *shape)
            torch.onnx.export(net, x0, path, input_names=["x"], output_names=["logits"],
                              dynamic_axes={"x": {0: "N"}, "logits": {0: "N"}}, opset_version=13)
            # dense coefficient matrices: auto_LiRPA 0.3's conv "patches" cannot pass a Div
            lirpa = BoundedModule(net, torch.zeros(1, *shape), bound_opts={"conv_mode": "matrix"})
            for eps in (0.02, 0.1):
                x = torch.rand(3, *shape)
                with torch.no_grad():
                    y = net(x).argmax(1).numpy()
                classes = net(x).shape[1]
                C = margin_spec(y, classes)
                lo = np.clip(x.numpy() - np.float32(eps), 0, 1).astype(np.float32)
                hi = np.clip(x.numpy() + np.float32(eps), 0, 1).astype(np.float32)
                ptb = PerturbationLpNorm(norm=float("inf"), x_L=torch.from_numpy(lo), x_U=torch.from_numpy(hi))
                bx = BoundedTensor(x, ptb)
                results = {}
                for method, lmethod in (("crown-only", "backward"), ("ibp", "IBP")):
                    llb, lub = lirpa.compute_bounds(x=(bx,), method=lmethod, C=torch.from_numpy(C))
                    llb, lub = llb.detach().numpy(), lub.detach().numpy()
                    flb, fub = foil_bounds(tmp, path, lo, hi, C, method)
                    scale = 1 + max(np.abs(llb).max(), np.abs(lub).max())
                    err = max(np.abs(flb - llb).max(), np.abs(fub - lub).max()) / scale
                    ok = err <= RTOL
                    failures += not ok
                    print(f"{name:15s} eps {eps:<5} {method:10s} max |foil - auto_LiRPA| / scale = {err:.2e}"
                          f" {'ok' if ok else 'FAIL'}  (lower bounds: foil {flb[0, :3]}, auto_LiRPA {llb[0, :3]})")
                    results[method] = (flb, fub)
                # Intersected with IBP, CROWN is never looser than IBP. (It can
                # be looser than CROWN alone on some rows: tighter intermediate
                # bounds can flip an adaptive ReLU slope or a MaxPool's argmax.)
                dlb, dub = foil_bounds(tmp, path, lo, hi, C, "crown")
                flb, fub = results["ibp"]
                if not (np.all(dlb >= flb) and np.all(dub <= fub)):
                    print(f"{name}: foil's default CROWN is looser than its IBP")
                    failures += 1
    if failures:
        print(f"FAIL: {failures} comparisons")
        sys.exit(1)
    print("foil's bounds agree with auto_LiRPA's")


if __name__ == "__main__":
    main()
