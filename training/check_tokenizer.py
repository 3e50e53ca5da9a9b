#!/usr/bin/python3
"""Check that the Python reference encoder (training/bpe.py) and the JS library
@huggingface/tokenizers (used by the TypeScript engine) produce identical ids
(with the BOS added by the TemplateProcessing post-processor) and round-trip.

Usage (from the repo root): /usr/bin/python3 training/check_tokenizer.py [model_dir]
Texts: all evaluation prompts, all held-out real-code files, 400 synthetic
held-out files, a sample of training files, and some edge cases.
"""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from bpe import Tokenizer  # noqa: E402


def main():
    model_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "models", "plip-tiny-code")
    tok = Tokenizer(os.path.join(model_dir, "tokenizer.json"))
    texts = []
    prompts = json.load(open(os.path.join(HERE, "eval", "eval_prompts.json")))
    for k, v in prompts.items():
        if isinstance(v, list):
            texts += [p["prompt"] for p in v]
    data = os.path.join(HERE, "data")
    for name, limit in [("real_heldout", None), ("syn_heldout", None), ("real_train", 300), ("syn_train", 300)]:
        p = os.path.join(data, name + ".jsonl")
        if os.path.exists(p):
            with open(p) as fh:
                for i, line in enumerate(fh):
                    if limit is not None and i >= limit:
                        break
                    texts.append(json.loads(line)["text"])
    texts += ["", " ", "  x", ">>> ", "    >>> ", "héllo wörld — ünïcode ✓ 日本語 😀", "\t\ttabs\r\nwindows\n",
              "a  b   c\n\n\n  ", "x=1;y=2", "0x1F 3.14e-5 1_000_000", "'''doc'''", "#[test]\nfn f() {}"]
    with tempfile.TemporaryDirectory() as td:
        inp, outp = os.path.join(td, "in.json"), os.path.join(td, "out.json")
        json.dump(texts, open(inp, "w"))
        subprocess.run(["node", os.path.join(HERE, "tools", "encode_js.mjs"), model_dir, inp, outp],
                       check=True, cwd=ROOT)
        js = json.load(open(outp))
    n_tok = 0
    mismatches = 0
    roundtrip_bad = 0
    for t, jids, jdec in zip(texts, js["ids"], js["decoded"]):
        pids = tok.encode(t, add_bos=True)
        n_tok += len(pids)
        if pids != jids:
            mismatches += 1
            if mismatches <= 3:
                k = next((i for i, (a, b) in enumerate(zip(pids, jids)) if a != b), min(len(pids), len(jids)))
                print("MISMATCH at", k, repr(tok.decode(pids[max(0, k - 5):k + 5], skip_special=False)),
                      pids[max(0, k - 3):k + 3], jids[max(0, k - 3):k + 3])
        if tok.decode(pids) != t or jdec != t:
            roundtrip_bad += 1
            if roundtrip_bad <= 3:
                print("ROUNDTRIP", repr(t[:80]), repr(jdec[:80]))
    print(json.dumps({"texts": len(texts), "tokens": n_tok, "id_mismatches": mismatches,
                      "roundtrip_failures": roundtrip_bad}))
    sys.exit(1 if mismatches or roundtrip_bad else 0)


if __name__ == "__main__":
    main()
