"""foil.Model: an ONNX classifier loaded by libfoil (foil/model.h)."""
import ctypes

import numpy as np

from . import _lib
from ._lib import lib, check


def as_tensor(array):
    """A foil_tensor viewing a C-contiguous NumPy array (float32 or int64).

    The tensor borrows the array's memory (owns_data = 0): the caller keeps
    the array alive while the tensor is used."""
    dtype = {np.dtype(np.float32): _lib.FOIL_F32, np.dtype(np.int64): _lib.FOIL_I64}[array.dtype]
    if array.ndim > _lib.FOIL_MAX_DIMS:
        raise ValueError(f"foil: at most {_lib.FOIL_MAX_DIMS} dimensions, not {array.ndim}")
    t = _lib.Tensor(dtype=dtype, ndim=array.ndim, numel=array.size, data=array.ctypes.data, owns_data=0)
    for i, n in enumerate(array.shape):
        t.shape[i] = n
    return t


def take_tensor(t):
    """Copy a float32 tensor that libfoil allocated into NumPy, and free it."""
    try:
        shape = tuple(t.shape[i] for i in range(t.ndim))
        buffer = (ctypes.c_float * t.numel).from_address(t.data)
        return np.frombuffer(buffer, dtype=np.float32).reshape(shape).copy()
    finally:
        lib.foil_tensor_free(ctypes.byref(t))


def float_batch(x):
    """x as a C-contiguous float32 batch, batch first."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    if x.ndim < 1 or x.shape[0] < 1:
        raise ValueError("foil: x must be a batch (N, ...) with N >= 1")
    return x


def labels_of(y, n):
    """y as n int64 class labels: class indices, or one-hot / score rows (argmax)."""
    y = np.asarray(y)
    if y.ndim == 2:
        y = y.argmax(axis=1)
    y = np.ascontiguousarray(y, dtype=np.int64)
    if y.shape != (n,):
        raise ValueError(f"foil: {n} examples need {n} labels, not an array of shape {y.shape}")
    return y


class Model:
    """An ONNX classifier: logits and input gradients through libfoil.

    Use it as a context manager, or call close(), to free the model now
    rather than when it is collected."""

    def __init__(self, path):
        handle = _lib.model_p()
        check(lib.foil_model_load(str(path).encode(), ctypes.byref(handle)))
        self._handle = handle
        self.path = str(path)

    @property
    def handle(self):
        if not self._handle:
            raise ValueError(f"foil: model {self.path} is closed")
        return self._handle

    def close(self):
        if getattr(self, "_handle", None):
            lib.foil_model_free(self._handle)
            self._handle = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()

    @property
    def kind(self):
        return lib.foil_model_kind(self.handle).decode()

    @property
    def n_classes(self):
        classes = ctypes.c_int64()
        check(lib.foil_model_num_classes(self.handle, ctypes.byref(classes)))
        return classes.value

    @property
    def input_shape(self):
        """The declared input shape without the batch dimension (-1: dynamic); None when undeclared."""
        rank = lib.foil_model_input_rank(self.handle)
        if rank == 0:
            return None
        shape = lib.foil_model_input_shape(self.handle)
        return tuple(shape[i] for i in range(1, rank))

    def predict(self, x):
        """Logits (N, classes), float32, of the batch x (N, ...)."""
        x = float_batch(x)
        x_t, out = as_tensor(x), _lib.Tensor()
        check(lib.foil_model_predict(self.handle, ctypes.byref(x_t), ctypes.byref(out)))
        return take_tensor(out)

    def gradient(self, x, y):
        """d sum_n CE(softmax(model(x))[n], y[n]) / dx: the input gradient every
        white-box attack follows (as `foil grad` writes it), shaped like x."""
        x = float_batch(x)
        y = labels_of(y, x.shape[0])
        x_t, grad = as_tensor(x), _lib.Tensor()
        labels = y.ctypes.data_as(_lib.c_int64_p)
        check(lib.foil_model_loss_input_grad(self.handle, ctypes.byref(x_t), labels, None, None, ctypes.byref(grad)))
        return take_tensor(grad)
