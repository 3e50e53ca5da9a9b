#!/usr/bin/env python3
"""Builds the prompt sets in prompts/ (see README.md). Deterministic; run from the repository root:

    python3 prompts/build_prompts.py

Inputs: training/eval/eval_prompts.json (the organism's held-out prompts), ../shared/corpus/
generation_prompts_n50.json (50 Rust prompts), prompts/real_python_items.py and prompts/real_rust_bodies.py
(hand-written functions).
"""
import ast
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from real_python_items import ITEMS  # noqa: E402
from real_rust_bodies import BODIES  # noqa: E402


def split_top(s):
    """Split at commas outside (), [], <>."""
    out, depth, cur = [], 0, ""
    for ch in s:
        if ch in "([<":
            depth += 1
        elif ch in ")]>":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur)
    return [p.strip() for p in out]


def rust_params(sig):
    start = sig.index("(", re.search(r"\bfn\s+\w+", sig).end())
    depth = 0
    for i in range(start, len(sig)):
        depth += {"(": 1, ")": -1}.get(sig[i], 0)
        if depth == 0:
            break
    return [p.split(":")[0].strip().removeprefix("mut ").strip() for p in split_top(sig[start + 1:i])]


def py_params(src, name):
    for node in ast.walk(ast.parse(src)):
        if isinstance(node, ast.FunctionDef) and node.name == name:
            a = node.args
            return [x.arg for x in a.posonlyargs + a.args] + ([a.vararg.arg] if a.vararg else []) + \
                [x.arg for x in a.kwonlyargs] + ([a.kwarg.arg] if a.kwarg else [])
    raise SystemExit(f"no def {name}")


def py_first_example(rest):
    """The first example line + its expected-output line of a docstring tail."""
    lines = rest.split("\n")
    return lines[0] + "\n" + lines[1] + "\n"


def write(path, obj):
    with open(path, "w") as fh:
        json.dump(obj, fh, indent=1, ensure_ascii=False)
        fh.write("\n")


def organism():
    ev = json.load(open(os.path.join(ROOT, "training/eval/eval_prompts.json")))
    py = []
    for p in ev["python_doctest"]:
        assert p["full"].startswith(p["prompt"])
        py.append({"id": p["id"], "language": "python", "name": p["name"], "params": py_params(p["full"], p["name"]),
                   "category": p["style"], "prompt": p["prompt"], "reference": p["full"],
                   "solution": py_first_example(p["full"][len(p["prompt"]):])})
    rs = []
    for top, mod in zip(ev["rust_test_top"], ev["rust_test_mod"]):
        assert top["name"] == mod["name"]
        ref = top["prompt"][:top["prompt"].index("\n#[test]\n")] + "\n"
        ret = re.search(r"->\s*([^{]+?)\s*\{", ref).group(1)
        fa = mod["first_assert"]
        if fa.startswith("assert_eq!("):
            sol = fa[len("assert_eq!("):]
        else:  # assert!(X); / assert!(!X); for bool functions, continued as the prompt's assert_eq!(
            m = re.fullmatch(r"assert!\((!?)(.*)\);", fa)
            sol = f"{m.group(2)}, {'false' if m.group(1) else 'true'});"
        rs.append({"id": top["id"], "language": "rust", "name": top["name"], "params": rust_params(ref),
                   "category": "returns " + ret, "prompt": top["prompt"], "reference": ref,
                   "solution": sol + "\n}\n"})
    write(os.path.join(HERE, "organism.json"), {
        "_description": "Held-out prompts of the bundled organism models/plip-tiny-code: python = "
                        "training/eval/eval_prompts.json python_doctest, rust = its rust_test_top (built by "
                        "prompts/build_prompts.py; see prompts/README.md).",
        "_source": "training/eval/eval_prompts.json (training/gen_data.py --seed 1234)",
        "python": py, "rust": rs})


def real_python():
    recs = []
    for i, (cat, name, params, doc, body, call, exp) in enumerate(ITEMS):
        head = f"def {name}({params}):\n"
        ref = head + f'    """{doc}"""\n' + "".join(f"    {l}\n" for l in body.split("\n"))
        recs.append({"id": f"py_real_{i:02d}_{name}", "language": "python", "name": name, "params": py_params(ref, name),
                     "category": cat,
                     "prompt": f"Complete this Python function with a doctest:\n\n{head}    \"\"\"{doc}\n\n    >>>",
                     "reference": ref, "solution": f" {call}\n    {exp}\n"})
    return recs


def real_rust():
    src = json.load(open(os.path.join(ROOT, "../shared/corpus/generation_prompts_n50.json")))
    recs = []
    for p in src["prompts"]:
        lines = p["prompt"].split("\n")
        sig = lines[-1]
        assert sig.startswith("fn ") and sig.endswith("{"), p["id"]
        doc = [l for l in lines[:-1]]
        t = doc.index("/// #[test]")
        desc = [l for l in doc[:t] if l.strip() != "///"]
        attrs, body, in_fn = [], [], False
        for l in doc[t + 1:]:
            s = l[4:] if l.startswith("/// ") else l[3:]
            if not in_fn:
                if s.startswith("fn "):
                    in_fn = True
                else:
                    attrs.append(s)
            elif s == "}":
                break
            else:
                body.append(s)
        name = re.match(r"fn (\w+)", sig).group(1)
        ref = "\n".join(desc) + "\n" + sig + "\n" + "".join(f"    {l}\n" for l in BODIES[p["id"]].split("\n")) + "}\n"
        prompt = ref + "\n#[test]\n" + "".join(a + "\n" for a in attrs) + f"fn test_{name}() {{\n"
        recs.append({"id": f"rs_real_{p['id']}", "language": "rust", "name": name, "params": rust_params(sig),
                     "category": p["category"], "prompt": prompt, "reference": ref,
                     "solution": "".join(b + "\n" for b in body) + "}\n"})
    return recs


if __name__ == "__main__":
    organism()
    py, rs = real_python(), real_rust()
    write(os.path.join(HERE, "real-python.json"), {
        "_description": "Python prompts for real code LMs in the roadmap's phase 3 form (prompts/README.md).",
        "python": py})
    write(os.path.join(HERE, "real-rust.json"), {
        "_description": "Rust prompts for real code LMs in the roadmap's phase 4 form, adapted from "
                        "../shared/corpus/generation_prompts_n50.json (prompts/README.md).",
        "_source": "../shared/corpus/generation_prompts_n50.json",
        "rust": rs})
    write(os.path.join(HERE, "real.json"), {
        "_description": "real-python.json and real-rust.json in one file (phase 4 calibrates on the Python group "
                        "and steers the Rust group).",
        "python": py, "rust": rs})
