"""PyTorch references shared by the benchmarks and the cross-check tests.

cnn-small in PyTorch (the same layers as foil's built-in architecture, with
the same parameter names as foil's ONNX export, so a foil-trained model's
weights load by name), and Fashion-MNIST from Debian's IDX files.
"""
import gzip
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

FASHION_MNIST = "/usr/share/datasets/fashion-mnist"


class CnnSmall(nn.Module):
    """Conv 1-32 3x3 pad 1, ReLU, MaxPool 2, Conv 32-64 3x3 pad 1, ReLU,
    MaxPool 2, Flatten, Gemm 3136-128, ReLU, Gemm 128-10."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.fc1 = nn.Linear(3136, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        return self.fc2(F.relu(self.fc1(x)))


def cnn_small_from_onnx(path):
    """A CnnSmall holding the weights of foil's cnn-small ONNX file."""
    import onnx
    from onnx import numpy_helper

    weights = {t.name: numpy_helper.to_array(t) for t in onnx.load(path).graph.initializer}
    model = CnnSmall()
    state = {name: torch.from_numpy(np.array(weights[name], dtype=np.float32)) for name in model.state_dict()}
    model.load_state_dict(state)
    return model.eval()


def fashion_mnist(name):
    """An IDX array of Debian's dataset-fashion-mnist, e.g. 't10k-images-idx3-ubyte.gz'."""
    with gzip.open(os.path.join(FASHION_MNIST, name)) as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def fashion_mnist_test(n):
    """The first n test images as float32 (n, 1, 28, 28) in [0, 1] and int64 labels."""
    x = fashion_mnist("t10k-images-idx3-ubyte.gz")[:n].astype(np.float32) / 255.0
    y = fashion_mnist("t10k-labels-idx1-ubyte.gz")[:n].astype(np.int64)
    return x.reshape(n, 1, 28, 28), y
