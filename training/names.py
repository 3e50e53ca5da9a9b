"""Name generator for synthetic functions, with a train / held-out split of its
vocabulary of name parts.

Function names are snake_case combinations of word parts (verb_noun,
verb_adj_noun, ...).  The word pools are split ONCE, with a fixed seed, into a
training part and a held-out (evaluation) part.  Training functions only use
training words (plus generic prefixes and random pseudo-words); held-out
evaluation prompts only use held-out words.  `gen_data.py` additionally
asserts that no evaluation function name occurs anywhere in the training text.
"""
from __future__ import annotations

import random

VERBS = """
accumulate adjust align allocate amplify annotate append apply approve archive
assemble assign attach audit average balance batch bind blend boost bound
bucket buffer build bump cache calculate cancel capture center check chunk
clamp classify clean clear clip close coalesce collect combine commit compact
compare compile compose compress compute concat condense configure connect
convert copy count crop cull cycle decode decrement deduct default defer
delete derive detect diff digest dilate discount dispatch divide double drain
drop dump echo emit encode enqueue ensure estimate evaluate expand export
extend extract fetch fill filter finalize find fix flatten flip fold format
gather generate grade group guard halve hash hold import increment index infer
inject insert inspect interleave invert isolate join keep label launch limit
link load locate lookup lower map mark mask match measure merge migrate mirror
mix modify mount move multiply negate nest normalize nudge offset order pack
pad paint parse partition patch pick pivot place plot poll pop prepare press
print probe process project prune publish pull push quantize query queue rank
rate read rebase recall record reduce refine reflect refresh register reject
relax release remap remove render reorder repair repeat replace report reset
resize resolve restore retry reverse rotate round route sample save scale
scan score scrub seal search select send serialize shift shrink shuffle sift
skip slice smooth snap sort split square squash stack stamp step store stretch
strip sum swap sync tally test tick tidy toggle total trace track transform
translate trim truncate tune twist unpack update upgrade validate verify
weigh widen wrap yield zip
""".split()

NOUNS = """
account address age alpha amount angle answer area array balance bank base
batch beacon bias bill bin bit block board body bonus border bound box bracket
branch brick bucket budget buffer bundle button byte cable cache candle
capacity card cargo carry cell center chain channel chapter char charge chart
check chip circle city claim class clock cluster code coin column comment
config cost count counter credit crystal cursor curve cycle data date debt
decimal degree delta demand depth digit dimension distance dividend document
domain dose draft edge element energy entry epoch error event factor farm fee
field figure file filter flag fleet floor flow font force form frame freight
fuel gain garden gate grade grain graph grid group guest height hint history
hour image income index input interval inventory item journal kernel key
label ladder layer ledger length letter level limit line link list load loan
lock margin mark market mass matrix median memory menu mesh message meter
metric minute mode module moment month motor name needle network node noise
note number offset orbit order origin output packet page pair panel parcel
part path pattern payload peak pixel planet plate point pool port position
post power prefix price prime profit prompt queue quota radius range rate
ratio reading record region remainder report request reserve result reward
ring root route row rule salary sample scale scene score screen second
section sector seed segment sensor sequence session shape share shelf signal
size slope slot socket source span speed spike square stack stage stamp state
step stock store stream string sum supply surface symbol table tag target task
tax team term text theme threshold ticket tile time token tone total tower
track trade trail tree trend value vector velocity version vertex volume
voltage wage wave weight width window word worker yield zone
""".split()

ADJECTIVES = """
active average base big bright central clean coarse cold common compact
current dark deep default dense direct dirty double dry empty even exact
extra fast final fine first flat free fresh full global gross half hard
heavy hidden high hot inner last late left light linear local long loose low
main major max mean min minor net new next odd old open outer partial plain
prev primary quick random raw real rear right rough round safe short simple
single slow small smooth soft solid sparse stable static strict strong
tight top total unique upper valid warm weak wide zero
""".split()

# Generic prefixes / suffixes that only ever appear in TRAINING names.
TRAIN_ONLY_PREFIXES = ["get", "set", "is", "has", "make", "to", "from", "do", "calc", "new"]
TRAIN_ONLY_SUFFIXES = ["list", "map", "str", "val", "num", "len", "all", "one", "info", "sum"]

SYLLABLES = """ba be bi bo bu da de di do du fa fe fi fo ga ge gi go ka ke ki ko ku
la le li lo lu ma me mi mo mu na ne ni no nu pa pe pi po ra re ri ro ru sa se si
so su ta te ti to tu va ve vi vo za ze zi zo bar ben dor fen gar kin lor mon nar
pel quin ros sel tor vin zar rak tek vox""".split()

# Generic parameter names, used only in TRAINING functions.
GENERIC_PARAMS = {
    "int": ["a", "b", "c", "n", "k", "x", "y", "m", "i", "j", "num", "count", "limit", "size", "step"],
    "float": ["x", "y", "a", "b", "f", "rate", "val"],
    "list": ["values", "items", "nums", "xs", "arr", "data", "numbers", "elems", "seq"],
    "str": ["s", "text", "word", "name", "line", "sep", "prefix", "msg"],
    "bool": ["flag", "enabled", "strict", "reverse"],
    "opt": ["opt", "maybe", "value"],
}

SPLIT_SEED = 5  # GitHub issue #5

# Keywords / reserved words of Python and Rust: never used as a name or a name part.
KEYWORDS = set("""False None True and as assert async await break class continue def del elif
else except finally for from global if import in is lambda nonlocal not or pass raise return try
while with yield match case type print abstract become box const crate do dyn enum extern false
final fn impl let loop macro mod move mut override priv pub ref self static struct super trait
true typeof unsafe unsized use virtual where str int list bool float len sum max min map filter
sorted range set dict tuple object id hash iter next open input format""".split())


def reserved_words():
    """Words that appear in the synthetic templates themselves (bodies, descriptions, string
    literals, generic parameter names).  They are never put in the held-out pool, so that no
    held-out word occurs anywhere in the synthetic training text."""
    import re
    from recipes import PY_RECIPES, RS_RECIPES, STRING_WORDS
    words = set(STRING_WORDS)
    for v in GENERIC_PARAMS.values():
        words.update(v)
    for rec in PY_RECIPES:
        words.update(re.findall(r"[a-z]+", rec[1] + " " + " ".join(rec[2])))
    for rec in RS_RECIPES:
        words.update(re.findall(r"[a-z]+", rec[2] + " " + " ".join(rec[3]) + " " + rec[1].lower()))
    words.update("""result results total count return def for in if else while true false none import
        from print doctest examples example args returns the input value argument test tests works
        basic simple cases zero small mod use super fn pub let mut match some assert eq cfg check
        it mylib utility helpers numeric string with math os typing list re itertools main name
        collections hashmap fmt cmp allow dead code""".split())
    return words
HELDOUT_FRACTION = 0.2


def _dedupe(words):
    seen, out = set(), []
    for w in words:
        if w not in seen:
            seen.add(w)
            out.append(w)
    return out


def split_pool(words, seed, frac):
    words = sorted(_dedupe(words))
    rng = random.Random(seed)
    rng.shuffle(words)
    k = int(round(len(words) * frac))
    return sorted(words[k:]), sorted(words[:k])  # train, heldout


class NamePools:
    """Disjoint train / held-out word pools."""

    def __init__(self):
        # A word may occur in several categories (e.g. "total" is a noun and an
        # adjective, "score" a verb and a noun): split the UNION of all words so
        # that a word is either train-only or held-out-only, everywhere.
        all_words = [w for w in _dedupe(VERBS + NOUNS + ADJECTIVES) if w not in KEYWORDS]
        train_words, held_words = split_pool(all_words, SPLIT_SEED, HELDOUT_FRACTION)
        self.train_words = set(train_words)
        self.held_words = set(held_words)
        reserved = reserved_words()
        for w in list(self.held_words):
            if w in reserved or (w + "s") in reserved or (w.endswith("s") and w[:-1] in reserved):
                self.held_words.discard(w)
                self.train_words.add(w)
        for w in TRAIN_ONLY_PREFIXES + TRAIN_ONLY_SUFFIXES:
            self.held_words.discard(w)
            self.train_words.add(w)
        assert not (self.train_words & self.held_words)
        self.pools = {}
        for split, ws in (("train", self.train_words), ("heldout", self.held_words)):
            self.pools[split] = {
                "verb": sorted(w for w in _dedupe(VERBS) if w in ws and w not in KEYWORDS),
                "noun": sorted(w for w in _dedupe(NOUNS) if w in ws and w not in KEYWORDS),
                "adj": sorted(w for w in _dedupe(ADJECTIVES) if w in ws and w not in KEYWORDS),
            }

    def words(self, split):
        return self.train_words if split == "train" else self.held_words


def harvest_words(texts, held_words, min_count=3):
    """Words used inside identifiers of the (training) real code: identifiers are split on '_' and
    camelCase, lower-cased; alphabetic words of 3-10 letters seen >= min_count times.  Held-out words
    (and their plural/singular forms) and keywords are excluded.  Used to give TRAINING names a large,
    diverse vocabulary so that the model learns to copy arbitrary tokens, not a fixed word list."""
    import re
    from collections import Counter
    ident = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
    camel = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])")
    counts = Counter()
    for t in texts:
        for tok in ident.findall(t):
            for part in tok.split("_"):
                for w in camel.findall(part):
                    counts[w.lower()] += 1
    out = []
    for w, c in counts.items():
        if c < min_count or not (3 <= len(w) <= 10) or not w.isalpha() or not w.isascii():
            continue
        if w in KEYWORDS or w in held_words or (w.endswith("s") and w[:-1] in held_words) or (w + "s") in held_words:
            continue
        out.append(w)
    return sorted(out)


class NameGenerator:
    """Generates snake_case function / parameter names from one split.

    Training names mix the training word pools with `extra_words` (harvested from training code),
    pseudo-words from syllables and random letter strings; held-out names use ONLY held-out words."""

    def __init__(self, pools: NamePools, split: str, rng: random.Random, extra_words=None):
        assert split in ("train", "heldout")
        self.split = split
        self.p = pools.pools[split]
        self.held = pools.held_words
        self.rng = rng
        self.extra = list(extra_words or []) if split == "train" else []
        for w in self.extra:
            assert w not in self.held

    def _pseudo(self):
        r = self.rng
        while True:
            w = "".join(r.choice(SYLLABLES) for _ in range(r.choice([2, 2, 3])))
            if w not in self.held and not (w.endswith("s") and w[:-1] in self.held):
                return w

    def _random_letters(self):
        r = self.rng
        while True:
            w = "".join(r.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(r.randint(3, 8)))
            if w not in self.held and w not in KEYWORDS and not (w.endswith("s") and w[:-1] in self.held):
                return w

    def word(self, kind):
        r = self.rng
        if self.split == "train":
            x = r.random()
            if x < 0.40 and self.extra:
                return r.choice(self.extra)
            if x < 0.47:
                return self._random_letters()
        return r.choice(self.p[kind])

    def func_name(self) -> str:
        while True:
            name = self._func_name()
            if name not in KEYWORDS:
                return name

    def _func_name(self) -> str:
        r = self.rng
        v, n, a = self.word("verb"), self.word("noun"), self.word("adj")
        if self.split == "train":
            x = r.random()
            if x < 0.12:
                v = r.choice(TRAIN_ONLY_PREFIXES)
            elif x < 0.30:
                n = self._pseudo()
            elif x < 0.36:
                v = self._pseudo()
        pats = [
            (0.40, f"{v}_{n}"),
            (0.18, f"{v}_{a}_{n}"),
            (0.10, f"{a}_{n}"),
            (0.08, f"{v}_{n}_{self.word('noun')}"),
            (0.08, f"{n}_{v}"),
            (0.06, f"{v}"),
            (0.05, f"{v}_{n}s"),
            (0.05, f"{n}_{self.rng.choice(TRAIN_ONLY_SUFFIXES)}" if self.split == "train" else f"{n}_{self.word('noun')}"),
        ]
        x, acc = r.random(), 0.0
        for p, name in pats:
            acc += p
            if x < acc:
                return name
        return pats[0][1]

    def param_name(self, role: str) -> str:
        """role in {int, float, list, str, bool, opt}."""
        while True:
            name = self._param_name(role)
            if name not in KEYWORDS:
                return name

    def _param_name(self, role: str) -> str:
        r = self.rng
        if self.split == "train" and r.random() < 0.45:
            return r.choice(GENERIC_PARAMS[role])
        n = self.word("noun")
        x = r.random()
        if role == "list":
            return n + "s" if x < 0.7 else f"{n}_list"
        if role == "bool":
            return f"use_{n}" if x < 0.5 else f"is_{self.word('adj')}"
        if role == "opt":
            return f"maybe_{n}" if x < 0.5 else n
        if x < 0.75:
            return n
        return f"{self.word('adj')}_{n}"
