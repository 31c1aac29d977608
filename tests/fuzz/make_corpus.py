#!/usr/bin/python3
"""Write the fuzzers' seed corpus (tests/fuzz/corpus/<name>/): tiny valid
files of each format plus a few edge cases. Run with the system python
(onnx, numpy); the output is committed, so the fuzz run needs neither."""
import gzip, io, os, struct, sys
import numpy as np
import onnx
from onnx import TensorProto as T, helper as h, numpy_helper as nh

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
rng = np.random.RandomState(0)


def put(name, fname, data):
    os.makedirs(os.path.join(root, name), exist_ok=True)
    with open(os.path.join(root, name, fname), "wb") as f:
        f.write(data)


def model(nodes, inits, in_shape, out_shape, opset=13):
    x = h.make_tensor_value_info("x", T.FLOAT, in_shape)
    y = h.make_tensor_value_info("y", T.FLOAT, out_shape)
    g = h.make_graph(nodes, "g", [x], [y], inits)
    return h.make_model(g, opset_imports=[h.make_opsetid("", opset)]).SerializeToString()


def f32(name, *shape):
    return nh.from_array(rng.randn(*shape).astype(np.float32), name)


# ONNX: a linear model, an MLP (Gemm, Relu), a small CNN (Conv, MaxPool,
# Flatten), a Gather whose indices come from Shape, and two broken files.
put("onnx", "linear.onnx", model([h.make_node("MatMul", ["x", "W"], ["y"])], [f32("W", 4, 2)], ["N", 4], ["N", 2]))
put("onnx", "mlp.onnx", model([h.make_node("Gemm", ["x", "W1", "b1"], ["h"], transB=1), h.make_node("Relu", ["h"], ["r"]),
                               h.make_node("Gemm", ["r", "W2", "b2"], ["y"], transB=1)],
                              [f32("W1", 8, 4), f32("b1", 8), f32("W2", 3, 8), f32("b2", 3)], ["N", 4], ["N", 3]))
put("onnx", "cnn.onnx", model([h.make_node("Conv", ["x", "cw", "cb"], ["c"], pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
                               h.make_node("MaxPool", ["c"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
                               h.make_node("Flatten", ["p"], ["f"]),
                               h.make_node("Gemm", ["f", "fw", "fb"], ["y"], transB=1)],
                              [f32("cw", 2, 1, 3, 3), f32("cb", 2), f32("fw", 3, 8), f32("fb", 3)],
                              ["N", 1, 4, 4], ["N", 3], opset=11))
put("onnx", "gather-shape.onnx", model([h.make_node("Shape", ["x"], ["s"]), h.make_node("Gather", ["x", "s"], ["y"], axis=1)],
                                       [], ["N", 4], ["N", 2]))
# found by fuzz_onnx: an output declared twice leaked the first declaration's dim names
x = h.make_tensor_value_info("x", T.FLOAT, ["N", 4])
y = h.make_tensor_value_info("y", T.FLOAT, ["N", 4])
put("onnx", "output-declared-twice.onnx", h.make_model(h.make_graph([h.make_node("Relu", ["x"], ["y"])], "g", [x], [y, y]),
                                                         opset_imports=[h.make_opsetid("", 13)]).SerializeToString())
# found by fuzz_onnx: a Conv padded by 2^31 - 1 on one side planned a 2.4 GB
# output for two examples (now refused by the plan's memory limit)
put("onnx", "huge-padding.onnx", model([h.make_node("Conv", ["x", "cw"], ["c"], pads=[1, 1, 1, 1 << 24], kernel_shape=[3, 3]),
                                        h.make_node("GlobalAveragePool", ["c"], ["p"]), h.make_node("Flatten", ["p"], ["y"])],
                                       [nh.from_array(np.ones((2, 1, 3, 3), np.float32), "cw")], [2, 1, 4, 4], [2, 2]))
# ai.onnx.ml: a two-tree classifier (every branch mode, a missing-value
# track, labels then probabilities, as skl2onnx writes it) and the same
# scores through a ZipMap, whose output is a sequence of maps.
def tree_model(zipmap):
    x = h.make_tensor_value_info("x", T.FLOAT, ["N", 3])
    label = h.make_tensor_value_info("label", T.INT64, ["N"])
    modes = ["BRANCH_LEQ", "BRANCH_LT", "LEAF", "LEAF", "LEAF",
             "BRANCH_GTE", "BRANCH_GT", "BRANCH_EQ", "LEAF", "BRANCH_NEQ", "LEAF", "LEAF", "LEAF", "LEAF"]
    tree = h.make_node("TreeEnsembleClassifier", ["x"], ["label", "probabilities"], domain="ai.onnx.ml",
                       nodes_treeids=[0] * 5 + [1] * 9, nodes_nodeids=list(range(5)) + list(range(9)),
                       nodes_featureids=[0, 1, 0, 0, 0, 2, 1, 0, 0, 2, 0, 0, 0, 0], nodes_modes=modes,
                       nodes_values=[0.5, 0.25, 0, 0, 0, 0.1, 0.9, 0.5, 0, 0.3, 0, 0, 0, 0],
                       nodes_truenodeids=[1, 2, 0, 0, 0, 1, 2, 3, 0, 5, 0, 0, 0, 0],
                       nodes_falsenodeids=[4, 3, 0, 0, 0, 8, 7, 4, 0, 6, 0, 0, 0, 0],
                       nodes_missing_value_tracks_true=[1] + [0] * 13,
                       class_treeids=[0, 0, 0, 1, 1, 1, 1, 1], class_nodeids=[2, 3, 4, 3, 5, 6, 7, 8],
                       class_ids=[0, 1, 2, 0, 1, 2, 1, 0], class_weights=[0.5, 0.3, 0.2, 0.1, 0.4, 0.5, 0.6, 0.4],
                       classlabels_int64s=[0, 1, 2], post_transform="SOFTMAX", base_values=[0.1, 0.2, 0.3])
    nodes, outs = [tree], [label]
    if zipmap:
        nodes.append(h.make_node("ZipMap", ["probabilities"], ["zipped"], domain="ai.onnx.ml", classlabels_int64s=[0, 1, 2]))
        seq = onnx.TypeProto()
        seq.sequence_type.elem_type.map_type.key_type = T.INT64
        seq.sequence_type.elem_type.map_type.value_type.tensor_type.elem_type = T.FLOAT
        outs.append(h.make_value_info("zipped", seq))
    else:
        outs.append(h.make_tensor_value_info("probabilities", T.FLOAT, ["N", 3]))
    g = h.make_graph(nodes, "g", [x], outs)
    return h.make_model(g, opset_imports=[h.make_opsetid("", 15), h.make_opsetid("ai.onnx.ml", 3)]).SerializeToString()

put("onnx", "tree-ensemble.onnx", tree_model(False))
put("onnx", "tree-zipmap.onnx", tree_model(True))
mlp = open(os.path.join(root, "onnx", "mlp.onnx"), "rb").read()
put("onnx", "truncated.onnx", mlp[: len(mlp) // 2])
put("onnx", "no-graph.onnx", h.make_model(h.make_graph([], "g", [], [])).SerializeToString()[:8])

# NPY: the dtypes and layouts foil reads, and a few it must refuse cleanly.
def npy(a, **kw):
    b = io.BytesIO()
    np.lib.format.write_array(b, a, **kw)
    return b.getvalue()

put("npy", "f32.npy", npy(rng.rand(2, 4).astype(np.float32)))
put("npy", "f64-images.npy", npy(rng.rand(2, 1, 2, 2)))
put("npy", "u8.npy", npy((rng.rand(2, 3, 3) * 255).astype(np.uint8)))
put("npy", "labels-i64.npy", npy(np.array([0, 2, 1], np.int64)))
put("npy", "labels-i32.npy", npy(np.array([1, 0], np.int32)))
put("npy", "big-endian.npy", npy(rng.rand(3).astype(">f4")))
put("npy", "fortran.npy", npy(np.asfortranarray(rng.rand(2, 3).astype(np.float32))))
put("npy", "v2.npy", npy(np.zeros((2, 2), np.float32), version=(2, 0)))
put("npy", "scalar.npy", npy(np.float32(1.5)))
put("npy", "nan.npy", npy(np.array([[0.5, np.nan], [np.inf, 1]], np.float32)))
put("npy", "truncated.npy", npy(rng.rand(4, 4).astype(np.float32))[:100])

# IDX: magic 0 0 TYPE NDIM, big-endian dims, data; gzip too.
def idx(a, code):
    head = bytes([0, 0, code, a.ndim]) + b"".join(struct.pack(">I", d) for d in a.shape)
    return head + a.astype(a.dtype.newbyteorder(">")).tobytes()

put("idx", "images-u8.idx", idx((rng.rand(2, 3, 3) * 255).astype(np.uint8), 0x08))
put("idx", "labels-u8.idx", idx(np.array([3, 1, 4], np.uint8), 0x08))
put("idx", "i32.idx", idx(np.array([[1, -2], [3, 4]], np.int32), 0x0C))
put("idx", "f32.idx", idx(rng.rand(2, 2).astype(np.float32), 0x0D))
put("idx", "f64.idx", idx(rng.rand(3), 0x0E))
put("idx", "images.idx.gz", gzip.compress(idx(np.arange(8, dtype=np.uint8).reshape(2, 2, 2), 0x08), mtime=0))
put("idx", "truncated.idx", idx(np.arange(16, dtype=np.uint8).reshape(4, 4), 0x08)[:12])

# CSV with a label column "y": numbers, class names, quotes, CRLF, blanks.
put("csv", "numeric.csv", b"a,b,y\n1,2.5,0\n-3,4e2,1\n0.5,6,0\n7,8,1\n")
put("csv", "class-names.csv", b"mean radius,texture,y\n14.1,20.3,benign\n20.5,25.1,malignant\n13,19,benign\n21,26,malignant\n")
put("csv", "quoted-crlf.csv", b'"x, first","y","z"\r\n1,0,"2"\r\n"3",1,4\r\n5,0,6\r\n7,1,8\r\n')
put("csv", "edge.csv", b"a,y\n1,0\n,1\nnan,0\n1e39,1\n")

# Constraint files, against the fuzzer's features "mean radius", "age", "x".
put("constraints", "rules.txt", b"# what a record allows\nimmutable mean radius, age\ninteger 1\nbounds x -1 1\n")
put("constraints", "indices.txt", b"immutable 0,2\n\n   # comment\nbounds age 0 150\n")
put("constraints", "bad.txt", b"bounds age 10 5\nfrobnicate x\nbounds mean radius nan 3\n")

# VNN-LIB properties: the VNN-COMP shape (a box, a disjunction over Y),
# nested and/or, constants against outputs, and broken ones.
decl = b"(declare-const X_0 Real)\n(declare-const X_1 Real)\n(declare-const Y_0 Real)\n(declare-const Y_1 Real)\n"
box = b"(assert (<= X_0 0.5))\n(assert (>= X_0 -0.5))\n(assert (and (<= X_1 1e-1) (<= 0.0 X_1)))\n"
put("vnnlib", "robustness.vnnlib", b"; Mnist property with label: 1.\n" + decl + box +
    b"(assert (or\n    (and (>= Y_0 Y_1))\n))\n")
put("vnnlib", "nested.vnnlib", decl + box + b"(assert (or (and (<= Y_0 Y_1) (>= Y_1 -3.25)) (<= Y_0 2)))\n(assert (>= Y_0 -1))\n")
put("vnnlib", "no-bounds.vnnlib", decl + b"(assert (<= X_0 1))\n(assert (<= Y_0 Y_1))\n")
put("vnnlib", "unclosed.vnnlib", decl + box + b"(assert (or (and (<= Y_0 Y_1)\n")
put("vnnlib", "x-in-or.vnnlib", decl + b"(assert (or (<= X_0 1) (>= X_1 0)))\n")
put("vnnlib", "blowup.vnnlib", decl + box + b"(assert (or (<= Y_0 Y_1) (>= Y_0 Y_1)))\n" * 18)
print("corpus written to", root, file=sys.stderr)
