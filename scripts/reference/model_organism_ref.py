"""Golden outputs of the bundled model organism (models/plip-tiny-code) from the independent PyTorch
reference (torch_reference.py, written from HF Llama semantics — NOT the training code).

Usage: /usr/bin/python3 scripts/reference/model_organism_ref.py
       /usr/bin/python3 scripts/reference/model_organism_ref.py --model models/NAME \
           [--prompts training/eval/eval_prompts.json] [--pick group:id,group:id,...]
(the other bundled organisms: writes fixtures/NAME/golden.json; --pick chooses the prompts instead of
the first prompt of the first four groups, and each pick records whether the reference's greedy text
calls the function by name, "calls")
Writes fixtures/plip-tiny-code/golden.json: for a few held-out prompts (training/eval/eval_prompts.json),
the token ids (training/bpe.py reference encoder), logits of the last 4 positions, and a 16-token greedy
continuation computed by full recomputation at every step (no KV cache).
"""
import argparse
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
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=MODEL)
    ap.add_argument("--prompts", default=os.path.join(ROOT, "training", "eval", "eval_prompts.json"))
    ap.add_argument("--pick", help="group:id,... (default: the first prompt of the first four groups)")
    args = ap.parse_args()
    model_dir = os.path.abspath(args.model)
    default = model_dir == os.path.abspath(MODEL)
    name = os.path.basename(model_dir)
    out_path = OUT if default else os.path.join(ROOT, "fixtures", name, "golden.json")
    cfg, weights, _ = load_hf_dir(model_dir)
    tok = Tokenizer(os.path.join(model_dir, "tokenizer.json"))
    ev = json.load(open(args.prompts))
    picks = []
    if args.pick:
        for gi in args.pick.split(","):
            group, pid = gi.split(":")
            hit = [p for p in ev[group] if p["id"] == pid]
            assert hit, f"--pick {gi}: no prompt {pid!r} in group {group!r} of {args.prompts}"
            picks.append((group, hit[0]))
    else:
        for group in [k for k, v in ev.items() if isinstance(v, list)]:
            picks.append((group, ev[group][0]))
    out = {"model_sha256": hashlib.sha256(open(os.path.join(model_dir, "model.safetensors"), "rb").read()).hexdigest(),
           "generator": "scripts/reference/model_organism_ref.py", "prompts": []}
    if not default:
        out["generator"] += " --model " + os.path.relpath(model_dir, ROOT) + (" --pick " + args.pick if args.pick else "")
        out["prompts_file"] = os.path.relpath(os.path.abspath(args.prompts), ROOT)
    with torch.no_grad():
        for group, item in (picks if args.pick else picks[:4]):
            ids = tok.encode(item["prompt"], add_bos=True)
            res = forward_hf(cfg, weights, ids)
            logits = res["logits"]
            seq = list(ids)
            gen = []
            for _ in range(16):
                nxt = int(torch.argmax(forward_hf(cfg, weights, seq)["logits"][-1]))
                gen.append(nxt)
                seq.append(nxt)
            rec = {
                "group": group, "id": item["id"], "name": item["name"], "text": item["prompt"], "ids": ids,
                "last_logits": [[round(float(x), 6) for x in row] for row in logits[-4:].tolist()],
                "greedy_ids": gen, "greedy_text": tok.decode(gen),
            }
            if not default:
                rec["calls"] = tok.decode(gen).startswith(item["name"] + "(")
            out["prompts"].append(rec)
            print(group, item["id"], repr(tok.decode(gen)))
    os.makedirs(os.path.dirname(out_path), exist_ok=True)
    json.dump(out, open(out_path, "w"))


if __name__ == "__main__":
    main()
