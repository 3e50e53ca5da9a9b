"""PyTorch 1.13 eager peer for `npm run bench`: the same computation as bench/engine-bench.ts.

Usage: /usr/bin/python3 bench/torch_peer.py <configDir> [promptLen] [threads]
Random float32 weights with the real dimensions of the config; prefill of promptLen tokens with all
attention patterns kept (eager attention materialises them; we hold references, as a capture would),
prefill without keeping them, one decode step with a KV cache; peak RSS. Prints one JSON line.
Supports the two benchmark families: gpt2 and llama-like (llama/qwen2/mistral).
"""
import json, math, resource, sys, time
import torch

cfg_dir = sys.argv[1]
T = int(sys.argv[2]) if len(sys.argv) > 2 else 128
threads = int(sys.argv[3]) if len(sys.argv) > 3 else 2
torch.set_num_threads(threads)
torch.manual_seed(1)
c = json.load(open(f"{cfg_dir}/config.json"))
mt = c["model_type"]
gpt2 = mt == "gpt2"
D = c["n_embd"] if gpt2 else c["hidden_size"]
L = c["n_layer"] if gpt2 else c["num_hidden_layers"]
H = c["n_head"] if gpt2 else c["num_attention_heads"]
Hkv = H if gpt2 else c.get("num_key_value_heads", H)
Dh = D // H
M = 4 * D if gpt2 else c["intermediate_size"]
V = c["vocab_size"]
tied = c.get("tie_word_embeddings", True if gpt2 else False)
qkv_bias = gpt2 or mt == "qwen2"
std = 0.02

def w(*shape):
    return (torch.rand(*shape) * 2 - 1) * (std * math.sqrt(3))

emb = w(V, D)
pos = w(c.get("n_positions", 1024), D) if gpt2 else None
layers = []
for _ in range(L):
    layers.append(dict(
        wq=w(H * Dh, D), wk=w(Hkv * Dh, D), wv=w(Hkv * Dh, D), wo=w(D, H * Dh),
        bq=w(H * Dh) if qkv_bias else None, bk=w(Hkv * Dh) if qkv_bias else None, bv=w(Hkv * Dh) if qkv_bias else None,
        bo=w(D) if gpt2 else None,
        wg=None if gpt2 else w(M, D), wi=w(M, D), wout=w(D, M),
        bi=w(M) if gpt2 else None, bout=w(D) if gpt2 else None,
        n1=torch.ones(D), n2=torch.ones(D), b1=torch.zeros(D) if gpt2 else None, b2=torch.zeros(D) if gpt2 else None,
    ))
unemb = emb if tied else w(V, D)
nf = torch.ones(D)
nfb = torch.zeros(D) if gpt2 else None
theta = c.get("rope_theta", 10000.0)
eps = c.get("layer_norm_epsilon", 1e-5) if gpt2 else c.get("rms_norm_eps", 1e-6)
F = torch.nn.functional

def norm(x, g, b):
    if gpt2:
        return F.layer_norm(x, (D,), g, b, eps)
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * g

def rope(x, positions):
    inv = 1.0 / (theta ** (torch.arange(0, Dh, 2).float() / Dh))
    f = positions[:, None].float() * inv[None, :]
    e = torch.cat([f, f], -1)
    cos, sin = e.cos()[None, :, None, :], e.sin()[None, :, None, :]
    x1, x2 = x[..., : Dh // 2], x[..., Dh // 2 :]
    return x * cos + torch.cat([-x2, x1], -1) * sin

@torch.no_grad()
def forward(ids, cache=None, keep=None, last_only=False):
    Tn = len(ids)
    past = 0 if cache is None or not cache else cache[0][0].shape[1]
    positions = torch.arange(past, past + Tn)
    x = emb[torch.tensor(ids)][None]
    if gpt2:
        x = x + pos[positions][None]
    for li, p in enumerate(layers):
        a = norm(x, p["n1"], p["b1"])
        q = F.linear(a, p["wq"], p["bq"]).view(1, Tn, H, Dh)
        k = F.linear(a, p["wk"], p["bk"]).view(1, Tn, Hkv, Dh)
        v = F.linear(a, p["wv"], p["bv"]).view(1, Tn, Hkv, Dh)
        if not gpt2:
            q, k = rope(q, positions), rope(k, positions)
        if cache is not None:
            if len(cache) > li:
                k = torch.cat([cache[li][0], k], 1)
                v = torch.cat([cache[li][1], v], 1)
                cache[li] = (k, v)
            else:
                cache.append((k, v))
        S = k.shape[1]
        kk = k.repeat_interleave(H // Hkv, dim=2) if Hkv != H else k
        vv = v.repeat_interleave(H // Hkv, dim=2) if Hkv != H else v
        sc = torch.einsum("bthd,bshd->bhts", q, kk) / math.sqrt(Dh)
        mask = positions[:, None] < torch.arange(S)[None, :]
        sc = sc.masked_fill(mask, float("-inf"))
        pat = sc.softmax(-1)
        if keep is not None:
            keep.append(pat)
        z = torch.einsum("bhts,bshd->bthd", pat, vv).reshape(1, Tn, H * Dh)
        x = x + F.linear(z, p["wo"], p["bo"])
        m = norm(x, p["n2"], p["b2"])
        if gpt2:
            hdn = F.gelu(F.linear(m, p["wi"], p["bi"]), approximate="tanh")
        else:
            hdn = F.silu(F.linear(m, p["wg"])) * F.linear(m, p["wi"])
        x = x + F.linear(hdn, p["wout"], p["bout"])
    x = norm(x, nf, nfb)
    if last_only:
        x = x[:, -1:]
    return F.linear(x, unemb)

ids = [(i * 7919 + 13) % V for i in range(T)]
def timed(f):
    t0 = time.perf_counter(); f(); return (time.perf_counter() - t0) * 1000
reps = 3
forward(ids[:16])
nocap = [timed(lambda: forward(ids)) for _ in range(reps)]
cap = [timed(lambda: forward(ids, keep=[])) for _ in range(reps)]
cache = []
forward(ids[: T - 1], cache=cache, last_only=True)
dec = [timed(lambda r=r: forward([ids[(T - 1 + r) % T]], cache=cache, last_only=True)) for r in range(reps)]
med = lambda xs: sorted(xs)[len(xs) // 2]
print(json.dumps(dict(engine="pytorch-" + torch.__version__, threads=threads, config=cfg_dir, promptLen=T,
                      prefillMs=med(nocap), prefillCaptureMs=med(cap), decodeMs=med(dec),
                      peakRssBytes=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)))
