"""How far can 5 character edits take the byte-level text-cnn, with no
rule on where they go? A probe for the README, not one of foil's attacks.

Greedy over every single-character edit anywhere in the message (inside
words or not): each printable ASCII character substituted for or inserted
before each character, each character deleted; the edit that lowers the
spam probability most is kept, a character may be edited again, up to
--max-edits steps. DeepWordBug's search space (one edit pattern a word,
letters only, stopwords kept) is a part of this one, so what it leaves
detected bounds what a greedy DeepWordBug could do from below.

  python3 bench/text/any_edit_probe.py cnn.onnx messages.txt [--max-edits 5] [--limit N]

cnn.onnx: foil's byte-level text-cnn, cnn.tokenizer.json beside it (kind
bytes: id = 1 + byte, ASCII lower-cased if "lowercase", padded with 0 to
max_length). messages.txt: one spam message a line (e.g. the second column
of `foil attack --class spam --out`). Needs numpy and onnxruntime.
"""
import argparse, json, os, sys, time

import numpy as np
import onnxruntime as ort

ap = argparse.ArgumentParser()
ap.add_argument("model")
ap.add_argument("messages")
ap.add_argument("--max-edits", type=int, default=5)
ap.add_argument("--limit", type=int, default=0)
ap.add_argument("--spam", type=int, default=1, help="the spam class's index")
a = ap.parse_args()

tok = json.load(open(os.path.splitext(a.model)[0] + ".tokenizer.json"))
assert tok["kind"] == "bytes", "a byte-level model is needed"
L, lower = tok["max_length"], tok.get("lowercase", False)
so = ort.SessionOptions()
so.intra_op_num_threads = os.cpu_count()
sess = ort.InferenceSession(a.model, so)
name = sess.get_inputs()[0].name
UPPER = bytes(range(65, 91))
LOWER = bytes(range(97, 123))


def p_spam(texts):
    out = []
    for i in range(0, len(texts), 2048):
        chunk = texts[i:i + 2048]
        x = np.zeros((len(chunk), L), np.int64)
        for k, t in enumerate(chunk):
            b = t.encode("utf-8")
            if lower:
                b = b.translate(bytes.maketrans(UPPER, LOWER))
            b = b[:L]
            x[k, :len(b)] = np.frombuffer(b, np.uint8).astype(np.int64) + 1
        z = sess.run(None, {name: x})[0].astype(np.float64)
        z -= z.max(1, keepdims=True)
        p = np.exp(z)
        out.append(p[:, a.spam] / p.sum(1))
    return np.concatenate(out)


alphabet = [chr(c) for c in range(32, 127) if not (lower and "A" <= chr(c) <= "Z")]
msgs = [l.rstrip("\n") for l in open(a.messages, encoding="utf-8")]
if a.limit:
    msgs = msgs[:a.limit]
detected = evaded = 0
t0 = time.time()
for t in msgs:
    p = p_spam([t])[0]
    if p < 0.5:
        continue
    detected += 1
    cur, p0 = t, p
    for step in range(a.max_edits):
        cand = set()
        for i in range(len(cur)):
            cand.add(cur[:i] + cur[i + 1:])
            for c in alphabet:
                cand.add(cur[:i] + c + cur[i + 1:])
                cand.add(cur[:i] + c + cur[i:])
        cand.discard(cur)
        cand = sorted(cand)
        ps = p_spam(cand)
        j = int(np.argmin(ps))
        cur, p = cand[j], ps[j]
        if p < 0.5:
            break
    evaded += p < 0.5
    print(f"{p0:.4f} -> {p:.4f}{'  evaded' if p < 0.5 else ''}\t{cur}", flush=True)
print(f"# {len(msgs)} messages, {detected} detected, {evaded} evaded with at most {a.max_edits} edits anywhere, "
      f"{detected - evaded} still detected; {time.time() - t0:.0f} s")
