import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, existsSync, ftruncateSync, mkdirSync, mkdtempSync, openSync, writeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  loadSafetensorsDir,
  loadSafetensorsFile,
  PlipFileError,
  readSafetensorsHeader,
  writeSafetensorsFile,
} from '../../src/io/safetensors.ts';
import { f32BitsToBf16, f32BitsToF16 } from '../../src/io/dtype.ts';

const tmp = mkdtempSync(join(tmpdir(), 'plip-st-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
let fileNo = 0;
const tmpFile = (name = 'f.safetensors'): string => join(tmp, `${fileNo++}-${name}`);

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Raw file from a header object (or string) and data bytes. */
function rawFile(header: unknown, data: Uint8Array | number, lenOverride?: bigint): Buffer {
  const h = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header), 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(lenOverride ?? BigInt(h.length));
  const d = typeof data === 'number' ? Buffer.alloc(data) : Buffer.from(data);
  return Buffer.concat([len, h, d]);
}

function expectFileError(fn: () => unknown, re: RegExp): PlipFileError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof PlipFileError, `expected PlipFileError, got ${String(e)}`);
    assert.match(e.message, re);
    return e;
  }
  assert.fail('expected a PlipFileError');
}

function bits(x: Float32Array): number[] {
  return Array.from(new Uint32Array(x.buffer, x.byteOffset, x.length));
}

const SPECIALS = [0, -0, 1, -1, 0.5, 65504, -65504, 65520, 1e6, 6.1e-5, 2 ** -14, 2 ** -24, 2 ** -25, 3 * 2 ** -26, 1e-10, Infinity, -Infinity, NaN, 3.14159, 1 + 2 ** -11, 1 + 3 * 2 ** -11];

test('round trip F32 is exact, including specials', () => {
  const p = tmpFile();
  const data = Float32Array.from([...SPECIALS, 1.2345678e-38, 3.4e38]);
  writeSafetensorsFile(p, { a: { dtype: 'F32', shape: [data.length], data } }, { format: 'pt' });
  const h = readSafetensorsHeader(p);
  assert.equal(h.metadata['format'], 'pt');
  assert.equal(h.dataStart % 8, 0);
  assert.deepEqual(h.tensors['a'], { dtype: 'F32', shape: [data.length], dataOffsets: [0, data.length * 4] });
  const t = loadSafetensorsFile(p).get('a')!;
  assert.deepEqual(bits(t.data), bits(data));
});

test('F16 round trip: specials, subnormals, rounding to nearest even', () => {
  const p = tmpFile();
  const data = Float32Array.from(SPECIALS);
  writeSafetensorsFile(p, { h: { dtype: 'F16', shape: [data.length], data } });
  const got = loadSafetensorsFile(p).get('h')!;
  assert.equal(got.dtype, 'F16');
  const want = [0, -0, 1, -1, 0.5, 65504, -65504, Infinity, Infinity, 1023 * 2 ** -24, 2 ** -14, 2 ** -24, 0, 2 ** -24, 0, Infinity, -Infinity, NaN, 3.140625, 1, 1 + 2 ** -9];
  assert.equal(got.data.length, want.length);
  want.forEach((w, i) => {
    if (Number.isNaN(w)) assert.ok(Number.isNaN(got.data[i]), `index ${i}`);
    else assert.ok(Object.is(got.data[i], w), `index ${i}: ${got.data[i]} vs ${w}`);
  });
});

test('F16: all 65536 bit patterns survive f16 -> f32 -> f16, and narrowing matches a brute-force reference', () => {
  // Build a file holding every F16 bit pattern directly, load it (widening), narrow back.
  const raw = new Uint16Array(65536).map((_, i) => i);
  const p = tmpFile();
  writeFileSync(p, rawFile({ all: { dtype: 'F16', shape: [65536], data_offsets: [0, 131072] } }, new Uint8Array(raw.buffer)));
  const wide = loadSafetensorsFile(p).get('all')!.data;
  const w32 = new Uint32Array(wide.buffer);
  const finite: { v: number; h: number }[] = [];
  for (let h = 0; h < 65536; h++) {
    const isNaN16 = (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
    if (isNaN16) {
      assert.ok(Number.isNaN(wide[h]));
      assert.ok(Number.isNaN(wide[h]) && (f32BitsToF16(w32[h]!) & 0x7fff) > 0x7c00);
      continue;
    }
    assert.equal(f32BitsToF16(w32[h]!), h, `pattern ${h.toString(16)}`);
    if ((h & 0x7c00) !== 0x7c00) finite.push({ v: wide[h]!, h });
  }
  // Brute-force nearest-even reference on random float32 values within the f16 range.
  finite.sort((a, b) => a.v - b.v || (Object.is(a.v, -0) ? -1 : 1));
  const rnd = mulberry32(7);
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  for (let k = 0; k < 20000; k++) {
    u[0] = Math.floor(rnd() * 2 ** 32);
    const x = f[0]!;
    if (!Number.isFinite(x) || Math.abs(x) > 65504) continue;
    let lo = 0;
    let hi = finite.length - 1;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (finite[mid]!.v <= x) lo = mid;
      else hi = mid;
    }
    const a = finite[lo]!;
    const b = finite[hi]!;
    const da = Math.abs(x - a.v);
    const db = Math.abs(x - b.v);
    const pick = da < db ? a : db < da ? b : (a.h & 1) === 0 ? a : b;
    const got = f32BitsToF16(u[0]!);
    if (x === 0) assert.equal(got & 0x7fff, 0);
    else assert.equal(wide[got], pick.v, `x=${x}`);
  }
});

test('BF16 round trip and nearest-even narrowing', () => {
  const p = tmpFile();
  const data = Float32Array.from([...SPECIALS, 1 + 2 ** -8, 1 + 3 * 2 ** -8, 3.38e38, 3.4e38]);
  writeSafetensorsFile(p, { b: { dtype: 'BF16', shape: [data.length], data } });
  const got = loadSafetensorsFile(p).get('b')!.data;
  assert.equal(got[data.length - 1], Infinity); // above max bf16 + half ulp
  data.subarray(0, data.length - 1).forEach((x, i) => {
    if (Number.isNaN(x)) return assert.ok(Number.isNaN(got[i]));
    // reference: nearest of the two bf16 neighbours, ties to even
    const f = new Float32Array([x]);
    const u = new Uint32Array(f.buffer);
    const lo = u[0]! & 0xffff0000;
    const cand = new Float32Array(new Uint32Array([lo, lo + 0x10000]).buffer);
    const [a, b] = [cand[0]!, cand[1]!];
    const want = Math.abs(x - a) < Math.abs(x - b) ? a : Math.abs(x - b) < Math.abs(x - a) ? b : ((lo >>> 16) & 1) === 0 ? a : b;
    assert.ok(Object.is(got[i], want), `index ${i}: ${got[i]} vs ${want}`);
  });
  assert.equal(got[data.length - 4], 1); // 1 + 2^-8 ties to even -> 1
  assert.equal(got[data.length - 3], 1 + 2 ** -6); // 1 + 3*2^-8 -> up
  assert.equal(f32BitsToBf16(0x7fc00001) & 0x7fc0, 0x7fc0);
});

test('multi-dim tensors, filter, F64/I32/I64 widening and large (multi-chunk) F16 tensors', () => {
  const p = tmpFile();
  const big = new Float32Array(3_000_000).map((_, i) => (i % 2048) - 1024);
  const small = Float32Array.from([1, 2, 3, 4, 5, 6]);
  writeSafetensorsFile(p, {
    big: { dtype: 'F16', shape: [1000, 3000], data: big },
    small: { dtype: 'F32', shape: [2, 3], data: small },
    empty: { dtype: 'BF16', shape: [0, 4], data: new Float32Array(0) },
  });
  const all = loadSafetensorsFile(p);
  assert.deepEqual([...all.keys()].sort(), ['big', 'empty', 'small']);
  assert.deepEqual(all.get('big')!.data, big);
  assert.deepEqual(all.get('small')!.shape, [2, 3]);
  assert.equal(all.get('empty')!.data.length, 0);
  const some = loadSafetensorsFile(p, { filter: (n) => n === 'small' });
  assert.deepEqual([...some.keys()], ['small']);

  const q = tmpFile();
  const data = Buffer.alloc(8 * 2 + 4 * 2 + 8 * 2);
  data.writeDoubleLE(1.5, 0);
  data.writeDoubleLE(-2.25, 8);
  data.writeInt32LE(-7, 16);
  data.writeInt32LE(9, 20);
  data.writeBigInt64LE(-3n, 24);
  data.writeBigInt64LE(1n << 40n, 32);
  writeFileSync(q, rawFile({
    d: { dtype: 'F64', shape: [2], data_offsets: [0, 16] },
    i: { dtype: 'I32', shape: [2], data_offsets: [16, 24] },
    l: { dtype: 'I64', shape: [2], data_offsets: [24, 40] },
  }, data));
  const m = loadSafetensorsFile(q);
  assert.deepEqual(Array.from(m.get('d')!.data), [1.5, -2.25]);
  assert.deepEqual(Array.from(m.get('i')!.data), [-7, 9]);
  assert.deepEqual(Array.from(m.get('l')!.data), [-3, 2 ** 40]);
});

test('sharded directory via model.safetensors.index.json', () => {
  const dir = join(tmp, 'sharded');
  freshDir(dir);
  writeSafetensorsFile(join(dir, 'model-00001-of-00002.safetensors'), { a: { dtype: 'F32', shape: [2], data: Float32Array.from([1, 2]) }, extra: { dtype: 'F32', shape: [1], data: Float32Array.from([0]) } });
  writeSafetensorsFile(join(dir, 'model-00002-of-00002.safetensors'), { b: { dtype: 'BF16', shape: [1, 2], data: Float32Array.from([3, 4]) } });
  writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: 16 }, weight_map: { a: 'model-00001-of-00002.safetensors', b: 'model-00002-of-00002.safetensors' } }));
  const m = loadSafetensorsDir(dir);
  assert.deepEqual([...m.keys()].sort(), ['a', 'b']);
  assert.deepEqual(Array.from(m.get('b')!.data), [3, 4]);
  assert.deepEqual([...loadSafetensorsDir(dir, { filter: (n) => n === 'b' }).keys()], ['b']);

  // missing shard: error names index and shard
  writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { a: 'model-00001-of-00002.safetensors', c: 'model-00003-of-00003.safetensors' } }));
  const e1 = expectFileError(() => loadSafetensorsDir(dir), /model\.safetensors\.index\.json.*model-00003-of-00003\.safetensors.*does not exist.*re-download/);
  assert.match(e1.file, /model-00003-of-00003/);
  // index points at a tensor absent from its shard
  writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { a: 'model-00001-of-00002.safetensors', zz: 'model-00002-of-00002.safetensors' } }));
  expectFileError(() => loadSafetensorsDir(dir), /index\.json maps tensor "zz" to model-00002-of-00002\.safetensors.*no such tensor/);
  // path traversal and malformed index
  writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { a: '../../etc/passwd' } }));
  expectFileError(() => loadSafetensorsDir(dir), /escapes the model directory/);
  writeFileSync(join(dir, 'model.safetensors.index.json'), '{"weight_map": ');
  expectFileError(() => loadSafetensorsDir(dir), /not valid JSON/);
  writeFileSync(join(dir, 'model.safetensors.index.json'), '{"weights": {}}');
  expectFileError(() => loadSafetensorsDir(dir), /weight_map/);
  const emptyDir = join(tmp, 'empty');
  freshDir(emptyDir);
  expectFileError(() => loadSafetensorsDir(emptyDir), /no model\.safetensors or model\.safetensors\.index\.json/);
});

function freshDir(d: string): void {
  rmSync(d, { recursive: true, force: true });
  mkdirSync(d, { recursive: true });
}

const ok = { dtype: 'F32', shape: [2], data_offsets: [0, 8] };
const errorCases: [string, () => Buffer, RegExp][] = [
  ['empty file', () => Buffer.alloc(0), /0 bytes, too short/],
  ['7-byte file', () => Buffer.alloc(7), /too short/],
  ['header longer than file', () => rawFile({ a: ok }, 8, 10_000n), /header length 10000 is longer than the rest/],
  ['header length > 100MB', () => rawFile({ a: ok }, 8, 1n << 40n), /exceeds the 100000000-byte limit/],
  ['header length 2^64-1', () => rawFile({ a: ok }, 8, (1n << 64n) - 1n), /exceeds/],
  ['truncated data', () => rawFile({ a: ok }, 5), /beyond the 5-byte data region/],
  ['bad JSON', () => rawFile('{"a": {"dtype": "F32", ', 8), /not valid UTF-8 JSON/],
  ['invalid UTF-8', () => Buffer.concat([Buffer.from([8, 0, 0, 0, 0, 0, 0, 0]), Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d])]), /UTF-8 JSON/],
  ['JSON array header', () => rawFile('[1,2,3]', 8), /not a JSON object/],
  ['JSON null header', () => rawFile('null', 8), /not a JSON object/],
  ['unknown dtype', () => rawFile({ a: { dtype: 'F8_E4M3', shape: [2], data_offsets: [0, 2] } }, 2), /unsupported dtype "F8_E4M3"; supported dtypes are F32, F16, BF16/],
  ['dtype not string', () => rawFile({ a: { dtype: 4, shape: [2], data_offsets: [0, 8] } }, 8), /"dtype" is missing/],
  ['negative dim', () => rawFile({ a: { dtype: 'F32', shape: [-2], data_offsets: [0, 8] } }, 8), /"shape" must be/],
  ['fractional dim', () => rawFile({ a: { dtype: 'F32', shape: [1.5], data_offsets: [0, 6] } }, 8), /"shape" must be/],
  ['shape not array', () => rawFile({ a: { dtype: 'F32', shape: '2', data_offsets: [0, 8] } }, 8), /"shape" must be/],
  ['lying data_offsets (too short)', () => rawFile({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 4] } }, 8), /span 4 bytes but F32 shape \[2\] needs 8/],
  ['lying data_offsets (too long)', () => rawFile({ a: { dtype: 'F16', shape: [2], data_offsets: [0, 8] } }, 8), /needs 4/],
  ['begin > end', () => rawFile({ a: { dtype: 'F32', shape: [0], data_offsets: [8, 0] } }, 8), /begin 8 > end 0/],
  ['out of range offsets', () => rawFile({ a: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, 8), /end 12 lies beyond the 8-byte data region/],
  ['overlapping offsets', () => rawFile({ a: ok, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, 8), /overlap/],
  ['offsets not pair', () => rawFile({ a: { dtype: 'F32', shape: [2], data_offsets: [0] } }, 8), /"data_offsets" must be/],
  ['huge shape', () => rawFile({ a: { dtype: 'F32', shape: [2 ** 40, 2 ** 40], data_offsets: [0, 8] } }, 8), /impossibly large/],
  ['metadata not strings', () => rawFile({ __metadata__: { a: 1 }, a: ok }, 8), /__metadata__ value/],
  ['entry not object', () => rawFile({ a: 5 }, 8), /not an object/],
];

for (const [name, make, re] of errorCases) {
  test(`error: ${name}`, () => {
    const p = tmpFile();
    writeFileSync(p, make());
    const e = expectFileError(() => loadSafetensorsFile(p), re);
    assert.equal(e.file, p);
    assert.ok(e.message.includes(p), 'message names the file');
    expectFileError(() => readSafetensorsHeader(p), re);
  });
}

test('error: missing file and directory', () => {
  expectFileError(() => loadSafetensorsFile(join(tmp, 'nope.safetensors')), /file not found/);
  expectFileError(() => readSafetensorsHeader(tmp), /is a directory/);
});

test('error: field names the tensor, __proto__ is just a name', () => {
  const p = tmpFile();
  writeFileSync(p, rawFile({ 'layer.0.w': { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, 8));
  const e = expectFileError(() => loadSafetensorsFile(p), /layer\.0\.w/);
  assert.equal(e.field, 'tensor "layer.0.w"');
  const q = tmpFile();
  writeFileSync(q, rawFile('{"__proto__": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}', new Uint8Array(new Float32Array([1, 2]).buffer)));
  assert.deepEqual(Array.from(loadSafetensorsFile(q).get('__proto__')!.data), [1, 2]);
});

test('fuzz: mutated, truncated and garbage files load correctly or throw PlipFileError', () => {
  const base = tmpFile('base.safetensors');
  writeSafetensorsFile(base, {
    w: { dtype: 'F32', shape: [3, 4], data: new Float32Array(12).map((_, i) => i) },
    h: { dtype: 'F16', shape: [5], data: Float32Array.from([1, 2, 3, 4, 5]) },
    b: { dtype: 'BF16', shape: [2, 2], data: Float32Array.from([1, -1, 0.5, 8]) },
  }, { format: 'pt' });
  const good = readFileSync(base);
  const headerEnd = 8 + Number(good.readBigUInt64LE(0));
  const headerObj = JSON.parse(good.subarray(8, headerEnd).toString('utf8')) as Record<string, Record<string, unknown>>;
  const rnd = mulberry32(12345);
  const ri = (n: number): number => Math.floor(rnd() * n);
  const junkValues: unknown[] = [-1, 0, 1, 2, 3, 7, 8, 1e300, 2 ** 53, -0.5, 1.5, 'x', 'F16', 'BF16', 'F64', 'U8', null, true, [], [1], [0, 8], [8, 0], [1, 2, 3], {}, { a: 1 }, 'a'.repeat(100)];
  // Rewrite one file in place (truncate + positioned write), on tmpfs when there is one: truncating
  // thousands of times on a disk filesystem can take seconds.
  const fuzzDir = existsSync('/dev/shm') ? mkdtempSync('/dev/shm/plip-fuzz-') : tmp;
  const p = join(fuzzDir, 'fuzz.safetensors');
  const wfd = openSync(p, 'w');
  const counts = { loaded: 0, rejected: 0 };
  const N = 4000;
  for (let iter = 0; iter < N; iter++) {
    let buf: Buffer;
    const mode = iter % 6;
    if (mode === 0) {
      // flip 1-4 random bytes in the length prefix + header
      buf = Buffer.from(good);
      for (let k = 1 + ri(4); k > 0; k--) buf[ri(headerEnd)] = ri(256);
    } else if (mode === 1) {
      buf = good.subarray(0, ri(good.length + 1));
    } else if (mode === 2) {
      // random garbage header of random (maybe lying) length
      const len = ri(64);
      const body = Buffer.alloc(len + ri(64));
      for (let k = 0; k < body.length; k++) body[k] = rnd() < 0.5 ? ri(256) : '{}[]":,0123456789FBe-. '.charCodeAt(ri(23));
      const pre = Buffer.alloc(8);
      pre.writeBigUInt64LE(BigInt(rnd() < 0.8 ? len : ri(1 << 20)));
      buf = Buffer.concat([pre, body]);
    } else if (mode === 3 || mode === 4) {
      // structured mutation of the JSON header, data kept
      const h = structuredClone(headerObj);
      const names = Object.keys(h);
      for (let k = 1 + ri(3); k > 0; k--) {
        const t = h[names[ri(names.length)]!]!;
        const keys = ['dtype', 'shape', 'data_offsets', 'extra'];
        const key = keys[ri(keys.length)]!;
        const r = rnd();
        if (r < 0.2) delete t[key];
        else if (r < 0.5 && Array.isArray(t[key])) {
          const arr = [...(t[key] as unknown[])];
          arr[ri(arr.length + 1)] = junkValues[ri(junkValues.length)];
          t[key] = arr;
        } else t[key] = junkValues[ri(junkValues.length)];
      }
      const data = good.subarray(headerEnd, mode === 4 ? headerEnd + ri(good.length - headerEnd + 1) : good.length);
      buf = rawFile(h, data);
    } else {
      // lying length prefix on the valid file
      buf = Buffer.from(good);
      buf.writeBigUInt64LE(BigInt(ri(headerEnd + 64)), 0);
    }
    ftruncateSync(wfd, 0);
    writeSync(wfd, buf, 0, buf.length, 0);
    try {
      const m = loadSafetensorsFile(p);
      for (const t of m.values()) {
        assert.equal(t.data.length, t.shape.reduce((a, b) => a * b, 1));
      }
      counts.loaded++;
    } catch (e) {
      if (!(e instanceof PlipFileError)) {
        assert.fail(`iteration ${iter} (mode ${mode}): non-PlipFileError ${String(e)}\n${buf.subarray(0, 200).toString('latin1')}`);
      }
      assert.ok(e.message.length > 0 && e.file === p);
      counts.rejected++;
    }
  }
  closeSync(wfd);
  if (fuzzDir !== tmp) rmSync(fuzzDir, { recursive: true, force: true });
  assert.equal(counts.loaded + counts.rejected, N);
  assert.ok(counts.rejected > N / 2, `most mutations rejected (${JSON.stringify(counts)})`);
  assert.ok(counts.loaded > 0, 'some mutations still load');
});
