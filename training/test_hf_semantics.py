#!/usr/bin/python3
"""Independent check of the exported model against Hugging Face Llama semantics.

* parses model.safetensors + config.json by hand and runs a float64 NumPy forward pass written
  directly from transformers' modeling_llama.py (RMSNorm, rotate_half RoPE, GQA repeat_kv,
  causal softmax attention with 1/sqrt(head_dim), SwiGLU, tied/untied lm_head);
* compares its logits with the PyTorch model (training/model.py) loaded from the same files;
* checks the safetensors header layout and that bf16 conversion is round-to-nearest-even
  (identical to torch's float32 -> bfloat16 cast);
* optionally writes reference logits for the TypeScript engine's tests.

Usage: /usr/bin/python3 training/test_hf_semantics.py [model_dir] [--write-reference]
(Qwen2 directories too: the same forward plus q/k/v biases; references of models other than
plip-tiny-code go to training/logs/<name>/reference_logits.json)
"""
import json
import os
import struct
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from bpe import Tokenizer  # noqa: E402
from hf_io import f32_to_bf16_bits, load_hf  # noqa: E402


def read_safetensors_raw(path):
    with open(path, "rb") as fh:
        n = struct.unpack("<Q", fh.read(8))[0]
        header = json.loads(fh.read(n).decode("utf-8"))
        data = fh.read()
    assert (8 + n) % 8 == 0, "header not 8-byte aligned"
    tensors = {}
    end_max = 0
    for k, info in header.items():
        if k == "__metadata__":
            continue
        b, e = info["data_offsets"]
        end_max = max(end_max, e)
        assert info["dtype"] in ("BF16", "F16", "F32")
        if info["dtype"] == "BF16":
            a = (np.frombuffer(data[b:e], dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        elif info["dtype"] == "F16":
            a = np.frombuffer(data[b:e], dtype="<f2").astype(np.float32)
        else:
            a = np.frombuffer(data[b:e], dtype="<f4")
        tensors[k] = a.reshape(info["shape"]).astype(np.float64)
    assert end_max == len(data), "trailing bytes in safetensors"
    return header, tensors


def np_forward(cfg, W, ids):
    H, KV = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    d = cfg["hidden_size"]
    hd = cfg.get("head_dim", d // H)
    eps, theta = cfg["rms_norm_eps"], cfg["rope_theta"]
    T = len(ids)

    def rms(x, w):
        return w * (x / np.sqrt((x * x).mean(-1, keepdims=True) + eps))

    inv_freq = 1.0 / (theta ** (np.arange(0, hd, 2, dtype=np.float64) / hd))
    freqs = np.outer(np.arange(T, dtype=np.float64), inv_freq)
    emb = np.concatenate([freqs, freqs], -1)
    cos, sin = np.cos(emb), np.sin(emb)

    def rot_half(x):
        return np.concatenate([-x[..., hd // 2:], x[..., :hd // 2]], -1)

    x = W["model.embed_tokens.weight"][ids]
    mask = np.triu(np.full((T, T), -np.inf), 1)
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        h = rms(x, W[p + "input_layernorm.weight"])
        # Qwen2 (modeling_qwen2.py): q/k/v projections carry a bias; Llama: none
        qb, kb, vb = (W.get(p + f"self_attn.{n}_proj.bias", 0.0) for n in "qkv")
        q = (h @ W[p + "self_attn.q_proj.weight"].T + qb).reshape(T, H, hd).transpose(1, 0, 2)
        k = (h @ W[p + "self_attn.k_proj.weight"].T + kb).reshape(T, KV, hd).transpose(1, 0, 2)
        v = (h @ W[p + "self_attn.v_proj.weight"].T + vb).reshape(T, KV, hd).transpose(1, 0, 2)
        q = q * cos + rot_half(q) * sin
        k = k * cos + rot_half(k) * sin
        rep = H // KV
        k = np.repeat(k, rep, axis=0)  # repeat_kv: head j uses kv head j // rep
        v = np.repeat(v, rep, axis=0)
        s = q @ k.transpose(0, 2, 1) / np.sqrt(hd) + mask
        s = np.exp(s - s.max(-1, keepdims=True))
        a = s / s.sum(-1, keepdims=True)
        o = (a @ v).transpose(1, 0, 2).reshape(T, H * hd)
        x = x + o @ W[p + "self_attn.o_proj.weight"].T
        h = rms(x, W[p + "post_attention_layernorm.weight"])
        g = h @ W[p + "mlp.gate_proj.weight"].T
        u = h @ W[p + "mlp.up_proj.weight"].T
        x = x + ((g / (1 + np.exp(-g))) * u) @ W[p + "mlp.down_proj.weight"].T
    x = rms(x, W["model.norm.weight"])
    head = W["model.embed_tokens.weight"] if cfg["tie_word_embeddings"] else W["lm_head.weight"]
    return x @ head.T


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    model_dir = args[0] if args else os.path.join(ROOT, "models", "plip-tiny-code")
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    assert (cfg["model_type"], cfg["architectures"]) in (("llama", ["LlamaForCausalLM"]), ("qwen2", ["Qwen2ForCausalLM"]))
    assert not cfg.get("use_sliding_window", False)
    header, W = read_safetensors_raw(os.path.join(model_dir, "model.safetensors"))
    L = cfg["num_hidden_layers"]
    expected = {"model.embed_tokens.weight", "model.norm.weight"}
    for i in range(L):
        for n in ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                  "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"]:
            expected.add(f"model.layers.{i}.{n}.weight")
        if cfg["model_type"] == "qwen2":
            expected.update(f"model.layers.{i}.self_attn.{n}_proj.bias" for n in "qkv")
        expected.add(f"model.layers.{i}.input_layernorm.weight")
        expected.add(f"model.layers.{i}.post_attention_layernorm.weight")
    if not cfg["tie_word_embeddings"]:
        expected.add("lm_head.weight")
    assert set(W) == expected, set(W) ^ expected
    tok = Tokenizer(os.path.join(model_dir, "tokenizer.json"))
    assert tok.vocab_size == cfg["vocab_size"], (tok.vocab_size, cfg["vocab_size"])

    # bf16 round-to-nearest-even == torch cast
    r = np.random.default_rng(0).standard_normal(100000).astype(np.float32) * 3
    r[:4] = [1.0 + 2 ** -8, 1.0 + 3 * 2 ** -8, -1.0 - 2 ** -8, 65504.0]
    ours = f32_to_bf16_bits(r)
    theirs = torch.from_numpy(r).to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)
    assert (ours == theirs).all(), "bf16 rounding differs from torch"

    model = load_hf(model_dir)
    prompts = json.load(open(os.path.join(HERE, "eval", "eval_prompts.json")))
    texts = [prompts["python_doctest"][0]["prompt"], prompts["rust_test_mod"][0]["prompt"]]
    worst = 0.0
    refs = []
    for t in texts:
        ids = tok.encode(t, add_bos=True)
        ref = np_forward(cfg, W, ids)
        with torch.no_grad():
            got = model(torch.tensor([ids]))["logits"][0].double().numpy()
        diff = float(np.abs(ref - got).max())
        worst = max(worst, diff)
        assert int(ref[-1].argmax()) == int(got[-1].argmax())
        last = ref[-1]
        top = np.argsort(-last)[:10]
        refs.append({"text": t, "input_ids": ids, "last_logits_top10": [[int(i), float(last[i])] for i in top],
                     "last_logits_first16": [float(v) for v in last[:16]],
                     "argmax_per_position": [int(v) for v in ref.argmax(-1)]})
    print(json.dumps({"max_abs_logit_diff_numpy_f64_vs_torch_f32": worst, "ok": worst < 1e-3}))
    assert worst < 1e-3
    if "--write-reference" in sys.argv:
        name = os.path.basename(os.path.normpath(model_dir))
        out = os.path.join(HERE, "logs", "reference_logits.json") if name == "plip-tiny-code" else \
            os.path.join(HERE, "logs", name, "reference_logits.json")
        fam = "Qwen2" if cfg["model_type"] == "qwen2" else "Llama"
        json.dump({"_description": f"float64 NumPy forward (HF {fam} semantics) of models/{name} "
                                   "(bf16 weights upcast); for cross-checking other engines. "
                                   "Generated by training/test_hf_semantics.py --write-reference.",
                   "prompts": refs}, open(out, "w"), indent=1)
        print("wrote", out)


if __name__ == "__main__":
    main()
