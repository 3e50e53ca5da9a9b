"""Byte-level BPE: trainer, HF `tokenizer.json` writer, and a reference encoder.

Pre-tokenization (code-aware) splits text with

    PRETOKENIZE_REGEX = [\\p{L}\\p{N}_]+ ?|[^\\s\\p{L}\\p{N}_]+ ?|\\s+

i.e. identifiers/numbers (underscores included) and punctuation runs each
*keep one trailing space*, and any other whitespace run (newline +
indentation) is its own piece.  Because a space attaches to the token BEFORE
it, a prompt that ends with ">>> " tokenizes exactly like the same text inside
a longer document (">>> " is one piece either way) — there is no
"prompt ends with a space" token-boundary mismatch.

The pieces are mapped to bytes with the GPT-2 byte<->unicode table
(ByteLevel) and merged with BPE, lowest merge rank first.
"""
from __future__ import annotations

import heapq
import json
from collections import Counter, defaultdict

import regex

PRETOKENIZE_REGEX = r"[\p{L}\p{N}_]+ ?|[^\s\p{L}\p{N}_]+ ?|\s+"
SPECIAL_TOKENS = ["<|bos|>", "<|eos|>", "<|pad|>"]
BOS, EOS, PAD = 0, 1, 2


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


BYTE_ENCODER = bytes_to_unicode()
BYTE_DECODER = {v: k for k, v in BYTE_ENCODER.items()}
_PAT = regex.compile(PRETOKENIZE_REGEX)


def pretokenize(text: str):
    """Split + ByteLevel: list of byte-level strings."""
    return ["".join(BYTE_ENCODER[b] for b in piece.encode("utf-8")) for piece in _PAT.findall(text)]


# ---------------------------------------------------------------- training --

def train_bpe(word_counts: Counter, vocab_size: int, verbose: bool = False):
    """word_counts: Counter of byte-level pre-tokens.  Returns (vocab dict, merges list).

    Deterministic: ties between equally frequent pairs are broken by the
    lexicographically smallest (left, right) pair.
    """
    base = SPECIAL_TOKENS + [BYTE_ENCODER[b] for b in range(256)]
    vocab = {t: i for i, t in enumerate(base)}
    n_merges = vocab_size - len(base)
    words = []
    counts = []
    for w, c in sorted(word_counts.items()):
        words.append(list(w))
        counts.append(c)
    pair_counts = defaultdict(int)
    where = defaultdict(set)
    for i, (w, c) in enumerate(zip(words, counts)):
        for a, b in zip(w, w[1:]):
            pair_counts[(a, b)] += c
            where[(a, b)].add(i)
    heap = [(-c, p) for p, c in pair_counts.items()]
    heapq.heapify(heap)
    merges = []
    while len(merges) < n_merges and heap:
        negc, pair = heapq.heappop(heap)
        if pair_counts.get(pair, 0) != -negc or negc == 0:
            continue  # stale entry
        a, b = pair
        new = a + b
        merges.append(pair)
        vocab[new] = len(vocab)
        if verbose and len(merges) % 500 == 0:
            print(f"  merge {len(merges)}: {a!r}+{b!r} count={-negc}", flush=True)
        changed = set()
        for i in sorted(where[pair]):
            w, c = words[i], counts[i]
            j = 0
            out = []
            merged_any = False
            while j < len(w):
                if j < len(w) - 1 and w[j] == a and w[j + 1] == b:
                    out.append(new)
                    j += 2
                    merged_any = True
                else:
                    out.append(w[j])
                    j += 1
            if not merged_any:
                continue
            for p in zip(w, w[1:]):
                pair_counts[p] -= c
                changed.add(p)
            for p in zip(out, out[1:]):
                pair_counts[p] += c
                where[p].add(i)
                changed.add(p)
            words[i] = out
        where.pop(pair, None)
        pair_counts.pop(pair, None)
        changed.discard(pair)
        for p in changed:
            c = pair_counts.get(p, 0)
            if c > 0:
                heapq.heappush(heap, (-c, p))
            else:
                pair_counts.pop(p, None)
    return vocab, merges


def tokenizer_json(vocab: dict, merges: list, model_max_length: int = 256) -> dict:
    added = [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": True} for i, t in enumerate(SPECIAL_TOKENS)]
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": {
            "type": "Sequence",
            "pretokenizers": [
                {"type": "Split", "pattern": {"Regex": PRETOKENIZE_REGEX}, "behavior": "Isolated", "invert": False},
                {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False},
            ],
        },
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<|bos|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "<|bos|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "<|bos|>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {"<|bos|>": {"id": "<|bos|>", "ids": [BOS], "tokens": ["<|bos|>"]}},
        },
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": None,
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": False,
            "byte_fallback": False,
            "ignore_merges": False,
            "vocab": vocab,
            "merges": [f"{a} {b}" for a, b in merges],
        },
    }


def tokenizer_config_json(model_max_length: int = 256) -> dict:
    return {
        "add_bos_token": True,
        "add_eos_token": False,
        "added_tokens_decoder": {str(i): {"content": t, "lstrip": False, "normalized": False, "rstrip": False,
                                          "single_word": False, "special": True} for i, t in enumerate(SPECIAL_TOKENS)},
        "bos_token": "<|bos|>",
        "eos_token": "<|eos|>",
        "pad_token": "<|pad|>",
        "unk_token": None,
        "clean_up_tokenization_spaces": False,
        "model_max_length": model_max_length,
        "tokenizer_class": "PreTrainedTokenizerFast",
    }


# ----------------------------------------------------------------- encoder --

class Tokenizer:
    """Reference encoder/decoder for the tokenizer.json written above."""

    def __init__(self, path_or_obj):
        obj = json.load(open(path_or_obj)) if isinstance(path_or_obj, str) else path_or_obj
        m = obj["model"]
        assert m["type"] == "BPE"
        self.vocab = m["vocab"]
        self.id_to_token = {i: t for t, i in self.vocab.items()}
        for at in obj["added_tokens"]:
            self.id_to_token[at["id"]] = at["content"]
        self.ranks = {tuple(x.split(" ")): i for i, x in enumerate(m["merges"])}
        self.special = {at["content"]: at["id"] for at in obj["added_tokens"]}
        self.cache = {}
        self.bos_id = self.special["<|bos|>"]
        self.eos_id = self.special["<|eos|>"]
        self.pad_id = self.special["<|pad|>"]

    @property
    def vocab_size(self):
        return len(self.id_to_token)

    def _bpe(self, piece: str):
        hit = self.cache.get(piece)
        if hit is not None:
            return hit
        word = list(piece)
        while len(word) > 1:
            best, best_rank = None, None
            for i in range(len(word) - 1):
                r = self.ranks.get((word[i], word[i + 1]))
                if r is not None and (best_rank is None or r < best_rank):
                    best, best_rank = i, r
            if best is None:
                break
            a, b = word[best], word[best + 1]
            out, j = [], 0
            while j < len(word):
                if j < len(word) - 1 and word[j] == a and word[j + 1] == b:
                    out.append(a + b)
                    j += 2
                else:
                    out.append(word[j])
                    j += 1
            word = out
        ids = [self.vocab[t] for t in word]
        self.cache[piece] = ids
        return ids

    def encode(self, text: str, add_bos: bool = True):
        """Encodes plain text (special-token strings inside `text` are not parsed)."""
        ids = [self.bos_id] if add_bos else []
        for piece in pretokenize(text):
            ids.extend(self._bpe(piece))
        return ids

    def decode(self, ids, skip_special: bool = True):
        out = []
        for i in ids:
            t = self.id_to_token[int(i)]
            if t in self.special:
                if not skip_special:
                    out.append(t.encode("utf-8"))
                continue
            out.append(bytes(BYTE_DECODER[ch] for ch in t))
        return b"".join(out).decode("utf-8", errors="replace")
