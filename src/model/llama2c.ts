/**
 * llama2.c legacy checkpoint format (karpathy/llama2.c `export.py --version 0`).
 *
 * Header: 7 little-endian int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len);
 * a negative vocab_size means the classifier is NOT shared with the embedding. Then float32 arrays:
 * token_embedding_table [V, D], rms_att_weight [L, D], wq [L, D, D], wk [L, KV, D], wv [L, KV, D],
 * wo [L, D, D], rms_ffn_weight [L, D], w1 [L, F, D], w2 [L, D, F], w3 [L, F, D], rms_final_weight [D],
 * freq_cis_real [seq_len, Dh/2], freq_cis_imag [seq_len, Dh/2] (unused: we compute rotary), wcls [V, D] if unshared.
 * llama2.c rotates INTERLEAVED pairs (2i, 2i+1) — declared as rotary style 'interleaved', not permuted away.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import type { FamilyDef } from './families.ts';
import type { ModelSpec } from './spec.ts';
import type { RawTensor, TensorSource } from './weights.ts';

export interface Llama2cHeader {
  dim: number;
  hiddenDim: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  vocabSize: number;
  seqLen: number;
  shared: boolean;
}

export const LLAMA2C_FAMILY: FamilyDef = {
  modelType: 'llama2c',
  resolve: () => {
    throw new Error('llama2c specs are built from the checkpoint header');
  },
  weights: {
    'embed.W_E': { key: 'tok_embeddings' },
    'blocks.{L}.ln1.w': { key: 'layers.{L}.attention_norm' },
    'blocks.{L}.attn.W_Q': { key: 'layers.{L}.wq' },
    'blocks.{L}.attn.W_K': { key: 'layers.{L}.wk' },
    'blocks.{L}.attn.W_V': { key: 'layers.{L}.wv' },
    'blocks.{L}.attn.W_O': { key: 'layers.{L}.wo' },
    'blocks.{L}.ln2.w': { key: 'layers.{L}.ffn_norm' },
    'blocks.{L}.mlp.W_gate': { key: 'layers.{L}.w1' },
    'blocks.{L}.mlp.W_in': { key: 'layers.{L}.w3' },
    'blocks.{L}.mlp.W_out': { key: 'layers.{L}.w2' },
    'ln_final.w': { key: 'norm' },
    'unembed.W_U': { key: 'output' },
  },
};

export function llama2cSpec(h: Llama2cHeader): ModelSpec {
  const dHead = h.dim / h.nHeads;
  return {
    family: 'llama2c',
    architecture: 'llama2.c',
    nLayers: h.nLayers,
    dModel: h.dim,
    nHeads: h.nHeads,
    nKvHeads: h.nKvHeads,
    dHead,
    dMlp: h.hiddenDim,
    vocabSize: h.vocabSize,
    nCtx: h.seqLen,
    norm: { kind: 'rmsnorm', eps: 1e-5, weightOffset: 0 },
    positional: 'rotary',
    rotary: { style: 'interleaved', theta: 10000, rotaryDim: dHead, scaling: null },
    mlp: { kind: 'gated', act: 'silu' },
    parallelResidual: false,
    parallelUsesTwoNorms: false,
    tiedEmbeddings: h.shared,
    embedScale: 1,
    attnScale: 1 / Math.sqrt(dHead),
    attnSoftcap: null,
    finalSoftcap: null,
    slidingWindow: null,
    bosTokenId: 1,
    eosTokenId: 2,
    weightDtype: 'float32',
  };
}

/** Reads a llama2.c checkpoint: header + one Float32Array holding every weight (views, no copies). */
export function readLlama2c(path: string): { header: Llama2cHeader; source: TensorSource } {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size < 28) throw new Error(`${path}: file is ${size} bytes, too small for a llama2.c header (28 bytes)`);
    const hb = Buffer.alloc(28);
    readSync(fd, hb, 0, 28, 0);
    const v = [0, 1, 2, 3, 4, 5, 6].map((i) => hb.readInt32LE(i * 4));
    const [dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabRaw, seqLen] = v as [number, number, number, number, number, number, number];
    const header: Llama2cHeader = { dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabSize: Math.abs(vocabRaw), seqLen, shared: vocabRaw > 0 };
    const names = ['dim', 'hidden_dim', 'n_layers', 'n_heads', 'n_kv_heads', 'vocab_size', 'seq_len'];
    v.forEach((x, i) => {
      if (i !== 5 && !(x > 0 && x < 1 << 24)) throw new Error(`${path}: header field ${names[i]} = ${x} is invalid; not a llama2.c checkpoint?`);
    });
    if (dim % nHeads !== 0 || nHeads % nKvHeads !== 0) throw new Error(`${path}: header dims inconsistent (dim ${dim}, n_heads ${nHeads}, n_kv_heads ${nKvHeads})`);
    const dh = dim / nHeads;
    const kv = nKvHeads * dh;
    const L = nLayers, D = dim, F = hiddenDim, V = header.vocabSize;
    const layout: Array<[string, number]> = [
      ['tok_embeddings', V * D], ['attention_norm', L * D], ['wq', L * D * D], ['wk', L * kv * D], ['wv', L * kv * D],
      ['wo', L * D * D], ['ffn_norm', L * D], ['w1', L * F * D], ['w2', L * D * F], ['w3', L * F * D], ['norm', D],
      ['freq_cis_real', seqLen * (dh / 2)], ['freq_cis_imag', seqLen * (dh / 2)],
    ];
    if (!header.shared) layout.push(['output', V * D]);
    const total = layout.reduce((a, [, n]) => a + n, 0);
    const expected = 28 + total * 4;
    if (size < expected) throw new Error(`${path}: file is ${size} bytes but the header implies ${expected}; the checkpoint is truncated — re-download it`);
    const all = new Float32Array(total);
    const bytes = new Uint8Array(all.buffer);
    let got = 0;
    while (got < bytes.length) {
      const n = readSync(fd, bytes, got, Math.min(bytes.length - got, 1 << 24), 28 + got);
      if (n <= 0) throw new Error(`${path}: unexpected end of file`);
      got += n;
    }
    const arrays = new Map<string, Float32Array>();
    let off = 0;
    for (const [name, n] of layout) {
      arrays.set(name, all.subarray(off, off + n));
      off += n;
    }
    const perLayer: Record<string, [number, number]> = {
      attention_norm: [D, 1], wq: [D, D], wk: [kv, D], wv: [kv, D], wo: [D, D], ffn_norm: [D, 1], w1: [F, D], w2: [D, F], w3: [F, D],
    };
    const source: TensorSource = {
      origin: path,
      names: () => [...arrays.keys()],
      get(name: string): RawTensor | undefined {
        const m = /^layers\.(\d+)\.(\w+)$/.exec(name);
        if (m) {
          const l = Number(m[1]);
          const shp = perLayer[m[2]!];
          const arr = arrays.get(m[2]!);
          if (!shp || !arr || l >= L) return undefined;
          const n = shp[0] * shp[1];
          return { shape: shp[1] === 1 ? [shp[0]] : [shp[0], shp[1]], data: arr.subarray(l * n, (l + 1) * n) };
        }
        if (name === 'tok_embeddings' || name === 'output') {
          const a = arrays.get(name);
          return a ? { shape: [V, D], data: a } : undefined;
        }
        if (name === 'norm') return { shape: [D], data: arrays.get('norm')! };
        return undefined;
      },
    };
    return { header, source };
  } finally {
    closeSync(fd);
  }
}
