"""Cross-check foil against PyTorch on models exported from PyTorch to ONNX.

Builds a small CNN with batch norm and a small MLP in PyTorch, exports each to
ONNX, and checks that `foil predict` gives PyTorch's logits and `foil grad`
gives PyTorch's input gradient of the per-example softmax cross-entropy
(summed over the batch), to rtol 1e-4.

Run by tests/test_torch_crosscheck.sh; exits 77 (skip) when torch or onnx is
not importable.
"""
import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as e:  # optional dependency
    print(f"SKIP: python3-torch not available ({e}); install it to run the PyTorch cross-check")
    sys.exit(77)

FOIL = os.environ["FOIL_BIN"]
RTOL = 1e-4


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 16, 3, stride=2, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(16)
        self.fc = nn.Linear(16 * 2 * 2, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.relu(self.bn2(self.conv2(x)))
        x = F.avg_pool2d(x, 2)
        x = torch.flatten(x, 1)
        return self.fc(x)


class SmallMLP(nn.Module):
    def __init__(self, d_in=30):
        super().__init__()
        self.fc1 = nn.Linear(d_in, 64)
        self.fc2 = nn.Linear(64, 32)
        self.fc3 = nn.Linear(32, 3)

    def forward(self, x):
        x = x.view(x.size(0), -1)  # exported as Shape/Gather/Unsqueeze/Concat/Reshape
        x = torch.tanh(self.fc1(x))
        x = F.leaky_relu(self.fc2(x), 0.1)
        return self.fc3(torch.sigmoid(x) * 2 - 1)


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        print("command failed:", " ".join(cmd), "\n", r.stdout, r.stderr)
        sys.exit(1)
    return r.stdout


def check(name, model, x, classes, opset, tmp):
    model.eval()
    path = os.path.join(tmp, f"{name}.onnx")
    torch.onnx.export(model, x[:1], path, opset_version=opset, input_names=["x"], output_names=["logits"],
                      dynamic_axes={"x": {0: "N"}, "logits": {0: "N"}})
    y = torch.randint(0, classes, (x.shape[0],))
    xg = x.clone().requires_grad_(True)
    logits = model(xg)
    loss = F.cross_entropy(logits, y, reduction="sum")
    loss.backward()
    np.save(os.path.join(tmp, "x.npy"), x.numpy())
    np.save(os.path.join(tmp, "y.npy"), y.numpy().astype(np.int64))
    out_l, out_g = os.path.join(tmp, "l.npy"), os.path.join(tmp, "g.npy")
    run([FOIL, "predict", "--model", path, "--input", os.path.join(tmp, "x.npy"), "--output", out_l, "--batch", "7"])
    run([FOIL, "grad", "--model", path, "--input", os.path.join(tmp, "x.npy"), "--labels",
         os.path.join(tmp, "y.npy"), "--output", out_g])
    ok = True
    for what, got, want in (("logits", np.load(out_l), logits.detach().numpy()),
                            ("input gradient", np.load(out_g), xg.grad.numpy())):
        atol = 1e-6 * float(np.abs(want).max())
        err = np.abs(got - want) - (atol + RTOL * np.abs(want))
        good = got.shape == want.shape and bool((err <= 0).all())
        rel = float(np.abs(got - want).max() / max(np.abs(want).max(), 1e-30)) if got.shape == want.shape else float("inf")
        print(f"{name} (opset {opset}) {what}: shape {got.shape}, max |diff|/max|ref| = {rel:.2e} "
              f"{'OK' if good else 'MISMATCH'}")
        ok &= good
    return ok


def main():
    torch.manual_seed(0)
    torch.set_num_threads(2)
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        cnn = SmallCNN()
        cnn.train()
        with torch.no_grad():  # give batch norm non-trivial running statistics
            for _ in range(5):
                cnn(torch.rand(32, 1, 16, 16) * 2 + 0.5)
        x = torch.rand(20, 1, 16, 16)
        for opset in (9, 13):
            ok &= check("cnn", cnn, x, 10, opset, tmp)
        mlp = SmallMLP()
        x = torch.randn(33, 30)
        for opset in (9, 13):
            ok &= check("mlp", mlp, x, 3, opset, tmp)
    print("PyTorch cross-check:", "every comparison matches" if ok else "MISMATCH")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
