"""foil: adversarial machine learning through libfoil (ctypes).

    import foil
    with foil.Model("model.onnx") as model:
        result = foil.attack(model, x, y, attack="pgd", eps=0.1)
        print(result.robust_accuracy)

libfoil.so is found through FOIL_LIBRARY=/path/to/libfoil.so, else on the
system's library path; ImportError says how when it is not found.
"""
from ._lib import FoilError, lib as _lib_handle
from ._model import Model
from ._attack import AttackInfo, AttackResult, attack, attacks

__version__ = "0.1.0"


def library_version():
    """The loaded libfoil's version, "MAJOR.MINOR.PATCH"."""
    return _lib_handle.foil_version().decode()


__all__ = ["FoilError", "Model", "AttackInfo", "AttackResult", "attack", "attacks", "library_version"]
