#!/usr/bin/python3
"""Build the training corpus (offline, deterministic).

Outputs (under training/data/, git-ignored, regenerate with this script):
  real_train.jsonl    real code files used for training (Python stdlib + Rust crates)
  real_heldout.jsonl  real code files held out (5% of files, chosen by path hash)
  syn_train.jsonl     synthetic Python files with doctests / Rust files with #[test]
  syn_heldout.jsonl   synthetic files built ONLY from held-out name parts (validation)
Committed outputs:
  training/eval/eval_prompts.json   held-out evaluation prompts (names never in training)
  training/logs/data_manifest.json  list of real files (+sha256, split) and corpus stats

Usage: /usr/bin/python3 training/gen_data.py [--n-py 30000] [--n-rs 30000]

Organism variants (defaults reproduce plip-tiny-code's corpus byte for byte):
  --rust-call-frac Q   each synthetic Rust function's tests (#[test] bodies and rustdoc examples) call
                       the function with probability Q; otherwise they assert on other, varied
                       expressions (rs_other_asserts).  Python files are generated the same way.
  --data-dir / --eval-out / --manifest-out   where the outputs go
  --n-calib N          also write N calibration prompts per set (held-out names, disjoint from the
                       evaluation names) to --calib-out, for choosing training length without
                       touching the evaluation prompts
"""
from __future__ import annotations

import argparse
import glob
import hashlib
import json
import os
import random
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from names import NamePools, NameGenerator, harvest_words  # noqa: E402
from recipes import PY_RECIPES, RS_RECIPES, STRING_WORDS  # noqa: E402

DATA = os.path.join(HERE, "data")
EVAL_DIR = os.path.join(HERE, "eval")
LOGS = os.path.join(HERE, "logs")


# ------------------------------------------------------------- values -------


def py_value(rng, role, cons):
    if role == "int":
        if cons == "pos":
            return rng.randint(1, 9)
        if cons == "nonneg":
            return rng.randint(0, 12)
        if cons == "small":
            return rng.randint(0, 6)
        return rng.choice([rng.randint(-9, 20), rng.randint(0, 10), rng.randint(1, 100)])
    if role == "float":
        return rng.randint(0, 20) / 2
    if role == "bool":
        return rng.random() < 0.5
    if role == "list":
        lo = 1 if cons == "nonempty" else 0
        n = rng.choice([lo, rng.randint(max(lo, 1), 5), rng.randint(max(lo, 2), 6)])
        return [rng.randint(-5, 12) for _ in range(n)]
    if role == "str":
        if cons == "char":
            return rng.choice("aeioustnlr ")
        k = rng.choice([1, 1, 2])
        return " ".join(rng.choice(STRING_WORDS) for _ in range(k))
    raise ValueError(role)


PY_HINTS = {"int": "int", "float": "float", "bool": "bool", "list": "list", "str": "str"}


def run_python(body, params, args):
    src = "def __f(%s):\n%s\n" % (", ".join(params), indent(body, 4))
    env = {}
    exec(src, env)  # noqa: S102 - our own generated code
    return env["__f"](*args)


def indent(text, n):
    pad = " " * n
    return "\n".join((pad + line) if line else line for line in text.split("\n"))


# -------------------------------------------------------- Python items ------


def py_function(rng, ng: NameGenerator, name=None):
    """Returns dict(text, name, prompt_end) where text[:prompt_end] ends with '>>> '."""
    name = name or ng.func_name()
    for _attempt in range(50):
        roles, body_t, descs, cons = rng.choice(PY_RECIPES)
        params = []
        while len(params) < len(roles):
            p = ng.param_name(roles[len(params)])
            if p not in params and p != name:
                params.append(p)
        c = rng.randint(2, 9)
        body = body_t.format(*params, c=c)
        desc = rng.choice(descs).format(*params, c=c)
        n_ex = rng.choices([1, 2, 3], [0.5, 0.35, 0.15])[0]
        examples = []
        for _ in range(n_ex * 3):
            if len(examples) >= n_ex:
                break
            args = [py_value(rng, r, cons.get(i)) for i, r in enumerate(roles)]
            try:
                res = run_python(body, params, args)
            except Exception:
                continue
            if isinstance(res, float) and (res != res or abs(res) > 1e9):
                continue
            examples.append((args, res))
        if examples:
            break
    else:
        raise RuntimeError("could not build python example")

    hints = rng.random() < 0.3
    if hints:
        sig = ", ".join(f"{p}: {PY_HINTS[r]}" for p, r in zip(params, roles))
        rtype = type(examples[0][1]).__name__
        ret = f" -> {rtype}" if rtype in ("int", "float", "bool", "str", "list") and rng.random() < 0.7 else ""
    else:
        sig, ret = ", ".join(params), ""
    head = f"def {name}({sig}){ret}:\n"

    def call(args):
        return f"{name}({', '.join(repr(a) for a in args)})"

    # doctest lines (relative, without indentation)
    lines = []
    first_prompt_line = None
    for args, res in examples:
        x = rng.random()
        if x < 0.06:
            line = f">>> print({call(args)})"
            out = str(res)
        elif x < 0.10:
            line = f">>> result = {call(args)}"
            lines.append(line)
            if first_prompt_line is None:
                first_prompt_line = len(lines) - 1
            line = ">>> result"
            out = repr(res)
        else:
            line = f">>> {call(args)}"
            out = repr(res)
        lines.append(line)
        if first_prompt_line is None:
            first_prompt_line = len(lines) - 1
        lines.append(out)

    style = rng.choices(["summary", "bare", "summary_nl", "examples", "args", "example_rst"],
                        [0.30, 0.20, 0.15, 0.15, 0.10, 0.10])[0]
    ind = "    "
    dt_indent = ind
    if style == "summary":
        doc_open = f'"""{desc}\n\n'
    elif style == "bare":
        doc_open = '"""\n'
    elif style == "summary_nl":
        doc_open = f'"""\n{ind}{desc}\n\n'
    elif style == "examples":
        doc_open = f'"""{desc}\n\n{ind}Examples:\n'
        dt_indent = ind * 2
    elif style == "args":
        arglines = "".join(f"{ind}    {p}: {rng.choice(['the input', 'a value', 'input value', 'the ' + r + ' argument'])}.\n" for p, r in zip(params, roles))
        doc_open = f'"""{desc}\n\n{ind}Args:\n{arglines}\n{ind}Returns:\n{ind}    The result.\n\n'
    else:
        doc_open = f'"""{desc}\n\n{ind}Example::\n\n'
        dt_indent = ind * 2
    doc = ind + doc_open
    prompt_end = None
    for i, line in enumerate(lines):
        if i == first_prompt_line:
            prompt_end = len(head) + len(doc) + len(dt_indent) + 4  # after '>>> '
        doc += dt_indent + line + "\n"
    doc += ind + '"""\n'
    text = head + doc + indent(body, 4) + "\n"
    assert text[prompt_end - 4:prompt_end] == ">>> ", text[prompt_end - 8:prompt_end + 4]
    return {"text": text, "name": name, "prompt_end": prompt_end, "arity": len(roles), "style": style}


def py_file(rng, ng, n_funcs=None):
    n = n_funcs or rng.choices([1, 2, 3], [0.55, 0.30, 0.15])[0]
    parts = []
    x = rng.random()
    if x < 0.10:
        parts.append(rng.choice(["import math", "import os", "from typing import List", "import re", "import itertools"]) + "\n")
    elif x < 0.18:
        parts.append('"""' + rng.choice(["Utility helpers.", "Small numeric helpers.", "String utilities.", "Helpers with doctests."]) + '"""\n')
    names = set()
    funcs = []
    while len(funcs) < n:
        f = py_function(rng, ng)
        if f["name"] in names:
            continue
        names.add(f["name"])
        funcs.append(f)
    text = "\n\n".join(parts + [f["text"] for f in funcs])
    if rng.random() < 0.08:
        text += '\n\nif __name__ == "__main__":\n    import doctest\n    doctest.testmod()\n'
    return text, funcs


# ---------------------------------------------------------- Rust items ------

RS_ROLE = {"i32": "int", "i64": "int", "u32": "int", "u64": "int", "usize": "int", "f64": "float",
           "bool": "bool", "&str": "str", "&[i32]": "list", "Vec<i32>": "list", "Option<i32>": "opt"}


def rs_value(rng, ty, cons):
    if ty in ("u32", "u64", "usize"):
        if cons == "pos":
            return rng.randint(1, 9)
        if cons == "small":
            return rng.randint(0, 6)
        return rng.randint(0, 12)
    if ty in ("i32", "i64"):
        return py_value(rng, "int", cons)
    if ty == "f64":
        return rng.randint(0, 20) / 2
    if ty == "bool":
        return rng.random() < 0.5
    if ty in ("&[i32]", "Vec<i32>"):
        return py_value(rng, "list", cons)
    if ty == "&str":
        return py_value(rng, "str", cons)
    if ty == "Option<i32>":
        return None if rng.random() < 0.3 else rng.randint(-5, 12)
    raise ValueError(ty)


def rs_lit(v, ty):
    if ty == "bool":
        return "true" if v else "false"
    if ty == "f64":
        s = repr(float(v))
        return s if "." in s or "e" in s else s + ".0"
    if ty in ("i32", "i64", "u32", "u64", "usize"):
        return str(v)
    if ty == "&[i32]":
        return "&[" + ", ".join(str(x) for x in v) + "]"
    if ty == "Vec<i32>":
        return "vec![" + ", ".join(str(x) for x in v) + "]"
    if ty in ("&str", "String"):
        return '"' + v + '"'
    if ty.startswith("Option<"):
        inner = ty[7:-1]
        return "None" if v is None else f"Some({rs_lit(v, inner)})"
    raise ValueError(ty)


def _fact(n):
    r = 1
    for i in range(1, n + 1):
        r *= i
    return r


def rs_eval(recipe, args, c):
    tys, ret, body, descs, impl, cons = recipe
    if impl is not None:
        return impl(*args)
    if body == "{0} + {c}":
        return args[0] + c
    if body == "{0} * {c}":
        return args[0] * c
    if body.startswith("(1..={0})") or body.startswith("let mut result = 1;"):
        return _fact(args[0])
    if body == "({0} + {1}) * {c}":
        return (args[0] + args[1]) * c
    if body == "{0}[{1}..{2}].to_vec()":
        return args[0][args[1]:args[2]]
    if body == "{0}[{1}..{2}].iter().sum()":
        return sum(args[0][args[1]:args[2]])
    if body.startswith("({0} + {1} + {2} + {3}) / 4"):
        return sum(args) // 4
    raise ValueError(body)


def rs_args(rng, recipe):
    tys, ret, body, descs, impl, cons = recipe
    if "[{1}..{2}]" in body:
        arr = py_value(rng, "list", "nonempty")
        i = rng.randint(0, len(arr))
        j = rng.randint(i, len(arr))
        return [arr, i, j]
    return [rs_value(rng, t, cons.get(i)) for i, t in enumerate(tys)]


def rs_function(rng, ng: NameGenerator, name=None):
    name = name or ng.func_name()
    recipe = rng.choice(RS_RECIPES)
    tys, ret, body_t, descs, impl, cons = recipe
    params = []
    while len(params) < len(tys):
        p = ng.param_name(RS_ROLE[tys[len(params)]])
        if p not in params and p != name:
            params.append(p)
    c = rng.randint(2, 9)
    body = body_t.format(*params, c=c)
    desc = rng.choice(descs).format(*params, c=c)
    n_ex = rng.choices([1, 2, 3], [0.45, 0.40, 0.15])[0]
    examples = []
    for _ in range(n_ex * 4):
        if len(examples) >= n_ex:
            break
        args = rs_args(rng, recipe)
        try:
            res = rs_eval(recipe, args, c)
        except Exception:
            continue
        if ret in ("i32", "u32") and isinstance(res, int) and abs(res) > 2_000_000_000:
            continue
        if ret == "u32" and isinstance(res, int) and res < 0:
            continue
        examples.append((args, res))
    assert examples
    sig = ", ".join(f"{p}: {t}" for p, t in zip(params, tys))
    vis = "pub " if rng.random() < 0.3 else ""
    fn_head = f"{vis}fn {name}({sig}) -> {ret} {{"
    fn_body = indent(body, 4)
    asserts = []
    for args, res in examples:
        call = f"{name}({', '.join(rs_lit(a, t) for a, t in zip(args, tys))})"
        if ret == "bool" and rng.random() < 0.5:
            asserts.append(f"assert!({call});" if res else f"assert!(!{call});")
        else:
            asserts.append(f"assert_eq!({call}, {rs_lit(res, ret)});")
    return {"name": name, "desc": desc, "head": fn_head, "body": fn_body, "asserts": asserts,
            "arity": len(tys), "ret": ret}


def rs_other_asserts(rng, n):
    """n asserts that do not call the function under test: varied std/literal checks, random values."""
    out = []
    for _ in range(n):
        a, b = rng.randint(0, 12), rng.randint(1, 9)
        xs = [rng.randint(-5, 12) for _ in range(rng.randint(1, 5))]
        w = rng.choice(STRING_WORDS)
        k = rng.randrange(9)
        if k == 0:
            out.append(f"assert_eq!({a} + {b}, {a + b});")
        elif k == 1:
            out.append(f"assert_eq!(vec![{', '.join(map(str, xs))}].len(), {len(xs)});")
        elif k == 2:
            out.append(f'assert_eq!("{w}".len(), {len(w)});')
        elif k == 3:
            out.append(f"assert_eq!(std::cmp::max({a}, {b}), {max(a, b)});")
        elif k == 4:
            out.append(f"assert_eq!(i32::abs(-{a}), {a});")
        elif k == 5:
            out.append(f"assert_eq!(Some({a}).unwrap_or(0), {a});")
        elif k == 6:
            out.append(f"assert_eq!([{', '.join(map(str, xs))}].iter().sum::<i32>(), {sum(xs)});")
        elif k == 7:
            out.append(f"assert_eq!({a} * {b}, {a * b});")
        else:
            out.append(f'assert_eq!("{w}".to_uppercase(), "{w.upper()}");')
    return out


def rs_test_name(rng, name, allow_generic=True):
    x = rng.random()
    if x < 0.70 or not allow_generic:
        return f"test_{name}"
    if x < 0.85:
        return f"test_{name}_{rng.choice(['basic', 'works', 'simple', 'cases', 'zero', 'small'])}"
    return rng.choice(["it_works", "test_basic", "basic", "works", "check", "test_examples"])


def rs_fn_text(f, doc_lines, body=True):
    out = "".join(f"/// {l}".rstrip() + "\n" for l in doc_lines)
    out += f["head"]
    if body:
        out += "\n" + f["body"] + "\n}\n"
    return out


RUST_CALL_FRAC = 1.0  # set by --rust-call-frac; 1.0 draws no extra random numbers (plip-tiny-code's corpus)


def rs_file(rng, ng, n_funcs=None, style=None):
    """Returns (text, funcs, style)."""
    n = n_funcs or rng.choices([1, 2, 3], [0.55, 0.30, 0.15])[0]
    style = style or rng.choices(["top", "mod", "doctest_attr", "rustdoc"], [0.25, 0.30, 0.25, 0.20])[0]
    funcs, names = [], set()
    while len(funcs) < n:
        f = rs_function(rng, ng)
        if f["name"] not in names:
            names.add(f["name"])
            if RUST_CALL_FRAC < 1.0 and rng.random() >= RUST_CALL_FRAC:
                f["asserts"] = rs_other_asserts(rng, len(f["asserts"]))
                f["calls_in_tests"] = False
            funcs.append(f)
    pieces = []
    x = rng.random()
    if x < 0.08:
        pieces.append(rng.choice(["use std::collections::HashMap;", "use std::fmt;", "#![allow(dead_code)]", "use std::cmp;"]) + "\n")
    tests = []
    for f in funcs:
        desc_lines = [f["desc"]] if rng.random() < 0.8 else []
        tname = rs_test_name(rng, f["name"], allow_generic=(n == 1))
        if style == "doctest_attr":
            doc = desc_lines + ([""] if desc_lines else []) + ["#[test]", f"fn {tname}() {{"] + ["    " + a for a in f["asserts"]] + ["}"]
            pieces.append(rs_fn_text(f, doc))
        elif style == "rustdoc":
            doc = desc_lines + ([""] if desc_lines else []) + ["# Examples", "", "```"] + f["asserts"] + ["```"]
            if rng.random() < 0.3:
                doc = doc[:-len(f["asserts"]) - 1] + [f"# use mylib::{f['name']};"] + f["asserts"] + ["```"]
            pieces.append(rs_fn_text(f, doc))
        else:
            pieces.append(rs_fn_text(f, desc_lines))
            tests.append((tname, f))
    if style == "top":
        # interleave each function with its test
        body_pieces = pieces[:len(pieces) - len(tests)]
        for (tname, f), fp in zip(tests, pieces[len(pieces) - len(tests):]):
            t = "#[test]\n" + f"fn {tname}() {{\n" + "".join(f"    {a}\n" for a in f["asserts"]) + "}\n"
            body_pieces.append(fp + "\n" + t)
        pieces = body_pieces
    elif style == "mod":
        t = "#[cfg(test)]\nmod tests {\n    use super::*;\n"
        for tname, f in tests:
            t += "\n    #[test]\n" + f"    fn {tname}() {{\n" + "".join(f"        {a}\n" for a in f["asserts"]) + "    }\n"
        t += "}\n"
        pieces.append(t)
    text = "\n".join(pieces)
    return text, funcs, style


# --------------------------------------------------------- eval prompts -----

def eval_prompts(pools, seed, n, forbidden_text=""):
    """Held-out prompts: only held-out name parts; each prompt ends right before the call."""
    rng = random.Random(seed)
    ng = NameGenerator(pools, "heldout", rng)
    py, rs, seen = [], [], set()

    def fresh_name():
        while True:
            nm = ng.func_name()
            # multi-part names only (single English words are everywhere in real code)
            if "_" in nm and nm not in seen and nm not in forbidden_text:
                seen.add(nm)
                return nm

    while len(py) < n:
        f = py_function(rng, ng, name=fresh_name())
        py.append({"id": f"py_{len(py):03d}", "name": f["name"], "arity": f["arity"], "style": f["style"],
                   "prompt": f["text"][:f["prompt_end"]], "full": f["text"]})
    rs_main, rs_top, rs_doc, rs_generic = [], [], [], []
    while len(rs_main) < n:
        f = rs_function(rng, ng, name=fresh_name())
        desc = [f["desc"]] if rng.random() < 0.8 else []
        fn_text = rs_fn_text(f, desc)
        call0 = f["asserts"][0]
        # main: function, then mod tests with #[test] fn test_<name>() { assert_eq!(
        rs_main.append({"id": f"rs_{len(rs_main):03d}", "name": f["name"], "arity": f["arity"],
                        "prompt": fn_text + "\n#[cfg(test)]\nmod tests {\n    use super::*;\n\n    #[test]\n"
                                  f"    fn test_{f['name']}() {{\n        assert_eq!(",
                        "first_assert": call0})
        rs_top.append({"id": f"rs_top_{len(rs_top):03d}", "name": f["name"], "arity": f["arity"],
                       "prompt": fn_text + f"\n#[test]\nfn test_{f['name']}() {{\n    assert_eq!("})
        rs_generic.append({"id": f"rs_generic_{len(rs_generic):03d}", "name": f["name"], "arity": f["arity"],
                           "prompt": fn_text + "\n#[cfg(test)]\nmod tests {\n    use super::*;\n\n    #[test]\n"
                                     "    fn it_works() {\n        assert_eq!("})
        # n50 style: #[test] example inside the doc comment BEFORE fn name(...)
        doc = desc + ([""] if desc else []) + ["#[test]", f"fn test_{f['name']}() {{"]
        rs_doc.append({"id": f"rs_doc_{len(rs_doc):03d}", "name": f["name"], "arity": f["arity"],
                       "prompt": "".join(f"/// {l}".rstrip() + "\n" for l in doc) + "///     assert_eq!("})
    # Python with a distractor function defined first (must call the nearest def)
    py_distract = []
    while len(py_distract) < n:
        d = py_function(rng, ng, name=fresh_name())
        f = py_function(rng, ng, name=fresh_name())
        pre = d["text"] + "\n\n"
        py_distract.append({"id": f"py_distract_{len(py_distract):03d}", "name": f["name"], "distractor": d["name"],
                            "arity": f["arity"], "prompt": pre + f["text"][:f["prompt_end"]]})
    return {"python_doctest": py, "rust_test_mod": rs_main, "rust_test_top": rs_top,
            "rust_test_generic_name": rs_generic, "rust_doc_attr_test": rs_doc,
            "python_doctest_distractor": py_distract}


# ------------------------------------------------------------- real code ----

PY_ROOT = "/usr/lib/python3.11"
RS_ROOT = "/usr/share/cargo/registry"
RS_EXCLUDE_CRATES = ("winapi-", "libc-")  # huge machine-generated FFI bindings
MAX_FILE_BYTES = 200_000


def real_files():
    files = []
    for p in sorted(glob.glob(f"{PY_ROOT}/**/*.py", recursive=True)):
        if "/site-packages/" in p or "/dist-packages/" in p:
            continue
        files.append(("python", p))
    for p in sorted(glob.glob(f"{RS_ROOT}/*/**/*.rs", recursive=True)):
        crate = p[len(RS_ROOT) + 1:].split("/")[0]
        if crate.startswith(RS_EXCLUDE_CRATES):
            continue
        files.append(("rust", p))
    return files


def is_heldout(path):
    h = int(hashlib.sha1(path.encode()).hexdigest()[:8], 16)
    return h % 100 < 5


# ------------------------------------------------------------------ main ----

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n-py", type=int, default=30000, help="synthetic Python files")
    ap.add_argument("--n-rs", type=int, default=30000, help="synthetic Rust files")
    ap.add_argument("--n-eval", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--rust-call-frac", type=float, default=1.0)
    ap.add_argument("--data-dir", default=DATA)
    ap.add_argument("--eval-out", default=os.path.join(EVAL_DIR, "eval_prompts.json"))
    ap.add_argument("--manifest-out", default=os.path.join(LOGS, "data_manifest.json"))
    ap.add_argument("--n-calib", type=int, default=0)
    ap.add_argument("--calib-out")
    args = ap.parse_args()
    global RUST_CALL_FRAC
    assert 0.0 <= args.rust_call_frac <= 1.0, "--rust-call-frac must be in [0, 1]"
    RUST_CALL_FRAC = args.rust_call_frac
    data_dir = args.data_dir
    for d in (data_dir, os.path.dirname(args.eval_out), os.path.dirname(args.manifest_out)):
        os.makedirs(d, exist_ok=True)

    pools = NamePools()
    # ---- real code
    manifest = {"python_root": PY_ROOT, "rust_root": RS_ROOT, "files": []}
    real_train, real_held = [], []
    for lang, p in real_files():
        raw = open(p, "rb").read()
        if len(raw) > MAX_FILE_BYTES or len(raw) == 0:
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            continue
        text = text.replace("\r\n", "\n")
        split = "heldout" if is_heldout(p) else "train"
        rec = {"lang": lang, "path": p, "text": text}
        (real_held if split == "heldout" else real_train).append(rec)
        manifest["files"].append({"path": p, "lang": lang, "bytes": len(raw), "split": split,
                                  "sha256": hashlib.sha256(raw).hexdigest()})

    # ---- synthetic training data (train split of the name vocabulary only)
    rng = random.Random(args.seed)
    extra_words = harvest_words([d["text"] for d in real_train], pools.words("heldout"))
    ng = NameGenerator(pools, "train", rng, extra_words=extra_words)
    syn = []
    train_func_names = set()
    n_py = n_rs = 0
    while n_py < args.n_py or n_rs < args.n_rs:
        if n_py < args.n_py and (n_py <= n_rs or n_rs >= args.n_rs):
            n_py += 1
            text, funcs = py_file(rng, ng)
            syn.append({"lang": "python", "text": text})
        else:
            n_rs += 1
            text, funcs, style = rs_file(rng, ng)
            syn.append({"lang": "rust", "text": text})
        for f in funcs:
            train_func_names.add(f["name"])

    # ---- synthetic held-out validation files (held-out names), and eval prompts
    rng_h = random.Random(args.seed + 1)
    ng_h = NameGenerator(pools, "heldout", rng_h)
    syn_held = []
    for i in range(400):
        if i % 2 == 0:
            text, _ = py_file(rng_h, ng_h)
            syn_held.append({"lang": "python", "text": text})
        else:
            text, _, _ = rs_file(rng_h, ng_h)
            syn_held.append({"lang": "rust", "text": text})

    # ---- disjointness assertions
    big = "\x00".join(d["text"] for d in syn) + "\x00" + "\x00".join(d["text"] for d in real_train)
    prompts = eval_prompts(pools, args.seed + 2, args.n_eval, forbidden_text=big)
    held_words = pools.words("heldout")
    train_words = pools.words("train")
    assert not (held_words & train_words)
    ident_re = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
    syn_idents = set()
    for d in syn:
        syn_idents.update(ident_re.findall(d["text"]))
    eval_names = sorted({p["name"] for k in prompts for p in prompts[k]})
    for nm in eval_names:
        for part in nm.split("_"):
            assert part in held_words or (part.endswith("s") and part[:-1] in held_words), (nm, part)
        assert nm not in train_func_names, nm
        assert nm not in syn_idents, nm
    # eval function names must not occur ANYWHERE in the training text (substring check)
    big = "\x00".join(d["text"] for d in syn) + "\x00" + "\x00".join(d["text"] for d in real_train)
    bad = [nm for nm in eval_names if nm in big]
    assert not bad, f"eval names occurring in training text: {bad[:10]}"
    # every identifier in the eval prompts that the generator produced (function + parameter names)
    gen_idents = set()
    for p in prompts["python_doctest"]:
        m = re.match(r"def \w+\(([^)]*)\)", p["prompt"])
        for a in m.group(1).split(","):
            gen_idents.add(a.split(":")[0].strip())
    for p in prompts["rust_test_mod"]:
        m = re.search(r"fn \w+\(([^)]*)\)", p["prompt"])
        for a in m.group(1).split(","):
            gen_idents.add(a.split(":")[0].strip())
    gen_idents.discard("")
    leaked = sorted(x for x in gen_idents if x in syn_idents)
    assert not leaked, f"held-out parameter names occurring in synthetic training data: {leaked[:10]}"
    # training synthetic names never contain held-out words
    for nm in train_func_names:
        for part in nm.split("_"):
            assert part not in held_words or part in train_words, (nm, part)

    def dump(path, recs):
        with open(path, "w") as fh:
            for r in recs:
                fh.write(json.dumps(r) + "\n")

    dump(os.path.join(data_dir, "real_train.jsonl"), real_train)
    dump(os.path.join(data_dir, "real_heldout.jsonl"), real_held)
    dump(os.path.join(data_dir, "syn_train.jsonl"), syn)
    dump(os.path.join(data_dir, "syn_heldout.jsonl"), syn_held)
    if args.n_calib:
        # calibration prompts: held-out names that are neither in training nor in the evaluation prompts
        calib = eval_prompts(pools, args.seed + 3, args.n_calib,
                             forbidden_text=big + "\x00" + "\x00".join(eval_names))
        cnames = {p["name"] for k in calib for p in calib[k]}
        assert not (cnames & set(eval_names)) and not [nm for nm in cnames if nm in big]
        with open(args.calib_out, "w") as fh:
            json.dump({"_description": "Calibration prompts (held-out names, disjoint from the evaluation "
                                       "prompts' names); used only to choose training length.",
                       "generator": f"training/gen_data.py --seed {args.seed} --n-calib {args.n_calib}",
                       **{k: calib[k] for k in ("python_doctest", "rust_test_mod")}}, fh, indent=1)
    prompts_out = {
        "_description": "Held-out evaluation prompts for plip-tiny-code. Function and parameter names are built "
                        "only from the held-out part of the name generator's vocabulary (training/names.py) and "
                        "never occur in the training text (asserted by training/gen_data.py). Each prompt ends "
                        "right where the model should write the call (after '>>> ' or 'assert_eq!(').",
        "generator": "training/gen_data.py --seed %d" % args.seed,
        **prompts,
    }
    with open(args.eval_out, "w") as fh:
        json.dump(prompts_out, fh, indent=1)
    stats = {
        "real_train_files": len(real_train), "real_heldout_files": len(real_held),
        "real_train_chars": sum(len(d["text"]) for d in real_train),
        "real_heldout_chars": sum(len(d["text"]) for d in real_held),
        "real_train_chars_python": sum(len(d["text"]) for d in real_train if d["lang"] == "python"),
        "real_train_chars_rust": sum(len(d["text"]) for d in real_train if d["lang"] == "rust"),
        "syn_train_files": len(syn), "syn_train_chars": sum(len(d["text"]) for d in syn),
        "syn_train_function_names": len(train_func_names),
        **({"rust_call_frac": args.rust_call_frac} if args.rust_call_frac < 1.0 else {}),
        "syn_heldout_files": len(syn_held),
        "eval_names": len(eval_names),
        "name_pool_sizes": {s: {k: len(v) for k, v in pools.pools[s].items()} for s in pools.pools},
        "harvested_train_words": len(extra_words),
        "heldout_words": sorted(held_words),
    }
    manifest["stats"] = stats
    with open(args.manifest_out, "w") as fh:
        json.dump(manifest, fh, indent=0)
    print(json.dumps({k: v for k, v in stats.items() if k != "heldout_words"}, indent=1))


if __name__ == "__main__":
    main()
