/**
 * A minimal dense tensor: row-major `Float32Array` with an explicit shape.
 *
 * All activations are float32. Weight matrices keep their checkpoint dtype (f32, bf16 or f16) as a
 * `WeightArray` (`src/tensor/weight.ts`); kernels widen them tile by tile.
 */
export class Tensor {
  readonly data: Float32Array;
  readonly shape: readonly number[];

  constructor(data: Float32Array, shape: readonly number[]) {
    const n = shapeSize(shape);
    if (data.length !== n) {
      throw new Error(`Tensor: data length ${data.length} does not match shape [${shape.join(', ')}] (${n} elements)`);
    }
    this.data = data;
    this.shape = Object.freeze([...shape]);
  }

  static zeros(shape: readonly number[]): Tensor {
    return new Tensor(new Float32Array(shapeSize(shape)), shape);
  }

  static from(values: ArrayLike<number>, shape: readonly number[]): Tensor {
    return new Tensor(Float32Array.from(values), shape);
  }

  get size(): number {
    return this.data.length;
  }

  get rank(): number {
    return this.shape.length;
  }

  /** Deep copy (new buffer). */
  clone(): Tensor {
    return new Tensor(this.data.slice(), this.shape);
  }

  /** Same buffer viewed with another shape of equal size. */
  reshape(shape: readonly number[]): Tensor {
    return new Tensor(this.data, shape);
  }

  /** Row-major strides of `shape`. */
  strides(): number[] {
    return stridesOf(this.shape);
  }

  /** Element at a multi-index (slow; for tests and small reads). */
  get(...idx: number[]): number {
    return this.data[offsetOf(this.shape, idx)]!;
  }

  set(value: number, ...idx: number[]): void {
    this.data[offsetOf(this.shape, idx)] = value;
  }

  /** Nested JS arrays (for JSON output and tests). */
  toNested(): unknown {
    const rec = (dim: number, off: number): unknown => {
      const n = this.shape[dim]!;
      const stride = shapeSize(this.shape.slice(dim + 1));
      if (dim === this.shape.length - 1) return Array.from(this.data.subarray(off, off + n));
      const out: unknown[] = [];
      for (let i = 0; i < n; i++) out.push(rec(dim + 1, off + i * stride));
      return out;
    };
    if (this.shape.length === 0) return this.data[0];
    return rec(0, 0);
  }
}

export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new Error(`invalid tensor dimension ${d} in shape [${shape.join(', ')}]`);
    n *= d;
  }
  return n;
}

export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

function offsetOf(shape: readonly number[], idx: number[]): number {
  if (idx.length !== shape.length) throw new Error(`index rank ${idx.length} != tensor rank ${shape.length}`);
  let off = 0;
  let stride = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    const k = idx[i]!;
    if (k < 0 || k >= shape[i]!) throw new Error(`index ${k} out of range for dim ${i} of size ${shape[i]}`);
    off += k * stride;
    stride *= shape[i]!;
  }
  return off;
}
