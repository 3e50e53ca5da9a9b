#!/usr/bin/env python3
"""Independent plain-PyTorch reference forward pass for PLIP-TS.

Run with the Debian interpreter: ``/usr/bin/python3`` (PyTorch 1.13 CPU, numpy).  There is no
``transformers`` / ``safetensors`` package here, so this file re-implements, by hand and on purpose
without cleverness, the forward pass of the Hugging Face decoder families PLIP-TS supports:

    llama, mistral, qwen2, gemma, phi3, starcoder2   -> forward_llama_family()  (one core, per-family branches)
    gpt2                                              -> forward_gpt2()
    gpt_neox                                          -> forward_gpt_neox()
    llama2.c legacy checkpoints (stories260K)         -> forward_llama2c()

Every semantic is commented with the Hugging Face source it mirrors (transformers ``src/transformers/models/
<family>/modeling_<family>.py`` / ``modular_<family>.py``, ``masking_utils.py``, ``modeling_rope_utils.py``).

All forwards take a 1-D list of token ids (no BOS is added: the ids are fed as given) and return

    {"logits":     Tensor[seq, vocab],
     "resid_post": [Tensor[seq, d_model]] * n_layers   # residual stream after each full block (before final norm)
     "patterns":   [Tensor[heads, seq, seq]] * n_layers # post-softmax attention, [head][query][key]
    }

Compute is float32 by default (``dtype=torch.float64`` for a cross-check).  Weights stored as BF16/F16 are
read back from the file bit-exactly and widened (the rounded values are what is computed with).

Attention interventions (``interventions=[...]``, see ``attend``):
  * {"kind": "knockout", "layer": L, "heads": [...], "queries": [...], "keys": [...]}
      the pre-softmax score of each listed (head, query, key) edge is set to -inf before the softmax.
      If that leaves a row with no visible key at all, the row is defined as all zeros (so z = 0 there).
  * {"kind": "scale", "layer": L, "heads": [...], "queries": [...], "keys": [...], "factor": f}
      post-softmax weights of the listed edges are multiplied by f, then every affected row is renormalised
      over its (causally / window) visible keys.  An all-zero row stays all-zero.
  * {"kind": "amplify", ..., "factor": f, "basis": "logit" | "mass"}
      logit: + ln f on the listed pre-softmax scores; mass: the listed keys' post-softmax mass m -> min(f m, 1),
      the other eligible keys share the rest in proportion.
  * {"kind": "set", ..., "level": l, "hold": [...]}: the listed eligible keys get mass l, held keys keep their
      weights, the other eligible keys share 1 - l - held mass.
  * {"kind": "set-control", ..., "level": l, "match": [...]}: delta = l - mass(match) goes to the listed keys,
      the match keys keep their weights, the other eligible keys pay.
  "Eligible" = visible to the mask and not knocked out. Knockouts and logit amplifications are applied before
  the softmax, the other edits after it, in list order.
"""
from __future__ import annotations

import json
import math
import os
import struct
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F

torch.set_grad_enabled(False)

# ----------------------------------------------------------------------------------------------------------
# safetensors I/O (format: 8-byte little-endian u64 header length N, N bytes of JSON header
# {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}, then the raw little-endian
# byte buffer; offsets are relative to the start of that buffer).
# ----------------------------------------------------------------------------------------------------------

_ST_ITEMSIZE = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4}


def f32_to_bf16_bits(x: np.ndarray) -> np.ndarray:
    """float32 -> bfloat16 bit patterns (uint16), round-to-nearest-even (what torch's .to(bfloat16) does)."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    assert not np.isnan(x).any()
    rounded = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    return rounded.astype(np.uint16)


def bf16_bits_to_f32(b: np.ndarray) -> np.ndarray:
    """bfloat16 bit patterns (uint16) -> float32 (exact: the 16 bits become the upper half)."""
    return (b.astype(np.uint32) << 16).view(np.float32)


def read_safetensors(path: str) -> Tuple[Dict[str, np.ndarray], Dict[str, str], dict]:
    """Returns ({name: float32 ndarray}, {name: stored dtype}, metadata). Values are widened exactly."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    buf = raw[8 + n:]
    meta = header.pop("__metadata__", {}) or {}
    out, dtypes = {}, {}
    for name, info in header.items():
        dt, shape, (b, e) = info["dtype"], info["shape"], info["data_offsets"]
        count = int(np.prod(shape)) if shape else 1
        assert e - b == count * _ST_ITEMSIZE[dt], f"{name}: byte length mismatch"
        chunk = buf[b:e]
        if dt == "F32":
            arr = np.frombuffer(chunk, dtype="<f4").astype(np.float32)
        elif dt == "F64":
            arr = np.frombuffer(chunk, dtype="<f8").astype(np.float32)
        elif dt == "F16":
            arr = np.frombuffer(chunk, dtype="<f2").astype(np.float32)  # exact widening
        elif dt == "BF16":
            arr = bf16_bits_to_f32(np.frombuffer(chunk, dtype="<u2"))
        else:
            raise ValueError(f"{name}: unsupported dtype {dt}")
        out[name] = arr.reshape(shape)
        dtypes[name] = dt
    return out, dtypes, meta


def write_safetensors(path: str, tensors: Dict[str, Tuple[np.ndarray, str]], metadata: Optional[dict] = None) -> None:
    """tensors: {name: (float array, dtype in F32|F16|BF16)}; stored in name order, header padded to 8 bytes."""
    header, chunks, offset = {}, [], 0
    if metadata is not None:
        header["__metadata__"] = metadata
    for name in sorted(tensors):
        arr, dt = tensors[name]
        arr = np.asarray(arr, dtype=np.float32)
        if dt == "F32":
            data = arr.astype("<f4").tobytes()
        elif dt == "F16":
            data = arr.astype("<f2").tobytes()  # numpy rounds to nearest even
        elif dt == "BF16":
            data = f32_to_bf16_bits(arr).astype("<u2").tobytes()
        else:
            raise ValueError(dt)
        header[name] = {"dtype": dt, "shape": list(arr.shape), "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    hjson = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hjson += b" " * ((8 - len(hjson) % 8) % 8)  # safetensors pads the header with spaces to 8-byte alignment
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for c in chunks:
            f.write(c)


def load_hf_dir(model_dir: str, dtype=torch.float32) -> Tuple[dict, Dict[str, torch.Tensor], Dict[str, str]]:
    """Reads config.json + model.safetensors of a Hugging Face style model directory."""
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    arrays, dtypes, _ = read_safetensors(os.path.join(model_dir, "model.safetensors"))
    weights = {k: torch.from_numpy(v.copy()).to(dtype) for k, v in arrays.items()}
    return cfg, weights, dtypes


# ----------------------------------------------------------------------------------------------------------
# Shared building blocks
# ----------------------------------------------------------------------------------------------------------

class WeightBag:
    """Dict access that records which tensors were consumed (so we can assert the file has no unused tensors)."""

    def __init__(self, weights: Dict[str, torch.Tensor]):
        self.w = weights
        self.used = set()

    def __getitem__(self, k: str) -> torch.Tensor:
        self.used.add(k)
        return self.w[k]

    def get(self, k: str) -> Optional[torch.Tensor]:
        if k in self.w:
            self.used.add(k)
            return self.w[k]
        return None

    def has(self, k: str) -> bool:
        return k in self.w

    def assert_all_used(self, family: str) -> None:
        unused = sorted(set(self.w) - self.used)
        assert not unused, f"{family}: tensors present in the checkpoint but not used by the forward: {unused}"


def linear(x: torch.Tensor, w: torch.Tensor, b: Optional[torch.Tensor] = None) -> torch.Tensor:
    """nn.Linear: y = x @ W^T + b, W stored [out, in]."""
    y = x @ w.t()
    return y + b if b is not None else y


def conv1d(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """GPT-2 Conv1D (transformers pytorch_utils.Conv1D): y = addmm(bias, x, weight), weight stored [in, out]."""
    return x @ w + b


def rms_norm(x: torch.Tensor, w: torch.Tensor, eps: float) -> torch.Tensor:
    """LlamaRMSNorm: hidden = x.float(); hidden * rsqrt(mean(hidden^2) + eps); weight * hidden.
    (Also MistralRMSNorm, Qwen2RMSNorm, Phi3RMSNorm.)  Compute is float32 (or float64) throughout."""
    variance = x.pow(2).mean(-1, keepdim=True)
    return w * (x * torch.rsqrt(variance + eps))


def gemma_rms_norm(x: torch.Tensor, w: torch.Tensor, eps: float) -> torch.Tensor:
    """GemmaRMSNorm: output = _norm(x.float()) * (1.0 + weight.float())  -- note the (1 + w), weights init at 0."""
    variance = x.pow(2).mean(-1, keepdim=True)
    return (x * torch.rsqrt(variance + eps)) * (1.0 + w)


def layer_norm(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, eps: float) -> torch.Tensor:
    """nn.LayerNorm (biased variance), with weight and bias."""
    mean = x.mean(-1, keepdim=True)
    var = (x - mean).pow(2).mean(-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps) * w + b


def activation(name: str, x: torch.Tensor) -> torch.Tensor:
    """transformers/activations.py ACT2FN."""
    if name in ("silu", "swish"):
        return x * torch.sigmoid(x)  # nn.SiLU
    if name == "gelu":
        return F.gelu(x)  # GELUActivation -> exact erf GELU
    if name == "gelu_pytorch_tanh":
        return F.gelu(x, approximate="tanh")  # PytorchGELUTanh
    if name == "gelu_new":
        # NewGELUActivation: 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x^3)))
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))
    if name == "relu":
        return torch.relu(x)
    raise ValueError(f"unsupported activation {name}")


def rope_inv_freq(rotary_dim: int, theta: float, rope_scaling: Optional[dict], dtype) -> torch.Tensor:
    """modeling_rope_utils._compute_default_rope_parameters:
         inv_freq = 1 / (base ** (arange(0, dim, 2).float() / dim)),  dim = int(head_dim * partial_rotary_factor)
    plus _compute_llama3_parameters when rope_scaling.rope_type == "llama3"."""
    inv_freq = 1.0 / (theta ** (torch.arange(0, rotary_dim, 2, dtype=torch.int64).to(dtype) / rotary_dim))
    rtype = None
    if rope_scaling:
        rtype = rope_scaling.get("rope_type", rope_scaling.get("type"))
    if rtype in (None, "default"):
        return inv_freq
    if rtype == "llama3":
        factor = rope_scaling["factor"]
        low_freq_factor = rope_scaling["low_freq_factor"]
        high_freq_factor = rope_scaling["high_freq_factor"]
        old_context_len = rope_scaling["original_max_position_embeddings"]
        low_freq_wavelen = old_context_len / low_freq_factor
        high_freq_wavelen = old_context_len / high_freq_factor
        wavelen = 2 * math.pi / inv_freq
        # wavelen < high_freq_wavelen: do nothing; wavelen > low_freq_wavelen: divide by factor
        inv_freq_llama = torch.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
        # otherwise: interpolate between the two, using a smooth factor
        smooth_factor = (old_context_len / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor)
        smoothed = (1 - smooth_factor) * inv_freq_llama / factor + smooth_factor * inv_freq_llama
        is_medium = ~(wavelen < high_freq_wavelen) * ~(wavelen > low_freq_wavelen)
        return torch.where(is_medium, smoothed, inv_freq_llama)
    raise ValueError(f"rope_scaling type {rtype!r} is not implemented in the reference")


def rope_cos_sin(inv_freq: torch.Tensor, seq: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """LlamaRotaryEmbedding.forward: freqs = inv_freq (x) positions; emb = cat(freqs, freqs); cos/sin.
    Positions are 0..seq-1 (no cache, no padding)."""
    pos = torch.arange(seq, dtype=inv_freq.dtype)
    freqs = torch.outer(pos, inv_freq)  # [seq, rotary_dim/2]
    emb = torch.cat((freqs, freqs), dim=-1)  # "rotate_half" layout: dims i and i + rotary_dim/2 are a pair
    return emb.cos(), emb.sin()


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """modeling_llama.rotate_half: cat(-x2, x1) with x1 / x2 the first / second half of the last dim."""
    x1 = x[..., : x.shape[-1] // 2]
    x2 = x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """apply_rotary_pos_emb (gpt_neox / phi3 form, which reduces to llama's when rotary_dim == head_dim):
    only the first rotary_dim = cos.shape[-1] dims of each head are rotated, the rest pass through.
    x: [heads, seq, head_dim]; cos/sin: [seq, rotary_dim]."""
    rd = cos.shape[-1]
    x_rot, x_pass = x[..., :rd], x[..., rd:]
    return torch.cat([(x_rot * cos) + (rotate_half(x_rot) * sin), x_pass], dim=-1)


def repeat_kv(x: torch.Tensor, n_rep: int) -> torch.Tensor:
    """modeling_llama.repeat_kv: [kv_heads, seq, hd] -> [kv_heads * n_rep, seq, hd]; query head h uses kv head h // n_rep."""
    if n_rep == 1:
        return x
    kvh, s, hd = x.shape
    return x[:, None, :, :].expand(kvh, n_rep, s, hd).reshape(kvh * n_rep, s, hd)


def visible_mask(seq: int, sliding_window: Optional[int]) -> torch.Tensor:
    """masking_utils: causal_mask_function: kv_idx <= q_idx;
    sliding_window_overlay(W): kv_idx > q_idx - W   (so each query sees itself and the W-1 previous tokens).
    Returns bool [q, k], True where the key is visible."""
    q = torch.arange(seq)[:, None]
    k = torch.arange(seq)[None, :]
    vis = k <= q
    if sliding_window is not None:
        vis = vis & (k > q - sliding_window)
    return vis


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scaling: float, sliding_window: Optional[int],
           layer: int, interventions: Optional[List[dict]] = None) -> Tuple[torch.Tensor, torch.Tensor]:
    """Eager attention (modeling_llama.eager_attention_forward):
         attn_weights = matmul(q, k^T) * scaling + causal_mask;  softmax(dim=-1, float32);  matmul(attn_weights, v)
    q, k, v: [heads, seq, hd] (k, v already repeat_kv'd).  Returns (out [heads, seq, hd], pattern [heads, seq, seq]).
    Masked scores are -inf (HF adds finfo.min; identical after softmax)."""
    h, s, _ = q.shape
    scores = (q @ k.transpose(-1, -2)) * scaling
    vis = visible_mask(s, sliding_window)
    scores = scores.masked_fill(~vis, float("-inf"))
    mine = [iv for iv in (interventions or []) if iv["layer"] == layer]
    for iv in mine:  # knockout: pre-softmax score -> -inf on the listed edges
        if iv["kind"] == "knockout":
            for hh in iv["heads"]:
                for qq in iv["queries"]:
                    for kk in iv["keys"]:
                        scores[hh, qq, kk] = float("-inf")
    for iv in mine:  # amplify, logit basis: + ln(factor) on the listed pre-softmax scores (-inf stays -inf)
        if iv["kind"] == "amplify" and iv.get("basis", "logit") == "logit":
            add = math.log(float(iv.get("factor", 2.0)))
            for hh in iv["heads"]:
                for qq in iv["queries"]:
                    for kk in iv["keys"]:
                        scores[hh, qq, kk] = scores[hh, qq, kk] + add
    # eligible keys: visible to the mask and not knocked out (what the post-softmax edits may give mass to)
    elig_all = scores > float("-inf")
    row_dead = torch.isinf(scores).all(dim=-1, keepdim=True) & (scores < 0).all(dim=-1, keepdim=True)
    probs = torch.softmax(scores.masked_fill(row_dead, 0.0), dim=-1)
    probs = probs.masked_fill(row_dead, 0.0)  # a row with every visible key knocked out is defined as all-zero
    for iv in mine:  # scale: multiply post-softmax weights, renormalise each affected row over its visible keys
        if iv["kind"] == "scale":
            f = float(iv["factor"])
            for hh in iv["heads"]:
                for qq in iv["queries"]:
                    for kk in iv["keys"]:
                        probs[hh, qq, kk] = probs[hh, qq, kk] * f
                    total = (probs[hh, qq] * vis[qq]).sum()
                    if total > 0:
                        probs[hh, qq] = probs[hh, qq] * vis[qq] / total
        elif iv["kind"] == "set":
            # steering: the listed eligible keys of each row get total mass `level` (in proportion to their
            # weights, or equally if those are all 0); keys in `hold` keep their weights; the other eligible
            # keys share 1 - level - held mass in proportion to their weights (if they carry no mass they stay
            # 0). A knocked-out listed key stays 0; all visible listed keys knocked out is an error.
            lvl = float(iv["level"])
            for hh in iv["heads"]:
                for qq in iv["queries"]:
                    elig = elig_all[hh, qq]
                    if not any(bool(vis[qq, kk]) for kk in iv["keys"]):
                        continue
                    keys = [kk for kk in iv["keys"] if bool(elig[kk])]
                    assert keys, "set: every visible selected key was knocked out"
                    row = probs[hh, qq].clone()
                    sel = torch.zeros_like(vis[qq])
                    sel[keys] = True
                    held = torch.zeros_like(vis[qq])
                    held[[kk for kk in iv.get("hold", []) if bool(elig[kk])]] = True
                    other = elig & ~sel & ~held
                    sel_mass = row[sel].sum()
                    hold_mass = row[held].sum()
                    rest = row[other].sum()
                    assert lvl + hold_mass <= 1 + 1e-6, "set: infeasible level (reference cases stay feasible)"
                    new = torch.zeros_like(row)
                    new[held] = row[held]
                    if rest > 0:
                        new[other] = row[other] * (1 - lvl - hold_mass) / rest
                    if sel_mass > 0:
                        new[sel] = row[sel] * lvl / sel_mass
                    else:
                        new[sel] = lvl / len(keys)
                    probs[hh, qq] = new
        elif iv["kind"] == "set-control":
            # mass-holding control of set(level) on `match` (F): delta = level - m_F goes to the listed keys C
            # (in proportion to their weights, equally if all 0), F keeps its weights, the other eligible keys
            # O pay: x (m_O - delta) / m_O
            lvl = float(iv["level"])
            for hh in iv["heads"]:
                for qq in iv["queries"]:
                    elig = elig_all[hh, qq]
                    if not any(bool(vis[qq, kk]) for kk in iv["keys"]) or not any(bool(vis[qq, kk]) for kk in iv["match"]):
                        continue
                    ck = [kk for kk in iv["keys"] if bool(elig[kk])]
                    fk = [kk for kk in iv["match"] if bool(elig[kk])]
                    assert ck and fk, "set-control: every visible target / match key was knocked out"
                    row = probs[hh, qq].clone()
                    c = torch.zeros_like(vis[qq])
                    c[ck] = True
                    f = torch.zeros_like(vis[qq])
                    f[fk] = True
                    other = elig & ~c & ~f
                    m_c, m_f, m_o = row[c].sum(), row[f].sum(), row[other].sum()
                    delta = lvl - m_f
                    assert delta <= m_o + 1e-6 and m_c + delta >= -1e-6, "set-control: infeasible level"
                    new = torch.zeros_like(row)
                    new[f] = row[f]
                    new[c] = row[c] * (m_c + delta) / m_c if m_c > 0 else (m_c + delta) / len(ck)
                    if m_o > 0:
                        new[other] = row[other] * (m_o - delta) / m_o
                    probs[hh, qq] = new
        elif iv["kind"] == "amplify" and iv.get("basis", "logit") == "mass":
            # amplify, mass basis: the listed eligible keys' mass m -> min(factor m, 1); the other eligible keys
            # share the rest in proportion (at the cap they are 0)
            fac = float(iv.get("factor", 2.0))
            for hh in iv["heads"]:
                for qq in iv["queries"]:
                    elig = elig_all[hh, qq]
                    keys = [kk for kk in iv["keys"] if bool(elig[kk])]
                    if not keys:
                        continue
                    row = probs[hh, qq].clone()
                    sel = torch.zeros_like(vis[qq])
                    sel[keys] = True
                    other = elig & ~sel
                    m = row[sel].sum()
                    if not m > 0:
                        continue
                    m2 = min(fac * m, 1.0)
                    rest = row[other].sum()
                    new = torch.zeros_like(row)
                    new[sel] = row[sel] * m2 / m
                    if rest > 0:
                        new[other] = row[other] * (1 - m2) / rest
                    probs[hh, qq] = new
        elif iv["kind"] not in ("knockout", "amplify"):
            raise ValueError(f"unknown intervention kind {iv['kind']}")
    out = probs @ v
    return out, probs


def _rope_theta(cfg: dict, key: str = "rope_theta", default: float = 10000.0) -> float:
    """rope_theta at top level (v4 configs) or inside rope_parameters (v5 configs)."""
    if cfg.get(key) is not None:
        return float(cfg[key])
    rp = cfg.get("rope_parameters") or {}
    if rp.get("rope_theta") is not None:
        return float(rp["rope_theta"])
    return default


# ----------------------------------------------------------------------------------------------------------
# Llama-shaped families: llama, mistral, qwen2, gemma, phi3, starcoder2
# ----------------------------------------------------------------------------------------------------------

LLAMA_LIKE = ("llama", "mistral", "qwen2", "gemma", "phi3", "starcoder2")


def resolve_llama_family(cfg: dict) -> dict:
    """config.json -> the architecture knobs, with each family's HF configuration_*.py defaults."""
    fam = cfg["model_type"]
    assert fam in LLAMA_LIKE, fam
    d = cfg["hidden_size"]
    nh = cfg["num_attention_heads"]
    nkv = cfg.get("num_key_value_heads") or nh  # every config class: None -> num_attention_heads
    a = dict(family=fam, d_model=d, n_layers=cfg["num_hidden_layers"], n_heads=nh, n_kv_heads=nkv,
             vocab=cfg["vocab_size"], d_ff=cfg["intermediate_size"])
    # head_dim: LlamaConfig/MistralConfig/Qwen2 (`getattr(config, "head_dim", hidden // heads)`), Phi3 (same getattr);
    # GemmaConfig: head_dim is its own field (default 256), decoupled from hidden_size / heads.
    if fam == "gemma":
        a["head_dim"] = cfg.get("head_dim", 256)
    else:
        a["head_dim"] = cfg.get("head_dim") or d // nh
    # norm: RMSNorm (rms_norm_eps) except starcoder2: nn.LayerNorm(eps=norm_epsilon) with bias
    if fam == "starcoder2":
        a["norm"], a["eps"] = "layernorm", cfg.get("norm_epsilon", 1e-5)
    elif fam == "gemma":
        a["norm"], a["eps"] = "gemma_rms", cfg.get("rms_norm_eps", 1e-6)
    else:
        a["norm"], a["eps"] = "rms", cfg.get("rms_norm_eps", 1e-5 if fam == "phi3" else 1e-6)
    # rotary: rope_theta (default 10000); phi3 may carry partial_rotary_factor (Phi-4-mini); llama3 rope_scaling
    a["rope_theta"] = _rope_theta(cfg)
    prf = cfg.get("partial_rotary_factor")
    if prf is None:
        prf = (cfg.get("rope_parameters") or {}).get("partial_rotary_factor", 1.0)
    a["rotary_dim"] = int(a["head_dim"] * prf)
    a["rope_scaling"] = cfg.get("rope_scaling")
    # activation / MLP kind
    if fam == "gemma":
        # GemmaMLP (transformers 4.38.2 .. 4.4x): `if config.hidden_activation is None: hidden_activation =
        # "gelu_pytorch_tanh"` -- config.hidden_act ("gelu" in the original gemma configs) is ignored.
        # (transformers v5 uses config.hidden_act directly; our tiny config sets both to gelu_pytorch_tanh.)
        a["act"] = cfg.get("hidden_activation") or "gelu_pytorch_tanh"
    else:
        a["act"] = cfg.get("hidden_act", "gelu_pytorch_tanh" if fam == "starcoder2" else "silu")
    a["mlp"] = {"starcoder2": "c_fc", "phi3": "gate_up_fused"}.get(fam, "gated")
    # biases: qwen2: q/k/v bias=True, o_proj bias=False; starcoder2: use_bias on q,k,v,o,c_fc,c_proj;
    # llama (and gemma): attention_bias on q,k,v,o; llama mlp_bias on the MLP; mistral/phi3: none.
    if fam == "qwen2":
        a["qkv_bias"], a["o_bias"], a["mlp_bias"] = True, False, False
    elif fam == "starcoder2":
        ub = cfg.get("use_bias", True)
        a["qkv_bias"], a["o_bias"], a["mlp_bias"] = ub, ub, ub
    elif fam in ("llama", "gemma"):
        ab = cfg.get("attention_bias", False)
        a["qkv_bias"], a["o_bias"], a["mlp_bias"] = ab, ab, cfg.get("mlp_bias", False) if fam == "llama" else False
    else:
        a["qkv_bias"], a["o_bias"], a["mlp_bias"] = False, False, False
    # sliding window: mistral / starcoder2 / phi3 use config.sliding_window (None = full causal);
    # qwen2 only when use_sliding_window (and only for layers >= max_window_layers, via config.layer_types);
    # llama / gemma never.
    sw = [None] * a["n_layers"]
    if fam in ("mistral", "starcoder2", "phi3"):
        sw = [cfg.get("sliding_window")] * a["n_layers"]
    elif fam == "qwen2" and cfg.get("use_sliding_window", False):
        mwl = cfg.get("max_window_layers", 28)
        sw = [cfg.get("sliding_window") if i >= mwl else None for i in range(a["n_layers"])]
    a["sliding_window"] = sw
    # tied embeddings: tie_word_embeddings default False (llama, mistral, qwen2, phi3), True (gemma, starcoder2)
    a["tied"] = cfg.get("tie_word_embeddings", fam in ("gemma", "starcoder2"))
    return a


def forward_llama_family(cfg: dict, weights: Dict[str, torch.Tensor], ids: List[int], dtype=torch.float32,
                         interventions: Optional[List[dict]] = None) -> dict:
    A = resolve_llama_family(cfg)
    W = WeightBag(weights)
    fam, d, nh, nkv, hd = A["family"], A["d_model"], A["n_heads"], A["n_kv_heads"], A["head_dim"]
    s = len(ids)

    def norm(x, prefix):
        if A["norm"] == "layernorm":
            return layer_norm(x, W[prefix + ".weight"], W[prefix + ".bias"], A["eps"])
        if A["norm"] == "gemma_rms":
            return gemma_rms_norm(x, W[prefix + ".weight"], A["eps"])
        return rms_norm(x, W[prefix + ".weight"], A["eps"])

    def lin(x, prefix, bias):
        return linear(x, W[prefix + ".weight"], W[prefix + ".bias"] if bias else None)

    # embeddings: model.embed_tokens
    x = W["model.embed_tokens.weight"][torch.tensor(ids)]
    if fam == "gemma":
        # GemmaModel: normalizer = torch.tensor(hidden_size**0.5, dtype=hidden_states.dtype); h = h * normalizer
        # (v5: embed_scale.to(weight.dtype)).  The compute dtype here is float32, so the normaliser is
        # float32(sqrt(hidden_size)) -- NOT rounded to the F16 storage dtype.
        x = x * torch.tensor(d ** 0.5, dtype=dtype)

    inv_freq = rope_inv_freq(A["rotary_dim"], A["rope_theta"], A["rope_scaling"], dtype)
    cos, sin = rope_cos_sin(inv_freq, s)
    scaling = hd ** -0.5  # self.scaling = head_dim ** -0.5 (all six families; gemma uses its own head_dim)

    resid_post, patterns = [], []
    for layer in range(A["n_layers"]):
        p = f"model.layers.{layer}"
        # --- attention block: residual + o_proj(attn(input_layernorm(x)))
        h = norm(x, p + ".input_layernorm")
        if fam == "phi3":
            # Phi3Attention: qkv = qkv_proj(h); q = qkv[..., :nh*hd]; k = next nkv*hd; v = the rest
            qkv = lin(h, p + ".self_attn.qkv_proj", False)
            q = qkv[:, : nh * hd]
            k = qkv[:, nh * hd: nh * hd + nkv * hd]
            v = qkv[:, nh * hd + nkv * hd:]
        else:
            q = lin(h, p + ".self_attn.q_proj", A["qkv_bias"])
            k = lin(h, p + ".self_attn.k_proj", A["qkv_bias"])
            v = lin(h, p + ".self_attn.v_proj", A["qkv_bias"])
        # .view(bsz, q_len, heads, head_dim).transpose(1, 2)
        q = q.view(s, nh, hd).transpose(0, 1)
        k = k.view(s, nkv, hd).transpose(0, 1)
        v = v.view(s, nkv, hd).transpose(0, 1)
        q = apply_rotary(q, cos, sin)
        k = apply_rotary(k, cos, sin)
        k = repeat_kv(k, nh // nkv)
        v = repeat_kv(v, nh // nkv)
        o, pat = attend(q, k, v, scaling, A["sliding_window"][layer], layer, interventions)
        o = o.transpose(0, 1).reshape(s, nh * hd)  # attn_output.transpose(1, 2).reshape(bsz, q_len, -1)
        x = x + lin(o, p + ".self_attn.o_proj", A["o_bias"])
        # --- MLP block: residual + mlp(post_attention_layernorm(x))
        h = norm(x, p + ".post_attention_layernorm")
        if A["mlp"] == "gated":
            # LlamaMLP / GemmaMLP: down_proj(act_fn(gate_proj(x)) * up_proj(x))
            g = lin(h, p + ".mlp.gate_proj", A["mlp_bias"])
            u = lin(h, p + ".mlp.up_proj", A["mlp_bias"])
            m = lin(activation(A["act"], g) * u, p + ".mlp.down_proj", A["mlp_bias"])
        elif A["mlp"] == "gate_up_fused":
            # Phi3MLP: up_states = gate_up_proj(x); gate, up_states = up_states.chunk(2, dim=-1) (gate FIRST);
            # down_proj(up_states * act(gate))
            gu = lin(h, p + ".mlp.gate_up_proj", False)
            g, u = gu.chunk(2, dim=-1)
            m = lin(u * activation(A["act"], g), p + ".mlp.down_proj", False)
        else:
            # Starcoder2MLP: c_proj(act(c_fc(x)))  (biases when use_bias)
            m = lin(activation(A["act"], lin(h, p + ".mlp.c_fc", A["mlp_bias"])), p + ".mlp.c_proj", A["mlp_bias"])
        x = x + m
        resid_post.append(x)
        patterns.append(pat)

    x = norm(x, "model.norm")
    # lm_head: tied -> embed_tokens.weight (lm_head.weight is then absent from the checkpoint)
    head = W["model.embed_tokens.weight"] if A["tied"] else W["lm_head.weight"]
    logits = x @ head.t()
    W.assert_all_used(fam)
    return {"logits": logits, "resid_post": resid_post, "patterns": patterns, "final_hidden": x}


# ----------------------------------------------------------------------------------------------------------
# GPT-2
# ----------------------------------------------------------------------------------------------------------

def forward_gpt2(cfg: dict, weights: Dict[str, torch.Tensor], ids: List[int], dtype=torch.float32,
                 interventions: Optional[List[dict]] = None) -> dict:
    W = WeightBag(weights)
    d, nh, L = cfg["n_embd"], cfg["n_head"], cfg["n_layer"]
    hd = d // nh
    eps = cfg.get("layer_norm_epsilon", 1e-5)
    act = cfg.get("activation_function", "gelu_new")
    assert not cfg.get("scale_attn_by_inverse_layer_idx", False) and not cfg.get("reorder_and_upcast_attn", False)
    assert cfg.get("scale_attn_weights", True)
    s = len(ids)
    pfx = "transformer."
    # GPT2Model: inputs_embeds = wte(input_ids); position_embeds = wpe(position_ids); h = inputs_embeds + position_embeds
    x = W[pfx + "wte.weight"][torch.tensor(ids)] + W[pfx + "wpe.weight"][torch.arange(s)]
    resid_post, patterns = [], []
    for layer in range(L):
        p = f"{pfx}h.{layer}"
        # GPT2Block: h = x + attn(ln_1(x))
        h = layer_norm(x, W[p + ".ln_1.weight"], W[p + ".ln_1.bias"], eps)
        # GPT2Attention: query, key, value = c_attn(h).split(split_size=n_embd, dim=2)  (Conv1D, weight [in, 3*d])
        qkv = conv1d(h, W[p + ".attn.c_attn.weight"], W[p + ".attn.c_attn.bias"])
        q, k, v = qkv.split(d, dim=-1)
        q = q.view(s, nh, hd).transpose(0, 1)
        k = k.view(s, nh, hd).transpose(0, 1)
        v = v.view(s, nh, hd).transpose(0, 1)
        # attn_weights = q @ k^T / sqrt(value.size(-1)) (scale_attn_weights); causal mask; softmax
        o, pat = attend(q, k, v, hd ** -0.5, None, layer, interventions)
        o = o.transpose(0, 1).reshape(s, d)
        x = x + conv1d(o, W[p + ".attn.c_proj.weight"], W[p + ".attn.c_proj.bias"])
        # h = x + mlp(ln_2(x)); GPT2MLP: c_proj(act(c_fc(x))), inner = n_inner or 4 * n_embd
        h = layer_norm(x, W[p + ".ln_2.weight"], W[p + ".ln_2.bias"], eps)
        m = conv1d(activation(act, conv1d(h, W[p + ".mlp.c_fc.weight"], W[p + ".mlp.c_fc.bias"])),
                   W[p + ".mlp.c_proj.weight"], W[p + ".mlp.c_proj.bias"])
        x = x + m
        resid_post.append(x)
        patterns.append(pat)
    x = layer_norm(x, W[pfx + "ln_f.weight"], W[pfx + "ln_f.bias"], eps)
    # GPT2LMHeadModel: lm_head (no bias) tied to wte unless tie_word_embeddings is false
    tied = cfg.get("tie_word_embeddings", True)
    head = W[pfx + "wte.weight"] if tied else W["lm_head.weight"]
    logits = x @ head.t()
    W.assert_all_used("gpt2")
    return {"logits": logits, "resid_post": resid_post, "patterns": patterns, "final_hidden": x}


# ----------------------------------------------------------------------------------------------------------
# GPT-NeoX
# ----------------------------------------------------------------------------------------------------------

def forward_gpt_neox(cfg: dict, weights: Dict[str, torch.Tensor], ids: List[int], dtype=torch.float32,
                     interventions: Optional[List[dict]] = None) -> dict:
    W = WeightBag(weights)
    d, nh, L = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_hidden_layers"]
    hd = d // nh  # GPTNeoXAttention.head_size
    eps = cfg.get("layer_norm_eps", 1e-5)
    rotary_pct = cfg.get("rotary_pct", 0.25)  # GPTNeoXConfig default 0.25 (v5: rope_parameters.partial_rotary_factor)
    rotary_ndims = int(hd * rotary_pct)  # self.rotary_ndims = int(self.head_size * config.rotary_pct)
    theta = _rope_theta(cfg, "rotary_emb_base")  # rotary_emb_base (v5: rope_parameters.rope_theta)
    parallel = cfg.get("use_parallel_residual", True)
    bias = cfg.get("attention_bias", True)
    act = cfg.get("hidden_act", "gelu")
    tied = cfg.get("tie_word_embeddings", False)
    s = len(ids)
    inv_freq = rope_inv_freq(rotary_ndims, theta, cfg.get("rope_scaling"), dtype)
    cos, sin = rope_cos_sin(inv_freq, s)

    x = W["gpt_neox.embed_in.weight"][torch.tensor(ids)]
    resid_post, patterns = [], []
    for layer in range(L):
        p = f"gpt_neox.layers.{layer}"
        ln1 = layer_norm(x, W[p + ".input_layernorm.weight"], W[p + ".input_layernorm.bias"], eps)
        # qkv = query_key_value(h).view(*input_shape, -1, 3 * head_size); q, k, v = qkv.chunk(3, dim=-1)
        # i.e. the fused output dim is laid out per head as (heads, 3, head_size)
        qkv = linear(ln1, W[p + ".attention.query_key_value.weight"],
                     W[p + ".attention.query_key_value.bias"] if bias else None)
        qkv = qkv.view(s, nh, 3 * hd).transpose(0, 1)  # [heads, seq, 3*hd]
        q, k, v = qkv.chunk(3, dim=-1)
        # apply_rotary_pos_emb: rotate only the first rotary_ndims dims of each head (rotate_half layout)
        q = apply_rotary(q, cos, sin)
        k = apply_rotary(k, cos, sin)
        o, pat = attend(q, k, v, hd ** -0.5, None, layer, interventions)  # scaling = head_size ** -0.5
        o = o.transpose(0, 1).reshape(s, d)
        attn_out = linear(o, W[p + ".attention.dense.weight"], W[p + ".attention.dense.bias"] if bias else None)

        def mlp(hh):
            # GPTNeoXMLP: dense_4h_to_h(act(dense_h_to_4h(x)))
            return linear(activation(act, linear(hh, W[p + ".mlp.dense_h_to_4h.weight"], W[p + ".mlp.dense_h_to_4h.bias"])),
                          W[p + ".mlp.dense_4h_to_h.weight"], W[p + ".mlp.dense_4h_to_h.bias"])

        if parallel:
            # x = x + attn(ln1(x)) + mlp(ln2(x))
            ln2 = layer_norm(x, W[p + ".post_attention_layernorm.weight"], W[p + ".post_attention_layernorm.bias"], eps)
            x = mlp(ln2) + attn_out + x
        else:
            # x = x + attn(ln1(x)); x = x + mlp(ln2(x))
            x = attn_out + x
            ln2 = layer_norm(x, W[p + ".post_attention_layernorm.weight"], W[p + ".post_attention_layernorm.bias"], eps)
            x = mlp(ln2) + x
        resid_post.append(x)
        patterns.append(pat)
    x = layer_norm(x, W["gpt_neox.final_layer_norm.weight"], W["gpt_neox.final_layer_norm.bias"], eps)
    # GPTNeoXForCausalLM: embed_out (no bias), tied to embed_in only when tie_word_embeddings
    head = W["gpt_neox.embed_in.weight"] if tied else W["embed_out.weight"]
    logits = x @ head.t()
    W.assert_all_used("gpt_neox")
    return {"logits": logits, "resid_post": resid_post, "patterns": patterns, "final_hidden": x}


def forward_hf(cfg: dict, weights: Dict[str, torch.Tensor], ids: List[int], dtype=torch.float32,
               interventions: Optional[List[dict]] = None) -> dict:
    """Dispatch on config.model_type."""
    w = {k: v.to(dtype) for k, v in weights.items()}
    fam = cfg["model_type"]
    if fam in LLAMA_LIKE:
        return forward_llama_family(cfg, w, ids, dtype, interventions)
    if fam == "gpt2":
        return forward_gpt2(cfg, w, ids, dtype, interventions)
    if fam == "gpt_neox":
        return forward_gpt_neox(cfg, w, ids, dtype, interventions)
    raise ValueError(f"unsupported model_type {fam}")


def run_dir(model_dir: str, ids: List[int], dtype=torch.float32, interventions=None) -> dict:
    cfg, weights, _ = load_hf_dir(model_dir)
    return forward_hf(cfg, weights, ids, dtype, interventions)


# ----------------------------------------------------------------------------------------------------------
# llama2.c legacy checkpoints (karpathy/llama2.c run.c) and its tokenizer
# ----------------------------------------------------------------------------------------------------------

def load_llama2c(path: str) -> Tuple[dict, Dict[str, torch.Tensor]]:
    """run.c read_checkpoint / memory_map_weights: 7 int32 header (dim, hidden_dim, n_layers, n_heads, n_kv_heads,
    vocab_size, seq_len; vocab_size < 0 means an unshared classifier), then float32 arrays."""
    with open(path, "rb") as f:
        raw = f.read()
    dim, hidden, L, nh, nkv, vocab, seq_len = struct.unpack("<7i", raw[:28])
    shared = vocab > 0
    vocab = abs(vocab)
    hs = dim // nh
    data = np.frombuffer(raw[28:], dtype="<f4")
    off = 0

    def take(*shape):
        nonlocal off
        n = int(np.prod(shape))
        a = data[off:off + n].reshape(shape)
        off += n
        return torch.from_numpy(a.astype(np.float32))

    w = {}
    w["token_embedding_table"] = take(vocab, dim)
    w["rms_att_weight"] = take(L, dim)
    w["wq"] = take(L, dim, nh * hs)  # stored as [dim(out), dim(in)] per layer (matmul(out, x, w, n=in, d=out))
    w["wk"] = take(L, nkv * hs, dim)
    w["wv"] = take(L, nkv * hs, dim)
    w["wo"] = take(L, dim, nh * hs)
    w["rms_ffn_weight"] = take(L, dim)
    w["w1"] = take(L, hidden, dim)
    w["w2"] = take(L, dim, hidden)
    w["w3"] = take(L, hidden, dim)
    w["rms_final_weight"] = take(dim)
    off += seq_len * hs // 2  # freq_cis_real (unused)
    off += seq_len * hs // 2  # freq_cis_imag (unused)
    w["wcls"] = w["token_embedding_table"] if shared else take(vocab, dim)
    assert off == data.size, f"llama2.c checkpoint: consumed {off} floats of {data.size}"
    cfg = dict(dim=dim, hidden_dim=hidden, n_layers=L, n_heads=nh, n_kv_heads=nkv, vocab_size=vocab,
               seq_len=seq_len, shared_classifier=shared)
    return cfg, w


def forward_llama2c(cfg: dict, w: Dict[str, torch.Tensor], ids: List[int], dtype=torch.float32) -> dict:
    """run.c forward(), vectorised over positions. Differences from HF llama: rotary on INTERLEAVED pairs
    (dims 2i, 2i+1 of each head, freq = 1 / 10000^(2i / head_size)), RMSNorm eps 1e-5 (o = w * (x / rms))."""
    w = {k: v.to(dtype) for k, v in w.items()}
    dim, L, nh, nkv = cfg["dim"], cfg["n_layers"], cfg["n_heads"], cfg["n_kv_heads"]
    hs = dim // nh
    s = len(ids)
    x = w["token_embedding_table"][torch.tensor(ids)]
    # rotary: for (i = 0; i < dim; i += 2) { head_dim = i % head_size; freq = 1 / powf(10000, head_dim / head_size); ...}
    j = torch.arange(0, hs, 2, dtype=dtype)
    freq = 1.0 / (10000.0 ** (j / hs))  # [hs/2]
    ang = torch.arange(s, dtype=dtype)[:, None] * freq[None, :]  # [s, hs/2]
    fcr, fci = ang.cos(), ang.sin()

    def rope_interleaved(t):  # t: [heads, s, hs]; pairs (2i, 2i+1): v0' = v0*fcr - v1*fci; v1' = v0*fci + v1*fcr
        v0, v1 = t[..., 0::2], t[..., 1::2]
        r0 = v0 * fcr - v1 * fci
        r1 = v0 * fci + v1 * fcr
        return torch.stack((r0, r1), dim=-1).reshape(t.shape)

    def rmsnorm(t, wt):  # ss = sum(x^2)/n + 1e-5; ss = 1/sqrt(ss); o = weight * (ss * x)
        return wt * (t * torch.rsqrt(t.pow(2).mean(-1, keepdim=True) + 1e-5))

    resid_post, patterns = [], []
    for l in range(L):
        xb = rmsnorm(x, w["rms_att_weight"][l])
        q = (xb @ w["wq"][l].t()).view(s, nh, hs).transpose(0, 1)
        k = (xb @ w["wk"][l].t()).view(s, nkv, hs).transpose(0, 1)
        v = (xb @ w["wv"][l].t()).view(s, nkv, hs).transpose(0, 1)
        q, k = rope_interleaved(q), rope_interleaved(k)
        # multiquery: query head h uses kv head h / kv_mul
        k, v = repeat_kv(k, nh // nkv), repeat_kv(v, nh // nkv)
        o, pat = attend(q, k, v, 1.0 / math.sqrt(hs), None, l, None)
        x = x + o.transpose(0, 1).reshape(s, dim) @ w["wo"][l].t()
        xb = rmsnorm(x, w["rms_ffn_weight"][l])
        h1 = xb @ w["w1"][l].t()
        h3 = xb @ w["w3"][l].t()
        # SwiGLU: silu(w1(x)) * w3(x), then w2
        x = x + (h1 * torch.sigmoid(h1) * h3) @ w["w2"][l].t()
        resid_post.append(x)
        patterns.append(pat)
    x = rmsnorm(x, w["rms_final_weight"])
    logits = x @ w["wcls"].t()
    return {"logits": logits, "resid_post": resid_post, "patterns": patterns}


def llama2c_to_hf_llama(cfg: dict, w: Dict[str, torch.Tensor]) -> Tuple[dict, Dict[str, torch.Tensor]]:
    """Converts a llama2.c checkpoint to HF Llama layout (used only as a cross-check of both rotary layouts).
    HF's convert script permutes wq/wk so that interleaved pairs become rotate_half pairs:
      permute(w, n_heads, dim1, dim2) = w.view(n_heads, dim1 // n_heads // 2, 2, dim2).transpose(1, 2).reshape(dim1, dim2)"""
    dim, L, nh, nkv = cfg["dim"], cfg["n_layers"], cfg["n_heads"], cfg["n_kv_heads"]
    hs = dim // nh

    def permute(t, heads):
        d1, d2 = t.shape
        return t.view(heads, d1 // heads // 2, 2, d2).transpose(1, 2).reshape(d1, d2)

    hw = {"model.embed_tokens.weight": w["token_embedding_table"], "model.norm.weight": w["rms_final_weight"]}
    for l in range(L):
        p = f"model.layers.{l}"
        hw[p + ".input_layernorm.weight"] = w["rms_att_weight"][l]
        hw[p + ".post_attention_layernorm.weight"] = w["rms_ffn_weight"][l]
        hw[p + ".self_attn.q_proj.weight"] = permute(w["wq"][l], nh)
        hw[p + ".self_attn.k_proj.weight"] = permute(w["wk"][l], nkv)
        hw[p + ".self_attn.v_proj.weight"] = w["wv"][l]
        hw[p + ".self_attn.o_proj.weight"] = w["wo"][l]
        hw[p + ".mlp.gate_proj.weight"] = w["w1"][l]
        hw[p + ".mlp.up_proj.weight"] = w["w3"][l]
        hw[p + ".mlp.down_proj.weight"] = w["w2"][l]
    if not cfg["shared_classifier"]:
        hw["lm_head.weight"] = w["wcls"]
    hcfg = {"model_type": "llama", "hidden_size": dim, "intermediate_size": cfg["hidden_dim"],
            "num_hidden_layers": L, "num_attention_heads": nh, "num_key_value_heads": nkv,
            "vocab_size": cfg["vocab_size"], "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
            "tie_word_embeddings": cfg["shared_classifier"], "hidden_act": "silu"}
    return hcfg, hw


class Llama2cTokenizer:
    """run.c build_tokenizer / encode / decode, byte for byte."""

    def __init__(self, path: str, vocab_size: int):
        with open(path, "rb") as f:
            raw = f.read()
        (self.max_token_length,) = struct.unpack("<i", raw[:4])
        off = 4
        self.vocab: List[bytes] = []
        self.scores: List[float] = []
        for _ in range(vocab_size):
            (score,) = struct.unpack("<f", raw[off:off + 4])
            (n,) = struct.unpack("<i", raw[off + 4:off + 8])
            self.vocab.append(raw[off + 8:off + 8 + n])
            self.scores.append(score)
            off += 8 + n
        assert off == len(raw), "tokenizer file not fully consumed"
        # str_lookup uses bsearch over the sorted vocab; with duplicate strings any match may be found, so
        # we assert there are none that matter.
        self.lookup: Dict[bytes, int] = {}
        for i, t in enumerate(self.vocab):
            if t in self.lookup:
                continue
            self.lookup[t] = i

    def encode(self, text: str, bos: bool = True, eos: bool = False) -> List[int]:
        tokens: List[int] = []
        if bos:
            tokens.append(1)
        data = text.encode("utf-8")
        if data:  # add_dummy_prefix: prepend the " " token (only if text != "")
            tokens.append(self.lookup[b" "])
        # UTF-8 codepoint by codepoint: look the codepoint up, else byte fallback (+3 for <unk>, <s>, </s>)
        i = 0
        while i < len(data):
            j = i + 1
            while j < len(data) and (data[j] & 0xC0) == 0x80 and j - i < 4:
                j += 1
            cp = data[i:j]
            if cp in self.lookup:
                tokens.append(self.lookup[cp])
            else:
                tokens.extend(b + 3 for b in cp)
            i = j
        # merge the best consecutive pair each iteration, according to the scores (first best wins ties)
        while True:
            best_score, best_id, best_idx = -1e10, -1, -1
            for k in range(len(tokens) - 1):
                merged = self.vocab[tokens[k]] + self.vocab[tokens[k + 1]]
                tid = self.lookup.get(merged, -1)
                if tid != -1 and self.scores[tid] > best_score:
                    best_score, best_id, best_idx = self.scores[tid], tid, k
            if best_idx == -1:
                break
            tokens[best_idx:best_idx + 2] = [best_id]
        if eos:
            tokens.append(2)
        return tokens

    def decode_piece(self, prev_token: int, token: int) -> bytes:
        piece = self.vocab[token]
        if prev_token == 1 and piece.startswith(b" "):  # following BOS, sentencepiece strips the leading space
            piece = piece[1:]
        if len(piece) == 6 and piece.startswith(b"<0x") and piece.endswith(b">"):  # raw byte tokens '<0x01>'
            piece = bytes([int(piece[3:5], 16)])
        return piece

    @staticmethod
    def safe_piece(piece: bytes) -> bytes:
        """run.c safe_printf: a single non-printable, non-space byte is not printed."""
        if len(piece) == 1:
            c = piece[0]
            if not (0x20 <= c <= 0x7E or c in b" \t\n\v\f\r"):
                return b""
        return piece


def llama2c_generate(cfg, w, tok: Llama2cTokenizer, prompt: str, steps: int) -> dict:
    """run.c generate() with temperature 0 (argmax sampling): `steps` forward positions in total (prompt included),
    stop early on BOS (token 1). Returns prompt ids, all ids, generated ids, printed text."""
    prompt_tokens = tok.encode(prompt, bos=True, eos=False)
    seq = [prompt_tokens[0]]
    text = b""
    token = prompt_tokens[0]
    pos = 0
    generated = []
    while pos < steps:
        logits = forward_llama2c(cfg, w, seq)["logits"][-1]
        if pos < len(prompt_tokens) - 1:
            nxt = prompt_tokens[pos + 1]
        else:
            nxt = int(torch.argmax(logits).item())  # sample_argmax: first index of the max
            generated.append(nxt)
        pos += 1
        if nxt == 1:
            break
        text += tok.safe_piece(tok.decode_piece(token, nxt))
        token = nxt
        seq.append(nxt)
    return {"prompt_ids": prompt_tokens, "ids": seq, "generated_ids": generated,
            "text": text.decode("utf-8", errors="replace")}
