#!/usr/bin/env python3
"""Regenerates every PLIP-TS parity fixture, byte for byte (fixed seeds, fixed formatting).

    /usr/bin/python3 scripts/reference/make_fixtures.py            # (re)write fixtures/
    /usr/bin/python3 scripts/reference/make_fixtures.py --check    # regenerate into a temp dir, compare bytes
    /usr/bin/python3 scripts/reference/make_fixtures.py --only-interventions   # rewrite fixtures/interventions/ only

Writes
  fixtures/tiny/<name>/{config.json, model.safetensors, golden.json}   tiny random models in real HF layout
  fixtures/tiny/index.json                                             list of the tiny models
  fixtures/interventions/knockout_{llama,gpt2}.json                    attention-edge interventions
  fixtures/llama2c/stories260K_ref.json                                the real stories260K checkpoint
See scripts/reference/README.md for the formats.  Self-consistency checks are asserts in this file.
"""
from __future__ import annotations

import copy
import filecmp
import hashlib
import json
import os
import shutil
import sys
import tempfile

import numpy as np
import torch

sys.dont_write_bytecode = True  # keep scripts/reference free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_reference as R  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SHARED = os.path.abspath(os.path.join(REPO, "..", "shared"))
VOCAB = 96
N_LAYERS = 2

# ------------------------------------------------------------------------------------------------ helpers


def r7(t) -> list:
    """Tensor -> nested lists of floats rounded to 7 significant digits (shortest repr in JSON)."""
    a = t.detach().to(torch.float64).numpy() if isinstance(t, torch.Tensor) else np.asarray(t, dtype=np.float64)
    assert np.isfinite(a).all(), "non-finite value in a fixture"
    flat = np.array([float(f"{v:.7g}") for v in a.ravel()], dtype=np.float64)
    return flat.reshape(a.shape).tolist()


def dump_json(path: str, obj, compact: bool = True) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        if compact:
            f.write(json.dumps(obj, separators=(",", ":"), ensure_ascii=True))
        else:
            f.write(json.dumps(obj, indent=2, ensure_ascii=True))
        f.write("\n")


def sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read())
    return h.hexdigest()


class Init:
    """Deterministic random weights: std ~0.15 projections, ~0.3 embeddings, norms ~1 (gemma ~0), biases ~0.1."""

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)

    def normal(self, shape, std, mean=0.0):
        return (mean + std * self.rng.standard_normal(shape)).astype(np.float32)

    def w(self, *shape, std=0.15):
        return self.normal(shape, std)

    def emb(self, *shape):
        return self.normal(shape, 0.3)

    def bias(self, n):
        return self.normal((n,), 0.1)

    def norm(self, n, gemma=False):
        return self.normal((n,), 0.1, 0.0 if gemma else 1.0)


# ------------------------------------------------------------------------------------------------ tiny models
# Each builder returns (config dict with the family's real HF field names, {tensor name: float32 array}).


def build_llama(seed, variant=None):
    I = Init(seed)
    d, nh, nkv, ff = 64, 4, 2, 160
    hd = d // nh
    cfg = {
        "architectures": ["LlamaForCausalLM"],
        "attention_bias": False,
        "attention_dropout": 0.0,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "hidden_act": "silu",
        "hidden_size": d,
        "initializer_range": 0.02,
        "intermediate_size": ff,
        "max_position_embeddings": 128,
        "mlp_bias": False,
        "model_type": "llama",
        "num_attention_heads": nh,
        "num_hidden_layers": N_LAYERS,
        "num_key_value_heads": nkv,
        "pretraining_tp": 1,
        "rms_norm_eps": 1e-05,
        "rope_scaling": None,
        "rope_theta": 10000.0,
        "tie_word_embeddings": False,
        "torch_dtype": "float32",
        "use_cache": True,
        "vocab_size": VOCAB,
    }
    if variant == "llama3":
        # Llama-3.2 style: explicit head_dim, tied embeddings, llama3 rope scaling.  original_max_position_embeddings
        # is tiny (64) so that with head_dim 16 / theta 10000 all three llama3 regimes (kept, smoothed, divided by
        # factor) occur: wavelengths 6.3 | 19.9, 62.8 | 199, 628, ...
        cfg.update({
            "head_dim": hd,
            "max_position_embeddings": 512,
            "rope_scaling": {"factor": 8.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                             "original_max_position_embeddings": 64, "rope_type": "llama3"},
            "tie_word_embeddings": True,
        })
    t = {"model.embed_tokens.weight": I.emb(VOCAB, d)}
    for l in range(N_LAYERS):
        p = f"model.layers.{l}"
        t[p + ".input_layernorm.weight"] = I.norm(d)
        t[p + ".self_attn.q_proj.weight"] = I.w(nh * hd, d)
        t[p + ".self_attn.k_proj.weight"] = I.w(nkv * hd, d)
        t[p + ".self_attn.v_proj.weight"] = I.w(nkv * hd, d)
        t[p + ".self_attn.o_proj.weight"] = I.w(d, nh * hd)
        t[p + ".post_attention_layernorm.weight"] = I.norm(d)
        t[p + ".mlp.gate_proj.weight"] = I.w(ff, d)
        t[p + ".mlp.up_proj.weight"] = I.w(ff, d)
        t[p + ".mlp.down_proj.weight"] = I.w(d, ff)
    t["model.norm.weight"] = I.norm(d)
    if not cfg["tie_word_embeddings"]:
        t["lm_head.weight"] = I.w(VOCAB, d)
    return cfg, t


def build_mistral(seed, variant=None):
    I = Init(seed)
    d, nh, nkv, hd, ff = 48, 4, 2, 12, 128
    cfg = {
        "architectures": ["MistralForCausalLM"],
        "attention_dropout": 0.0,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "head_dim": hd,
        "hidden_act": "silu",
        "hidden_size": d,
        "initializer_range": 0.02,
        "intermediate_size": ff,
        "max_position_embeddings": 128,
        "model_type": "mistral",
        "num_attention_heads": nh,
        "num_hidden_layers": N_LAYERS,
        "num_key_value_heads": nkv,
        "rms_norm_eps": 1e-05,
        "rope_theta": 1000000.0,
        "sliding_window": 4,  # smaller than the 9- and 12-token prompts: the window is exercised
        "tie_word_embeddings": False,
        "torch_dtype": "float32",
        "use_cache": True,
        "vocab_size": VOCAB,
    }
    t = {"model.embed_tokens.weight": I.emb(VOCAB, d)}
    for l in range(N_LAYERS):
        p = f"model.layers.{l}"
        t[p + ".input_layernorm.weight"] = I.norm(d)
        t[p + ".self_attn.q_proj.weight"] = I.w(nh * hd, d)
        t[p + ".self_attn.k_proj.weight"] = I.w(nkv * hd, d)
        t[p + ".self_attn.v_proj.weight"] = I.w(nkv * hd, d)
        t[p + ".self_attn.o_proj.weight"] = I.w(d, nh * hd)
        t[p + ".post_attention_layernorm.weight"] = I.norm(d)
        t[p + ".mlp.gate_proj.weight"] = I.w(ff, d)
        t[p + ".mlp.up_proj.weight"] = I.w(ff, d)
        t[p + ".mlp.down_proj.weight"] = I.w(d, ff)
    t["model.norm.weight"] = I.norm(d)
    t["lm_head.weight"] = I.w(VOCAB, d)
    return cfg, t


def build_qwen2(seed, variant=None):
    I = Init(seed)
    d, nh, nkv, ff = 64, 4, 2, 128
    hd = d // nh
    cfg = {
        "architectures": ["Qwen2ForCausalLM"],
        "attention_dropout": 0.0,
        "bos_token_id": 94,
        "eos_token_id": 95,
        "hidden_act": "silu",
        "hidden_size": d,
        "initializer_range": 0.02,
        "intermediate_size": ff,
        "max_position_embeddings": 128,
        "max_window_layers": 1,
        "model_type": "qwen2",
        "num_attention_heads": nh,
        "num_hidden_layers": N_LAYERS,
        "num_key_value_heads": nkv,
        "rms_norm_eps": 1e-06,
        "rope_theta": 1000000.0,
        # Real Qwen2.5 configs carry a sliding_window with use_sliding_window false: the window must be IGNORED.
        # It is set to 4 (< prompt length) so that an engine wrongly applying it fails the golden.
        "sliding_window": 4,
        "tie_word_embeddings": True,
        "torch_dtype": "bfloat16",
        "use_cache": True,
        "use_sliding_window": False,
        "vocab_size": VOCAB,
    }
    t = {"model.embed_tokens.weight": I.emb(VOCAB, d)}
    for l in range(N_LAYERS):
        p = f"model.layers.{l}"
        t[p + ".input_layernorm.weight"] = I.norm(d)
        t[p + ".self_attn.q_proj.weight"] = I.w(nh * hd, d)
        t[p + ".self_attn.q_proj.bias"] = I.bias(nh * hd)
        t[p + ".self_attn.k_proj.weight"] = I.w(nkv * hd, d)
        t[p + ".self_attn.k_proj.bias"] = I.bias(nkv * hd)
        t[p + ".self_attn.v_proj.weight"] = I.w(nkv * hd, d)
        t[p + ".self_attn.v_proj.bias"] = I.bias(nkv * hd)
        t[p + ".self_attn.o_proj.weight"] = I.w(d, nh * hd)
        t[p + ".post_attention_layernorm.weight"] = I.norm(d)
        t[p + ".mlp.gate_proj.weight"] = I.w(ff, d)
        t[p + ".mlp.up_proj.weight"] = I.w(ff, d)
        t[p + ".mlp.down_proj.weight"] = I.w(d, ff)
    t["model.norm.weight"] = I.norm(d)
    return cfg, t


def build_gemma(seed, variant=None):
    I = Init(seed)
    d, nh, nkv, hd, ff = 48, 4, 2, 24, 128  # head_dim 24 != hidden/heads (12): decoupled like real Gemma
    cfg = {
        "architectures": ["GemmaForCausalLM"],
        "attention_bias": False,
        "attention_dropout": 0.0,
        "bos_token_id": 2,
        "eos_token_id": 1,
        "head_dim": hd,
        # Both fields set (as in real codegemma-7b-it): transformers 4.38.2-4.4x read hidden_activation, v5 reads
        # hidden_act; with both = gelu_pytorch_tanh every version agrees.
        "hidden_act": "gelu_pytorch_tanh",
        "hidden_activation": "gelu_pytorch_tanh",
        "hidden_size": d,
        "initializer_range": 0.02,
        "intermediate_size": ff,
        "max_position_embeddings": 128,
        "model_type": "gemma",
        "num_attention_heads": nh,
        "num_hidden_layers": N_LAYERS,
        "num_key_value_heads": nkv,
        "pad_token_id": 0,
        "rms_norm_eps": 1e-06,
        "rope_scaling": None,
        "rope_theta": 10000.0,
        # no tie_word_embeddings key, exactly like google/gemma-2b-it: GemmaConfig default is True
        "torch_dtype": "float16",
        "use_cache": True,
        "vocab_size": VOCAB,
    }
    t = {"model.embed_tokens.weight": I.emb(VOCAB, d)}
    for l in range(N_LAYERS):
        p = f"model.layers.{l}"
        t[p + ".input_layernorm.weight"] = I.norm(d, gemma=True)
        t[p + ".self_attn.q_proj.weight"] = I.w(nh * hd, d)
        t[p + ".self_attn.k_proj.weight"] = I.w(nkv * hd, d)
        t[p + ".self_attn.v_proj.weight"] = I.w(nkv * hd, d)
        t[p + ".self_attn.o_proj.weight"] = I.w(d, nh * hd)
        t[p + ".post_attention_layernorm.weight"] = I.norm(d, gemma=True)
        t[p + ".mlp.gate_proj.weight"] = I.w(ff, d)
        t[p + ".mlp.up_proj.weight"] = I.w(ff, d)
        t[p + ".mlp.down_proj.weight"] = I.w(d, ff)
    t["model.norm.weight"] = I.norm(d, gemma=True)
    return cfg, t


def build_phi3(seed, variant=None):
    I = Init(seed)
    if variant == "realcfg":
        # Key set and order of microsoft/Phi-3-mini-4k-instruct's config.json (rope_scaling null, MHA,
        # sliding_window 2047, auto_map), tiny dims.
        d, nh, nkv, ff = 64, 4, 4, 128
        cfg = {
            "_name_or_path": "Phi-3-mini-4k-instruct",
            "architectures": ["Phi3ForCausalLM"],
            "attention_dropout": 0.0,
            "auto_map": {"AutoConfig": "configuration_phi3.Phi3Config",
                         "AutoModelForCausalLM": "modeling_phi3.Phi3ForCausalLM"},
            "bos_token_id": 1,
            "embd_pdrop": 0.0,
            "eos_token_id": 94,
            "hidden_act": "silu",
            "hidden_size": d,
            "initializer_range": 0.02,
            "intermediate_size": ff,
            "max_position_embeddings": 4096,
            "model_type": "phi3",
            "num_attention_heads": nh,
            "num_hidden_layers": N_LAYERS,
            "num_key_value_heads": nkv,
            "original_max_position_embeddings": 4096,
            "pad_token_id": 94,
            "resid_pdrop": 0.0,
            "rms_norm_eps": 1e-05,
            "rope_scaling": None,
            "rope_theta": 10000.0,
            "sliding_window": 2047,
            "tie_word_embeddings": False,
            "torch_dtype": "float32",
            "use_cache": True,
            "attention_bias": False,
            "vocab_size": VOCAB,
        }
    else:
        d, nh, nkv, ff = (48, 4, 2, 128) if variant is None else (64, 4, 2, 128)
        cfg = {
            "architectures": ["Phi3ForCausalLM"],
            "attention_bias": False,
            "attention_dropout": 0.0,
            "bos_token_id": 1,
            "embd_pdrop": 0.0,
            "eos_token_id": 2,
            "hidden_act": "silu",
            "hidden_size": d,
            "initializer_range": 0.02,
            "intermediate_size": ff,
            "max_position_embeddings": 128,
            "model_type": "phi3",
            "num_attention_heads": nh,
            "num_hidden_layers": N_LAYERS,
            "num_key_value_heads": nkv,
            "original_max_position_embeddings": 128,
            "pad_token_id": 0,
            "resid_pdrop": 0.0,
            "rms_norm_eps": 1e-05,
            "rope_scaling": None,
            "rope_theta": 10000.0,
            "sliding_window": None,
            "tie_word_embeddings": False,
            "torch_dtype": "float32",
            "use_cache": True,
            "vocab_size": VOCAB,
        }
        if variant == "partial":
            # Phi-4-mini style: partial_rotary_factor 0.75 (rotary on the first 12 of 16 head dims), tied embeddings
            cfg["partial_rotary_factor"] = 0.75
            cfg["tie_word_embeddings"] = True
    hd = d // nh
    t = {"model.embed_tokens.weight": I.emb(VOCAB, d)}
    for l in range(N_LAYERS):
        p = f"model.layers.{l}"
        t[p + ".input_layernorm.weight"] = I.norm(d)
        t[p + ".self_attn.qkv_proj.weight"] = I.w(nh * hd + 2 * nkv * hd, d)  # rows [q | k | v]
        t[p + ".self_attn.o_proj.weight"] = I.w(d, nh * hd)
        t[p + ".post_attention_layernorm.weight"] = I.norm(d)
        t[p + ".mlp.gate_up_proj.weight"] = I.w(2 * ff, d)  # rows [gate | up]
        t[p + ".mlp.down_proj.weight"] = I.w(d, ff)
    t["model.norm.weight"] = I.norm(d)
    if not cfg["tie_word_embeddings"]:
        t["lm_head.weight"] = I.w(VOCAB, d)
    return cfg, t


def build_starcoder2(seed, variant=None):
    I = Init(seed)
    d, nh, nkv, ff = 48, 4, 2, 192
    hd = d // nh
    # Key set of bigcode/starcoder2-3b's config.json (no tie_word_embeddings key -> Starcoder2Config default True)
    cfg = {
        "architectures": ["Starcoder2ForCausalLM"],
        "attention_dropout": 0.1,
        "bos_token_id": 0,
        "embedding_dropout": 0.1,
        "eos_token_id": 0,
        "hidden_act": "gelu_pytorch_tanh",
        "hidden_size": d,
        "initializer_range": 0.018042,
        "intermediate_size": ff,
        "max_position_embeddings": 128,
        "mlp_type": "default",
        "model_type": "starcoder2",
        "norm_epsilon": 1e-05,
        "norm_type": "layer_norm",
        "num_attention_heads": nh,
        "num_hidden_layers": N_LAYERS,
        "num_key_value_heads": nkv,
        "residual_dropout": 0.1,
        "rope_theta": 100000.0,
        "sliding_window": 5,  # smaller than the 9- and 12-token prompts
        "torch_dtype": "float32",
        "use_bias": True,
        "use_cache": True,
        "vocab_size": VOCAB,
    }
    t = {"model.embed_tokens.weight": I.emb(VOCAB, d)}
    for l in range(N_LAYERS):
        p = f"model.layers.{l}"
        t[p + ".input_layernorm.weight"] = I.norm(d)
        t[p + ".input_layernorm.bias"] = I.bias(d)
        for name, rows in (("q_proj", nh * hd), ("k_proj", nkv * hd), ("v_proj", nkv * hd)):
            t[p + f".self_attn.{name}.weight"] = I.w(rows, d)
            t[p + f".self_attn.{name}.bias"] = I.bias(rows)
        t[p + ".self_attn.o_proj.weight"] = I.w(d, nh * hd)
        t[p + ".self_attn.o_proj.bias"] = I.bias(d)
        t[p + ".post_attention_layernorm.weight"] = I.norm(d)
        t[p + ".post_attention_layernorm.bias"] = I.bias(d)
        t[p + ".mlp.c_fc.weight"] = I.w(ff, d)
        t[p + ".mlp.c_fc.bias"] = I.bias(ff)
        t[p + ".mlp.c_proj.weight"] = I.w(d, ff)
        t[p + ".mlp.c_proj.bias"] = I.bias(d)
    t["model.norm.weight"] = I.norm(d)
    t["model.norm.bias"] = I.bias(d)
    return cfg, t


def build_gpt2(seed, variant=None):
    I = Init(seed)
    d, nh, npos = 48, 4, 64
    inner = 4 * d  # n_inner null -> 4 * n_embd
    # Key set of openai-community/gpt2's config.json (no tie_word_embeddings key -> default True)
    cfg = {
        "activation_function": "gelu_new",
        "architectures": ["GPT2LMHeadModel"],
        "attn_pdrop": 0.1,
        "bos_token_id": 95,
        "embd_pdrop": 0.1,
        "eos_token_id": 95,
        "initializer_range": 0.02,
        "layer_norm_epsilon": 1e-05,
        "model_type": "gpt2",
        "n_ctx": npos,
        "n_embd": d,
        "n_head": nh,
        "n_inner": None,
        "n_layer": N_LAYERS,
        "n_positions": npos,
        "resid_pdrop": 0.1,
        "scale_attn_weights": True,
        "summary_activation": None,
        "summary_first_dropout": 0.1,
        "summary_proj_to_labels": True,
        "summary_type": "cls_index",
        "summary_use_proj": True,
        "torch_dtype": "float32",
        "vocab_size": VOCAB,
    }
    t = {"transformer.wte.weight": I.emb(VOCAB, d), "transformer.wpe.weight": I.emb(npos, d)}
    for l in range(N_LAYERS):
        p = f"transformer.h.{l}"
        t[p + ".ln_1.weight"] = I.norm(d)
        t[p + ".ln_1.bias"] = I.bias(d)
        t[p + ".attn.c_attn.weight"] = I.w(d, 3 * d)  # Conv1D: [in, out], out = [q | k | v]
        t[p + ".attn.c_attn.bias"] = I.bias(3 * d)
        t[p + ".attn.c_proj.weight"] = I.w(d, d)
        t[p + ".attn.c_proj.bias"] = I.bias(d)
        t[p + ".ln_2.weight"] = I.norm(d)
        t[p + ".ln_2.bias"] = I.bias(d)
        t[p + ".mlp.c_fc.weight"] = I.w(d, inner)
        t[p + ".mlp.c_fc.bias"] = I.bias(inner)
        t[p + ".mlp.c_proj.weight"] = I.w(inner, d)
        t[p + ".mlp.c_proj.bias"] = I.bias(d)
    t["transformer.ln_f.weight"] = I.norm(d)
    t["transformer.ln_f.bias"] = I.bias(d)
    return cfg, t


def build_gpt_neox(seed, variant=None):
    I = Init(seed)
    if variant == "sequential":
        # RedPajama-INCITE style: use_parallel_residual false; rotary_pct 0.5 (6 of 12 head dims)
        d, nh, ff, pct, par = 48, 4, 192, 0.5, False
    else:
        # Pythia style: use_parallel_residual true; rotary_pct 0.25 (4 of 16 head dims)
        d, nh, ff, pct, par = 64, 4, 192, 0.25, True
    cfg = {
        "architectures": ["GPTNeoXForCausalLM"],
        "attention_bias": True,
        "attention_dropout": 0.0,
        "bos_token_id": 0,
        "classifier_dropout": 0.1,
        "eos_token_id": 0,
        "hidden_act": "gelu",
        "hidden_dropout": 0.0,
        "hidden_size": d,
        "initializer_range": 0.02,
        "intermediate_size": ff,
        "layer_norm_eps": 1e-05,
        "max_position_embeddings": 128,
        "model_type": "gpt_neox",
        "num_attention_heads": nh,
        "num_hidden_layers": N_LAYERS,
        "rope_scaling": None,
        "rotary_emb_base": 10000,
        "rotary_pct": pct,
        "tie_word_embeddings": False,
        "torch_dtype": "float32",
        "use_cache": True,
        "use_parallel_residual": par,
        "vocab_size": VOCAB,
    }
    t = {"gpt_neox.embed_in.weight": I.emb(VOCAB, d)}
    for l in range(N_LAYERS):
        p = f"gpt_neox.layers.{l}"
        t[p + ".input_layernorm.weight"] = I.norm(d)
        t[p + ".input_layernorm.bias"] = I.bias(d)
        t[p + ".post_attention_layernorm.weight"] = I.norm(d)
        t[p + ".post_attention_layernorm.bias"] = I.bias(d)
        t[p + ".attention.query_key_value.weight"] = I.w(3 * d, d)  # rows per head: (heads, 3, head_dim)
        t[p + ".attention.query_key_value.bias"] = I.bias(3 * d)
        t[p + ".attention.dense.weight"] = I.w(d, d)
        t[p + ".attention.dense.bias"] = I.bias(d)
        t[p + ".mlp.dense_h_to_4h.weight"] = I.w(ff, d)
        t[p + ".mlp.dense_h_to_4h.bias"] = I.bias(ff)
        t[p + ".mlp.dense_4h_to_h.weight"] = I.w(d, ff)
        t[p + ".mlp.dense_4h_to_h.bias"] = I.bias(d)
    t["gpt_neox.final_layer_norm.weight"] = I.norm(d)
    t["gpt_neox.final_layer_norm.bias"] = I.bias(d)
    t["embed_out.weight"] = I.w(VOCAB, d)
    return cfg, t


STORAGE = {"float32": "F32", "bfloat16": "BF16", "float16": "F16"}

# (directory name, builder, variant, seed, description)
TINY = [
    ("llama", build_llama, None, 101, "Llama: RMSNorm, SwiGLU, rotate-half RoPE theta 1e4, GQA 4/2, untied"),
    ("mistral", build_mistral, None, 102, "Mistral: sliding_window 4 (< prompt length), theta 1e6, explicit head_dim, GQA 4/2"),
    ("qwen2", build_qwen2, None, 103, "Qwen2: q/k/v bias (no o bias), tied, BF16 storage, sliding_window present but use_sliding_window false"),
    ("gemma", build_gemma, None, 104, "Gemma: (1+w) RMSNorm, embed * sqrt(d), GeGLU tanh, head_dim 24 != 48/4, GQA 4/2, tied (default), F16 storage"),
    ("phi3", build_phi3, None, 105, "Phi-3: fused qkv_proj [q|k|v] and gate_up_proj [gate|up], GQA 4/2, untied"),
    ("starcoder2", build_starcoder2, None, 106, "StarCoder2: LayerNorm with bias, biases everywhere, c_fc/c_proj gelu tanh, sliding_window 5, tied (default)"),
    ("gpt2", build_gpt2, None, 107, "GPT-2: learned positions, Conv1D [in,out] c_attn [q|k|v], gelu_new, tied"),
    ("gpt_neox", build_gpt_neox, None, 108, "GPT-NeoX: fused qkv per head (heads,3,hd), rotary_pct 0.25, parallel residual, gelu, untied embed_out"),
    ("phi3_realcfg", build_phi3, "realcfg", 109, "Phi-3 with the real Phi-3-mini-4k-instruct config key set (rope_scaling null, MHA, sliding_window 2047)"),
    ("phi3_partial", build_phi3, "partial", 110, "Phi-3 (Phi-4-mini style) partial_rotary_factor 0.75, tied"),
    ("llama_rope_llama3", build_llama, "llama3", 111, "Llama with rope_scaling llama3 (all three frequency regimes used), explicit head_dim, tied"),
    ("gpt_neox_sequential", build_gpt_neox, "sequential", 112, "GPT-NeoX with use_parallel_residual false, rotary_pct 0.5"),
]


def make_prompts():
    rng = np.random.default_rng(2024)
    return [rng.integers(0, VOCAB, size=n).tolist() for n in (5, 9, 12)]


# ------------------------------------------------------------------------------------------------ checks


def check_patterns(name, out, windows, interventions=None):
    """Rows sum to 1 over visible keys, masked (causal / window) entries exactly 0."""
    for layer, pat in enumerate(out["patterns"]):
        h, s, _ = pat.shape
        vis = R.visible_mask(s, windows[layer])
        assert torch.all(pat.masked_select(~vis.expand(h, s, s)) == 0), f"{name} L{layer}: masked entry not 0"
        if interventions is None:
            sums = pat.sum(-1)
            assert torch.allclose(sums, torch.ones_like(sums), atol=1e-5), f"{name} L{layer}: rows do not sum to 1"
            assert torch.all(pat.masked_select(vis.expand(h, s, s)) > 0), f"{name} L{layer}: visible weight is 0"


def max_diff(a, b):
    m = (a["logits"] - b["logits"]).abs().max().item()
    for x, y in zip(a["resid_post"], b["resid_post"]):
        m = max(m, (x - y).abs().max().item())
    return m


def windows_of(cfg):
    fam = cfg["model_type"]
    if fam in R.LLAMA_LIKE:
        return R.resolve_llama_family(cfg)["sliding_window"]
    return [None] * (cfg.get("num_hidden_layers") or cfg.get("n_layer"))


def discrimination_checks(name, cfg, weights, prompt, base):
    """The fixture must catch the classic mistakes: for each, the wrong semantics must move the outputs by
    clearly more than the 1e-4 tolerance."""
    muts = []
    fam = cfg["model_type"]
    if cfg.get("sliding_window") is not None and fam in ("mistral", "starcoder2"):
        muts.append(("ignore sliding_window", {"sliding_window": None}))
    if fam == "qwen2":
        muts.append(("apply sliding_window although use_sliding_window=false",
                     {"use_sliding_window": True, "max_window_layers": 0}))
    if fam == "gemma":
        muts.append(("exact gelu instead of gelu_pytorch_tanh", {"hidden_activation": "gelu"}))
    if fam == "gpt_neox":
        muts.append(("full rotary instead of rotary_pct", {"rotary_pct": 1.0}))
        muts.append(("wrong residual form", {"use_parallel_residual": not cfg["use_parallel_residual"]}))
    if fam == "phi3" and cfg.get("partial_rotary_factor"):
        muts.append(("ignore partial_rotary_factor", {"partial_rotary_factor": 1.0}))
    if cfg.get("rope_scaling"):
        muts.append(("ignore rope_scaling", {"rope_scaling": None}))
    if fam in R.LLAMA_LIKE and fam != "gemma":
        muts.append(("rope_theta 10000 hard-coded" if cfg.get("rope_theta") != 10000.0 else "rope_theta 1e6",
                     {"rope_theta": 10000.0 if cfg.get("rope_theta") != 10000.0 else 1e6}))
    if fam == "gpt2":
        muts.append(("gelu (erf) instead of gelu_new", {"activation_function": "gelu"}))
    results = []
    for label, upd in muts:
        c2 = copy.deepcopy(cfg)
        c2.update(upd)
        try:
            out = R.forward_hf(c2, weights, prompt)
        except Exception as e:  # noqa: BLE001
            results.append((label, f"error: {e}"))
            continue
        dm = max_diff(base, out)
        assert dm > 1e-3, f"{name}: mistake '{label}' only moves outputs by {dm:.2e}; fixture would not catch it"
        results.append((label, f"max |diff| = {dm:.3g}"))
    return results


# ------------------------------------------------------------------------------------------------ writers


def write_tiny(root, prompts, log):
    index = []
    for name, builder, variant, seed, desc in TINY:
        cfg, tensors = builder(seed, variant)
        storage = STORAGE[cfg["torch_dtype"]]
        d = os.path.join(root, "tiny", name)
        os.makedirs(d, exist_ok=True)
        dump_json(os.path.join(d, "config.json"), cfg, compact=False)
        R.write_safetensors(os.path.join(d, "model.safetensors"), {k: (v, storage) for k, v in tensors.items()},
                            metadata={"format": "pt"})
        # ---- read back exactly like a consumer would
        cfg2, weights, dtypes = R.load_hf_dir(d)
        assert cfg2 == cfg
        assert set(dtypes.values()) == {storage}, f"{name}: dtypes {set(dtypes.values())}"
        fam = cfg["model_type"]
        # ---- BF16 / F16: the stored values are the ROUNDED ones and differ from the float32 source
        if storage != "F32":
            changed = 0
            for k, src in tensors.items():
                got = weights[k].numpy()
                if storage == "BF16":
                    assert np.all((got.view(np.uint32) & 0xFFFF) == 0), f"{name}.{k} not bf16-representable"
                    ref = torch.from_numpy(src).to(torch.bfloat16).to(torch.float32).numpy()
                else:
                    assert np.array_equal(got.astype(np.float16).astype(np.float32), got), f"{name}.{k} not f16"
                    ref = src.astype(np.float16).astype(np.float32)
                assert np.array_equal(got, ref), f"{name}.{k}: stored value != round-to-nearest-even of source"
                changed += int(np.sum(got != src))
            assert changed > 0.9 * sum(v.size for v in tensors.values()), f"{name}: rounding did not happen"
        # ---- tied embeddings: no lm_head / embed_out tensor in the file
        tied_key = {"gpt2": "lm_head.weight", "gpt_neox": "embed_out.weight"}.get(fam, "lm_head.weight")
        tied = (R.resolve_llama_family(cfg)["tied"] if fam in R.LLAMA_LIKE else
                cfg.get("tie_word_embeddings", fam == "gpt2"))
        assert (tied_key in weights) == (not tied), f"{name}: tie_word_embeddings inconsistent with tensors"
        windows = windows_of(cfg)
        outputs = []
        for pi, prompt in enumerate(prompts):
            out = R.forward_hf(cfg, weights, prompt, torch.float32)
            out64 = R.forward_hf(cfg, weights, prompt, torch.float64)
            check_patterns(name, out, windows)
            # float64 cross-check: the float32 golden is well inside the 1e-4 tolerance
            d64 = max(max_diff(out, out64),
                      max((a - b).abs().max().item() for a, b in zip(out["patterns"], out64["patterns"])))
            assert d64 < 2e-5, f"{name} prompt {pi}: float32 vs float64 differ by {d64:.2e}"
            # tied: logits really are final_hidden @ embedding^T
            if tied:
                emb = weights["transformer.wte.weight" if fam == "gpt2" else
                              "gpt_neox.embed_in.weight" if fam == "gpt_neox" else "model.embed_tokens.weight"]
                assert torch.equal(out["logits"], out["final_hidden"] @ emb.t())
            # sliding window really cuts keys that causal attention would see
            if any(w is not None and w < len(prompt) for w in windows):
                w0 = next(w for w in windows if w is not None)
                assert torch.all(out["patterns"][0][:, len(prompt) - 1, : len(prompt) - w0] == 0)
            outputs.append({
                "logits": r7(out["logits"]),
                "resid_post": [r7(x) for x in out["resid_post"]],
                "patterns": [r7(p) for p in out["patterns"]],
            })
            if pi == len(prompts) - 1:
                disc = discrimination_checks(name, cfg, weights, prompt, out)
                log.append((name, f"float32 vs float64 max |diff| = {d64:.3g}", disc))
        dump_json(os.path.join(d, "golden.json"), {
            "family": fam,
            "variant": name,
            "description": desc,
            "storage_dtype": storage,
            "compute_dtype": "float32",
            "digits": 7,
            "prompts": prompts,
            "outputs": outputs,
        })
        index.append({"dir": name, "family": fam, "storage_dtype": storage, "description": desc})
    dump_json(os.path.join(root, "tiny", "index.json"), {"generator": "scripts/reference/make_fixtures.py",
                                                         "models": index}, compact=False)


INTERVENTION_SEMANTICS = {
    "knockout": "The pre-softmax score of every listed (head, query, key) edge is set to -inf before the softmax "
                "(on top of the causal mask).",
    "scale": "After the softmax, the weight of every listed edge is multiplied by `factor`; then each affected "
             "(head, query) row is renormalised to sum to 1 over its causally visible keys.",
    "full_row_knockout": "If a knockout removes EVERY visible key of a (head, query) row, the row is defined as all "
                         "zeros (it does not sum to 1), so that head contributes z = 0 at that query.",
    "set": "Steering: after the softmax, the listed visible keys of each (head, query) row get total weight `level` "
           "(in proportion to their weights, equally if those are 0); the other visible keys share 1 - level in "
           "proportion to their weights (if they carry nothing they stay 0 and the row sums to `level`).",
    "amplify": "basis logit: + ln(factor) on the listed pre-softmax scores (each unnormalised weight x factor); basis "
               "mass: the listed eligible keys' post-softmax mass m becomes min(factor m, 1), the other eligible keys "
               "share the rest in proportion (all 0 at the cap).",
    "set_hold": "set with `hold`: held keys keep their weights, the listed keys get `level`, the other eligible keys share "
                "1 - level - held mass. A knocked-out listed key stays 0 (the level goes to the remaining listed keys).",
    "set_control": "set-control: delta = level - mass(match) goes to the listed keys (in proportion), the match keys keep "
                   "their weights, the other eligible keys are scaled by (m_O - delta) / m_O.",
    "eligible": "Eligible keys = visible to the causal / window mask and not knocked out; only they receive mass.",
    "order": "Within a layer, knockouts and logit amplifications apply before the softmax, scalings, sets, controls and "
             "mass amplifications after it (in spec order). Layers other than the edited ones are computed normally "
             "(their inputs may of course change).",
    "indices": "heads are query-head indices (GQA: before the KV grouping); queries / keys are 0-based token "
               "positions in the prompt.",
}


def write_interventions(root, prompts, log):
    prompt = prompts[1]
    last = len(prompt) - 1
    cases = [
        ("knockout_layer1_allheads_lastquery_keys_1_2",
         [{"kind": "knockout", "layer": 1, "heads": [0, 1, 2, 3], "queries": [last], "keys": [1, 2]}]),
        ("scale_0.5_layer0_head1_queries_3_to_last_key0",
         [{"kind": "scale", "layer": 0, "heads": [1], "queries": list(range(3, last + 1)), "keys": [0],
           "factor": 0.5}]),
        ("full_row_knockout_layer0_head0_query4",
         [{"kind": "knockout", "layer": 0, "heads": [0], "queries": [4], "keys": [0, 1, 2, 3, 4]}]),
    ]
    set_case = ("set_0.6_layer1_heads_0_2_queries_4_to_last_keys_1_3",
                [{"kind": "set", "layer": 1, "heads": [0, 2], "queries": list(range(4, last + 1)), "keys": [1, 3],
                  "level": 0.6}])
    cases.append(("combined_all_three", [iv for _, spec in cases for iv in spec]))
    cases.append(set_case)
    cases += [
        ("amplify_logit_2_layer1_heads_0_1_queries_3_to_last_keys_1_2",
         [{"kind": "amplify", "basis": "logit", "factor": 2.0, "layer": 1, "heads": [0, 1],
           "queries": list(range(3, last + 1)), "keys": [1, 2]}]),
        ("amplify_mass_2_layer0_heads_1_2_queries_4_to_last_key_2",
         [{"kind": "amplify", "basis": "mass", "factor": 2.0, "layer": 0, "heads": [1, 2],
           "queries": list(range(4, last + 1)), "keys": [2]}]),
        ("set_hold_0.3_layer1_allheads_last_keys_2_hold_1_3",
         [{"kind": "set", "layer": 1, "heads": [0, 1, 2, 3], "queries": [last], "keys": [2], "hold": [1, 3],
           "level": 0.3}]),
        ("set_control_0.3_layer1_allheads_last_keys_3_4_match_1_2",
         [{"kind": "set-control", "layer": 1, "heads": [0, 1, 2, 3], "queries": [last], "keys": [3, 4],
           "match": [1, 2], "level": 0.3}]),
        ("knockout_then_set_0.6_layer0_head0_query4_keys_1_3",
         [{"kind": "knockout", "layer": 0, "heads": [0], "queries": [4], "keys": [1]},
          {"kind": "set", "layer": 0, "heads": [0], "queries": [4], "keys": [1, 3], "level": 0.6}]),
    ]
    for fam in ("llama", "gpt2"):
        d = os.path.join(root, "tiny", fam)
        cfg, weights, _ = R.load_hf_dir(d)
        base = R.forward_hf(cfg, weights, prompt)
        out_cases = []
        for cname, spec in cases:
            out = R.forward_hf(cfg, weights, prompt, torch.float32, spec)
            layers = sorted({iv["layer"] for iv in spec})
            check_patterns(f"{fam}/{cname}", out, [None] * len(out["patterns"]), interventions=spec)
            first_layer = min(layers)
            first_q = min(q for iv in spec for q in iv["queries"])
            # layers before the first edited one and positions before the first edited query are untouched
            for l in range(first_layer):
                assert torch.equal(out["resid_post"][l], base["resid_post"][l])
            assert torch.equal(out["logits"][:first_q], base["logits"][:first_q])
            assert (out["logits"] - base["logits"]).abs().max().item() > 1e-3, f"{fam}/{cname}: no effect"
            for iv in spec:
                pat = out["patterns"][iv["layer"]]
                for h in iv["heads"]:
                    for q in iv["queries"]:
                        row = pat[h, q]
                        visible = list(range(q + 1))
                        if iv["kind"] == "knockout":
                            assert torch.all(row[iv["keys"]] == 0)
                            if set(visible) <= set(iv["keys"]):
                                assert torch.all(row == 0), "full-row knockout must give an all-zero row"
                            else:
                                assert abs(row.sum().item() - 1) < 1e-5
                        elif iv["kind"] == "set":
                            # the listed keys carry exactly `level`, the row sums to 1
                            assert abs(row[iv["keys"]].sum().item() - iv["level"]) < 1e-5
                            assert abs(row.sum().item() - 1) < 1e-5
                        elif iv["kind"] in ("amplify", "set-control"):
                            assert abs(row.sum().item() - 1) < 1e-5
                        elif iv["layer"] == 0 and not any(o["kind"] == "knockout" and o["layer"] == 0 and h in o["heads"]
                                                          and q in o["queries"] for o in spec):
                            # layer-0 inputs are unchanged, so the baseline row is the pre-edit row
                            b = base["patterns"][0][h, q]
                            k0 = iv["keys"][0]
                            other = [k for k in visible if k not in iv["keys"]]
                            ratio = (row[k0] / row[other[0]]) / (b[k0] / b[other[0]])
                            assert abs(ratio.item() - iv["factor"]) < 1e-5
                            assert abs(row.sum().item() - 1) < 1e-5
            out_cases.append({
                "name": cname,
                "spec": spec,
                "outputs": {
                    "logits": r7(out["logits"]),
                    "resid_post": [r7(x) for x in out["resid_post"]],
                    "patterns": {str(l): r7(out["patterns"][l]) for l in layers},
                },
            })
            log.append((f"interventions/{fam}/{cname}",
                        f"max |logit change| vs baseline = {(out['logits'] - base['logits']).abs().max().item():.3g}", []))
        dump_json(os.path.join(root, "interventions", f"knockout_{fam}.json"), {
            "family": fam,
            "model_dir": f"fixtures/tiny/{fam}",
            "prompt": prompt,
            "semantics": INTERVENTION_SEMANTICS,
            "baseline": {
                "logits": r7(base["logits"]),
                "resid_post": [r7(x) for x in base["resid_post"]],
                "patterns": [r7(p) for p in base["patterns"]],
            },
            "cases": out_cases,
        })


STORIES_GOLDEN = ("Zoo was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, "
                  "red ball. She wanted to play with it, but she didn't want to play with")
STORIES_SHA = {"stories260K.bin": "b0a507e7ad0f626624f17112325e66691f9076d622e1d3274d103d00299f2696",
               "tok512.bin": "037cb335abb25d1fa9e8ecae30ed2a3a8ace9302862ebcdc05d51a6bbb10c312"}


def write_llama2c(root, log):
    mdir = os.path.join(SHARED, "models", "stories260K")
    ckpt, tokp = os.path.join(mdir, "stories260K.bin"), os.path.join(mdir, "tok512.bin")
    assert sha256(ckpt) == STORIES_SHA["stories260K.bin"] and sha256(tokp) == STORIES_SHA["tok512.bin"]
    cfg, w = R.load_llama2c(ckpt)
    tok = R.Llama2cTokenizer(tokp, cfg["vocab_size"])
    steps = 60
    gen = R.llama2c_generate(cfg, w, tok, "Zoo", steps)
    matches = gen["text"] == STORIES_GOLDEN
    print(f"stories260K greedy text matches the published golden exactly: {matches}")
    print(f"  got: {gen['text']!r}")
    assert matches, "stories260K greedy continuation does not reproduce the published llama2.c golden"
    prompt_ids = gen["prompt_ids"]
    fed = gen["ids"][:steps]  # the tokens actually fed at positions 0..steps-1
    full = R.forward_llama2c(cfg, w, fed)
    full64 = R.forward_llama2c(cfg, w, fed, torch.float64)
    d64 = (full["logits"] - full64["logits"].float()).abs().max().item()
    assert d64 < 1e-4, d64
    # greedy consistency: argmax of the full-sequence logits at each generation position = next fed token
    for pos in range(len(prompt_ids) - 1, steps - 1):
        assert int(torch.argmax(full["logits"][pos])) == gen["ids"][pos + 1]
    # the HF-layout conversion (permuted wq/wk, rotate_half rotary) gives the same logits
    hcfg, hw = R.llama2c_to_hf_llama(cfg, w)
    dhf = (R.forward_llama_family(hcfg, hw, fed)["logits"] - full["logits"]).abs().max().item()
    assert dhf < 1e-4, dhf
    pr = R.forward_llama2c(cfg, w, prompt_ids)
    check_patterns("stories260K", pr, [None] * cfg["n_layers"])
    log.append(("llama2c/stories260K", f"float32 vs float64 max |diff| = {d64:.3g}; HF-layout (permuted wq/wk, "
                f"rotate_half) vs llama2.c interleaved: {dhf:.3g}", []))
    dump_json(os.path.join(root, "llama2c", "stories260K_ref.json"), {
        "checkpoint": "../shared/models/stories260K/stories260K.bin",
        "tokenizer": "../shared/models/stories260K/tok512.bin",
        "sha256": STORIES_SHA,
        "config": cfg,
        "semantics": "llama2.c run.c: rotary on interleaved pairs (2i, 2i+1), freq = 10000^(-2i/head_size); "
                     "RMSNorm eps 1e-5; SwiGLU w2(silu(w1 x) * w3 x); classifier shared with the embedding when "
                     "vocab_size > 0; tokenizer: dummy prefix ' ', codepoint lookup, byte fallback id = byte + 3, "
                     "greedy best-score pair merges.",
        "prompt_text": "Zoo",
        "prompt_ids": prompt_ids,
        "prompt_logits": r7(pr["logits"]),
        "prompt_resid_post": [r7(x) for x in pr["resid_post"]],
        "prompt_patterns": [r7(p) for p in pr["patterns"]],
        "greedy": {
            "steps": steps,
            "note": "llama2.c semantics: `steps` forward positions in total, prompt (with BOS) included; the printed "
                    "text starts with the prompt pieces (leading space after BOS stripped).",
            "ids": gen["ids"],
            "generated_ids": gen["generated_ids"],
            "text": gen["text"],
            "published_golden": STORIES_GOLDEN,
            "matches_published_golden": matches,
        },
        "sequence_logits": {
            "note": "logits at every position 0..steps-1 of one forward over the fed tokens ids[0:steps]",
            "logits": r7(full["logits"]),
        },
    })


def generate(root, only=None):
    prompts = make_prompts()
    log = []
    if only == "interventions":  # the tiny models must already be in `root` (they are read, not rewritten)
        write_interventions(root, prompts, log)
        return log
    write_tiny(root, prompts, log)
    write_interventions(root, prompts, log)
    write_llama2c(root, log)
    return log


def main():
    torch.set_num_threads(1)  # deterministic reductions
    out_root = os.path.join(REPO, "fixtures")
    if "--check" in sys.argv:
        tmp = tempfile.mkdtemp(prefix="plip-fixtures-")
        try:
            generate(tmp)
            bad = []
            for dp, _, files in os.walk(tmp):
                for fn in files:
                    a = os.path.join(dp, fn)
                    b = os.path.join(out_root, os.path.relpath(a, tmp))
                    if not os.path.exists(b) or not filecmp.cmp(a, b, shallow=False):
                        bad.append(os.path.relpath(b, REPO))
            if bad:
                print("DIFFERENT:", *bad, sep="\n  ")
                sys.exit(1)
            print("all fixtures regenerate byte-identically")
        finally:
            shutil.rmtree(tmp)
        return
    # --only-interventions: rewrite fixtures/interventions/ only (reads the committed tiny models)
    log = generate(out_root, "interventions" if "--only-interventions" in sys.argv else None)
    for name, text, disc in log:
        print(f"{name}: {text}")
        for label, res in disc:
            print(f"    mistake '{label}': {res}")
    total = 0
    for dp, _, files in os.walk(out_root):
        for fn in sorted(files):
            p = os.path.join(dp, fn)
            total += os.path.getsize(p)
            print(f"  {os.path.relpath(p, REPO)}  {os.path.getsize(p):,} bytes")
    print(f"total {total:,} bytes")


if __name__ == "__main__":
    main()
