"""The models people bring: torchvision's zoo, exported to ONNX, in foil.

Each model is built by torchvision with random weights (no downloads),
put in eval mode and exported by torch.onnx at opsets 13 and 17; `foil
predict` must give PyTorch's logits and `foil grad` PyTorch's input
gradient of the per-example softmax cross-entropy (summed over the batch),
to rtol 1e-4 of each array's largest magnitude. Where onnxruntime is
importable (the venv install-deps.sh --crosscheck makes), foil's logits
must equal its too.

  zoo_crosscheck.py [MODEL ...]    (default: all; FOIL_BIN names foil)

Run by tests/test_zoo_crosscheck.sh; exits 77 (skip) when torch,
torchvision or onnx is not importable.
"""
import os
import subprocess
import sys
import tempfile
import time

try:
    import numpy as np
    import torch
    import torchvision
except ImportError as e:  # optional dependency
    print(f"SKIP: python3-torch and python3-torchvision are needed for the zoo cross-check ({e})")
    sys.exit(77)
try:
    import onnxruntime
except ImportError:
    onnxruntime = None

FOIL = os.environ.get("FOIL_BIN", "build/foil")
RTOL = 1e-4
OPSETS = (13, 17)

class TextTransformer(torch.nn.Module):
    """A small text classifier over embedded tokens: two TransformerEncoder
    layers, mean pooling, a linear head. Its input is the (batch, tokens,
    64) embeddings, the float tensor attacks differentiate (the token ids'
    lookup is the tokenizer's side)."""

    def __init__(self):
        super().__init__()
        layer = torch.nn.TransformerEncoderLayer(d_model=64, nhead=4, dim_feedforward=128, batch_first=True)
        self.encoder = torch.nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)
        self.head = torch.nn.Linear(64, 2)

    def forward(self, x):
        return self.head(self.encoder(x).mean(dim=1))


class TextLSTM(torch.nn.Module):
    """The same over a bidirectional LSTM: the last step's states of both
    directions into a linear head."""

    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(64, 48, batch_first=True, bidirectional=True)
        self.head = torch.nn.Linear(96, 2)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.head(out[:, -1, :])


# name: (constructor, input side, or one example's shape). The CNNs run at
# 64x64 to keep the test short (every one of them accepts it); ViT-B/16
# needs its 224; the text models take 16 tokens of 64-d embeddings.
ZOO = {
    "resnet18": (lambda: torchvision.models.resnet18(weights=None), 64),
    "mobilenet_v2": (lambda: torchvision.models.mobilenet_v2(weights=None), 64),
    "mobilenet_v3_small": (lambda: torchvision.models.mobilenet_v3_small(weights=None), 64),
    "efficientnet_b0": (lambda: torchvision.models.efficientnet_b0(weights=None), 64),
    "squeezenet1_1": (lambda: torchvision.models.squeezenet1_1(weights=None), 64),
    "shufflenet_v2_x1_0": (lambda: torchvision.models.shufflenet_v2_x1_0(weights=None), 64),
    "densenet121": (lambda: torchvision.models.densenet121(weights=None), 64),
    "vit_b_16": (lambda: torchvision.models.vit_b_16(weights=None), 224),
    "text_transformer": (TextTransformer, (16, 64)),
    "text_lstm": (TextLSTM, (16, 64)),
}


def run(*args):
    out = subprocess.run([FOIL, *args], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"foil {' '.join(args[:1])} failed ({out.returncode}): {out.stderr.strip()[-600:]}")
    return out.stdout


def close(name, got, want):
    scale = float(np.max(np.abs(want)))
    if not scale > 0:  # all zeros: a comparison that could not fail
        return False, f"{name}: the reference is all zeros, nothing is compared"
    err = float(np.max(np.abs(got - want))) / scale
    return err <= RTOL, f"{name}: max |diff| / max |value| = {err:.2e}"


def example_shape(side):
    return tuple(side) if isinstance(side, tuple) else (3, side, side)


def check(name, make, side, opset, work):
    torch.manual_seed(0)
    model = make()
    # torchvision starts some heads at zero (ViT's): logits and gradients
    # would be zero, and equal whatever foil computed.
    for m in model.modules():
        if isinstance(m, torch.nn.Linear) and not m.weight.detach().abs().max() > 0:
            torch.nn.init.normal_(m.weight, std=0.02)
    # Batch-norm statistics from a few batches of the inputs' distribution,
    # as a trained model has them: with torchvision's fresh running mean 0
    # and variance 1, MobileNetV2's logits come out near 1e-9, below float32
    # rounding of its early layers, and no comparison means anything.
    with torch.no_grad():
        model.train()
        for _ in range(3):
            model(torch.rand(8, *example_shape(side)))
    model.eval()
    x = torch.rand(2, *example_shape(side))
    with torch.no_grad():
        y = torch.tensor([1, 7]) % model(x).shape[1]
    path = os.path.join(work, f"{name}-{opset}.onnx")
    torch.onnx.export(model, x, path, opset_version=opset, input_names=["x"], output_names=["logits"],
                      dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}})
    xg = x.clone().requires_grad_(True)
    logits = model(xg)
    torch.nn.functional.cross_entropy(logits, y, reduction="sum").backward()
    want_logits, want_grad = logits.detach().numpy(), xg.grad.numpy()
    np.save(os.path.join(work, "x.npy"), x.numpy())
    np.save(os.path.join(work, "y.npy"), y.numpy().astype(np.int64))
    t0 = time.time()
    run("predict", "--model", path, "--input", os.path.join(work, "x.npy"), "--output", os.path.join(work, "z.npy"))
    run("grad", "--model", path, "--input", os.path.join(work, "x.npy"), "--labels", os.path.join(work, "y.npy"),
        "--output", os.path.join(work, "g.npy"))
    seconds = time.time() - t0
    results = [close("logits", np.load(os.path.join(work, "z.npy")), want_logits),
               close("input gradient", np.load(os.path.join(work, "g.npy")), want_grad)]
    if onnxruntime is not None:
        ort = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
        ort_logits = ort.run(None, {"x": x.numpy()})[0]
        results.append(close("onnxruntime logits", np.load(os.path.join(work, "z.npy")), ort_logits))
    ok = all(r[0] for r in results)
    print(f"{'ok  ' if ok else 'FAIL'} {name} opset {opset}: " + "; ".join(r[1] for r in results) +
          f" (foil {seconds:.1f} s)", flush=True)
    os.remove(path)
    return ok


def main():
    names = sys.argv[1:] or list(ZOO)
    unknown = [n for n in names if n not in ZOO]
    if unknown:
        print(f"unknown model(s): {', '.join(unknown)}; known: {', '.join(ZOO)}")
        return 2
    if onnxruntime is None:
        print("note: onnxruntime is not importable; foil is checked against PyTorch only")
    failures = 0
    with tempfile.TemporaryDirectory() as work:
        for name in names:
            make, side = ZOO[name]
            for opset in OPSETS:
                try:
                    failures += not check(name, make, side, opset, work)
                except Exception as e:  # one model's failure must not hide the others'
                    failures += 1
                    print(f"FAIL {name} opset {opset}: {e}", flush=True)
    print(f"{failures} failure(s)" if failures else "all passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
