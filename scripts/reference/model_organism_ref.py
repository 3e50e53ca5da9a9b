"""Golden outputs of the bundled model organism (models/plip-tiny-code) from the independent PyTorch
reference (torch_reference.py, written from HF Llama semantics — NOT the training code).

Usage: /usr/bin/python3 scripts/reference/model_organism_ref.py
Writes fixtures/plip-tiny-code/golden.json: for a few held-out prompts (training/eval/eval_prompts.json),
the token ids (training/bpe.py reference encoder), logits of the last 4 positions, and a 16-token greedy
continuation computed by full recomputation at every step (no KV cache).
"""
import hashlib
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "training"))
from torch_reference import forward_hf, load_hf_dir  # noqa: E402
from bpe import Tokenizer  # noqa: E402

MODEL = os.path.join(ROOT, "models", "plip-tiny-code")
OUT = os.path.join(ROOT, "fixtures", "plip-tiny-code", "golden.json")


def main():
    cfg, weights, _ = load_hf_dir(MODEL)
    tok = Tokenizer(os.path.join(MODEL, "tokenizer.json"))
    ev = json.load(open(os.path.join(ROOT, "training", "eval", "eval_prompts.json")))
    picks = []
    for group in [k for k, v in ev.items() if isinstance(v, list)]:
        picks.append((group, ev[group][0]))
    out = {"model_sha256": hashlib.sha256(open(os.path.join(MODEL, "model.safetensors"), "rb").read()).hexdigest(),
           "generator": "scripts/reference/model_organism_ref.py", "prompts": []}
    with torch.no_grad():
        for group, item in picks[:4]:
            ids = tok.encode(item["prompt"], add_bos=True)
            res = forward_hf(cfg, weights, ids)
            logits = res["logits"]
            seq = list(ids)
            gen = []
            for _ in range(16):
                nxt = int(torch.argmax(forward_hf(cfg, weights, seq)["logits"][-1]))
                gen.append(nxt)
                seq.append(nxt)
            out["prompts"].append({
                "group": group, "id": item["id"], "name": item["name"], "text": item["prompt"], "ids": ids,
                "last_logits": [[round(float(x), 6) for x in row] for row in logits[-4:].tolist()],
                "greedy_ids": gen, "greedy_text": tok.decode(gen),
            })
            print(group, item["id"], repr(tok.decode(gen)))
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    json.dump(out, open(OUT, "w"))


if __name__ == "__main__":
    main()
