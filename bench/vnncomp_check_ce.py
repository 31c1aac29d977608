#!/usr/bin/env python3
"""Check a counterexample of `foil verify --vnnlib` independently of foil:
its own VNN-LIB reader (S-expressions; input bounds and and/or formulas
over Y) and the network run by onnxruntime. Exact rational comparisons
for the input box; the outputs are onnxruntime's float32.

  vnncomp_check_ce.py NET.onnx PROP.vnnlib CE.npy
prints "ok" (x in the box and onnxruntime's outputs unsafe), "ok-tol"
(unsafe only within 1e-5 of the boundary: rounding differences between
engines) or "BAD: why", and exits 0, 0, 1."""
import re, sys
from fractions import Fraction
import numpy as np
import onnxruntime as ort


def sexprs(text):
    text = re.sub(r";[^\n]*", "", text)
    tokens = re.findall(r"\(|\)|[^\s()]+", text)
    stack, top = [[]], None
    for t in tokens:
        if t == "(":
            stack.append([])
        elif t == ")":
            top = stack.pop()
            stack[-1].append(top)
        else:
            stack[-1].append(t)
    return stack[0]


def main():
    net, prop, ce = sys.argv[1:4]
    cmds = sexprs(open(prop).read())
    lo, hi, outs = {}, {}, []
    def inputs(f):
        if f[0] == "and":
            return all(inputs(g) for g in f[1:])
        if f[0] in ("<=", ">=") and any(str(a).startswith("X_") for a in f[1:]):
            a, b = f[1], f[2]
            if a.startswith("X_"):
                (hi if f[0] == "<=" else lo)[int(a[2:])] = Fraction(b)
            else:
                (lo if f[0] == "<=" else hi)[int(b[2:])] = Fraction(a)
            return True
        return False
    for c in cmds:
        if c[0] == "assert" and not inputs(c[1]):
            outs.append(c[1])
    x = np.load(ce).astype(np.float32)
    flat = x.reshape(-1)
    for i in range(len(flat)):
        v = Fraction(float(flat[i]))
        if not (lo[i] <= v <= hi[i]):
            print(f"BAD: X_{i} = {flat[i]!r} outside [{float(lo[i])}, {float(hi[i])}]")
            return 1
    sess = ort.InferenceSession(net, providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    shape = [d if isinstance(d, int) else 1 for d in inp.shape]
    y = sess.run(None, {inp.name: flat.reshape(shape)})[0].reshape(-1).astype(np.float64)
    def val(t):
        return y[int(t[2:])] if t.startswith("Y_") else float(t)
    def holds(f, tol):
        if f[0] == "and":
            return all(holds(g, tol) for g in f[1:])
        if f[0] == "or":
            return any(holds(g, tol) for g in f[1:])
        a, b = val(f[1]), val(f[2])
        return a <= b + tol if f[0] == "<=" else a + tol >= b
    if all(holds(f, 0) for f in outs):
        print("ok")
        return 0
    if all(holds(f, 1e-5) for f in outs):
        print("ok-tol")
        return 0
    print("BAD: onnxruntime's outputs are safe:", " ".join(f"{v:.7g}" for v in y))
    return 1


sys.exit(main())
