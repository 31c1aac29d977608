"""foil for users of the Adversarial Robustness Toolbox (ART).

    from foil.art import FoilEvasion, classifier
    x_adv = FoilEvasion(model, "pgd", eps=0.1, eps_step=0.01, max_iter=40).generate(x, y)
    art_classifier = classifier(model, nb_classes=10, input_shape=(1, 28, 28), clip_values=(0, 1))
    art.utils.compute_success(art_classifier, x, y, x_adv)

FoilEvasion speaks ART's attack interface (generate(x, y=None)) and ART's
parameter names; it does not import ART, so it works without it.
classifier() builds ART's BlackBoxClassifier and needs ART installed.
"""
import numpy as np

from ._attack import attack as _attack
from ._model import float_batch

# ART's parameter names -> foil.attack's.
_ART_NAMES = {"eps_step": "step_size", "max_iter": "steps", "num_random_init": "restarts",
              "batch_size": "batch", "random_seed": "seed", "nb_queries": "queries"}
# ART's norm values (np.inf, 1, 2, "inf") -> foil's names.
_ART_NORMS = {np.inf: "linf", "inf": "linf", "linf": "linf", 2: "l2", "l2": "l2", 1: "l1", "l1": "l1",
              0: "l0", "l0": "l0"}


def _softmax(logits):
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)


class FoilEvasion:
    """A foil evasion attack with ART's interface: FoilEvasion(model,
    attack="pgd", eps=..., eps_step=..., max_iter=..., norm=np.inf,
    targeted=False, ...).generate(x, y=None) -> the adversarial examples.

    ART's names (eps_step, max_iter, num_random_init, batch_size) and
    foil.attack's (step_size, steps, restarts, batch, params, bounds, ...)
    are both accepted. y: labels or one-hot; None attacks the model's own
    predictions, as ART does; with targeted=True, y holds the targets.
    The last run's AttackResult (success rate, norms, queries) stays in
    .result."""

    def __init__(self, model, attack="pgd", targeted=False, **params):
        self.model, self.attack, self.targeted = model, attack, targeted
        self.params = {_ART_NAMES.get(k, k): v for k, v in params.items()}
        if "norm" in self.params:
            self.params["norm"] = _ART_NORMS[self.params["norm"]]
        self.result = None

    def generate(self, x, y=None, **kwargs):
        x = float_batch(x)
        if self.targeted and y is None:
            raise ValueError("foil.art: a targeted attack needs its target classes as y")
        if y is None:
            y = self.model.predict(x).argmax(axis=1)
        if self.targeted:
            labels = self.model.predict(x).argmax(axis=1)
            self.result = _attack(self.model, x, labels, attack=self.attack, targeted=y, **self.params)
        else:
            self.result = _attack(self.model, x, y, attack=self.attack, **self.params)
        return self.result.adversarial


def classifier(model, nb_classes, input_shape, clip_values=(0.0, 1.0)):
    """ART's BlackBoxClassifier over model.predict, giving ART probabilities
    (softmax of the logits), so that ART's utilities (compute_success,
    metrics, its black-box attacks) run on a foil model."""
    from art.estimators.classification import BlackBoxClassifier  # ART is optional: imported only here

    return BlackBoxClassifier(lambda x: _softmax(model.predict(x)), input_shape=tuple(input_shape),
                              nb_classes=nb_classes, clip_values=clip_values)
