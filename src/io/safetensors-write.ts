/**
 * Writing safetensors files (F32, or F16/BF16 narrowed with round-to-nearest-even): fixtures, random
 * benchmark checkpoints, tests. Reading is ./safetensors.ts.
 *
 * @module
 */
import { closeSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { PlipFileError } from './errors.ts';
import { f32BitsToBf16, f32BitsToF16, itemSize, type WritableDtype } from './dtype.ts';
import { CHUNK_BYTES, checkPlatform, isNonNegInt, scratchBuffer } from './safetensors.ts';

/** A tensor to write with {@link writeSafetensorsFile}. */
export interface TensorToWrite {
  dtype: WritableDtype;
  shape: number[];
  /**
   * float32 values (narrowed to F16/BF16 as needed), or for F16/BF16 the raw 16-bit patterns, or a
   * function producing either when the tensor is written (so a large checkpoint can be written one tensor
   * at a time without holding it in memory).
   */
  data: Float32Array | Uint16Array | (() => Float32Array | Uint16Array);
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
}

/**
 * Writes a safetensors file (F32, or F16/BF16 narrowed with round-to-nearest-even). The header is
 * space-padded to a multiple of 8 bytes. Written to a temporary name and renamed into place.
 */
export function writeSafetensorsFile(path: string, tensors: Record<string, TensorToWrite>, metadata?: Record<string, string>): void {
  checkPlatform();
  const header: Record<string, unknown> = {};
  if (metadata) header['__metadata__'] = metadata;
  let offset = 0;
  const order: [string, TensorToWrite][] = Object.entries(tensors);
  const checkData = (name: string, t: TensorToWrite, data: Float32Array | Uint16Array) => {
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (!t.shape.every(isNonNegInt) || n !== data.length) {
      throw new PlipFileError(path, `${path} (tensor "${name}"): data has ${data.length} elements but shape [${t.shape.join(', ')}] needs ${n}; fix the caller.`, { field: `tensor "${name}"` });
    }
    if (data instanceof Uint16Array && t.dtype === 'F32') {
      throw new PlipFileError(path, `${path} (tensor "${name}"): 16-bit data cannot be written as F32; pass a Float32Array.`, { field: `tensor "${name}"` });
    }
  };
  for (const [name, t] of order) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (typeof t.data !== 'function') checkData(name, t, t.data);
    else if (!t.shape.every(isNonNegInt)) checkData(name, t, new Float32Array(0));
    if (t.dtype !== 'F32' && t.dtype !== 'F16' && t.dtype !== 'BF16') {
      throw new PlipFileError(path, `${path} (tensor "${name}"): cannot write dtype ${String(t.dtype)}; use F32, F16 or BF16.`, { field: `tensor "${name}"` });
    }
    const bytes = n * itemSize(t.dtype);
    Object.defineProperty(header, name, { value: { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] }, enumerable: true });
    offset += bytes;
  }
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  const pad = (8 - (json.length % 8)) % 8;
  if (pad) json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${Date.now()}`);
  const fd = openSync(tmp, 'w');
  try {
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.length));
    writeAll(fd, len);
    writeAll(fd, json);
    const buf = scratchBuffer();
    for (const [name, t] of order) {
      const data = typeof t.data === 'function' ? t.data() : t.data;
      checkData(name, t, data);
      if (t.dtype === 'F32' || data instanceof Uint16Array) {
        writeAll(fd, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
        continue;
      }
      const src = new Uint32Array(data.buffer, data.byteOffset, data.length);
      const narrow = t.dtype === 'F16' ? f32BitsToF16 : f32BitsToBf16;
      const per = CHUNK_BYTES / 2;
      const dst = new Uint16Array(buf);
      for (let i = 0; i < src.length; i += per) {
        const m = Math.min(per, src.length - i);
        for (let j = 0; j < m; j++) dst[j] = narrow(src[i + j]!);
        writeAll(fd, new Uint8Array(buf, 0, m * 2));
      }
    }
    closeSync(fd);
    renameSync(tmp, path);
  } catch (e) {
    try {
      closeSync(fd);
    } catch {
      /* already closed */
    }
    rmSync(tmp, { force: true });
    throw e;
  }
}
