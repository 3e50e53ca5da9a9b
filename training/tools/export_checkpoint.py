#!/usr/bin/python3
"""Export a training checkpoint (training/checkpoints/.../stepN.pt, fp32) as a bf16 HF directory.

A checkpoint saved at step N of a run is the final state of the same run with --stop-after N (training
is deterministic), so this is how `train.py --preset asym --stop-after N` is materialised from a run
that went further.  Copies plip-tiny-code's tokenizer files, as train.py does for the later organisms.

Usage: /usr/bin/python3 training/tools/export_checkpoint.py CKPT.pt OUT_DIR
"""
import os
import shutil
import sys

import torch

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, HERE)
from hf_io import export_hf  # noqa: E402
from model import LlamaConfig, LlamaForCausalLM  # noqa: E402

TOK_DIR = os.path.join(os.path.dirname(HERE), "models", "plip-tiny-code")


def main():
    ckpt, out = sys.argv[1], sys.argv[2]
    blob = torch.load(ckpt)
    c = blob["config"]
    cfg = LlamaConfig(vocab_size=c["vocab_size"], hidden_size=c["hidden_size"], intermediate_size=c["intermediate_size"],
                      num_hidden_layers=c["num_hidden_layers"], num_attention_heads=c["num_attention_heads"],
                      num_key_value_heads=c["num_key_value_heads"], max_position_embeddings=c["seq"],
                      rms_norm_eps=c.get("rms_norm_eps", 1e-5), rope_theta=10000.0,
                      tie_word_embeddings=c.get("tie_word_embeddings", True), model_type=c.get("model_type", "llama"))
    model = LlamaForCausalLM(cfg)
    model.load_state_dict(blob["model"])
    export_hf(model, out, "BF16")
    for f in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(os.path.join(TOK_DIR, f), os.path.join(out, f))
    print("exported", ckpt, "->", out)


if __name__ == "__main__":
    main()
