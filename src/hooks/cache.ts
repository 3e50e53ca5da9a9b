/**
 * ActivationCache: the tensors captured by `runWithCache`, by canonical hook name.
 */
import type { Tensor } from '../tensor/tensor.ts';

export class ActivationCache {
  private readonly map = new Map<string, Tensor>();

  set(name: string, t: Tensor): void {
    this.map.set(name, t);
  }

  has(name: string): boolean {
    return this.map.has(name);
  }

  /** The captured tensor; throws naming what was captured if `name` was not requested. */
  get(name: string): Tensor {
    const t = this.map.get(name);
    if (!t) {
      const have = [...this.map.keys()];
      throw new Error(`activation '${name}' was not captured (captured: ${have.length ? have.slice(0, 8).join(', ') + (have.length > 8 ? ', …' : '') : 'nothing'}); pass it in runWithCache's names`);
    }
    return t;
  }

  /** blocks.{layer}.attn.hook_pattern: [1, H, T, S]. */
  pattern(layer: number): Tensor {
    return this.get(`blocks.${layer}.attn.hook_pattern`);
  }

  /** blocks.{layer}.hook_resid_post: [1, T, D]. */
  residPost(layer: number): Tensor {
    return this.get(`blocks.${layer}.hook_resid_post`);
  }

  names(): string[] {
    return [...this.map.keys()];
  }

  /** Total float32 bytes held. */
  bytes(): number {
    let n = 0;
    for (const t of this.map.values()) n += t.data.byteLength;
    return n;
  }
}
