"""foil.attack and foil.attacks: the evasion registry and runner (foil/evasion.h)."""
import contextlib
import ctypes
import dataclasses
import math
import threading
from typing import Optional

import numpy as np

from . import _lib
from ._lib import lib, check, FoilError  # noqa: F401 - re-exported
from ._model import as_tensor, float_batch, labels_of


@dataclasses.dataclass
class AttackInfo:
    """One entry of the attack registry (foil_evasion_info)."""
    name: str
    paper: str
    summary: str
    norms: tuple
    black_box: bool
    needs: str
    minimal: bool
    targeted: bool
    fits: bool
    defaults: str


def _info(p):
    i = p.contents
    text = lambda s: s.decode() if s else ""
    return AttackInfo(name=text(i.name), paper=text(i.paper), summary=text(i.summary),
                      norms=tuple(n for k, n in enumerate(_lib.NORMS) if i.norms & (1 << k)),
                      black_box=bool(i.black_box), needs=lib.foil_evasion_needs_name(i.needs).decode(),
                      minimal=bool(i.minimal), targeted=bool(i.targeted), fits=bool(i.fits),
                      defaults=text(i.defaults))


def attacks():
    """The evasion attacks, in the order `foil attack --help` lists them."""
    return [_info(lib.foil_evasion_at(i)) for i in range(lib.foil_evasion_count())]


@dataclasses.dataclass
class AttackResult:
    """What foil.attack returns. The summary fields have the names of
    `foil attack --json`'s keys (None where the JSON has null); the
    per-example arrays are foil_evasion_result's, except the per-example
    norms, named `norms` and `norms_l0` because `norm` is the norm's name
    as in the JSON."""
    adversarial: np.ndarray
    # summary, as `foil attack --json`
    attack: str
    model_kind: str
    norm: str
    eps: float
    examples: int
    clean_accuracy: float
    robust_accuracy: float
    success_rate: float
    median_norm: Optional[float]
    max_norm: Optional[float]
    empirical_robustness: Optional[float]
    mean_queries: float
    mean_gradients: float
    model_queries: int
    model_gradients: int
    zero_gradient_fraction: Optional[float]
    seconds: float
    images_per_second: float
    seed: int
    warnings: str
    # per example (N each)
    clean_pred: np.ndarray
    adv_pred: np.ndarray
    target: np.ndarray
    attacked: np.ndarray
    success: np.ndarray
    norms: np.ndarray
    norms_l0: np.ndarray
    queries: np.ndarray
    grads: np.ndarray
    zero_grad: np.ndarray
    # tabular data only (x of rank 2), as the JSON
    mean_features_changed: Optional[float] = None
    mean_abs_change: Optional[float] = None


def _feature_bounds(bounds, features):
    """Per-feature lower and upper bounds (float32, one example's worth)
    from (low, high) scalars or arrays."""
    low, high = bounds
    return tuple(np.ascontiguousarray(np.broadcast_to(np.asarray(b, dtype=np.float32).reshape(-1), (features,)))
                 for b in (low, high))


def _feature_mask(mask, features, what):
    """A per-feature 0/1 mask (uint8, one example's worth), or None."""
    if mask is None:
        return None
    m = np.asarray(mask).reshape(-1)
    if m.size != features:
        raise ValueError(f"foil: {what} has {m.size} entries; the examples have {features} features")
    return np.ascontiguousarray(m != 0, dtype=np.uint8)


def _params_text(params):
    if params is None or isinstance(params, str):
        return params
    return ",".join(f"{k}={v}" for k, v in params.items())


def _target_mode(targeted, n):
    """(foil_target_mode, N target classes or None) from targeted=None/False,
    "random", "least-likely", or an array of target classes."""
    if targeted is None or targeted is False or isinstance(targeted, str):
        if targeted not in _lib.TARGET_MODES or targeted == "given":
            raise ValueError(f"foil: targeted must be None, 'random', 'least-likely' or an array of target "
                             f"classes, not {targeted!r}")
        return _lib.TARGET_MODES[targeted], None
    return _lib.TARGET_MODES["given"], labels_of(targeted, n)


def _none_if_nan(v):
    return None if math.isnan(v) else v


def _per_example(pointer, n, dtype):
    return np.ctypeslib.as_array(pointer, shape=(n,)).astype(dtype, copy=True)


class _Progress:
    """Routes foil_progress_callback to a Python callable(label, done, total)
    for the length of a with-block; an exception it raises is re-raised
    after the run (ctypes would only print it). libfoil's hook is one per
    process, so runs with a callback take turns (the lock); a run without
    one in another thread at the same time would report to it too."""

    _one_at_a_time = threading.Lock()

    def __init__(self, fn):
        self.fn, self.error = fn, None
        self.c_fn = _lib.PROGRESS_CALLBACK(self._call)

    def _call(self, label, done, total, _user):
        if self.error is None:
            try:
                self.fn(label.decode(), done, total)
            except BaseException as e:  # noqa: B902 - kept and re-raised after the C call returns
                self.error = e

    def __enter__(self):
        self._one_at_a_time.acquire()
        lib.foil_progress_set_callback(self.c_fn, None)
        return self

    def __exit__(self, *exc):
        lib.foil_progress_set_callback(_lib.PROGRESS_CALLBACK(), None)
        self._one_at_a_time.release()
        if self.error is not None and exc[0] is None:
            raise self.error


def _result(r, name, model, x_t, threat, eps, tabular):
    n = r.n
    s = _lib.EvasionSummary()
    lib.foil_evasion_summarize(ctypes.byref(r), ctypes.byref(s))
    rho = lib.foil_evasion_empirical_robustness(ctypes.byref(r), ctypes.byref(x_t), threat.norm)
    adv_shape = tuple(r.adv.shape[i] for i in range(r.adv.ndim))
    adversarial = np.ctypeslib.as_array(ctypes.cast(r.adv.data, _lib.c_float_p), shape=adv_shape).copy()
    extra = {}
    if tabular:
        changed, mean_abs = ctypes.c_double(), ctypes.c_double()
        lib.foil_evasion_change_stats(ctypes.byref(r), ctypes.byref(x_t), ctypes.byref(changed), ctypes.byref(mean_abs))
        extra = dict(mean_features_changed=changed.value, mean_abs_change=mean_abs.value)
    return AttackResult(
        adversarial=adversarial, attack=name, model_kind=model.kind, norm=_lib.NORMS[threat.norm], eps=eps,
        examples=s.examples, clean_accuracy=s.clean_accuracy, robust_accuracy=s.robust_accuracy,
        success_rate=s.success_rate, median_norm=_none_if_nan(s.median_norm), max_norm=_none_if_nan(s.max_norm),
        empirical_robustness=_none_if_nan(rho), mean_queries=s.mean_queries, mean_gradients=s.mean_grads,
        model_queries=r.model_queries, model_gradients=r.model_grads,
        zero_gradient_fraction=_none_if_nan(s.zero_gradient_fraction), seconds=s.seconds,
        images_per_second=s.images_per_second, seed=threat.seed, warnings=r.warnings.decode("utf-8", "replace"),
        clean_pred=_per_example(r.clean_pred, n, np.int64), adv_pred=_per_example(r.adv_pred, n, np.int64),
        target=_per_example(r.target, n, np.int64), attacked=_per_example(r.attacked, n, bool),
        success=_per_example(r.success, n, bool), norms=_per_example(r.norm, n, np.float32),
        norms_l0=_per_example(r.norm_l0, n, np.float32), queries=_per_example(r.queries, n, np.int64),
        grads=_per_example(r.grads, n, np.int64), zero_grad=_per_example(r.zero_grad, n, bool), **extra)


def attack(model, x, y, attack="pgd", eps=0.03, norm="linf", steps=None, step_size=None, restarts=None,
           queries=None, seed=0, targeted=None, params=None, batch=250, bounds=(0.0, 1.0), immutable=None,
           integer=None, fit_x=None, fit_y=None, progress=None):
    """Run one evasion attack of the registry (foil.attacks()) on the batch x
    (N, ...) with labels y (class indices or one-hot), as `foil attack` does.

    eps, norm ("linf", "l2", "l1", "l0"), steps, step_size, restarts,
    queries (per example, black-box attacks) and params ("k=v,..." or a
    dict) mean what the CLI's options of those names mean; None takes the
    attack's default. targeted: None (untargeted), "random",
    "least-likely", or an array of N target classes. bounds: (low, high),
    each a scalar or one value per feature. immutable, integer: None or
    one flag per feature (tabular constraints, as the CLI's
    --constraints file: a flagged feature must not change, or must stay
    a whole number). fit_x, fit_y: the examples and labels that attacks
    which learn one perturbation for many inputs (universal, patch:
    AttackInfo.fits) learn on; x is then what they are judged on.
    progress: None, or a
    callable(label, done, total) called as the attack advances (foil's
    own bar on stderr stays off).
    Returns an AttackResult; raises FoilError when libfoil refuses."""
    if norm not in _lib.NORMS:
        raise ValueError(f"foil: norm must be one of {', '.join(_lib.NORMS)}, not {norm!r}")
    x = float_batch(x)
    n = x.shape[0]
    y = labels_of(y, n)
    features = x.size // n
    lower, upper = _feature_bounds(bounds, features)
    fixed, whole = _feature_mask(immutable, features, "immutable"), _feature_mask(integer, features, "integer")
    mode, targets = _target_mode(targeted, n)
    threat = _lib.Threat(
        norm=_lib.NORMS.index(norm), eps=eps, lower=lower.ctypes.data_as(_lib.c_float_p),
        upper=upper.ctypes.data_as(_lib.c_float_p), target_mode=mode,
        targets=targets.ctypes.data_as(_lib.c_int64_p) if targets is not None else None,
        immutable=fixed.ctypes.data_as(_lib.c_uint8_p) if fixed is not None else None,
        integer=whole.ctypes.data_as(_lib.c_uint8_p) if whole is not None else None,
        steps=steps or 0, step_size=step_size or 0.0, restarts=restarts or 0, queries=queries or 0, seed=seed)
    params = _params_text(params)
    options = _lib.EvasionOptions(params=params.encode() if params else None, batch=batch, quiet=1)
    if (fit_x is None) != (fit_y is None):
        raise ValueError("foil: fit_x and fit_y go together")
    if fit_x is not None:
        fit_x = float_batch(fit_x)
        fit_y = labels_of(fit_y, fit_x.shape[0])
        fit_t = as_tensor(fit_x)  # kept alive, with fit_x and fit_y, until the call returns
        options.fit_x = ctypes.pointer(fit_t)
        options.fit_y = fit_y.ctypes.data_as(_lib.c_int64_p)
    x_t = as_tensor(x)
    r = _lib.EvasionResult()
    with _Progress(progress) if progress else contextlib.nullcontext():
        status = lib.foil_evasion_run(attack.encode(), model.handle, ctypes.byref(x_t),
                                      y.ctypes.data_as(_lib.c_int64_p), ctypes.byref(threat), ctypes.byref(options),
                                      ctypes.byref(r))
    try:
        check(status)
        return _result(r, attack, model, x_t, threat, float(eps), tabular=x.ndim == 2)
    finally:
        lib.foil_evasion_result_free(ctypes.byref(r))


__all__ = ["attack", "attacks", "AttackResult", "AttackInfo", "FoilError"]
