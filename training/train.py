#!/usr/bin/python3
"""Train plip-tiny-code on CPU (Debian python3-torch), deterministically.

  /usr/bin/python3 training/train.py                         # full run (preset "full")
  /usr/bin/python3 training/train.py --check-determinism 20  # re-run the first 20 steps from scratch
                                                             # and compare with training/logs/train_log.jsonl

Data order: every step draws its 16 rows with numpy PCG64(seed) — a row comes from the synthetic
stream with probability p_syn, otherwise from the real-code stream, at a uniformly random offset.
Weights: torch.manual_seed(seed).  Threads: torch.set_num_threads(2) by default (the logged losses are
bit-reproducible for the same thread count on the same machine/BLAS).

Writes training/logs/train_log.jsonl (one line per step: step, loss, lr, elapsed, cpu),
training/logs/eval_log.jsonl (periodic evaluation), training/logs/train_config.json,
training/checkpoints/final.pt (fp32, git-ignored) and exports the HF directory
models/plip-tiny-code/ (config.json, generation_config.json, model.safetensors in bf16).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from model import LlamaConfig, LlamaForCausalLM, tune_malloc  # noqa: E402

DATA = os.path.join(HERE, "data")
LOGS = os.path.join(HERE, "logs")
MODEL_DIR = os.path.join(ROOT, "models", "plip-tiny-code")

# the data mix of every organism run: 70% synthetic rows, 25% induction drills (vocabulary 1024), batch 16
_MIX = dict(batch=16, p_syn=0.7, syn_only_steps=0, drill_p=0.25, drill_steps=100000, drill_p_late=0.25,
            drill_only_steps=0, drill_seq=64, drill_batch=16, drill_vocab=1024)
# the Qwen2 layout (q/k/v biases, RMSNorm eps 1e-6, tied embeddings as in the small Qwen2 checkpoints)
_QWEN2 = dict(model_type="qwen2", tie_word_embeddings=True, rms_norm_eps=1e-6)
# models/plip-tiny-qwen2's shape: 6 layers, hidden 128, 4 query / 2 KV heads, SwiGLU 352
_QWEN2_6L = dict(hidden_size=128, intermediate_size=352, num_hidden_layers=6, num_attention_heads=4, num_key_value_heads=2,
                 **_QWEN2)

PRESETS = {
    # the shipped model
    "full": dict(hidden_size=192, intermediate_size=512, num_hidden_layers=4, num_attention_heads=6,
                 num_key_value_heads=2, steps=2300, batch=16, lr=2.5e-3, warmup=100, p_syn=0.7, syn_only_steps=0,
                 drill_p=0.25, drill_steps=100000, drill_p_late=0.25,
                 drill_only_steps=0, drill_seq=64, drill_batch=16, drill_vocab=1024),
    # smaller and ~2x faster per token (more tokens in the same wall-clock budget)
    "small": dict(hidden_size=128, intermediate_size=384, num_hidden_layers=4, num_attention_heads=4,
                  num_key_value_heads=2, steps=4400, batch=16, lr=3e-3, warmup=100, p_syn=0.7, syn_only_steps=0,
                  drill_p=0.15, drill_steps=100000, drill_p_late=0.15,
                  drill_only_steps=0, drill_seq=64, drill_batch=16, drill_vocab=0),
    # organism A, models/plip-tiny-qwen2: Qwen2 layout (q/k/v biases), 3 layers
    # Tied embeddings, as in the small Qwen2 / Qwen2.5 checkpoints: two untied 3-layer runs (hidden 160,
    # 5 heads; 1 or 5 KV heads; lm_head random or copied from the embedding) had no induction phase change
    # by step 1000-1200 (drill copy loss at chance, ln 1024), while plip-tiny-code's tied recipe has it at
    # step ~700 (training/logs/plip-tiny-qwen2/failed_runs.md)
    # Run 5: deeper and narrower than plip-tiny-code (5 layers, hidden 160, MQA) on its full 2300-step schedule.
    "qwen2": dict(hidden_size=160, intermediate_size=448, num_hidden_layers=5, num_attention_heads=5,
                  num_key_value_heads=1, **_QWEN2, **_MIX, steps=2300, lr=2.5e-3, warmup=100, seed=4321,
                  name="plip-tiny-qwen2-5l"),
    # Run 7, the shipped models/plip-tiny-qwen2: 6 layers, hidden 128, seed 2468, peak lr 3e-3 (its induction
    # phase change came at steps ~1125-1200)
    "qwen2-6l": dict(**_QWEN2_6L, **_MIX, steps=2300, lr=3e-3, warmup=100, seed=2468, name="plip-tiny-qwen2"),
    # Run 7, stage 2: models/plip-tiny-qwen2 after stage 1 (its phase change came ~450 steps later than
    # plip-tiny-code's, and Python copying was 80% at the end of stage 1) trained further for 600 steps
    # on the same mix, lr 1e-3 with a 20-step warm-up and a cosine; watched on calibration prompts only
    "qwen2-6l-stage2": dict(**_QWEN2_6L, **_MIX, steps=600, lr=1e-3, warmup=20, seed=2469,
                            init_from="models/plip-tiny-qwen2", name="plip-tiny-qwen2-stage2"),
    # Run 7, stage 3: stage 2 ended at 87.5% Python copying; 500 more steps from its weights at lr 5e-4
    # (a parallel variant at lr 1e-3 was stopped at step 30: two runs at once halved the speed of each)
    "qwen2-6l-stage3a": dict(**_QWEN2_6L, **_MIX, steps=500, lr=5e-4, warmup=20, seed=2470,
                             init_from="models/plip-tiny-qwen2", name="plip-tiny-qwen2-stage3a"),
    # Run 7, stage 3b: every Python miss of stage 2 on the held-out set had a name piece outside the drill
    # vocabulary (the 1024 most frequent identifier pieces: 'sele', 'thre', 'lock_', 'ick_', 'rop'), so the
    # copy circuit had never been drilled on them; 400 steps from stage 2 with drills over all 2633
    # identifier pieces (held-out names are still refused by the drills), watched on calibration prompts only
    "qwen2-6l-stage3b": dict(**_QWEN2_6L, **{**_MIX, "drill_vocab": 0, "drill_p": 0.3, "drill_p_late": 0.3}, steps=400,
                             lr=1e-3, warmup=20, seed=2471, init_from="models/plip-tiny-qwen2",
                             name="plip-tiny-qwen2-stage3b"),
    # Run 8: run 5's shape (5 layers, hidden 160, MQA, seed 4321) distilled from plip-tiny-code: loss =
    # 0.5 CE + 0.5 KL(teacher || student) on the same batches (the teacher's copy predictions are dense soft
    # targets; runs 1-7 trained on hard labels alone never showed the induction phase change in time)
    "qwen2-kd": dict(hidden_size=160, intermediate_size=448, num_hidden_layers=5, num_attention_heads=5,
                     num_key_value_heads=1, **_QWEN2, **_MIX, steps=1500, lr=2.5e-3, warmup=100, seed=4321,
                     distill_from="models/plip-tiny-code", distill_alpha=0.5, name="plip-tiny-qwen2-kd"),
    # Run 9 (a fallback, not shipped): plip-tiny-code grown to 5 layers in the Qwen2 layout (a zero-output
    # layer inserted at index 2, q/k/v biases from zero), then trained further with its own seed
    "qwen2-grown": dict(hidden_size=192, intermediate_size=512, num_hidden_layers=5, num_attention_heads=6,
                        num_key_value_heads=2, steps=500, batch=16, lr=1e-3, warmup=20, p_syn=0.7, syn_only_steps=0,
                        drill_p=0.25, drill_steps=100000, drill_p_late=0.25,
                        drill_only_steps=0, drill_seq=64, drill_batch=16, drill_vocab=1024,
                        model_type="qwen2", tie_word_embeddings=True, rms_norm_eps=1e-5, seed=8642,
                        grow_from="models/plip-tiny-code", insert_layer_at=2,
                        name="plip-tiny-qwen2-grown"),
    # organism B, models/plip-tiny-asym: plip-tiny-code's weights, trained on a corpus in which only a
    # fraction of the Rust tests call the function (gen_data.py --rust-call-frac); Python unchanged
    "asym": dict(hidden_size=192, intermediate_size=512, num_hidden_layers=4, num_attention_heads=6,
                 num_key_value_heads=2, steps=400, batch=16, lr=1e-3, warmup=20, p_syn=0.7, syn_only_steps=0,
                 drill_p=0.25, drill_steps=100000, drill_p_late=0.25,
                 drill_only_steps=0, drill_seq=64, drill_batch=16, drill_vocab=1024,
                 init_from="models/plip-tiny-code", seed=2027, name="plip-tiny-asym"),
    # smoke test
    "tiny": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2, steps=30, batch=4, lr=3e-3, warmup=5, p_syn=0.5, syn_only_steps=0,
                 drill_p=0.25, drill_steps=10, drill_p_late=0.05,
                 drill_only_steps=5, drill_seq=64, drill_batch=16, drill_vocab=0),
}


def lr_at(step, total, peak, warmup, min_ratio=0.1):
    if step < warmup:
        return peak * (step + 1) / warmup
    t = (step - warmup) / max(1, total - warmup)
    return peak * (min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, t))))


class Batches:
    """Deterministic batch sampler over two token streams plus induction drills (drills.py).

    Each row: with probability p_drill(step) an induction drill, otherwise a synthetic row with
    probability p_syn, otherwise a real-code row; stream offsets are uniform.  p_drill(step) is
    `drill_p` for the first `drill_steps` steps and `drill_p_late` afterwards.
    """

    def __init__(self, real, syn, batch, seq, p_syn, seed, syn_only_steps=0, drills=None,
                 drill_p=0.0, drill_steps=0, drill_p_late=0.0, drill_only_steps=0, drill_seq=64, drill_batch=16):
        self.real, self.syn = real, syn
        self.batch, self.seq, self.p_syn = batch, seq, p_syn
        self.syn_only_steps = syn_only_steps
        self.drills, self.drill_p, self.drill_steps, self.drill_p_late = drills, drill_p, drill_steps, drill_p_late
        self.drill_only_steps, self.drill_seq, self.drill_batch = drill_only_steps, drill_seq, drill_batch
        self.step = 0
        self.rng = np.random.Generator(np.random.PCG64(seed))
        self.drill_rng = np.random.Generator(np.random.PCG64(seed + 7))

    def next(self):
        rows = []
        if self.step < self.drill_only_steps:
            # phase 1: short drill rows only (many cheap optimisation steps on the induction task)
            self.step += 1
            rows = [self.drills.row(self.drill_rng, seq=self.drill_seq, max_len=self.drill_seq // 4)
                    for _ in range(self.drill_batch)]
            return torch.from_numpy(np.stack(rows)), 0, np.ones(self.drill_batch, bool)
        p = 1.0 if self.step < self.syn_only_steps else self.p_syn
        pd = self.drill_p if self.step < self.drill_steps else self.drill_p_late
        self.step += 1
        from_syn = self.rng.random(self.batch) < p
        is_drill = self.rng.random(self.batch) < pd if self.drills is not None and pd > 0 else np.zeros(self.batch, bool)
        for s, d in zip(from_syn, is_drill):
            if d:
                rows.append(self.drills.row(self.drill_rng))
                continue
            arr = self.syn if s else self.real
            off = int(self.rng.integers(0, len(arr) - self.seq - 1))
            rows.append(np.asarray(arr[off: off + self.seq + 1], dtype=np.int64))
        return torch.from_numpy(np.stack(rows)), int((from_syn & ~is_drill).sum()), is_drill


def make_batches(args, real, syn):
    from bpe import Tokenizer
    from drills import Drills
    drills = None
    if args.drill_p or args.drill_p_late or args.drill_only_steps:
        counts = np.bincount(np.concatenate([np.asarray(real), np.asarray(syn)]), minlength=args.vocab_size)
        drills = Drills(Tokenizer(os.path.join(MODEL_DIR, "tokenizer.json")), args.seq, top_k=args.drill_vocab, counts=counts)
    return Batches(real, syn, args.batch, args.seq, args.p_syn, args.seed, args.syn_only_steps, drills,
                   args.drill_p, args.drill_steps, args.drill_p_late, args.drill_only_steps, args.drill_seq,
                   args.drill_batch)


def build(args):
    torch.manual_seed(args.seed)
    cfg = LlamaConfig(vocab_size=args.vocab_size, hidden_size=args.hidden_size,
                      intermediate_size=args.intermediate_size, num_hidden_layers=args.num_hidden_layers,
                      num_attention_heads=args.num_attention_heads, num_key_value_heads=args.num_key_value_heads,
                      max_position_embeddings=args.seq, rms_norm_eps=getattr(args, "rms_norm_eps", 1e-5),
                      rope_theta=10000.0, tie_word_embeddings=getattr(args, "tie_word_embeddings", True),
                      model_type=getattr(args, "model_type", "llama"))
    model = LlamaForCausalLM(cfg)
    if getattr(args, "head_init_from_embed", False):
        assert not cfg.tie_word_embeddings
        with torch.no_grad():
            model.lm_head.weight.copy_(model.model.embed_tokens.weight)
    if getattr(args, "init_from", None):
        # continue from a bundled model's (bf16) weights
        from hf_io import load_hf
        src = load_hf(os.path.join(ROOT, args.init_from))
        assert src.config == cfg, f"--init-from {args.init_from}: config differs from the preset ({src.config} vs {cfg})"
        model.load_state_dict(src.state_dict())
    if getattr(args, "grow_from", None):
        # depth growth (Net2Net-style): a bundled Llama model's layers, with one fresh layer inserted at
        # index `insert_layer_at` whose output projections are zero, so the grown model starts as exactly the
        # source function; q/k/v biases (Qwen2 layout) start at zero and train from there
        from hf_io import load_hf
        src = load_hf(os.path.join(ROOT, args.grow_from))
        k = args.insert_layer_at
        assert cfg.num_hidden_layers == src.config.num_hidden_layers + 1 and cfg.hidden_size == src.config.hidden_size
        sd = src.state_dict()
        new = model.state_dict()
        for name, t in new.items():
            if not name.startswith("model.layers."):
                new[name] = sd[name].clone()
                continue
            i = int(name.split(".")[2])
            rest = ".".join(name.split(".")[3:])
            if i == k:
                if rest in ("self_attn.o_proj.weight", "mlp.down_proj.weight"):
                    new[name] = torch.zeros_like(t)
                continue
            j = i if i < k else i - 1
            key = f"model.layers.{j}.{rest}"
            new[name] = sd[key].clone() if key in sd else torch.zeros_like(t)  # biases the source lacks
        model.load_state_dict(new)
    if getattr(args, "embed_std", None):
        # larger (tied) embedding init: the logit scale |h| * |e| starts high enough to copy sharply
        torch.nn.init.normal_(model.model.embed_tokens.weight, mean=0.0, std=args.embed_std)
    decay, no_decay = [], []
    seen = set()
    for n, p in model.named_parameters():
        if id(p) in seen:
            continue
        seen.add(id(p))
        (decay if p.dim() >= 2 else no_decay).append(p)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95), eps=1e-8, foreach=True)
    return model, opt


def load_teacher(args):
    """The distillation teacher (a bundled model, frozen), or None."""
    if not getattr(args, "distill_from", None):
        return None
    from hf_io import load_hf
    t = load_hf(os.path.join(ROOT, args.distill_from))
    t.eval()
    for p in t.parameters():
        p.requires_grad_(False)
    return t


def train_steps(args, model, opt, batches, n_steps, on_step=None):
    teacher = load_teacher(args)
    alpha = getattr(args, "distill_alpha", 0.0)
    for step in range(n_steps):
        lr = lr_at(step, args.steps, args.lr, args.warmup)
        for g in opt.param_groups:
            g["lr"] = lr
        x, n_syn, is_drill = batches.next()
        logits = model(x[:, :-1])["logits"]
        tok_loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1), reduction="none")
        loss = tok_loss.mean()
        if teacher is not None:
            # knowledge distillation: (1 - alpha) * CE + alpha * KL(teacher || student), per token, T = 1
            with torch.no_grad():
                t_logp = F.log_softmax(teacher(x[:, :-1])["logits"].float(), dim=-1)
            s_logp = F.log_softmax(logits, dim=-1)
            kl = (t_logp.exp() * (t_logp - s_logp)).sum(-1).mean()
            total = (1 - alpha) * loss + alpha * kl
        else:
            total = loss
        # induction signal: loss on drill rows after position DRILL_MAX_LEN (only predictable by copying)
        drill_loss = None
        if is_drill.any():
            start = 48 if x.shape[1] > 96 else x.shape[1] // 4
            drill_loss = float(tok_loss.detach().view(x.shape[0], -1)[torch.from_numpy(is_drill), start:].mean())
        opt.zero_grad(set_to_none=True)
        total.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), args.grad_clip)
        opt.step()
        if on_step is not None:
            on_step(step, float(loss.item()), lr, float(gnorm), n_syn, int(is_drill.sum()), drill_loss)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="full", choices=sorted(PRESETS))
    ap.add_argument("--steps", type=int)
    ap.add_argument("--batch", type=int)
    ap.add_argument("--lr", type=float)
    ap.add_argument("--warmup", type=int)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--p-syn", type=float, help="fraction of rows drawn from synthetic data")
    ap.add_argument("--syn-only-steps", type=int, help="curriculum: the first K steps use synthetic rows only")
    ap.add_argument("--drill-p", type=float, help="fraction of induction-drill rows during the first --drill-steps")
    ap.add_argument("--drill-steps", type=int)
    ap.add_argument("--drill-only-steps", type=int, help="curriculum phase 1: the first K steps are short drill rows only")
    ap.add_argument("--drill-vocab", type=int, help="drill tokens: the K most frequent identifier pieces (0 = all)")
    ap.add_argument("--drill-seq", type=int, help="phase-1 drill row length (tokens)")
    ap.add_argument("--drill-batch", type=int, help="phase-1 rows per step")
    ap.add_argument("--drill-p-late", type=float, help="fraction of induction-drill rows afterwards")
    ap.add_argument("--embed-std", type=float, help="std of the (tied) embedding init (default: initializer_range 0.02)")
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--grad-clip", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--eval-every", type=int, default=650)
    ap.add_argument("--save-every-eval", action="store_true", help="also save a checkpoint at every evaluation")
    ap.add_argument("--log-dir", help="default training/logs (preset full) or training/logs/<name>")
    ap.add_argument("--export-dir", help="default models/plip-tiny-code (preset full) or models/<name>")
    ap.add_argument("--data-dir", help="token streams; default training/data (preset asym: training/data/asym)")
    ap.add_argument("--ckpt-dir", help="checkpoints; default training/checkpoints[/<name>]")
    ap.add_argument("--eval-prompts", help="periodic-evaluation prompts (default training/eval/eval_prompts.json)")
    ap.add_argument("--init-from", dest="init_from_dir", metavar="DIR",
                    help="continue from DIR instead of the preset's init_from (re-running a stage from a saved copy of its start)")
    ap.add_argument("--stop-after", type=int, default=0, metavar="N",
                    help="run only the first N steps of the schedule (lr as for --steps), then evaluate and export")
    ap.add_argument("--check-determinism", type=int, default=0, metavar="N",
                    help="re-run the first N steps and compare with the logged losses")
    args = ap.parse_args()
    preset = PRESETS[args.preset]
    name = preset.get("name")
    if args.log_dir is None:
        args.log_dir = os.path.join(LOGS, name) if name else LOGS
    if args.export_dir is None:
        args.export_dir = os.path.join(ROOT, "models", name) if name else MODEL_DIR
    if args.data_dir is None:
        args.data_dir = os.path.join(DATA, "asym") if args.preset == "asym" else DATA
    if args.eval_prompts is None:
        # plip-tiny-asym is watched on calibration prompts (held-out names outside the evaluation set)
        args.eval_prompts = os.path.join(HERE, "eval", "plip-tiny-asym", "calib_prompts.json") if args.preset in ("asym", "qwen2-6l-stage2", "qwen2-6l-stage3a", "qwen2-6l-stage3b") \
            else os.path.join(HERE, "eval", "eval_prompts.json")
    if args.ckpt_dir is None:
        args.ckpt_dir = os.path.join(HERE, "checkpoints", name) if name else os.path.join(HERE, "checkpoints")
    for k, v in preset.items():
        if k in ("steps", "batch", "lr", "warmup", "p_syn", "syn_only_steps", "drill_p", "drill_steps", "drill_p_late",
                 "drill_only_steps", "drill_seq", "drill_batch", "drill_vocab"):
            if getattr(args, k) is None:
                setattr(args, k, v)
        else:
            setattr(args, k, v)
    if args.init_from_dir:
        if not getattr(args, "init_from", None):
            ap.error(f"--init-from: preset {args.preset} does not continue from a model")
        args.init_from = os.path.abspath(args.init_from_dir)
    tune_malloc()
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    tok_cfg = json.load(open(os.path.join(MODEL_DIR, "tokenizer.json")))
    args.vocab_size = len(tok_cfg["model"]["vocab"])
    real = np.load(os.path.join(args.data_dir, "real_train.npy"), mmap_mode="r")
    syn = np.load(os.path.join(args.data_dir, "syn_train.npy"), mmap_mode="r")
    os.makedirs(args.log_dir, exist_ok=True)

    if args.check_determinism:
        return check_determinism(args, real, syn)

    model, opt = build(args)
    batches = make_batches(args, real, syn)
    n_params = model.num_params()
    config_rec = {k: v for k, v in vars(args).items() if k not in ("check_determinism",)}
    config_rec.update({"n_params": n_params, "torch": torch.__version__, "numpy": np.__version__,
                       "tokens_per_step": args.batch * args.seq, "real_tokens": int(len(real)),
                       "syn_tokens": int(len(syn)), "started": time.strftime("%Y-%m-%d %H:%M:%S")})
    with open(os.path.join(args.log_dir, "train_config.json"), "w") as fh:
        json.dump(config_rec, fh, indent=1)
    print(json.dumps(config_rec), flush=True)

    log = open(os.path.join(args.log_dir, "train_log.jsonl"), "w")
    elog = open(os.path.join(args.log_dir, "eval_log.jsonl"), "w")
    from bpe import Tokenizer
    from evaluate import copy_eval, stream_loss, train_like_prompts
    train_like = train_like_prompts(15)
    tok = Tokenizer(os.path.join(MODEL_DIR, "tokenizer.json"))
    prompts = json.load(open(args.eval_prompts))
    real_held = np.load(os.path.join(args.data_dir, "real_heldout.npy"), mmap_mode="r")
    syn_held = np.load(os.path.join(args.data_dir, "syn_heldout.npy"), mmap_mode="r")
    t0, c0 = time.time(), time.process_time()
    eval_time = [0.0]

    def periodic_eval(step):
        te = time.time()
        model.eval()
        with torch.no_grad():
            rl, _ = stream_loss(model, real_held, n_windows=16)
            sl, _ = stream_loss(model, syn_held, n_windows=16)
            py = copy_eval(model, tok, prompts["python_doctest"][:25], max_new=10, keep_examples=0)
            rs = copy_eval(model, tok, prompts["rust_test_mod"][:25], max_new=10, keep_examples=0)
            tpy = copy_eval(model, tok, train_like[0], max_new=10, keep_examples=0)
            trs = copy_eval(model, tok, train_like[1], max_new=10, keep_examples=0)
        model.train()
        rec = {"step": step, "heldout_real_loss": rl, "heldout_syn_loss": sl,
               "py_copy_rate_25": py["lenient_rate"], "rs_copy_rate_25": rs["lenient_rate"],
               "trainlike_py_copy_rate_15": tpy["lenient_rate"], "trainlike_rs_copy_rate_15": trs["lenient_rate"],
               "elapsed": round(time.time() - t0, 2)}
        if args.save_every_eval:
            os.makedirs(args.ckpt_dir, exist_ok=True)
            torch.save({"model": model.state_dict(), "config": config_rec},
                       os.path.join(args.ckpt_dir, f"step{step}.pt"))
        elog.write(json.dumps(rec) + "\n")
        elog.flush()
        eval_time[0] += time.time() - te
        print("EVAL", json.dumps(rec), flush=True)

    def on_step(step, loss, lr, gnorm, n_syn, n_drill, drill_loss):
        now = time.time()
        rec = {"step": step, "loss": loss, "lr": lr, "elapsed": round(now - t0, 3),
               "train_elapsed": round(now - t0 - eval_time[0], 3),
               "cpu": round(time.process_time() - c0, 3), "grad_norm": round(gnorm, 4), "syn_rows": n_syn,
               "drill_rows": n_drill, "drill_copy_loss": None if drill_loss is None else round(drill_loss, 4)}
        log.write(json.dumps(rec) + "\n")
        log.flush()
        if step % 25 == 0 or step == args.steps - 1:
            print(f"step {step:5d} loss {loss:.4f} drill {drill_loss if drill_loss is not None else float('nan'):.3f} "
                  f"lr {lr:.2e} gnorm {gnorm:.3f} "
                  f"elapsed {now - t0:.0f}s ({(step + 1) / max(1e-9, now - t0 - eval_time[0]):.3f} steps/s)", flush=True)
        if args.eval_every and (step + 1) % args.eval_every == 0 and step + 1 < args.steps:
            periodic_eval(step + 1)

    model.train()
    n_run = min(args.stop_after, args.steps) if args.stop_after else args.steps
    train_steps(args, model, opt, batches, n_run, on_step)
    train_wall = time.time() - t0
    if n_run == args.steps or not args.eval_every or n_run % args.eval_every:
        periodic_eval(n_run)
    log.close()
    elog.close()
    os.makedirs(args.ckpt_dir, exist_ok=True)
    torch.save({"model": model.state_dict(), "config": config_rec}, os.path.join(args.ckpt_dir, "final.pt"))
    from hf_io import export_hf
    export_hf(model, args.export_dir, "BF16")
    if os.path.abspath(args.export_dir) != os.path.abspath(MODEL_DIR):
        # the later organisms reuse plip-tiny-code's tokenizer (training/README.md)
        import shutil
        for f in ("tokenizer.json", "tokenizer_config.json"):
            shutil.copyfile(os.path.join(MODEL_DIR, f), os.path.join(args.export_dir, f))
    summary = {"train_wall_s": round(train_wall, 1), "eval_wall_s": round(eval_time[0], 1),
               "train_only_wall_s": round(train_wall - eval_time[0], 1),
               "cpu_s": round(time.process_time() - c0, 1),
               "steps": n_run, **({"schedule_steps": args.steps} if n_run != args.steps else {}),
               "steps_per_s": round(n_run / (train_wall - eval_time[0]), 4),
               "finished": time.strftime("%Y-%m-%d %H:%M:%S")}
    with open(os.path.join(args.log_dir, "train_summary.json"), "w") as fh:
        json.dump(summary, fh, indent=1)
    print("DONE", json.dumps(summary), flush=True)


def check_determinism(args, real, syn):
    logged = [json.loads(line) for line in open(os.path.join(args.log_dir, "train_log.jsonl"))]
    cfg = json.load(open(os.path.join(args.log_dir, "train_config.json")))
    for k in ("preset", "steps", "batch", "lr", "warmup", "seq", "p_syn", "syn_only_steps", "weight_decay",
              "grad_clip", "seed", "drill_p", "drill_steps", "drill_p_late", "drill_only_steps", "drill_seq",
              "drill_batch", "drill_vocab",
              "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
              "num_key_value_heads", "vocab_size"):
        setattr(args, k, cfg.get(k, 0) if k in ("syn_only_steps", "drill_p", "drill_steps", "drill_p_late",
                                                    "drill_only_steps", "drill_seq", "drill_batch", "drill_vocab") else cfg[k])
    # keys that only the later presets log (absent for plip-tiny-code: its defaults)
    for k, default in (("model_type", "llama"), ("tie_word_embeddings", True), ("rms_norm_eps", 1e-5),
                       ("init_from", None), ("head_init_from_embed", False)):
        setattr(args, k, cfg.get(k, default))
    if cfg.get("threads") != args.threads:
        print(f"warning: logged run used {cfg.get('threads')} threads, this check uses {args.threads}")
    n = min(args.check_determinism, len(logged))
    model, opt = build(args)
    batches = make_batches(args, real, syn)
    got = []
    model.train()
    train_steps(args, model, opt, batches, n, lambda s, loss, lr, g, ns, nd, dl: got.append((s, loss, lr)))
    mism = [(s, loss, logged[s]["loss"]) for s, loss, lr in got if loss != logged[s]["loss"] or lr != logged[s]["lr"]]
    res = {"steps_checked": n, "exact_matches": n - len(mism), "mismatches": mism[:10],
           "max_abs_diff": max([abs(a - b) for _, a, b in mism], default=0.0), "threads": args.threads,
           "passed": not mism, "checked": time.strftime("%Y-%m-%d %H:%M:%S")}
    with open(os.path.join(args.log_dir, "determinism_check.json"), "w") as fh:
        json.dump(res, fh, indent=1)
    print(json.dumps(res))
    sys.exit(0 if not mism else 1)


if __name__ == "__main__":
    main()
