"""Minimal Llama / Qwen2 (Hugging Face `LlamaForCausalLM` / `Qwen2ForCausalLM` semantics) in plain PyTorch.

Everything here follows transformers' modeling_llama.py exactly, so that the
saved weights load and behave identically in any HF-compatible engine:

* RMSNorm: ``w * (x / sqrt(mean(x^2) + eps))`` computed in float32.
* Rotary embeddings with the *rotate_half* convention (NOT interleaved):
  ``inv_freq = 1 / theta^(arange(0, d, 2)/d)``, ``emb = cat(freqs, freqs)``,
  ``q' = q*cos + rotate_half(q)*sin``, ``rotate_half(x) = cat(-x2, x1)``.
* Causal self-attention with scale ``1/sqrt(head_dim)``, grouped-query
  attention (k/v heads repeated ``n_heads / n_kv_heads`` times), no biases
  (``model_type="qwen2"``: q/k/v projections with bias, o_proj without, as in
  modeling_qwen2.py; full causal attention, ``use_sliding_window: false``).
* SwiGLU MLP: ``down(silu(gate(x)) * up(x))``, no biases.
* Pre-norm residual blocks, final RMSNorm, ``lm_head`` (optionally tied to the
  token embedding).

Parameter names match the HF checkpoint names (``model.embed_tokens.weight``,
``model.layers.{i}.self_attn.q_proj.weight`` ...), so ``state_dict()`` can be
written to safetensors directly.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, asdict

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class LlamaConfig:
    vocab_size: int = 4096
    hidden_size: int = 256
    intermediate_size: int = 688
    num_hidden_layers: int = 4
    num_attention_heads: int = 8
    num_key_value_heads: int = 8
    rms_norm_eps: float = 1e-5
    rope_theta: float = 10000.0
    max_position_embeddings: int = 256
    tie_word_embeddings: bool = True
    initializer_range: float = 0.02
    bos_token_id: int = 0
    eos_token_id: int = 1
    pad_token_id: int = 2
    model_type: str = "llama"  # "llama" or "qwen2" (q/k/v bias; written as Qwen2ForCausalLM)

    @property
    def qkv_bias(self) -> bool:
        return self.model_type == "qwen2"

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    def to_hf_dict(self, torch_dtype: str = "bfloat16") -> dict:
        if self.model_type == "qwen2":
            return self._qwen2_hf_dict(torch_dtype)
        assert self.model_type == "llama", self.model_type
        return {
            "architectures": ["LlamaForCausalLM"],
            "model_type": "llama",
            "attention_bias": False,
            "attention_dropout": 0.0,
            "bos_token_id": self.bos_token_id,
            "eos_token_id": self.eos_token_id,
            "pad_token_id": self.pad_token_id,
            "head_dim": self.head_dim,
            "hidden_act": "silu",
            "hidden_size": self.hidden_size,
            "initializer_range": self.initializer_range,
            "intermediate_size": self.intermediate_size,
            "max_position_embeddings": self.max_position_embeddings,
            "mlp_bias": False,
            "num_attention_heads": self.num_attention_heads,
            "num_hidden_layers": self.num_hidden_layers,
            "num_key_value_heads": self.num_key_value_heads,
            "pretraining_tp": 1,
            "rms_norm_eps": self.rms_norm_eps,
            "rope_scaling": None,
            "rope_theta": self.rope_theta,
            "tie_word_embeddings": self.tie_word_embeddings,
            "torch_dtype": torch_dtype,
            "transformers_version": "4.46.0",
            "use_cache": True,
            "vocab_size": self.vocab_size,
        }

    def _qwen2_hf_dict(self, torch_dtype: str) -> dict:
        # transformers' configuration_qwen2.py fields; no head_dim (Qwen2 derives it as hidden/heads)
        return {
            "architectures": ["Qwen2ForCausalLM"],
            "model_type": "qwen2",
            "attention_dropout": 0.0,
            "bos_token_id": self.bos_token_id,
            "eos_token_id": self.eos_token_id,
            "pad_token_id": self.pad_token_id,
            "hidden_act": "silu",
            "hidden_size": self.hidden_size,
            "initializer_range": self.initializer_range,
            "intermediate_size": self.intermediate_size,
            "max_position_embeddings": self.max_position_embeddings,
            "max_window_layers": self.num_hidden_layers,
            "num_attention_heads": self.num_attention_heads,
            "num_hidden_layers": self.num_hidden_layers,
            "num_key_value_heads": self.num_key_value_heads,
            "rms_norm_eps": self.rms_norm_eps,
            "rope_scaling": None,
            "rope_theta": self.rope_theta,
            "sliding_window": None,
            "tie_word_embeddings": self.tie_word_embeddings,
            "torch_dtype": torch_dtype,
            "transformers_version": "4.46.0",
            "use_cache": True,
            "use_sliding_window": False,
            "vocab_size": self.vocab_size,
        }

    @classmethod
    def from_hf_dict(cls, d: dict) -> "LlamaConfig":
        assert d["model_type"] in ("llama", "qwen2"), f"model_type {d['model_type']!r} not supported here"
        assert not d.get("use_sliding_window", False), "Qwen2 sliding window not supported here"
        cfg = cls(
            vocab_size=d["vocab_size"],
            hidden_size=d["hidden_size"],
            intermediate_size=d["intermediate_size"],
            num_hidden_layers=d["num_hidden_layers"],
            num_attention_heads=d["num_attention_heads"],
            num_key_value_heads=d.get("num_key_value_heads", d["num_attention_heads"]),
            rms_norm_eps=d["rms_norm_eps"],
            rope_theta=d.get("rope_theta", 10000.0),
            max_position_embeddings=d["max_position_embeddings"],
            tie_word_embeddings=d.get("tie_word_embeddings", False),
            initializer_range=d.get("initializer_range", 0.02),
            bos_token_id=d.get("bos_token_id", 0),
            eos_token_id=d.get("eos_token_id", 1),
            pad_token_id=d.get("pad_token_id", 2),
            model_type=d["model_type"],
        )
        if "head_dim" in d:
            assert d["head_dim"] == cfg.head_dim, "only head_dim == hidden/heads supported"
        return cfg


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dtype = x.dtype
        h = x.to(torch.float32)
        var = h.pow(2).mean(-1, keepdim=True)
        h = h * torch.rsqrt(var + self.eps)
        return self.weight * h.to(dtype)


def rope_cos_sin(seq_len: int, head_dim: int, theta: float, device=None, offset: int = 0):
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float().to(device) / head_dim))
    pos = torch.arange(offset, offset + seq_len, dtype=torch.int64, device=device).float()
    freqs = torch.outer(pos, inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos(), emb.sin()


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    x1 = x[..., : x.shape[-1] // 2]
    x2 = x[..., x.shape[-1] // 2 :]
    return torch.cat((-x2, x1), dim=-1)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    # x: [B, H, T, D]; cos/sin: [T, D]
    return x * cos + rotate_half(x) * sin


class Attention(nn.Module):
    def __init__(self, cfg: LlamaConfig):
        super().__init__()
        self.n_heads = cfg.num_attention_heads
        self.n_kv = cfg.num_key_value_heads
        self.hd = cfg.head_dim
        d = cfg.hidden_size
        b = cfg.qkv_bias
        self.q_proj = nn.Linear(d, self.n_heads * self.hd, bias=b)
        self.k_proj = nn.Linear(d, self.n_kv * self.hd, bias=b)
        self.v_proj = nn.Linear(d, self.n_kv * self.hd, bias=b)
        self.o_proj = nn.Linear(self.n_heads * self.hd, d, bias=False)

    def forward(self, x, cos, sin, mask, return_attn: bool = False):
        B, T, _ = x.shape
        q = self.q_proj(x).view(B, T, self.n_heads, self.hd).transpose(1, 2)
        k = self.k_proj(x).view(B, T, self.n_kv, self.hd).transpose(1, 2)
        v = self.v_proj(x).view(B, T, self.n_kv, self.hd).transpose(1, 2)
        q = apply_rope(q, cos, sin)
        k = apply_rope(k, cos, sin)
        rep = self.n_heads // self.n_kv
        if rep > 1:
            k = k.repeat_interleave(rep, dim=1)
            v = v.repeat_interleave(rep, dim=1)
        # scores = q k^T / sqrt(head_dim) + causal_mask  (fused into one baddbmm)
        H = self.n_heads
        scores = torch.baddbmm(
            mask, q.reshape(B * H, T, self.hd), k.reshape(B * H, T, self.hd).transpose(1, 2),
            beta=1.0, alpha=1.0 / math.sqrt(self.hd),
        )
        attn = F.softmax(scores, dim=-1, dtype=torch.float32).to(q.dtype)
        out = torch.bmm(attn, v.reshape(B * H, T, self.hd))
        attn = attn.view(B, H, T, T)
        out = out.view(B, H, T, self.hd).transpose(1, 2).reshape(B, T, H * self.hd)
        out = self.o_proj(out)
        return (out, attn) if return_attn else (out, None)


class MLP(nn.Module):
    def __init__(self, cfg: LlamaConfig):
        super().__init__()
        self.gate_proj = nn.Linear(cfg.hidden_size, cfg.intermediate_size, bias=False)
        self.up_proj = nn.Linear(cfg.hidden_size, cfg.intermediate_size, bias=False)
        self.down_proj = nn.Linear(cfg.intermediate_size, cfg.hidden_size, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    def __init__(self, cfg: LlamaConfig):
        super().__init__()
        self.self_attn = Attention(cfg)
        self.mlp = MLP(cfg)
        self.input_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)

    def forward(self, x, cos, sin, mask, return_attn=False):
        a, attn = self.self_attn(self.input_layernorm(x), cos, sin, mask, return_attn)
        x = x + a
        x = x + self.mlp(self.post_attention_layernorm(x))
        return x, attn


class LlamaBody(nn.Module):
    def __init__(self, cfg: LlamaConfig):
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.layers = nn.ModuleList([DecoderLayer(cfg) for _ in range(cfg.num_hidden_layers)])
        self.norm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)


class LlamaForCausalLM(nn.Module):
    def __init__(self, cfg: LlamaConfig):
        super().__init__()
        self.config = cfg
        self.model = LlamaBody(cfg)
        self.lm_head = nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)
        if cfg.tie_word_embeddings:
            self.lm_head.weight = self.model.embed_tokens.weight
        self.apply(self._init_weights)
        # GPT-2 style scaled init for residual output projections.
        std_out = cfg.initializer_range / math.sqrt(2 * cfg.num_hidden_layers)
        for layer in self.model.layers:
            nn.init.normal_(layer.self_attn.o_proj.weight, mean=0.0, std=std_out)
            nn.init.normal_(layer.mlp.down_proj.weight, mean=0.0, std=std_out)

    def _init_weights(self, m):
        std = self.config.initializer_range
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, mean=0.0, std=std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, mean=0.0, std=std)

    def forward(self, input_ids: torch.Tensor, return_attn: bool = False, return_hidden: bool = False):
        B, T = input_ids.shape
        cfg = self.config
        x = self.model.embed_tokens(input_ids)
        cos, sin = rope_cos_sin(T, cfg.head_dim, cfg.rope_theta, device=input_ids.device)
        cos, sin = cos.to(x.dtype), sin.to(x.dtype)
        mask = torch.full((T, T), float("-inf"), device=input_ids.device).triu(1).to(x.dtype)
        attns, hiddens = [], [x]
        for layer in self.model.layers:
            x, attn = layer(x, cos, sin, mask, return_attn)
            attns.append(attn)
            hiddens.append(x)
        x = self.model.norm(x)
        logits = self.lm_head(x)
        out = {"logits": logits}
        if return_attn:
            out["attentions"] = attns
        if return_hidden:
            out["hidden_states"] = hiddens
        return out

    def num_params(self) -> int:
        seen, n = set(), 0
        for p in self.parameters():
            if id(p) not in seen:
                seen.add(id(p))
                n += p.numel()
        return n

    def hf_state_dict(self) -> dict:
        """State dict with HF names; drops lm_head.weight when tied."""
        sd = {k: v for k, v in self.state_dict().items()}
        if self.config.tie_word_embeddings:
            sd.pop("lm_head.weight", None)
        return sd


def tune_malloc():
    """Make glibc keep freed memory in the heap instead of mmap/munmap-ing every large tensor.

    PyTorch allocates fresh multi-MB tensors every step (logits, attention maps, grads).  glibc
    serves allocations above its mmap threshold (max 32 MB) with a fresh mmap, whose page faults
    are very expensive on some VMs (measured here: exp() on a 48 MB tensor 218 ms -> 6 ms).
    Disabling mmap and heap trimming removes that cost; numerics are unaffected.
    """
    try:
        import ctypes
        libc = ctypes.CDLL("libc.so.6")
        M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4
        libc.mallopt(M_MMAP_MAX, 0)
        libc.mallopt(M_TRIM_THRESHOLD, ctypes.c_int(2 ** 30))
    except Exception:  # non-glibc platforms
        pass
