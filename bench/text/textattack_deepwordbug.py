#!/usr/bin/env python3
"""TextAttack's DeepWordBug (DeepWordBugGao2018) against the ONNX spam filter
that foil attacks: the side-by-side peer for success rate and speed.

The attacked model is exactly the ONNX file foil loads: the text goes through
the BERT WordPiece tokenizer (transformers' BertTokenizerFast on the model's
vocab.txt: lower-case, [CLS] text [SEP], truncated and padded with 0 to L) and
the ids through the ONNX model in onnxruntime (1 thread by default); TextAttack
only sees the logits (black box). --model-kind names how text becomes the
model's input; onnx-bert is the one there is (a model with one int64 input
input_ids [N, L] and one output [N, classes]); another kind is another branch
of make_model_wrapper().

It attacks the test split's spam messages that the model detects (the first
--n of them, in test-split order, i.e. file order), and records for each:
success, TextAttack's query count, the number of model evaluations actually
run (TextAttack caches repeated texts), the words changed, the character
Levenshtein distance between the original and the adversarial text, the time,
and p(spam) before and after.

--max-edits K replaces the recipe's LevenshteinEditDistance(30) constraint
(compared against the original text) by LevenshteinEditDistance(K): the budget
of at most K character edits per message.

Run with the venv scripts/install-deps.sh --text makes, after minilm_export.py:
  /opt/foil-text/bin/python bench/text/textattack_deepwordbug.py [--n 100] [--max-edits 5]
"""
import argparse
import json
from importlib.metadata import version
import os
import random
import sys
import time

import numpy as np

DEFAULT_DIR = "bench/results/text"
DEFAULT_DATA = "/work/shared/data/sms_spam_collection/SMSSpamCollection"


def levenshtein(a, b):
    """Character edit distance (insertions, deletions, substitutions; each costs 1)."""
    if len(a) < len(b):
        a, b = b, a
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def load_sms(path):
    labels, texts = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line:
                label, text = line.split("\t", 1)
                labels.append(1 if label == "spam" else 0)
                texts.append(text)
    return labels, texts


class OnnxBertModel:
    """Texts -> logits: BERT WordPiece ids [N, L] (pad 0) through an ONNX model in onnxruntime."""

    def __init__(self, onnx_path, vocab_path, seq_len, threads=1, batch=32):
        import onnxruntime as ort
        from transformers import BertTokenizerFast
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        self.session = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
        inputs = self.session.get_inputs()
        if len(inputs) != 1 or inputs[0].name != "input_ids" or inputs[0].type != "tensor(int64)":
            raise SystemExit(f"{onnx_path}: want one int64 input input_ids, have "
                             + ", ".join(f"{i.name} {i.type}" for i in inputs))
        shape_l = inputs[0].shape[1] if len(inputs[0].shape) == 2 else None
        if isinstance(shape_l, int) and shape_l != seq_len:
            raise SystemExit(f"{onnx_path}: input_ids has length {shape_l}, not L={seq_len}")
        self.output = self.session.get_outputs()[0].name
        self.tokenizer = BertTokenizerFast(vocab_file=vocab_path, do_lower_case=True)
        self.seq_len = seq_len
        self.batch = batch
        self.evaluations = 0  # texts run through the model
        self.seconds = 0.0    # time in tokenizing and onnxruntime

    def encode(self, texts):
        enc = self.tokenizer(list(texts), max_length=self.seq_len, truncation=True,
                             padding="max_length", return_attention_mask=False,
                             return_token_type_ids=False)
        return np.asarray(enc["input_ids"], dtype=np.int64)

    def __call__(self, texts):
        t0 = time.perf_counter()
        out = []
        for s in range(0, len(texts), self.batch):
            ids = self.encode(texts[s:s + self.batch])
            out.append(self.session.run([self.output], {"input_ids": ids})[0])
        self.evaluations += len(texts)
        self.seconds += time.perf_counter() - t0
        return np.concatenate(out) if out else np.zeros((0, 2), np.float32)


def make_model_wrapper(kind, args, meta):
    from textattack.models.wrappers import ModelWrapper

    if kind == "onnx-bert":
        seq_len = args.seq_len or meta.get("tokenizer", {}).get("seq_len") or 64
        model = OnnxBertModel(args.model, args.vocab, seq_len, args.threads)
    else:
        raise SystemExit(f"unknown --model-kind {kind}")

    class Wrapper(ModelWrapper):
        # TextAttack warns that it does not know this model class: it only checks
        # that for its own torch / HuggingFace wrappers; it needs only __call__.
        def __init__(self, m):
            self.model = m

        def __call__(self, text_input_list):
            return self.model(text_input_list)

    return Wrapper(model), model


def build_attack(model_wrapper, max_edits):
    from textattack import Attack
    from textattack.attack_recipes import DeepWordBugGao2018
    from textattack.constraints.overlap import LevenshteinEditDistance

    attack = DeepWordBugGao2018.build(model_wrapper)
    if max_edits is None:
        return attack
    constraints = [c for c in attack.pre_transformation_constraints + attack.constraints
                   if not isinstance(c, LevenshteinEditDistance)]
    constraints.append(LevenshteinEditDistance(max_edits))  # compare_against_original=True
    return Attack(attack.goal_function, constraints, attack.transformation, attack.search_method)


def softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=os.path.join(DEFAULT_DIR, "minilm_sms.onnx"))
    ap.add_argument("--model-kind", choices=["onnx-bert"], default="onnx-bert",
                    help="how text becomes the model's input (onnx-bert: BERT WordPiece ids)")
    ap.add_argument("--vocab", default=None, help="vocab.txt (default: MODEL less .onnx + .vocab.txt)")
    ap.add_argument("--meta", default=None,
                    help="the exporter's JSON: test split and L (default: MODEL less .onnx + .json)")
    ap.add_argument("--data", default=None, help="SMSSpamCollection (default: the JSON's)")
    ap.add_argument("--seq-len", type=int, default=None, help="L (default: the JSON's)")
    ap.add_argument("--n", type=int, default=100, help="detected test spam messages to attack")
    ap.add_argument("--max-edits", type=int, default=None,
                    help="LevenshteinEditDistance(K) in place of the recipe's 30")
    ap.add_argument("--seed", type=int, default=0, help="TextAttack's random character choices")
    ap.add_argument("--threads", type=int, default=1, help="torch and onnxruntime threads")
    ap.add_argument("--out", default=None, help="JSON file, or a directory for "
                    "textattack_deepwordbug[_kK].json (default: the model's directory)")
    args = ap.parse_args()

    stem = args.model[:-5] if args.model.endswith(".onnx") else args.model
    args.vocab = args.vocab or stem + ".vocab.txt"
    args.meta = args.meta or stem + ".json"
    with open(args.meta) as f:
        meta = json.load(f)
    data = args.data or meta.get("data") or DEFAULT_DATA
    name = "textattack_deepwordbug" + (f"_k{args.max_edits}" if args.max_edits is not None else "")
    out = args.out or os.path.dirname(os.path.abspath(args.model))
    if os.path.isdir(out) or out.endswith("/"):
        out = os.path.join(out, name + ".json")

    import torch
    torch.set_num_threads(args.threads)
    t_import = time.perf_counter()
    import textattack
    from textattack.attack_results import (FailedAttackResult, SkippedAttackResult,
                                           SuccessfulAttackResult)
    t_import = time.perf_counter() - t_import

    wrapper, model = make_model_wrapper(args.model_kind, args, meta)
    attack = build_attack(wrapper, args.max_edits)
    print(attack, flush=True)

    labels, texts = load_sms(data)
    test = meta["split"]["test_indices"]
    test_spam = [i for i in test if labels[i] == 1]
    before = softmax(model([texts[i] for i in test_spam]))
    detected = [i for i, p in zip(test_spam, before) if p[1] > p[0]]
    p_before = {i: float(p[1]) for i, p in zip(test_spam, before)}
    targets = detected[:args.n]
    print(f"test spam {len(test_spam)}, detected {len(detected)}; attacking {len(targets)}",
          flush=True)

    textattack.shared.utils.set_seed(args.seed)
    random.seed(args.seed)
    rows = []
    t_all = time.perf_counter()
    for k, i in enumerate(targets):
        evals0, secs0 = model.evaluations, model.seconds
        t0 = time.perf_counter()
        result = attack.attack(texts[i], 1)
        dt = time.perf_counter() - t0
        adv = result.perturbed_result.attacked_text.text
        orig = result.original_result.attacked_text
        words = len(orig.all_words_diff(result.perturbed_result.attacked_text)) \
            if not isinstance(result, SkippedAttackResult) else 0
        p_after = float(softmax(model([adv]))[0, 1])
        row = {
            "index": i,
            "result": ("success" if isinstance(result, SuccessfulAttackResult) else
                       "failed" if isinstance(result, FailedAttackResult) else "skipped"),
            "queries": int(result.perturbed_result.num_queries),
            "model_evaluations": model.evaluations - evals0,
            "words_changed": words,
            "levenshtein": levenshtein(texts[i], adv),
            "seconds": dt,
            "model_seconds": model.seconds - secs0,
            "p_spam_before": p_before[i],
            "p_spam_after": p_after,
            "original": texts[i],
            "adversarial": adv,
        }
        rows.append(row)
        print(f"[{k + 1}/{len(targets)}] line {i}: {row['result']}, {row['queries']} queries, "
              f"{words} words, {row['levenshtein']} edits, {dt:.2f} s, "
              f"p(spam) {row['p_spam_before']:.3f} -> {p_after:.3f}", flush=True)
    wall = time.perf_counter() - t_all

    n = len(rows)
    ok = [r for r in rows if r["result"] == "success"]
    still = sum(1 for r in rows if r["p_spam_after"] > 0.5)
    med = (lambda xs: float(np.median(xs)) if xs else float("nan"))
    summary = {
        "detected_before": n,
        "detected_after": still,
        "success_rate": len(ok) / n if n else float("nan"),
        "successes": len(ok),
        "skipped": sum(1 for r in rows if r["result"] == "skipped"),
        "median_queries_all": med([r["queries"] for r in rows]),
        "median_queries_success": med([r["queries"] for r in ok]),
        "median_model_evaluations_all": med([r["model_evaluations"] for r in rows]),
        "median_edits_success": med([r["levenshtein"] for r in ok]),
        "median_words_changed_success": med([r["words_changed"] for r in ok]),
        "max_edits_success": max([r["levenshtein"] for r in ok], default=None),
        "wall_seconds": wall,
        "seconds_per_message": wall / n if n else float("nan"),
        "model_seconds": sum(r["model_seconds"] for r in rows),
        "textattack_import_seconds": t_import,
    }
    table = [
        ("messages attacked (detected before)", f"{n}"),
        ("detected after (spam still detected)", f"{still}"),
        ("success rate", f"{summary['success_rate']:.3f} ({len(ok)}/{n})"),
        ("median queries (all / successes)",
         f"{summary['median_queries_all']:g} / {summary['median_queries_success']:g}"),
        ("median model evaluations (all)", f"{summary['median_model_evaluations_all']:g}"),
        ("median char edits (successes)", f"{summary['median_edits_success']:g}"),
        ("median words changed (successes)", f"{summary['median_words_changed_success']:g}"),
        ("total wall time", f"{wall:.1f} s ({summary['seconds_per_message']:.2f} s/message, "
                            f"{summary['model_seconds']:.1f} s in the model)"),
    ]
    print(f"\nTextAttack {version('textattack')} DeepWordBugGao2018"
          + (f", LevenshteinEditDistance({args.max_edits})" if args.max_edits is not None
             else ", recipe constraints (LevenshteinEditDistance(30))")
          + f", {args.threads} thread(s)")
    w = max(len(a) for a, _ in table)
    for a, b in table:
        print(f"  {a:<{w}}  {b}")

    report = {
        "tool": "textattack",
        "recipe": "DeepWordBugGao2018",
        "max_edits": args.max_edits,
        "constraints": [repr(c).replace("\n", " ") for c in
                        attack.pre_transformation_constraints + attack.constraints],
        "model": os.path.abspath(args.model),
        "model_kind": args.model_kind,
        "vocab": os.path.abspath(args.vocab),
        "seq_len": model.seq_len,
        "data": os.path.abspath(data),
        "seed": args.seed,
        "threads": args.threads,
        "test_spam": len(test_spam),
        "test_spam_detected": len(detected),
        "summary": summary,
        "results": rows,
        "versions": {"python": sys.version.split()[0], "torch": torch.__version__,
                     "transformers": __import__("transformers").__version__,
                     "onnxruntime": __import__("onnxruntime").__version__,
                     "textattack": version("textattack")},
    }
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w") as f:
        json.dump(report, f, indent=1, ensure_ascii=False)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
