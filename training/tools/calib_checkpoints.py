#!/usr/bin/python3
"""Copying rates of training checkpoints on the CALIBRATION prompts (never the evaluation prompts).

Used for plip-tiny-asym: its Rust rate is a function of the data mix (--rust-call-frac) and of how long
it is trained on it; this shows the trajectory so both can be chosen without looking at the held-out
evaluation set.  Greedy, up to 24 tokens, first line, "calls" = `NAME(` on it (evaluate.copy_eval).

Usage: /usr/bin/python3 training/tools/calib_checkpoints.py CKPT_DIR [--prompts training/eval/plip-tiny-asym/calib_prompts.json]
"""
import argparse
import glob
import json
import os
import re
import sys

import torch

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, HERE)
from bpe import Tokenizer  # noqa: E402
from evaluate import copy_eval, wilson  # noqa: E402
from hf_io import load_hf  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ckpt_dir")
    ap.add_argument("--prompts", default=os.path.join(HERE, "eval", "plip-tiny-asym", "calib_prompts.json"))
    ap.add_argument("--base", default=os.path.join(os.path.dirname(HERE), "models", "plip-tiny-code"))
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model = load_hf(args.base)
    tok = Tokenizer(os.path.join(args.base, "tokenizer.json"))
    prompts = json.load(open(args.prompts))
    paths = sorted(glob.glob(os.path.join(args.ckpt_dir, "step*.pt")), key=lambda p: int(re.findall(r"\d+", os.path.basename(p))[0]))
    print("| checkpoint | python_doctest | rust_test_mod |")
    print("|---|---|---|")
    for p in [None] + paths:
        if p is not None:
            model.load_state_dict(torch.load(p)["model"])
        model.eval()
        cells = []
        for g in ("python_doctest", "rust_test_mod"):
            r = copy_eval(model, tok, prompts[g], keep_examples=0)
            k = round(r["lenient_rate"] * r["n"])
            lo, hi = wilson(k, r["n"])
            cells.append(f"{k}/{r['n']} = {k / r['n']:.0%} [{lo:.0%}, {hi:.0%}]")
        print(f"| {'start (' + os.path.basename(args.base) + ')' if p is None else os.path.basename(p)} | {cells[0]} | {cells[1]} |", flush=True)


if __name__ == "__main__":
    main()
