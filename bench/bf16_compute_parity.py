#!/usr/bin/env python3
"""`--compute bf16` against PyTorch bf16 references, on every family's parity fixture (weights rounded to bf16).

    /usr/bin/python3 bench/bf16_compute_parity.py        (needs PyTorch and a CPU with avx512_bf16; not in CI)

For each fixture and its longest golden prompt, logits of:
  f32      PyTorch (scripts/reference/torch_reference.py) in float32 on the bf16-rounded weights;
  act-bf16 the same, with the activations entering every weight product (linear, conv1d, LM head) rounded to
           bf16 (round to nearest even) and float32 products and sums: the definition of `--compute bf16`;
  bf16     the whole PyTorch model in bfloat16 (weights, activations, norms, attention: a bf16 model run);
  ours     plip-ts `--compute bf16` (bench/bf16-logits.ts) on the same checkpoint;
  ours-f32 plip-ts default compute on it.
Prints max |Δ| of each pair that matters, relative to max |logit|, and the share of positions whose top-1 agrees.
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

sys.dont_write_bytecode = True
REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(REPO, "scripts", "reference"))
import torch_reference as R  # noqa: E402


class ActBf16Weight(torch.Tensor):
    """A weight matrix whose products round the other operand to bf16 first; their results (and anything else
    computed from it, such as an embedding lookup) are plain tensors."""

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        plain = lambda a: a.as_subclass(torch.Tensor) if isinstance(a, ActBf16Weight) else a
        is_w = [isinstance(a, ActBf16Weight) for a in args]
        name = getattr(func, "__name__", "")
        args2 = [plain(a) for a in args]
        if name in ("matmul", "__matmul__", "mm", "linear", "addmm") and any(is_w):
            # round the activation operand(s): every tensor argument that is not the weight (nor a 1-D bias)
            args2 = [a if w or not isinstance(a, torch.Tensor) or a.dim() < 2 else a.to(torch.bfloat16).to(torch.float32)
                     for a, w in zip(args2, is_w)]
        with torch._C.DisableTorchFunction():
            out = func(*args2, **kwargs)
        # a weight stays one through dtype casts and transposes (the forward casts, then multiplies by w.t())
        if any(is_w) and name in ("to", "t", "transpose", "contiguous", "float", "detach", "clone") and isinstance(out, torch.Tensor):
            out = out.as_subclass(ActBf16Weight)
        return out


def wrap(weights):
    return {k: (v.as_subclass(ActBf16Weight) if v.dim() >= 2 else v) for k, v in weights.items()}


def main():
    index = json.load(open(os.path.join(REPO, "fixtures", "tiny", "index.json")))
    tmp = tempfile.mkdtemp(prefix="plip-bf16-parity-")
    rows = []
    for entry in index["models"]:
        d = entry["dir"]
        src = os.path.join(REPO, "fixtures", "tiny", d)
        cfg, weights, _ = R.load_hf_dir(src)
        arrays, _, _ = R.read_safetensors(os.path.join(src, "model.safetensors"))
        out = os.path.join(tmp, d)
        os.makedirs(out)
        with open(os.path.join(src, "config.json")) as f, open(os.path.join(out, "config.json"), "w") as g:
            g.write(f.read())
        R.write_safetensors(os.path.join(out, "model.safetensors"), {k: (v, "BF16") for k, v in arrays.items()})
        w = {k: v.to(torch.bfloat16).to(torch.float32) for k, v in weights.items()}
        ids = json.load(open(os.path.join(src, "golden.json")))["prompts"][-1]
        f32 = R.forward_hf(cfg, w, ids)["logits"].detach().numpy()
        act = R.forward_hf(cfg, wrap(w), ids)["logits"].detach().numpy()
        b16 = R.forward_hf(cfg, w, ids, dtype=torch.bfloat16)["logits"].to(torch.float32).detach().numpy()
        ours = {}
        for mode in ("bf16", "f32"):
            r = subprocess.run(["node", "--import", "tsx", "bench/bf16-logits.ts", out, mode,
                                ",".join(map(str, ids))], cwd=REPO, capture_output=True, text=True, check=True)
            j = json.loads(r.stdout.strip().splitlines()[-1])
            ours[mode] = np.array(j["logits"], dtype=np.float64).reshape(f32.shape)
        top1 = lambda a, b: float(np.mean(a.argmax(-1) == b.argmax(-1)))
        mx = lambda a, b: float(np.abs(a - b).max())
        rows.append((d, float(np.abs(f32).max()), mx(ours["bf16"], act), mx(ours["f32"], f32), mx(ours["bf16"], f32), mx(b16, f32),
                     top1(ours["bf16"], f32), top1(b16, f32)))
    print("| fixture | max abs logit | ours vs act-bf16 | ours-f32 vs f32 | ours (bf16 compute) vs f32 | PyTorch bf16 model vs f32 | top-1 = f32: ours / bf16 model |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for d, m, a, b, c, e, t1, t2 in rows:
        print(f"| {d} | {m:.2f} | {a:.1e} | {b:.1e} | {c:.1e} | {e:.1e} | {100 * t1:.0f}% / {100 * t2:.0f}% |")


if __name__ == "__main__":
    main()
