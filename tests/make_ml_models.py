#!/usr/bin/env python3
"""Write tests/models/breast-cancer-gboost.onnx, the tree ensemble that
tests/test_ml_attack_cli.sh attacks: scikit-learn's
GradientBoostingClassifier (30 trees of depth 3, random_state 0) trained on
the even rows of load_breast_cancer (float32), exported by skl2onnx with
zipmap=False (outputs: label, probabilities). The output is committed, so
the test needs none of these packages; run with the venv of
scripts/install-deps.sh --crosscheck (/opt/foil-ml/bin/python)."""
import os

import numpy as np
import onnx
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import GradientBoostingClassifier

X, y = load_breast_cancer(return_X_y=True)
X = X.astype(np.float32)
model = GradientBoostingClassifier(n_estimators=30, max_depth=3, random_state=0).fit(X[::2], y[::2])
onx = convert_sklearn(model, initial_types=[("input", FloatTensorType([None, X.shape[1]]))],
                      options={id(model): {"zipmap": False}}, target_opset={"": 15, "ai.onnx.ml": 3})
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "models", "breast-cancer-gboost.onnx")
onnx.save(onx, out)
print(out)
