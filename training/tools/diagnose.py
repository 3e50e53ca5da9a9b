#!/usr/bin/python3
"""Quick diagnostics for a checkpoint (.pt from train.py) or an exported HF directory:
greedy continuations on held-out prompts AND on training-distribution prompts (prefixes of
synthetic TRAINING files cut right after the first '>>> ' / 'assert_eq!(').

Usage: /usr/bin/python3 training/tools/diagnose.py <checkpoint.pt | model_dir> [n]
"""
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, HERE)
from bpe import Tokenizer  # noqa: E402
from evaluate import copy_eval, train_like_prompts  # noqa: E402
from model import LlamaConfig, LlamaForCausalLM, tune_malloc  # noqa: E402
import re  # noqa: E402


def load(path):
    if path.endswith(".pt"):
        ck = torch.load(path)
        c = ck["config"]
        cfg = LlamaConfig(vocab_size=c["vocab_size"], hidden_size=c["hidden_size"],
                          intermediate_size=c["intermediate_size"], num_hidden_layers=c["num_hidden_layers"],
                          num_attention_heads=c["num_attention_heads"], num_key_value_heads=c["num_key_value_heads"],
                          max_position_embeddings=c["seq"])
        m = LlamaForCausalLM(cfg)
        m.load_state_dict(ck["model"])
        m.eval()
        return m
    from hf_io import load_hf
    return load_hf(path)


def main():
    tune_malloc()
    torch.set_num_threads(int(os.environ.get("THREADS", "2")))
    path = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    model = load(path)
    tok = Tokenizer(os.path.join(os.path.dirname(HERE), "models", "plip-tiny-code", "tokenizer.json"))
    P = json.load(open(os.path.join(HERE, "eval", "eval_prompts.json")))
    tp, tr = train_like_prompts(n)
    for key, ps in [("heldout python", P["python_doctest"][:n]), ("heldout rust", P["rust_test_mod"][:n]),
                    ("train-like python", tp), ("train-like rust", tr)]:
        r = copy_eval(model, tok, ps, max_new=12, keep_examples=6)
        print(f"{key:20s} lenient={r['lenient_rate']:.2f} strict={r['strict_rate']:.2f}")
        for e in r["examples"][:6]:
            print(f"    {e['name']:28s} -> {e['generated']!r}")


if __name__ == "__main__":
    main()
