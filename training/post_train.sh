#!/bin/sh
# Everything measured on a freshly trained models/plip-tiny-code, in order (run from the repo root,
# after training/train.py and `bash scripts/setup.sh`). Outputs go to training/logs/ (committed) and
# fixtures/plip-tiny-code/golden.json (the TypeScript parity fixture).
set -eu
PY=/usr/bin/python3
M=models/plip-tiny-code
CORPUS=../shared/corpus/attention_samples_universal.json
$PY training/test_hf_semantics.py --write-reference          # NumPy HF-Llama forward == torch model
$PY scripts/reference/model_organism_ref.py                   # golden logits/greedy for test/model/organism.test.ts
$PY training/evaluate.py                                      # copying rates, held-out losses vs unigram
$PY training/tools/loss_table.py > training/logs/loss_table.md
node bin/plip.mjs scan --model $M --corpus $CORPUS --out training/logs/plip_scan.json --seed 1 --restart \
  | tee training/logs/plip_scan.txt
node bin/plip.mjs knockout --model $M --corpus $CORPUS --layers all --controls 5 --seed 1 \
  --out training/logs/plip_knockout.json --restart | tee training/logs/plip_knockout.txt
node bin/plip.mjs copying --model $M --prompts training/eval/eval_prompts.json --groups python_doctest,rust_test_mod \
  --limit 50 --layers all --targets all --controls 3 --max-tokens 16 --seed 1 \
  --out training/logs/plip_copying.json --restart | tee training/logs/plip_copying.txt
node bin/plip.mjs steer --model $M --corpus $CORPUS --groups python_doctest,rust_test --layers all \
  --calibrate-to python_doctest --controls 3 --seed 1 --out training/logs/plip_steer.json --restart \
  | tee training/logs/plip_steer.txt
node bin/plip.mjs patch --model $M --prompts training/eval/eval_prompts.json --groups python_doctest,rust_test_mod \
  --limit 50 --seed 1 --out training/logs/plip_patch.json --restart | tee training/logs/plip_patch.txt
node --import tsx training/tools/copying_dose.mts > training/logs/plip_copying_dose.md   # steering dose-response (~4 min)
