/**
 * Safetensors reader / writer.
 *
 * Format: 8-byte little-endian header length N, N bytes of UTF-8 JSON header, then the data region.
 * The header maps tensor names to `{dtype, shape, data_offsets: [begin, end]}` (offsets relative to
 * the data region) plus an optional `__metadata__` string map.
 *
 * The reader trusts nothing: every size and offset is checked against the file before a byte of
 * tensor data is read, so a corrupt or truncated file yields a {@link PlipFileError}, never NaN
 * weights, a hang, a giant allocation or a raw exception. Loading reads tensor by tensor with
 * positioned reads (F32 straight into the destination, F16/BF16/F64/I* through a bounded chunk), so
 * the whole file is never held in memory and no tensor exists twice. {@link loadSafetensorsDirStored}
 * keeps F16/BF16 tensors as their raw 16-bit patterns (half the memory), read straight into place.
 */
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { endianness } from 'node:os';
import { isAbsolute, join, normalize } from 'node:path';
import { errnoCode, PlipFileError } from './errors.ts';
import {
  bf16BitsToF32Bits,
  f16BitsToF32Bits,
  isSupportedDtype,
  itemSize,
  SUPPORTED_DTYPES,
  type SafetensorsDtype,
  type WritableDtype,
} from './dtype.ts';

export { PlipFileError } from './errors.ts';
export { SUPPORTED_DTYPES, type SafetensorsDtype, type WritableDtype } from './dtype.ts';
export { writeSafetensorsFile, type TensorToWrite } from './safetensors-write.ts';

/** Largest header accepted (the format's reference implementation uses the same bound). */
export const MAX_HEADER_BYTES = 100_000_000;
/** Bound on the scratch buffer used to convert non-F32 tensors. */
export const CHUNK_BYTES = 4 * 1024 * 1024;
const REDOWNLOAD = 're-download or re-export the file';

/** One tensor entry of a validated header. */
export interface SafetensorsTensorInfo {
  dtype: SafetensorsDtype;
  shape: number[];
  /** [begin, end) byte offsets relative to {@link SafetensorsHeader.dataStart}. */
  dataOffsets: [number, number];
}

/** A fully validated safetensors header. */
export interface SafetensorsHeader {
  /** Length in bytes of the JSON header. */
  headerLength: number;
  /** Absolute file offset of the data region (8 + headerLength). */
  dataStart: number;
  fileSize: number;
  /** The `__metadata__` map (empty when absent). */
  metadata: Record<string, string>;
  /** Tensor entries by name (a prototype-less object, so any name is safe). */
  tensors: Record<string, SafetensorsTensorInfo>;
}

/** A tensor loaded into memory, always widened to a fresh float32 array. */
export interface LoadedTensor {
  name: string;
  /** The dtype stored in the file. */
  dtype: string;
  shape: number[];
  data: Float32Array;
}

/**
 * A tensor loaded in its storage dtype: F16/BF16 as raw 16-bit patterns (`half` names the format),
 * everything else widened to float32. Satisfies the model loader's `RawTensor`.
 */
export interface StoredTensor {
  name: string;
  /** The dtype stored in the file. */
  dtype: SafetensorsDtype;
  shape: number[];
  data: Float32Array | Uint16Array;
  /** Set for F16/BF16 tensors: `data` is a Uint16Array of their bit patterns. */
  half?: 'bf16' | 'f16';
  /** The file it was read from. */
  file: string;
}

/** Options for {@link loadSafetensorsFile} and {@link loadSafetensorsDir}. */
export interface LoadOptions {
  /** Load only the tensors for which this returns true (others are never read). */
  filter?: (name: string) => boolean;
}


function fail(file: string, what: string, opts?: { field?: string; cause?: unknown; fix?: string }): never {
  const where = opts?.field !== undefined ? ` (${opts.field})` : '';
  throw new PlipFileError(file, `${file}${where}: ${what}; ${opts?.fix ?? REDOWNLOAD}.`, opts);
}

function openForRead(path: string): number {
  try {
    return openSync(path, 'r');
  } catch (e) {
    const code = errnoCode(e);
    if (code === 'ENOENT') fail(path, 'file not found', { cause: e, fix: 'check the path or download the model' });
    if (code === 'EISDIR') fail(path, 'is a directory, expected a .safetensors file', { cause: e, fix: 'pass the file path' });
    fail(path, `cannot open (${code ?? String(e)})`, { cause: e, fix: 'check the file permissions' });
  }
}

/** readSync until `length` bytes are read; a short file is a truncation error. */
function readFully(fd: number, file: string, buf: Uint8Array, position: number, field?: string): void {
  let done = 0;
  while (done < buf.length) {
    let n: number;
    try {
      n = readSync(fd, buf, done, buf.length - done, position + done);
    } catch (e) {
      fail(file, `read error at byte ${position + done} (${errnoCode(e) ?? String(e)})`, { field, cause: e });
    }
    if (n === 0) fail(file, `file ended at byte ${position + done} while reading ${buf.length} bytes at ${position} (truncated or changed while reading)`, { field });
    done += n;
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function isNonNegInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function validateEntry(file: string, name: string, raw: unknown, dataSize: number): SafetensorsTensorInfo {
  const field = `tensor "${name}"`;
  if (!isPlainObject(raw)) fail(file, `header entry is not an object`, { field });
  const dtype = raw['dtype'];
  if (typeof dtype !== 'string') fail(file, `"dtype" is missing or not a string`, { field });
  if (!isSupportedDtype(dtype)) {
    fail(file, `unsupported dtype "${dtype}"; supported dtypes are ${SUPPORTED_DTYPES.join(', ')}`, {
      field,
      fix: 'convert the checkpoint to F32, F16 or BF16',
    });
  }
  const shape = raw['shape'];
  if (!Array.isArray(shape) || !shape.every(isNonNegInt)) {
    fail(file, `"shape" must be an array of non-negative integers, got ${JSON.stringify(shape)?.slice(0, 80)}`, { field });
  }
  const offs = raw['data_offsets'];
  if (!Array.isArray(offs) || offs.length !== 2 || !isNonNegInt(offs[0]) || !isNonNegInt(offs[1])) {
    fail(file, `"data_offsets" must be [begin, end] non-negative integers, got ${JSON.stringify(offs)?.slice(0, 80)}`, { field });
  }
  const [begin, end] = offs as [number, number];
  if (begin > end) fail(file, `data_offsets begin ${begin} > end ${end}`, { field });
  let bytes = itemSize(dtype);
  for (const d of shape as number[]) {
    bytes *= d;
    if (!Number.isSafeInteger(bytes)) fail(file, `shape [${shape.join(', ')}] is impossibly large`, { field });
  }
  if (end - begin !== bytes) {
    fail(file, `data_offsets [${begin}, ${end}] span ${end - begin} bytes but ${dtype} shape [${shape.join(', ')}] needs ${bytes}`, { field });
  }
  if (end > dataSize) {
    fail(file, `data_offsets end ${end} lies beyond the ${dataSize}-byte data region (file truncated or header corrupt)`, { field });
  }
  return { dtype, shape: [...(shape as number[])], dataOffsets: [begin, end] };
}

function parseHeader(fd: number, file: string): SafetensorsHeader {
  let fileSize: number;
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) fail(file, 'is a directory, expected a .safetensors file', { fix: 'pass the file path' });
    fileSize = st.size;
  } catch (e) {
    if (e instanceof PlipFileError) throw e;
    fail(file, `cannot stat (${errnoCode(e) ?? String(e)})`, { cause: e });
  }
  if (fileSize < 8) fail(file, `file is ${fileSize} bytes, too short to be safetensors (needs an 8-byte header length)`);
  const lenBuf = new Uint8Array(8);
  readFully(fd, file, lenBuf, 0, 'header length');
  const big = new DataView(lenBuf.buffer).getBigUint64(0, true);
  if (big > BigInt(MAX_HEADER_BYTES)) fail(file, `header length ${big} exceeds the ${MAX_HEADER_BYTES}-byte limit (not a safetensors file, or corrupt)`, { field: 'header length' });
  const headerLength = Number(big);
  if (headerLength > fileSize - 8) fail(file, `header length ${headerLength} is longer than the rest of the ${fileSize}-byte file (truncated)`, { field: 'header length' });
  if (headerLength < 2) fail(file, `header length ${headerLength} is too small for a JSON object`, { field: 'header length' });
  const hbuf = new Uint8Array(headerLength);
  readFully(fd, file, hbuf, 8, 'header');
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(hbuf));
  } catch (e) {
    fail(file, `header is not valid UTF-8 JSON (${e instanceof Error ? e.message : String(e)})`, { field: 'header', cause: e });
  }
  if (!isPlainObject(json)) fail(file, 'header is not a JSON object', { field: 'header' });
  const dataStart = 8 + headerLength;
  const dataSize = fileSize - dataStart;
  const metadata: Record<string, string> = Object.create(null) as Record<string, string>;
  const tensors: Record<string, SafetensorsTensorInfo> = Object.create(null) as Record<string, SafetensorsTensorInfo>;
  for (const [name, raw] of Object.entries(json)) {
    if (name === '__metadata__') {
      if (!isPlainObject(raw)) fail(file, '__metadata__ is not an object', { field: '__metadata__' });
      for (const [k, v] of Object.entries(raw)) {
        if (typeof v !== 'string') fail(file, `__metadata__ value for "${k}" is not a string`, { field: '__metadata__' });
        metadata[k] = v;
      }
      continue;
    }
    tensors[name] = validateEntry(file, name, raw, dataSize);
  }
  // No two non-empty tensors may share bytes.
  const spans = Object.entries(tensors)
    .filter(([, t]) => t.dataOffsets[1] > t.dataOffsets[0])
    .sort((a, b) => a[1].dataOffsets[0] - b[1].dataOffsets[0]);
  for (let i = 1; i < spans.length; i++) {
    const [pn, p] = spans[i - 1]!;
    const [cn, c] = spans[i]!;
    if (c.dataOffsets[0] < p.dataOffsets[1]) {
      fail(file, `data_offsets [${c.dataOffsets.join(', ')}] overlap those of "${pn}" [${p.dataOffsets.join(', ')}]`, { field: `tensor "${cn}"` });
    }
  }
  return { headerLength, dataStart, fileSize, metadata, tensors };
}

/**
 * Reads and fully validates the header of a safetensors file (no tensor data is read).
 * @throws PlipFileError if the file is missing, truncated, or its header is malformed or inconsistent.
 */
export function readSafetensorsHeader(path: string): SafetensorsHeader {
  const fd = openForRead(path);
  try {
    return parseHeader(fd, path);
  } finally {
    closeSync(fd);
  }
}

/** @internal shared with the writer (./safetensors-write.ts). */
export function checkPlatform(): void {
  if (endianness() !== 'LE') throw new PlipFileError('', 'safetensors loading requires a little-endian platform.');
}

let scratch: ArrayBuffer | undefined;
/** @internal a reused chunk buffer of CHUNK_BYTES. */
export function scratchBuffer(): ArrayBuffer {
  scratch ??= new ArrayBuffer(CHUNK_BYTES);
  return scratch;
}

function readTensor(fd: number, file: string, h: SafetensorsHeader, name: string, t: SafetensorsTensorInfo): Float32Array {
  const field = `tensor "${name}"`;
  const n = t.shape.reduce((a, b) => a * b, 1);
  let out: Float32Array;
  try {
    out = new Float32Array(n);
  } catch (e) {
    fail(file, `cannot allocate ${n} floats (${e instanceof Error ? e.message : String(e)})`, { field, cause: e, fix: 'free memory or load fewer tensors' });
  }
  const pos = h.dataStart + t.dataOffsets[0];
  if (t.dtype === 'F32') {
    readFully(fd, file, new Uint8Array(out.buffer, 0, n * 4), pos, field);
    return out;
  }
  const isz = itemSize(t.dtype);
  const perChunk = Math.floor(CHUNK_BYTES / isz);
  const buf = scratchBuffer();
  const out32 = new Uint32Array(out.buffer);
  for (let i = 0; i < n; i += perChunk) {
    const m = Math.min(perChunk, n - i);
    readFully(fd, file, new Uint8Array(buf, 0, m * isz), pos + i * isz, field);
    switch (t.dtype) {
      case 'F16':
        f16BitsToF32Bits(new Uint16Array(buf, 0, m), out32.subarray(i, i + m));
        break;
      case 'BF16':
        bf16BitsToF32Bits(new Uint16Array(buf, 0, m), out32.subarray(i, i + m));
        break;
      case 'F64':
        out.set(new Float64Array(buf, 0, m), i);
        break;
      case 'I32':
        out.set(new Int32Array(buf, 0, m), i);
        break;
      case 'I64': {
        const src = new BigInt64Array(buf, 0, m);
        for (let j = 0; j < m; j++) out[i + j] = Number(src[j]!);
        break;
      }
    }
  }
  return out;
}

function readTensorStored(fd: number, file: string, h: SafetensorsHeader, name: string, t: SafetensorsTensorInfo): StoredTensor {
  if (t.dtype !== 'F16' && t.dtype !== 'BF16') {
    return { name, dtype: t.dtype, shape: [...t.shape], data: readTensor(fd, file, h, name, t), file };
  }
  const field = `tensor "${name}"`;
  const n = t.shape.reduce((a, b) => a * b, 1);
  let out: Uint16Array;
  try {
    out = new Uint16Array(n);
  } catch (e) {
    fail(file, `cannot allocate ${n} 16-bit values (${e instanceof Error ? e.message : String(e)})`, { field, cause: e, fix: 'free memory or load fewer tensors' });
  }
  readFully(fd, file, new Uint8Array(out.buffer, 0, n * 2), h.dataStart + t.dataOffsets[0], field);
  return { name, dtype: t.dtype, shape: [...t.shape], data: out, half: t.dtype === 'BF16' ? 'bf16' : 'f16', file };
}

function loadFileWith<T>(path: string, opts: LoadOptions | undefined, read: (fd: number, h: SafetensorsHeader, name: string, t: SafetensorsTensorInfo) => T): Map<string, T> {
  checkPlatform();
  const fd = openForRead(path);
  try {
    const h = parseHeader(fd, path);
    const entries = Object.entries(h.tensors).sort((a, b) => a[1].dataOffsets[0] - b[1].dataOffsets[0]);
    const out = new Map<string, T>();
    for (const [name, t] of entries) {
      if (opts?.filter && !opts.filter(name)) continue;
      out.set(name, read(fd, h, name, t));
    }
    return out;
  } finally {
    closeSync(fd);
  }
}

/**
 * Loads one safetensors file keeping F16/BF16 tensors in their 16-bit form (see {@link StoredTensor}).
 * @throws PlipFileError on any validation or read failure.
 */
export function loadSafetensorsFileStored(path: string, opts?: LoadOptions): Map<string, StoredTensor> {
  return loadFileWith(path, opts, (fd, h, name, t) => readTensorStored(fd, path, h, name, t));
}

/**
 * Loads the tensors of one safetensors file, each widened to a fresh `Float32Array`.
 * Tensors are read one at a time (file-offset order) with positioned reads; memory peaks at the
 * loaded tensors plus one ≤ 4 MiB scratch chunk.
 * @throws PlipFileError on any validation or read failure.
 */
export function loadSafetensorsFile(path: string, opts?: LoadOptions): Map<string, LoadedTensor> {
  return loadFileWith(path, opts, (fd, h, name, t) => ({ name, dtype: t.dtype, shape: [...t.shape], data: readTensor(fd, path, h, name, t) }));
}

/** Parsed `model.safetensors.index.json`: tensor name → shard file name. */
export function readSafetensorsIndex(indexPath: string): Map<string, string> {
  let text: string;
  try {
    text = readFileSync(indexPath, 'utf8');
  } catch (e) {
    fail(indexPath, `cannot read (${errnoCode(e) ?? String(e)})`, { cause: e });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    fail(indexPath, `not valid JSON (${e instanceof Error ? e.message : String(e)})`, { cause: e });
  }
  if (!isPlainObject(json) || !isPlainObject(json['weight_map'])) fail(indexPath, 'missing "weight_map" object', { field: 'weight_map' });
  const map = new Map<string, string>();
  for (const [name, shard] of Object.entries(json['weight_map'])) {
    if (typeof shard !== 'string' || shard === '') fail(indexPath, `shard for tensor "${name}" is not a file name`, { field: `weight_map["${name}"]` });
    const norm = normalize(shard);
    if (isAbsolute(shard) || norm.startsWith('..') || shard.includes('\0')) {
      fail(indexPath, `shard path "${shard}" for tensor "${name}" escapes the model directory`, { field: `weight_map["${name}"]` });
    }
    map.set(name, shard);
  }
  return map;
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

/**
 * Loads all weights of a model directory: `model.safetensors`, or the shards listed in
 * `model.safetensors.index.json` (only tensors the index maps to a shard are loaded from it).
 * @throws PlipFileError naming the directory, index or shard on any problem.
 */
export function loadSafetensorsDir(dir: string, opts?: LoadOptions): Map<string, LoadedTensor> {
  return loadDirWith(dir, opts, loadSafetensorsFile);
}

/**
 * {@link loadSafetensorsDir} keeping F16/BF16 tensors in their 16-bit form (see {@link StoredTensor}):
 * what the model loader uses, so a bf16 checkpoint occupies its own size in memory.
 */
export function loadSafetensorsDirStored(dir: string, opts?: LoadOptions): Map<string, StoredTensor> {
  return loadDirWith(dir, opts, loadSafetensorsFileStored);
}

function loadDirWith<T>(dir: string, opts: LoadOptions | undefined, loadFile: (path: string, opts?: LoadOptions) => Map<string, T>): Map<string, T> {
  const single = join(dir, 'model.safetensors');
  if (isFile(single)) return loadFile(single, opts);
  const indexPath = join(dir, 'model.safetensors.index.json');
  if (!isFile(indexPath)) {
    const hint = existsSync(join(dir, 'pytorch_model.bin'))
      ? 'this model only has pytorch_model.bin; convert it to safetensors (e.g. with transformers save_pretrained(safe_serialization=True))'
      : 'pass a Hugging Face model directory or repo id';
    throw new PlipFileError(dir, `${dir}: no model.safetensors or model.safetensors.index.json found; ${hint}.`);
  }
  const weightMap = readSafetensorsIndex(indexPath);
  const byShard = new Map<string, string[]>();
  for (const [name, shard] of weightMap) {
    const list = byShard.get(shard);
    if (list) list.push(name);
    else byShard.set(shard, [name]);
  }
  const out = new Map<string, T>();
  for (const [shard, names] of byShard) {
    const shardPath = join(dir, shard);
    if (!isFile(shardPath)) {
      throw new PlipFileError(shardPath, `${indexPath} maps ${names.length} tensor(s) (e.g. "${names[0]}") to shard ${shard}, but ${shardPath} does not exist; re-download the model (all shards).`, {
        field: `weight_map["${names[0]}"]`,
      });
    }
    const h = readSafetensorsHeader(shardPath);
    for (const name of names) {
      if (!Object.prototype.hasOwnProperty.call(h.tensors, name)) {
        throw new PlipFileError(shardPath, `${indexPath} maps tensor "${name}" to ${shard}, but ${shardPath} has no such tensor; the index and shard are out of sync, re-download the model.`, {
          field: `tensor "${name}"`,
        });
      }
    }
    const wanted = new Set(names);
    const loaded = loadFile(shardPath, { filter: (n) => wanted.has(n) && (!opts?.filter || opts.filter(n)) });
    for (const [n, t] of loaded) out.set(n, t);
  }
  return out;
}
