#!/bin/sh
# Everything measured on a freshly trained later organism (models/plip-tiny-qwen2, models/plip-tiny-asym),
# in order (run from the repo root after training/train.py --preset qwen2|asym and `bash scripts/setup.sh`).
#   sh training/post_train_organism.sh NAME PROMPTS DATA_DIR PICKS
# NAME: plip-tiny-qwen2 | plip-tiny-asym; PROMPTS: its held-out evaluation prompts; DATA_DIR: its token
# streams (held-out losses, unigram baselines); PICKS: group:id,... for the parity fixture.
# Outputs: training/logs/NAME/ (committed) and fixtures/NAME/golden.json (the TypeScript parity fixture).
set -eu
PY=/usr/bin/python3
NAME=$1; PROMPTS=$2; DATA=$3; PICKS=$4
M=models/$NAME
L=training/logs/$NAME
CORPUS=../shared/corpus/attention_samples_universal.json
mkdir -p $L
$PY training/test_hf_semantics.py $M --write-reference                    # NumPy HF forward == torch model
$PY scripts/reference/model_organism_ref.py --model $M --prompts $PROMPTS --pick $PICKS   # golden logits/greedy
$PY training/evaluate.py --model $M --prompts $PROMPTS --data-dir $DATA ${EVAL_GROUPS:+--groups $EVAL_GROUPS} --out $L/eval_results.json | tee $L/eval.txt
$PY training/tools/loss_table.py --log-dir $L > $L/loss_table.md
node bin/plip.mjs scan --model $M --corpus $CORPUS --out $L/plip_scan.json --seed 1 --restart \
  | tee $L/plip_scan.txt
node bin/plip.mjs knockout --model $M --corpus $CORPUS --layers all --controls 5 --seed 1 \
  --out $L/plip_knockout.json --restart | tee $L/plip_knockout.txt
node bin/plip.mjs copying --model $M --prompts $PROMPTS --groups python_doctest,rust_test_mod \
  --limit 50 --layers all --targets all --controls 3 --max-tokens 16 --seed 1 \
  --out $L/plip_copying.json --restart | tee $L/plip_copying.txt
