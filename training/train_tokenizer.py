#!/usr/bin/python3
"""Train the byte-level BPE tokenizer on the TRAINING text and tokenize the corpora.

Reads  training/data/{real_train,syn_train,real_heldout,syn_heldout}.jsonl (from gen_data.py)
Writes models/plip-tiny-code/tokenizer.json, tokenizer_config.json
       training/data/{real_train,syn_train,real_heldout,syn_heldout}.npy  (uint16 token streams:
       <|bos|> doc <|eos|> <|bos|> doc <|eos|> ...)

Usage: /usr/bin/python3 training/train_tokenizer.py [--vocab-size 3072]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bpe import (Tokenizer, pretokenize, tokenizer_config_json, tokenizer_json,  # noqa: E402
                 train_bpe, BOS, EOS)

DATA = os.path.join(HERE, "data")
MODEL_DIR = os.path.join(os.path.dirname(HERE), "models", "plip-tiny-code")


def load(name):
    with open(os.path.join(DATA, name + ".jsonl")) as fh:
        return [json.loads(line) for line in fh]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vocab-size", type=int, default=3072)
    ap.add_argument("--out", default=MODEL_DIR)
    args = ap.parse_args()
    t0 = time.time()
    corpora = {k: load(k) for k in ["real_train", "syn_train", "real_heldout", "syn_heldout"]}
    counts = Counter()
    for k in ["real_train", "syn_train"]:  # tokenizer sees training text only
        for d in corpora[k]:
            counts.update(pretokenize(d["text"]))
    print(f"unique pre-tokens: {len(counts)}  ({time.time() - t0:.1f}s)", flush=True)
    vocab, merges = train_bpe(counts, args.vocab_size, verbose=True)
    print(f"vocab {len(vocab)}  merges {len(merges)}  ({time.time() - t0:.1f}s)", flush=True)
    os.makedirs(args.out, exist_ok=True)
    tj = tokenizer_json(vocab, merges)
    with open(os.path.join(args.out, "tokenizer.json"), "w") as fh:
        json.dump(tj, fh, ensure_ascii=False, indent=1)
    with open(os.path.join(args.out, "tokenizer_config.json"), "w") as fh:
        json.dump(tokenizer_config_json(), fh, indent=2)
    tok = Tokenizer(tj)
    stats = {}
    for k, docs in corpora.items():
        ids = []
        chars = 0
        for d in docs:
            ids.append(BOS)
            ids.extend(tok.encode(d["text"], add_bos=False))
            ids.append(EOS)
            chars += len(d["text"])
        arr = np.asarray(ids, dtype=np.uint16)
        np.save(os.path.join(DATA, k + ".npy"), arr)
        stats[k] = {"docs": len(docs), "tokens": int(arr.size), "chars": chars,
                    "chars_per_token": round(chars / max(1, arr.size - 2 * len(docs)), 3)}
        print(k, stats[k], f"({time.time() - t0:.1f}s)", flush=True)
    with open(os.path.join(DATA, "token_stats.json"), "w") as fh:
        json.dump(stats, fh, indent=1)


if __name__ == "__main__":
    main()
