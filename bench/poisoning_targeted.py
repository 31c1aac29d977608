#!/usr/bin/env python3
"""Targeted poisoning of one test image on Fashion-MNIST with cnn-small
(issue 14): gradient matching (Witches' Brew), feature collision (poison
frogs) or a targeted label flip of the source examples nearest to the
image, in seeded trials.

Each trial s (1..trials) draws, from numpy's RandomState(s), a test image
the clean model classifies correctly and an intended class other than its
own (--intended random) or the clean model's second choice for it
(runner-up); with --min-runner-up P, only among the images whose runner-up
class the clean model gives a probability of at least P (targets an
attacker would pick: correct, but not certain); poisons the training set
against it (`foil poison --target-index`);
trains a victim on the poisoned set, its own seed 100 + s (from scratch,
so it shares neither initialization nor data order with the model the
poisons were made on; for feature collision, the clean model with only
its last layer fine-tuned, the victim that attack is for); and records
what the victim predicts for the image. Success: the intended class.
Prints one row per trial and the count.

  bench/poisoning_targeted.py --attack gradient-matching|feature-collision|targeted-flip --clean CLEAN.onnx
      [--trials 10] [--rate R] [--eps E] [--steps N] [--restarts R] [--ensemble M2.onnx,...] [--epochs 10]
      [--augment P] [--control] [--min-runner-up P] [--foil BIN] [--work DIR]

--augment P: the victims train with foil train --crop-pad P --flip, and
gradient matching brews through the same augmentation (the paper's
setting; CLEAN.onnx and the --ensemble models should be trained so too).
--control: also train a victim on the clean set with each trial's seed and
report what it says about the image, so a success is the poisons' doing.

CLEAN.onnx: cnn-small trained on the clean training set (bench/
poisoning_fashion_mnist.sh writes one as WORK/clean.onnx). Needs numpy.
"""
import argparse
import gzip
import json
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FMNIST = os.environ.get("FOIL_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")


def idx_data(path, header):
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=header)


def foil(binary, *args):
    out = subprocess.run([binary, *args], check=True, capture_output=True, text=True)
    return out.stdout


def predictions(binary, model, x_path, work, name):
    logits = os.path.join(work, name + "-logits.npy")
    foil(binary, "predict", "--model", model, "--input", x_path, "--output", logits)
    return np.load(logits).argmax(1)


def softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def probability(work, name, k):
    """Softmax probability of class k for the first row predictions() wrote."""
    return float(softmax(np.load(os.path.join(work, name + "-logits.npy"))[0])[k])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--attack", required=True, choices=["gradient-matching", "feature-collision", "targeted-flip"])
    ap.add_argument("--clean", required=True, help="cnn-small trained on the clean training set")
    ap.add_argument("--trials", type=int, default=10)
    ap.add_argument("--intended", choices=["random", "runner-up"], default="random",
                    help="the class the image should get: a random other one, or the clean model's second choice")
    ap.add_argument("--rate", type=float, help="gradient-matching, feature-collision: share of the training set "
                    "(0.01, 0.005); targeted-flip: share of the source class (0.02)")
    ap.add_argument("--eps", type=float, default=16 / 255)
    ap.add_argument("--steps", type=int, default=250)
    ap.add_argument("--restarts", type=int, default=8)
    ap.add_argument("--ensemble", help="gradient-matching: more crafting models, cnn-small trained on the clean "
                    "set with other seeds (comma-separated ONNX files)")
    ap.add_argument("--epochs", type=int, help="the victim's (10; feature-collision's fine-tuning 2)")
    ap.add_argument("--augment", type=int, default=0, help="victims train with --crop-pad P --flip; gradient "
                    "matching brews through it")
    ap.add_argument("--min-runner-up", type=float, default=0,
                    help="draw only test images whose runner-up class has at least this probability on the clean model")
    ap.add_argument("--control", action="store_true", help="a victim trained on the clean set with each trial's seed")
    ap.add_argument("--foil", default=os.path.join(HERE, "build", "foil"))
    ap.add_argument("--work", default="poisoning-targeted-work")
    a = ap.parse_args()
    rate = a.rate if a.rate is not None else {"gradient-matching": 0.01, "feature-collision": 0.005}.get(a.attack, 0.02)
    fine_tune = a.attack == "feature-collision"
    epochs = a.epochs or (2 if fine_tune else 10)
    os.makedirs(a.work, exist_ok=True)

    # The test images the clean model gets right, from which each trial draws.
    test_y = idx_data(os.path.join(FMNIST, "t10k-labels-idx1-ubyte.gz"), 8).astype(np.int64)
    test_x_path = os.path.join(a.work, "test_x.npy")
    images = idx_data(os.path.join(FMNIST, "t10k-images-idx3-ubyte.gz"), 16)
    np.save(test_x_path, (images.reshape(-1, 1, 28, 28) / np.float32(255)).astype(np.float32))
    clean_logits = os.path.join(a.work, "clean-logits.npy")
    clean_pred = predictions(a.foil, a.clean, test_x_path, a.work, "clean")
    logits = np.load(clean_logits)
    runner_up = np.argsort(-logits, axis=1)[:, 1]
    runner_up_prob = np.sort(softmax(logits), axis=1)[:, -2]

    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    cpu = next((l.split(":", 1)[1].strip() for l in lscpu.splitlines() if l.startswith("Model name")), "?")
    print(f"# {a.attack} on Fashion-MNIST, cnn-small; {cpu}, {os.cpu_count()} cores")
    crafting = 1 + len(a.ensemble.split(",")) if a.ensemble else 1
    extra = (f"eps {a.eps:.4f}, {a.steps} steps, {a.restarts} restarts, {crafting} crafting model(s), "
             if a.attack == "gradient-matching" else "")
    victims = "fine-tuned (last layer)" if fine_tune else "trained from scratch"
    augment = ["--crop-pad", str(a.augment), "--flip"] if a.augment else []
    aug_note = f", augmented (crop after padding {a.augment}, flip)" if a.augment else ""
    print(f"# rate {rate}, {extra}victims {victims} {epochs} epochs (seed 100 + trial){aug_note}; intended class: "
          f"{a.intended}"
          + (f"; test images whose runner-up has p >= {a.min_runner_up} on the clean model" if a.min_runner_up else ""))
    print(f"{'trial':>5} {'image':>6} {'label':>5} {'wanted':>6} {'poisons':>7} {'objective':>9} {'victim says':>11} "
          f"{'clean acc':>9} {'p wanted':>8}" + (f" {'control says':>12} {'p wanted':>8}" if a.control else ""))
    wins = control_wins = own_wins = 0
    for s in range(1, a.trials + 1):
        d = os.path.join(a.work, f"{a.attack}-{s}")
        victim = os.path.join(a.work, f"{a.attack}-{s}.onnx")
        rng = np.random.RandomState(s)
        image = None
        while image is None:
            i = int(rng.randint(len(test_y)))
            if clean_pred[i] == test_y[i] and runner_up_prob[i] >= a.min_runner_up:
                image = i
        wanted = int((test_y[image] + 1 + rng.randint(9)) % 10)
        if a.intended == "runner-up":
            wanted = int(runner_up[image])
        if not os.path.exists(os.path.join(d, "manifest.json")):
            args = ["poison", "--data", "fashion-mnist", "--attack", a.attack, "--rate", str(rate), "--target-index",
                    str(image), "--target", str(wanted), "--output-dir", d, "--seed", str(s), "--quiet"]
            if a.attack == "gradient-matching":
                args += ["--model", a.clean, "--eps", str(a.eps), "--steps", str(a.steps), "--restarts",
                         str(a.restarts)] + (["--ensemble", a.ensemble] if a.ensemble else []) + augment
            if fine_tune:
                args += ["--model", a.clean]
            foil(a.foil, *args)
        manifest = json.load(open(os.path.join(d, "manifest.json")))
        if not os.path.exists(victim):
            arch = [a.clean, "--fine-tune"] if fine_tune else ["cnn-small"]
            foil(a.foil, "train", "--arch", *arch, "--data", os.path.join(d, "train_x.npy"), "--labels",
                 os.path.join(d, "train_y.npy"), "--epochs", str(epochs), "--seed", str(100 + s), "--output",
                 victim, "--quiet", *augment)
        said = int(predictions(a.foil, victim, os.path.join(d, "target_x.npy"), d, "victim")[0])
        p_wanted = probability(d, "victim", wanted)
        control = None
        if a.control:
            # The same training on the clean set (foil poison at rate 0 writes it with the same split).
            clean_dir = os.path.join(a.work, "clean-set")
            if not os.path.exists(os.path.join(clean_dir, "train_x.npy")):
                foil(a.foil, "poison", "--data", "fashion-mnist", "--attack", "label-flip", "--rate", "0",
                     "--output-dir", clean_dir, "--quiet")
            control_model = os.path.join(a.work, f"control-{s}.onnx")
            if not os.path.exists(control_model):
                arch = [a.clean, "--fine-tune"] if fine_tune else ["cnn-small"]
                foil(a.foil, "train", "--arch", *arch, "--data", os.path.join(clean_dir, "train_x.npy"), "--labels",
                     os.path.join(clean_dir, "train_y.npy"), "--epochs", str(epochs), "--seed", str(100 + s),
                     "--output", control_model, "--quiet", *augment)
            control = int(predictions(a.foil, control_model, os.path.join(d, "target_x.npy"), d, "control")[0])
            control_p = probability(d, "control", wanted)
            control_wins += control == wanted
            own_wins += said == wanted and control != wanted
        acc = json.loads(foil(a.foil, "eval", "--model", victim, "--data", "fashion-mnist", "--json"))["accuracy"]
        wins += said == wanted
        objective = manifest.get("objective")
        print(f"{s:>5} {image:>6} {test_y[image]:>5} {wanted:>6} {manifest['poisoned']:>7} "
              f"{objective if objective is not None else '-':>9.9} {said:>11} {acc:>9.4f} {p_wanted:>8.3f}"
              + (f" {control:>12} {control_p:>8.3f}" if a.control else ""), flush=True)
    print(f"success: {wins} of {a.trials} trials" +
          (f"; victims trained on the clean set with the same seeds give the wanted class in {control_wins}; "
           f"the poisoned victim alone gives it in {own_wins}" if a.control else ""))


if __name__ == "__main__":
    sys.exit(main())
