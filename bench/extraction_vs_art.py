#!/usr/bin/env python3
"""foil extract beside ART's KnockoffNets and CopycatCNN: the same victim,
budget, surrogate data and copy architecture; fidelity, accuracy and time
side by side, printed as a table.

The victim is foil's cnn-small ONNX file (trained by foil on the first
30,000 Fashion-MNIST training images), loaded into PyTorch with the same
weights (bench/torch_reference.py); the attacker's surrogate data is the
other 30,000 training images; each copy is a fresh cnn-small trained with
Adam (lr 1e-3), batch 64, for --epochs epochs; fidelity is the copy's
top-1 agreement with the undefended victim on the 10,000 test images.

ART runs in a venv made with `/usr/bin/python3 -m venv --system-site-packages`
so that Debian's torch 1.13 is used:
    venv/bin/pip install adversarial-robustness-toolbox==1.20.1 packaging
(ART 1.20.1 imports `packaging` without declaring it.)

Output defenses on the victim's answers: foil's --output-mode; on ART's
side the same as a PyTorch softmax (probabilities) and ART's
postprocessors ClassLabels (labels; with its indexing bug fixed, see
class_labels) and ReverseSigmoid(beta=1, gamma=0.1).

Usage: venv/bin/python bench/extraction_vs_art.py --foil build/foil --victim victim.onnx
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_reference import CnnSmall, cnn_small_from_onnx, fashion_mnist  # noqa: E402


def load(split, skip=0):
    prefix = "train" if split == "train" else "t10k"
    x = fashion_mnist(f"{prefix}-images-idx3-ubyte.gz").astype(np.float32) / 255.0
    y = fashion_mnist(f"{prefix}-labels-idx1-ubyte.gz").astype(np.int64)
    return x[skip:].reshape(-1, 1, 28, 28), y[skip:]


def class_labels():
    """ART's ClassLabels postprocessor, with its indexing fixed.

    ART 1.20.1's ClassLabels.__call__ does `class_labels[:, index_labels] = 1`,
    which sets the column of every example's top class in every row: the rows
    of a batch all come out the same (the union of the batch's classes), and
    a copy trained on them learns nothing (10% fidelity, measured). This one
    sets one entry per row, as intended."""
    from art.defences.postprocessor import ClassLabels

    class FixedClassLabels(ClassLabels):
        def __call__(self, preds):
            out = np.zeros_like(preds)
            out[np.arange(len(preds)), np.argmax(preds, axis=1)] = 1
            return out

    return FixedClassLabels()


def art_victim(path, mode):
    from art.defences.postprocessor import ReverseSigmoid
    from art.estimators.classification import PyTorchClassifier

    net = cnn_small_from_onnx(path)
    post = []
    if mode != "logits":
        net = nn.Sequential(net, nn.Softmax(dim=1)).eval()
    if mode == "labels":
        post = [class_labels()]
    elif mode.startswith("reverse-sigmoid"):
        post = [ReverseSigmoid(beta=1.0, gamma=0.1)]
    return PyTorchClassifier(model=net, loss=nn.CrossEntropyLoss(), input_shape=(1, 28, 28), nb_classes=10,
                             clip_values=(0.0, 1.0), postprocessing_defences=post)


def art_thief(seed):
    from art.estimators.classification import PyTorchClassifier

    torch.manual_seed(seed)
    net = CnnSmall()
    return PyTorchClassifier(model=net, loss=nn.CrossEntropyLoss(), optimizer=torch.optim.Adam(net.parameters(), 1e-3),
                             input_shape=(1, 28, 28), nb_classes=10, clip_values=(0.0, 1.0))


def run_art(attack, victim_path, mode, budget, epochs, batch, sur_x, sur_y, test_x, victim_pred, test_y, seed):
    from art.attacks.extraction import CopycatCNN, KnockoffNets

    np.random.seed(seed)
    victim = art_victim(victim_path, mode)
    thief = art_thief(seed)
    soft = mode not in ("labels",)
    if attack == "copycat":
        a = CopycatCNN(victim, batch_size_fit=batch, batch_size_query=256, nb_epochs=epochs, nb_stolen=budget,
                       use_probability=False)
        y = None
    else:
        strategy = "adaptive" if attack == "knockoff-adaptive" else "random"
        a = KnockoffNets(victim, batch_size_fit=batch, batch_size_query=256 if strategy == "random" else 1,
                         nb_epochs=epochs, nb_stolen=budget, sampling_strategy=strategy, reward="all",
                         verbose=False, use_probability=soft)
        y = sur_y if strategy == "adaptive" else None
    t0 = time.time()
    stolen = a.extract(sur_x, y, thieved_classifier=thief)
    seconds = time.time() - t0
    pred = np.argmax(stolen.predict(test_x, batch_size=500), axis=1)
    return {"fidelity": float(np.mean(pred == victim_pred)), "accuracy": float(np.mean(pred == test_y)),
            "seconds": seconds}


def run_foil(foil, attack, victim_path, mode, budget, epochs, batch, skip, seed):
    cmd = [foil, "extract", "--model", victim_path, "--data", "fashion-mnist", "--surrogate", "fashion-mnist",
           "--surrogate-skip", str(skip), "--attack", attack, "--budget", str(budget), "--epochs", str(epochs),
           "--batch", str(batch), "--output-mode", mode, "--eps", "0", "--seed", str(seed), "--json", "--quiet"]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(" ".join(cmd) + ": " + out.stderr)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    a = r["attacks"][0]
    # the attack's time: queries and training, not foil's judging of the copy on the test set
    return {"fidelity": a["fidelity"], "accuracy": a["accuracy"], "seconds": a["seconds"] - a["judge_seconds"],
            "labels": a["labels"],
            "victim_accuracy": r["victim_accuracy"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--foil", required=True)
    ap.add_argument("--victim", required=True)
    ap.add_argument("--budget", type=int, default=10000)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--surrogate-skip", type=int, default=30000)
    ap.add_argument("--modes", default="probabilities,labels,reverse-sigmoid")
    ap.add_argument("--attacks", default="copycat,knockoff-random")
    ap.add_argument("--adaptive-modes", default="", help="modes in which knockoff-adaptive also runs (slow in ART: "
                    "one fit call per query)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    import art

    sur_x, sur_y = load("train", args.surrogate_skip)
    test_x, test_y = load("test")
    victim = cnn_small_from_onnx(args.victim)
    with torch.no_grad():
        victim_pred = np.concatenate([victim(torch.from_numpy(test_x[i:i + 1000])).argmax(1).numpy()
                                      for i in range(0, len(test_x), 1000)])
    print(f"ART {art.__version__}, torch {torch.__version__}, {args.threads} threads; victim {args.victim}: "
          f"accuracy {np.mean(victim_pred == test_y):.4f} on {len(test_y)} test images (PyTorch copy of its weights)")
    print(f"budget {args.budget} queries, surrogate: Fashion-MNIST train[{args.surrogate_skip}:] "
          f"({len(sur_y)} images), copy: cnn-small, Adam 1e-3, batch {args.batch}, {args.epochs} epochs")
    rows = []
    for mode in args.modes.split(","):
        attacks = args.attacks.split(",") + (["knockoff-adaptive"] if mode in args.adaptive_modes.split(",") else [])
        for attack in attacks:
            f = run_foil(args.foil, attack, args.victim, mode, args.budget, args.epochs, args.batch,
                         args.surrogate_skip, args.seed)
            a = run_art(attack, args.victim, mode, args.budget, args.epochs, args.batch, sur_x, sur_y, test_x,
                        victim_pred, test_y, args.seed)
            rows.append((mode, attack, f, a))
            print(f"  done {mode} {attack}: foil {f['fidelity']:.4f} in {f['seconds']:.0f} s, "
                  f"ART {a['fidelity']:.4f} in {a['seconds']:.0f} s", flush=True)
    print()
    print(f"{'answers':<16} {'attack':<18} {'labels':<6} {'foil fid':>9} {'foil acc':>9} {'foil s':>7} "
          f"{'ART fid':>9} {'ART acc':>9} {'ART s':>7}")
    for mode, attack, f, a in rows:
        print(f"{mode:<16} {attack:<18} {f['labels']:<6} {100 * f['fidelity']:8.2f}% {100 * f['accuracy']:8.2f}% "
              f"{f['seconds']:7.0f} {100 * a['fidelity']:8.2f}% {100 * a['accuracy']:8.2f}% {a['seconds']:7.0f}")


if __name__ == "__main__":
    main()
