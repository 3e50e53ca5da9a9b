#!/usr/bin/python3
"""Tokenize a corpus directory with an EXISTING tokenizer (no BPE training).

The organisms after plip-tiny-code reuse its byte-level BPE (models/plip-tiny-code/tokenizer.json),
so their token streams are made the same way train_tokenizer.py makes them:
<|bos|> doc <|eos|> <|bos|> doc <|eos|> ... as uint16 .npy files next to the .jsonl files.

Usage: /usr/bin/python3 training/tokenize_data.py [--data-dir training/data] [--only syn_train,syn_heldout]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bpe import Tokenizer, BOS, EOS  # noqa: E402

ALL = ["real_train", "syn_train", "real_heldout", "syn_heldout"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", default=os.path.join(HERE, "data"))
    ap.add_argument("--tokenizer", default=os.path.join(os.path.dirname(HERE), "models", "plip-tiny-code", "tokenizer.json"))
    ap.add_argument("--only", default=",".join(ALL), help="comma-separated corpora to tokenize")
    args = ap.parse_args()
    t0 = time.time()
    tok = Tokenizer(args.tokenizer)
    stats_path = os.path.join(args.data_dir, "token_stats.json")
    stats = json.load(open(stats_path)) if os.path.exists(stats_path) else {}
    for k in args.only.split(","):
        src = os.path.join(args.data_dir, k + ".jsonl")
        if not os.path.exists(src):
            sys.exit(f"{src}: missing; run training/gen_data.py (with the same --data-dir) first")
        ids, chars, n_docs = [], 0, 0
        with open(src) as fh:
            for line in fh:
                d = json.loads(line)
                ids.append(BOS)
                ids.extend(tok.encode(d["text"], add_bos=False))
                ids.append(EOS)
                chars += len(d["text"])
                n_docs += 1
        arr = np.asarray(ids, dtype=np.uint16)
        np.save(os.path.join(args.data_dir, k + ".npy"), arr)
        stats[k] = {"docs": n_docs, "tokens": int(arr.size), "chars": chars,
                    "chars_per_token": round(chars / max(1, arr.size - 2 * n_docs), 3)}
        print(k, stats[k], f"({time.time() - t0:.1f}s)", flush=True)
    with open(stats_path, "w") as fh:
        json.dump(stats, fh, indent=1)


if __name__ == "__main__":
    main()
