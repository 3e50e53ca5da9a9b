"""Hand-written safetensors I/O and Hugging Face model-directory export/import.

safetensors layout: 8-byte little-endian header length N, N bytes of JSON
header {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}
(padded with spaces to a multiple of 8), then the raw little-endian tensor data.
bfloat16 conversion is round-to-nearest-even (same as torch's `.to(torch.bfloat16)`).
"""
from __future__ import annotations

import json
import os
import struct

import numpy as np
import torch

from model import LlamaConfig, LlamaForCausalLM


def f32_to_bf16_bits(a: np.ndarray) -> np.ndarray:
    """float32 -> bfloat16 bit patterns (uint16), round-to-nearest-even."""
    a = np.ascontiguousarray(a, dtype=np.float32)
    assert np.isfinite(a).all(), "non-finite weights"
    u = a.view(np.uint32).astype(np.uint64)
    rounded = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    return rounded.astype(np.uint16)


def bf16_bits_to_f32(b: np.ndarray) -> np.ndarray:
    return (b.astype(np.uint32) << 16).view(np.float32)


def f32_to_f16(a: np.ndarray) -> np.ndarray:
    return np.asarray(a, dtype=np.float32).astype(np.float16)  # numpy rounds to nearest even


_DT = {"BF16": 2, "F16": 2, "F32": 4}


def save_safetensors(path: str, tensors: dict, dtype: str = "BF16", metadata: dict | None = None):
    header = {}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        t = tensors[name]
        a = t.detach().cpu().float().numpy() if isinstance(t, torch.Tensor) else np.asarray(t, np.float32)
        if dtype == "BF16":
            raw = f32_to_bf16_bits(a).astype("<u2").tobytes()
        elif dtype == "F16":
            raw = f32_to_f16(a).astype("<f2").tobytes()
        elif dtype == "F32":
            raw = a.astype("<f4").tobytes()
        else:
            raise ValueError(dtype)
        header[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    header["__metadata__"] = {"format": "pt", **(metadata or {})}
    hb = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hb += b" " * ((8 - len(hb) % 8) % 8)
    with open(path, "wb") as fh:
        fh.write(struct.pack("<Q", len(hb)))
        fh.write(hb)
        for raw in blobs:
            fh.write(raw)


def load_safetensors(path: str) -> dict:
    """Returns {name: float32 numpy array}."""
    with open(path, "rb") as fh:
        n = struct.unpack("<Q", fh.read(8))[0]
        header = json.loads(fh.read(n))
        data = fh.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        buf = data[b:e]
        if info["dtype"] == "BF16":
            a = bf16_bits_to_f32(np.frombuffer(buf, dtype="<u2"))
        elif info["dtype"] == "F16":
            a = np.frombuffer(buf, dtype="<f2").astype(np.float32)
        elif info["dtype"] == "F32":
            a = np.frombuffer(buf, dtype="<f4").astype(np.float32)
        else:
            raise ValueError(info["dtype"])
        out[name] = a.reshape(info["shape"])
    return out


def export_hf(model: LlamaForCausalLM, out_dir: str, dtype: str = "BF16", metadata: dict | None = None):
    os.makedirs(out_dir, exist_ok=True)
    cfg = model.config
    torch_dtype = {"BF16": "bfloat16", "F16": "float16", "F32": "float32"}[dtype]
    with open(os.path.join(out_dir, "config.json"), "w") as fh:
        json.dump(cfg.to_hf_dict(torch_dtype), fh, indent=2, sort_keys=True)
    with open(os.path.join(out_dir, "generation_config.json"), "w") as fh:
        json.dump({"_from_model_config": True, "bos_token_id": cfg.bos_token_id, "eos_token_id": cfg.eos_token_id,
                   "pad_token_id": cfg.pad_token_id, "do_sample": False, "max_new_tokens": 64,
                   "transformers_version": "4.46.0"}, fh, indent=2)
    save_safetensors(os.path.join(out_dir, "model.safetensors"), model.hf_state_dict(), dtype, metadata)


def load_hf(model_dir: str) -> LlamaForCausalLM:
    cfg = LlamaConfig.from_hf_dict(json.load(open(os.path.join(model_dir, "config.json"))))
    model = LlamaForCausalLM(cfg)
    sd = load_safetensors(os.path.join(model_dir, "model.safetensors"))
    if cfg.tie_word_embeddings:
        assert "lm_head.weight" not in sd
    own = model.state_dict()
    expected = set(own) - ({"lm_head.weight"} if cfg.tie_word_embeddings else set())
    assert set(sd) == expected, (sorted(set(sd) ^ expected))
    with torch.no_grad():
        for k, v in sd.items():
            assert tuple(own[k].shape) == v.shape, (k, own[k].shape, v.shape)
            own[k].copy_(torch.from_numpy(v.copy()))
    model.eval()
    return model
