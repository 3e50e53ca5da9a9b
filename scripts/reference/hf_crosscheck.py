#!/usr/bin/env python3
"""OPTIONAL cross-check: runs the REAL Hugging Face `transformers` on fixtures/tiny/* and compares with golden.json.

Not needed to regenerate the fixtures (make_fixtures.py only needs /usr/bin/python3 with PyTorch 1.13).  It needs
an interpreter with transformers >= 4.4x and torch >= 2.x, e.g. an offline venv built from local wheels:

    /usr/bin/python3 -m venv /tmp/hf2
    /tmp/hf2/bin/pip install --no-index --no-deps <torch-2.x wheel> <nvidia_* wheels it links against>
    /tmp/hf2/bin/pip install --no-index --find-links <wheel dir> transformers filelock typing_extensions sympy \
        networkx jinja2 fsspec "numpy<2.3"
    /tmp/hf2/bin/python scripts/reference/hf_crosscheck.py

For every tiny model it loads the directory with AutoModelForCausalLM.from_pretrained(dtype=float32,
attn_implementation="eager"), runs the three golden prompts and reports max |HF - golden| for logits, the residual
stream after each decoder layer (captured with forward hooks) and the attention patterns (output_attentions).
It also runs HF Llama on the stories260K checkpoint converted to HF layout and compares with stories260K_ref.json.
Exit status 1 if anything differs by more than 1e-4.
"""
import json
import os
import sys

import torch
import transformers
from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
TOL = 1e-4


def layers_of(model):
    base = getattr(model, model.base_model_prefix)
    return base.h if hasattr(base, "h") else base.layers


def run(model, ids):
    captured = []

    def hook(_m, _inp, out):
        captured.append((out[0] if isinstance(out, tuple) else out).detach()[0])

    hs = [layer.register_forward_hook(hook) for layer in layers_of(model)]
    try:
        with torch.no_grad():
            out = model(torch.tensor([ids]), output_attentions=True, use_cache=False)
    finally:
        for h in hs:
            h.remove()
    return out.logits[0], captured, [a[0] for a in out.attentions]


def main():
    print(f"transformers {transformers.__version__}, torch {torch.__version__}")
    worst_all = 0.0
    index = json.load(open(os.path.join(REPO, "fixtures", "tiny", "index.json")))
    for m in index["models"]:
        d = os.path.join(REPO, "fixtures", "tiny", m["dir"])
        golden = json.load(open(os.path.join(d, "golden.json")))
        model = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32, attn_implementation="eager").eval()
        worst = {"logits": 0.0, "resid_post": 0.0, "patterns": 0.0}
        for ids, g in zip(golden["prompts"], golden["outputs"]):
            logits, resid, pats = run(model, ids)
            worst["logits"] = max(worst["logits"], (logits - torch.tensor(g["logits"])).abs().max().item())
            for a, b in zip(resid, g["resid_post"]):
                worst["resid_post"] = max(worst["resid_post"], (a - torch.tensor(b)).abs().max().item())
            for a, b in zip(pats, g["patterns"]):
                worst["patterns"] = max(worst["patterns"], (a - torch.tensor(b)).abs().max().item())
        w = max(worst.values())
        worst_all = max(worst_all, w)
        print(f"{m['dir']:22s} {type(model).__name__:24s} " +
              "  ".join(f"{k} {v:.2e}" for k, v in worst.items()) + ("" if w <= TOL else "   <-- MISMATCH"))

    # stories260K through HF Llama (weights permuted from llama2.c's interleaved rotary layout)
    sys.dont_write_bytecode = True
    sys.path.insert(0, HERE)
    import torch_reference as R  # plain PyTorch, works on torch 2.x too
    ref = json.load(open(os.path.join(REPO, "fixtures", "llama2c", "stories260K_ref.json")))
    cfg, w = R.load_llama2c(os.path.join(REPO, ref["checkpoint"]))
    hcfg, hw = R.llama2c_to_hf_llama(cfg, w)
    lc = LlamaConfig(vocab_size=hcfg["vocab_size"], hidden_size=hcfg["hidden_size"],
                     intermediate_size=hcfg["intermediate_size"], num_hidden_layers=hcfg["num_hidden_layers"],
                     num_attention_heads=hcfg["num_attention_heads"], num_key_value_heads=hcfg["num_key_value_heads"],
                     rms_norm_eps=1e-5, max_position_embeddings=cfg["seq_len"],
                     tie_word_embeddings=hcfg["tie_word_embeddings"], attn_implementation="eager")
    model = LlamaForCausalLM(lc).eval()
    missing, unexpected = model.load_state_dict(hw, strict=False)
    assert not unexpected and all(k == "lm_head.weight" for k in missing), (missing, unexpected)
    model.tie_weights()
    fed = ref["greedy"]["ids"][: ref["greedy"]["steps"]]
    with torch.no_grad():
        logits = model(torch.tensor([fed]), use_cache=False).logits[0]
    dl = (logits - torch.tensor(ref["sequence_logits"]["logits"])).abs().max().item()
    greedy_ok = all(int(logits[p].argmax()) == fed[p + 1] for p in range(len(ref["prompt_ids"]) - 1, len(fed) - 1))
    worst_all = max(worst_all, dl)
    print(f"stories260K via HF Llama: logits {dl:.2e}, greedy path reproduced: {greedy_ok}")
    print("OK" if worst_all <= TOL and greedy_ok else "MISMATCH")
    sys.exit(0 if worst_all <= TOL and greedy_ok else 1)


if __name__ == "__main__":
    main()
