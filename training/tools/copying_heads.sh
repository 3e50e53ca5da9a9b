#!/bin/sh
# Which heads of one layer carry the copy: `plip copying` with the knockout restricted to one query head at a
# time (all other heads untouched), 30 held-out prompts per group.
#   sh training/tools/copying_heads.sh MODEL_DIR LAYER N_HEADS OUT_DIR
set -eu
M=$1; LAYER=$2; NH=$3; OUT=$4
h=0
while [ $h -lt $NH ]; do
  node bin/plip.mjs copying --model $M --prompts training/eval/eval_prompts.json --groups python_doctest,rust_test_mod \
    --limit 30 --layers $LAYER --heads $h --no-all --targets all --controls 3 --max-tokens 16 --seed 1 \
    --out $OUT/plip_copying_L${LAYER}_h$h.json --restart > $OUT/plip_copying_L${LAYER}_h$h.txt 2>&1
  h=$((h + 1))
done
