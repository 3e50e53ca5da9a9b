#!/bin/sh
# Offline, deterministic rebuild of the two later organisms (run from the repo root, after the
# plip-tiny-code corpus exists: training/gen_data.py; both reuse models/plip-tiny-code/tokenizer.json).
#   models/plip-tiny-qwen2  second family (Qwen2 layout, 6 layers), trained from scratch on plip-tiny-code's corpus
#                           (stages 1, 2, 3b; each continues from the previous stage's export)
#   models/plip-tiny-asym   plip-tiny-code's weights trained further on a corpus where only half of the
#                           synthetic Rust tests call the function (Python unchanged)
set -eu
PY=/usr/bin/python3
$PY training/tokenize_data.py                                  # training/data/*.npy with the shipped BPE
# --- organism A: Qwen2 layout, 6 layers, hidden 128, seed 2468, from scratch (runs 1-6 and 8 that did not
# copy are in training/logs/plip-tiny-qwen2/failed_runs.md)
$PY training/train.py --preset qwen2-6l --threads 1 --eval-every 500 --save-every-eval       # stage 1: 2300 steps
$PY training/train.py --preset qwen2-6l --threads 1 --check-determinism 50
# stage 2: 600 more steps from stage 1's export, watched on calibration prompts only; then it replaces it
$PY training/train.py --preset qwen2-6l-stage2 --threads 1 --eval-every 100 --save-every-eval
$PY training/train.py --preset qwen2-6l-stage2 --threads 1 --log-dir training/logs/plip-tiny-qwen2-stage2 --check-determinism 50
mkdir -p training/logs/plip-tiny-qwen2/stage2 && mv training/logs/plip-tiny-qwen2-stage2/* training/logs/plip-tiny-qwen2/stage2/
mv models/plip-tiny-qwen2-stage2/* models/plip-tiny-qwen2/ && rmdir models/plip-tiny-qwen2-stage2
# stage 3b: 400 more steps from stage 2 with induction drills over every identifier piece (stage 2's misses
# were name pieces outside the 1024-piece drill vocabulary); watched on calibration prompts; then it replaces it
$PY training/train.py --preset qwen2-6l-stage3b --threads 1 --eval-every 50 --save-every-eval
$PY training/tools/calib_checkpoints.py training/checkpoints/plip-tiny-qwen2-stage3b --base models/plip-tiny-qwen2
$PY training/train.py --preset qwen2-6l-stage3b --threads 1 --log-dir training/logs/plip-tiny-qwen2-stage3b --check-determinism 50
mkdir -p training/logs/plip-tiny-qwen2/stage3b && mv training/logs/plip-tiny-qwen2-stage3b/* training/logs/plip-tiny-qwen2/stage3b/
mv models/plip-tiny-qwen2-stage3b/* models/plip-tiny-qwen2/ && rmdir models/plip-tiny-qwen2-stage3b
EVAL_GROUPS=python_doctest,rust_test_mod \
  sh training/post_train_organism.sh plip-tiny-qwen2 training/eval/eval_prompts.json training/data \
  python_doctest:py_000,python_doctest:py_001,rust_test_mod:rs_000,rust_test_mod:rs_001
# --- organism B
mkdir -p training/data/asym training/eval/plip-tiny-asym
$PY training/gen_data.py --rust-call-frac 0.5 --data-dir training/data/asym \
  --eval-out training/data/asym/eval_prompts.json --manifest-out training/data/asym/data_manifest.json \
  --n-calib 60 --calib-out training/eval/plip-tiny-asym/calib_prompts.json
cmp training/data/asym/eval_prompts.json training/eval/eval_prompts.json   # same held-out prompts as plip-tiny-code
cp training/data/real_train.npy training/data/real_heldout.npy training/data/asym/
$PY training/tokenize_data.py --data-dir training/data/asym --only syn_train,syn_heldout
# the shipped model is step 150 of the 400-step schedule (the first point, on the calibration prompts,
# inside the 25-65% Rust window; the full schedule ends at 78%): models/plip-tiny-asym/README.md
$PY training/train.py --preset asym --threads 1 --eval-every 50 --save-every-eval --stop-after 150
$PY training/tools/calib_checkpoints.py training/checkpoints/plip-tiny-asym     # calibration-set trajectory
$PY training/train.py --preset asym --threads 1 --check-determinism 50
EVAL_GROUPS=python_doctest,rust_test_mod \
  sh training/post_train_organism.sh plip-tiny-asym training/eval/eval_prompts.json training/data/asym \
  python_doctest:py_000,python_doctest:py_001,rust_test_mod:rs_001,rust_test_mod:rs_002
sh training/tools/copying_heads.sh models/plip-tiny-asym 3 6 training/logs/plip-tiny-asym
