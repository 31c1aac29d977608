"""libfoil.so through ctypes: finding it, the C structs mirrored field by
field from include/foil/*.h, and a signature for every function used.

The mirrors must match the headers exactly (field order and types): a
struct passed by pointer with another layout corrupts memory silently.
tests/test_foil.py compares ctypes.sizeof of each with the C compiler's
sizeof, so drift in a header fails a test instead.
"""
import ctypes
import ctypes.util
import os

# The libfoil major version this package is written against: the C structs
# and calls below may change between majors (foil/version.h).
EXPECTED_MAJOR = 0


class FoilError(RuntimeError):
    """A libfoil call failed; the message is foil_last_error()'s."""


def _find_library():
    path = os.environ.get("FOIL_LIBRARY") or ctypes.util.find_library("foil")
    if not path:
        raise ImportError(
            "foil: cannot find libfoil.so; build foil (cmake --build build) and set "
            "FOIL_LIBRARY=/path/to/build/libfoil.so, or install it (cmake --install build) "
            "where the dynamic linker looks")
    try:
        return ctypes.CDLL(path)
    except OSError as e:
        raise ImportError(f"foil: cannot load {path} (FOIL_LIBRARY or the system's libfoil): {e}") from e


lib = _find_library()

c_int64_p = ctypes.POINTER(ctypes.c_int64)
c_uint8_p = ctypes.POINTER(ctypes.c_uint8)
c_float_p = ctypes.POINTER(ctypes.c_float)

FOIL_MAX_DIMS = 8
FOIL_F32 = 1
FOIL_I64 = 7
NORMS = ("linf", "l2", "l1", "l0")  # foil_norm's order
TARGET_MODES = {None: 0, False: 0, "given": 1, "random": 2, "least-likely": 3}


class Tensor(ctypes.Structure):
    """foil_tensor (foil/tensor.h); enums are C ints."""
    _fields_ = [
        ("dtype", ctypes.c_int),
        ("ndim", ctypes.c_int),
        ("shape", ctypes.c_int64 * FOIL_MAX_DIMS),
        ("numel", ctypes.c_int64),
        ("data", ctypes.c_void_p),
        ("owns_data", ctypes.c_int),
    ]


class Threat(ctypes.Structure):
    """foil_threat (foil/evasion.h)."""
    _fields_ = [
        ("norm", ctypes.c_int),
        ("eps", ctypes.c_float),
        ("lower", c_float_p),
        ("upper", c_float_p),
        ("immutable", c_uint8_p),
        ("integer", c_uint8_p),
        ("target_mode", ctypes.c_int),
        ("targets", c_int64_p),
        ("steps", ctypes.c_int64),
        ("step_size", ctypes.c_float),
        ("restarts", ctypes.c_int64),
        ("queries", ctypes.c_int64),
        ("seed", ctypes.c_uint64),
    ]


class EvasionOptions(ctypes.Structure):
    """foil_evasion_options (foil/evasion.h)."""
    _fields_ = [
        ("params", ctypes.c_char_p),
        ("batch", ctypes.c_int64),
        ("quiet", ctypes.c_int),
        ("label", ctypes.c_char_p),
        ("fit_x", ctypes.POINTER(Tensor)),
        ("fit_y", c_int64_p),
        ("first_example", ctypes.c_int64),
    ]


class EvasionResult(ctypes.Structure):
    """foil_evasion_result (foil/evasion.h)."""
    _fields_ = [
        ("n", ctypes.c_int64),
        ("adv", Tensor),
        ("clean_pred", c_int64_p),
        ("adv_pred", c_int64_p),
        ("target", c_int64_p),
        ("attacked", c_uint8_p),
        ("success", c_uint8_p),
        ("norm", c_float_p),
        ("norm_l0", c_float_p),
        ("queries", c_int64_p),
        ("grads", c_int64_p),
        ("zero_grad", c_uint8_p),
        ("fit_queries", ctypes.c_int64),
        ("fit_grads", ctypes.c_int64),
        ("fit_grad_examples", ctypes.c_int64),
        ("fit_zero_grads", ctypes.c_int64),
        ("model_queries", ctypes.c_int64),
        ("model_grads", ctypes.c_int64),
        ("seconds", ctypes.c_double),
        ("warnings", ctypes.c_char * 1024),
    ]


class EvasionInfo(ctypes.Structure):
    """foil_evasion_info (foil/evasion.h)."""
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("paper", ctypes.c_char_p),
        ("summary", ctypes.c_char_p),
        ("norms", ctypes.c_uint),
        ("black_box", ctypes.c_int),
        ("needs", ctypes.c_int),
        ("minimal", ctypes.c_int),
        ("targeted", ctypes.c_int),
        ("fits", ctypes.c_int),
        ("defaults", ctypes.c_char_p),
    ]


class EvasionSummary(ctypes.Structure):
    """foil_evasion_summary (foil/eval.h)."""
    _fields_ = [
        ("examples", ctypes.c_int64),
        ("attacked", ctypes.c_int64),
        ("fooled", ctypes.c_int64),
        ("clean_accuracy", ctypes.c_double),
        ("robust_accuracy", ctypes.c_double),
        ("success_rate", ctypes.c_double),
        ("median_norm", ctypes.c_double),
        ("max_norm", ctypes.c_double),
        ("mean_queries", ctypes.c_double),
        ("mean_grads", ctypes.c_double),
        ("grad_examples", ctypes.c_int64),
        ("zero_grad_examples", ctypes.c_int64),
        ("zero_gradient_fraction", ctypes.c_double),
        ("seconds", ctypes.c_double),
        ("images_per_second", ctypes.c_double),
    ]


# foil_progress_callback (foil/progress.h)
PROGRESS_CALLBACK = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p)

# The C structs the size test compares: Python name -> C type name.
MIRRORED = {
    Tensor: "foil_tensor",
    Threat: "foil_threat",
    EvasionOptions: "foil_evasion_options",
    EvasionResult: "foil_evasion_result",
    EvasionInfo: "foil_evasion_info",
    EvasionSummary: "foil_evasion_summary",
}

model_p = ctypes.c_void_p  # foil_model * (opaque)
STATUS = ctypes.c_int      # foil_status


def _declare(name, restype, *argtypes):
    fn = getattr(lib, name)
    fn.restype = restype
    fn.argtypes = list(argtypes)


_declare("foil_version", ctypes.c_char_p)
_declare("foil_version_number", ctypes.c_int)
_declare("foil_last_error", ctypes.c_char_p)
_declare("foil_status_name", ctypes.c_char_p, STATUS)
_declare("foil_tensor_free", None, ctypes.POINTER(Tensor))
_declare("foil_model_load", STATUS, ctypes.c_char_p, ctypes.POINTER(model_p))
_declare("foil_model_free", None, model_p)
_declare("foil_model_num_classes", STATUS, model_p, c_int64_p)
_declare("foil_model_input_rank", ctypes.c_int, model_p)
_declare("foil_model_input_shape", c_int64_p, model_p)
_declare("foil_model_kind", ctypes.c_char_p, model_p)
_declare("foil_model_name", ctypes.c_char_p, model_p)
_declare("foil_model_set_max_batch", None, model_p, ctypes.c_int64)
_declare("foil_model_predict", STATUS, model_p, ctypes.POINTER(Tensor), ctypes.POINTER(Tensor))
_declare("foil_model_loss_input_grad", STATUS, model_p, ctypes.POINTER(Tensor), c_int64_p, c_float_p,
         ctypes.POINTER(Tensor), ctypes.POINTER(Tensor))
_declare("foil_evasion_count", ctypes.c_int)
_declare("foil_evasion_at", ctypes.POINTER(EvasionInfo), ctypes.c_int)
_declare("foil_evasion_find", ctypes.POINTER(EvasionInfo), ctypes.c_char_p)
_declare("foil_evasion_needs_name", ctypes.c_char_p, ctypes.c_int)
_declare("foil_evasion_run", STATUS, ctypes.c_char_p, model_p, ctypes.POINTER(Tensor), c_int64_p,
         ctypes.POINTER(Threat), ctypes.POINTER(EvasionOptions), ctypes.POINTER(EvasionResult))
_declare("foil_evasion_result_free", None, ctypes.POINTER(EvasionResult))
_declare("foil_evasion_summarize", None, ctypes.POINTER(EvasionResult), ctypes.POINTER(EvasionSummary))
_declare("foil_evasion_empirical_robustness", ctypes.c_double, ctypes.POINTER(EvasionResult),
         ctypes.POINTER(Tensor), ctypes.c_int)
_declare("foil_evasion_change_stats", None, ctypes.POINTER(EvasionResult), ctypes.POINTER(Tensor),
         ctypes.POINTER(ctypes.c_double), ctypes.POINTER(ctypes.c_double))
_declare("foil_progress_set_callback", None, PROGRESS_CALLBACK, ctypes.c_void_p)


def check(status):
    """Raise FoilError with libfoil's message when a call failed."""
    if status != 0:
        message = lib.foil_last_error().decode("utf-8", "replace")
        raise FoilError(message or lib.foil_status_name(status).decode())


def library_major():
    return lib.foil_version_number() // 10000


def _check_version():
    if library_major() != EXPECTED_MAJOR:
        raise ImportError(f"foil: this package needs libfoil {EXPECTED_MAJOR}.x, but {lib._name} is "
                          f"{lib.foil_version().decode()}; point FOIL_LIBRARY at a matching libfoil.so")


_check_version()
