#!/bin/sh
# Full, offline, deterministic rebuild of models/plip-tiny-code (run from the repo root).
# Needs: Debian python3-torch, python3-numpy, python3-regex; Rust crate sources from
#   apt-get install librust-serde-dev librust-regex-dev librust-itertools-dev librust-log-dev \
#     librust-rand-dev librust-num-traits-dev librust-hashbrown-dev librust-bytes-dev \
#     librust-smallvec-dev librust-anyhow-dev librust-semver-dev librust-indexmap-dev
# and node + @huggingface/tokenizers (npm install) for the tokenizer parity check.
set -eu
PY=/usr/bin/python3
$PY training/gen_data.py                      # corpus + held-out eval prompts   (~1 min)
$PY training/train_tokenizer.py               # byte-level BPE, vocab 3072       (~2 min)
$PY training/check_tokenizer.py               # Python encoder == JS library ids
$PY training/train.py --save-every-eval       # 2300 steps, 2 threads            (~55 min)
sh training/post_train.sh                     # checks, fixture, evaluation, plip scan/knockout/copying
$PY training/train.py --check-determinism 100 # first 100 steps reproduce the logged losses
