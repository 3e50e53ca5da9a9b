#!/usr/bin/python3
"""Markdown tables of the training curves, for the model card.

Usage: /usr/bin/python3 training/tools/loss_table.py [--every 100] [--log-dir training/logs/NAME]
Reads training/logs/train_log.jsonl (per-step training loss, drill copy loss) and eval_log.jsonl
(periodic held-out evaluation) and prints two markdown tables.
"""
import argparse
import json
import os

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOGS = os.path.join(HERE, "logs")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--every", type=int, default=100)
    ap.add_argument("--log-dir", default=LOGS)
    args = ap.parse_args()
    logs = args.log_dir
    rows = [json.loads(x) for x in open(os.path.join(logs, "train_log.jsonl"))]
    print("| steps | mean training loss (nats/token) | mean drill copy loss (nats/token) | phase |")
    print("|---|---|---|---|")
    cfg = json.load(open(os.path.join(logs, "train_config.json")))
    for a in range(0, len(rows), args.every):
        chunk = rows[a: a + args.every]
        tl = sum(r["loss"] for r in chunk) / len(chunk)
        dl = [r["drill_copy_loss"] for r in chunk if r.get("drill_copy_loss") is not None]
        phase = "drills only (64-token rows)" if chunk[-1]["step"] < cfg.get("drill_only_steps", 0) else "code + drills"
        dls = f"{sum(dl) / len(dl):.3f}" if dl else "–"
        print(f"| {chunk[0]['step']}–{chunk[-1]['step']} | {tl:.3f} | {dls} | {phase} |")
    print()
    ev = [json.loads(x) for x in open(os.path.join(logs, "eval_log.jsonl"))]
    print("| step | held-out real code loss | held-out synthetic loss | py copy (25 held-out) | rs copy (25 held-out) |"
          " py copy (15 training-like) | rs copy (15 training-like) |")
    print("|---|---|---|---|---|---|---|")
    for e in ev:
        print(f"| {e['step']} | {e['heldout_real_loss']:.3f} | {e['heldout_syn_loss']:.3f} | {e['py_copy_rate_25']:.2f} | "
              f"{e['rs_copy_rate_25']:.2f} | {e['trainlike_py_copy_rate_15']:.2f} | {e['trainlike_rs_copy_rate_15']:.2f} |")


if __name__ == "__main__":
    main()
