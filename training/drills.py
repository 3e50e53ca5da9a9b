"""Induction drills: rows of repeated random token sequences (a curriculum aid for plip-tiny-code).

Why: copying a function name into a doctest needs an induction circuit (a previous-token head
plus a head that attends to "the token after the earlier occurrence of my current token").
Run 1 of the organism (plain code mix, ~9M tokens) copied the FIRST name piece after '>>> ' but
not the rest: the induction phase change had not happened yet.  Rows whose second half is only
predictable by induction (a random sequence, then the same sequence again, and again) are the
textbook way to make that circuit form early (Olsson et al. 2022, "In-context learning and
induction heads"); the code mix then teaches when to use it.

A drill row: pick a length n in [min_len, max_len], draw n tokens uniformly from the drill
vocabulary (tokens whose text is an identifier piece, optionally followed by one space), and
repeat the sequence until the row (seq+1 tokens) is full.  Every row is checked so that no
held-out evaluation name, held-out word or held-out parameter name can appear in it as an
identifier (or, for eval function names, as a substring); a row that fails is redrawn.
Everything is drawn from the numpy Generator passed in, so rows are deterministic.
"""
from __future__ import annotations

import json
import os
import re

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
IDENT_PIECE = re.compile(r"^[A-Za-z0-9_]+ ?$")
IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def forbidden_words():
    """(eval function names, other forbidden identifiers) from the held-out side of the data."""
    prompts = json.load(open(os.path.join(HERE, "eval", "eval_prompts.json")))
    names = set()
    idents = set()
    for key, val in prompts.items():
        if not isinstance(val, list):
            continue
        for p in val:
            names.add(p["name"])
            for m in re.finditer(r"(?:def|fn) \w+\(([^)]*)\)", p["prompt"]):
                for a in m.group(1).split(","):
                    a = a.split(":")[0].strip()
                    if a:
                        idents.add(a)
    manifest = os.path.join(HERE, "logs", "data_manifest.json")
    held = set(json.load(open(manifest))["stats"]["heldout_words"])
    return names, idents | held | names


class Drills:
    def __init__(self, tok, seq, min_len=4, max_len=48, top_k=0, counts=None):
        self.tok = tok
        self.seq = seq
        self.min_len, self.max_len = min_len, max_len
        ids = []
        for i in range(tok.vocab_size):
            if i in set(tok.special.values()):
                continue
            if IDENT_PIECE.match(tok.decode([i], skip_special=False)):
                ids.append(i)
        self.vocab = np.array(ids, dtype=np.int64)
        if top_k and counts is not None:
            # only the top_k most frequent identifier pieces of the training text
            order = np.argsort(-counts[self.vocab], kind="stable")
            self.vocab = np.sort(self.vocab[order[:top_k]])
        self.eval_names, self.forbidden = forbidden_words()
        self.rejected = 0

    def ok(self, row):
        text = self.tok.decode(row.tolist(), skip_special=False)
        if any(nm in text for nm in self.eval_names):
            return False
        return not any(w in self.forbidden for w in IDENT.findall(text))

    def row(self, rng: np.random.Generator, seq=None, max_len=None):
        seq = self.seq if seq is None else seq
        max_len = self.max_len if max_len is None else max_len
        while True:
            n = int(rng.integers(self.min_len, max_len + 1))
            base = self.vocab[rng.integers(0, len(self.vocab), size=n)]
            reps = (seq + 1 + n - 1) // n
            row = np.tile(base, reps)[: seq + 1]
            if self.ok(row):
                return row
            self.rejected += 1
