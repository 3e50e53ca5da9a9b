/**
 * Resolves a list of hooks against the hook names of a model once per forward pass,
 * so the forward pass does a single Map lookup per hook point (and nothing at all
 * for points nobody listens to: no tensor object is built for them).
 */
import { Tensor } from '../tensor/tensor.ts';
import type { Hook, HookContext, HookFn } from './types.ts';
import { explainMissingHook, parseHookName } from './names.ts';

export class HookRunner {
  private readonly byName = new Map<string, HookFn[]>();

  constructor(hooks: readonly Hook[], hookNames: readonly string[]) {
    const known = new Set(hookNames);
    for (const h of hooks) {
      if (typeof h.name === 'string') {
        if (!known.has(h.name)) {
          const nLayers = hookNames.reduce((n, x) => Math.max(n, (parseHookName(x)?.layer ?? -1) + 1), 0);
          throw new Error(`unknown hook point: ${explainMissingHook(h.name, nLayers)}`);
        }
        this.push(h.name, h.fn);
      } else {
        for (const n of hookNames) if (h.name(n)) this.push(n, h.fn);
      }
    }
  }

  private push(name: string, fn: HookFn): void {
    const arr = this.byName.get(name);
    if (arr) arr.push(fn);
    else this.byName.set(name, [fn]);
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  get empty(): boolean {
    return this.byName.size === 0;
  }

  /**
   * Runs the hooks registered at `name` on (data, shape). Returns the resulting buffer: the same
   * one if hooks edited in place or returned nothing, or a replacement (validated to the same shape).
   */
  run(name: string, data: Float32Array, shape: readonly number[], ctx: Omit<HookContext, 'name'>): Float32Array {
    const fns = this.byName.get(name);
    if (!fns) return data;
    let t = new Tensor(data, shape);
    const fullCtx: HookContext = { name, ...ctx };
    for (const fn of fns) {
      const r = fn(t, fullCtx);
      if (r !== undefined && r !== null) {
        if (!(r instanceof Tensor)) throw new Error(`hook at '${name}' returned a ${typeof r}, expected a Tensor or undefined`);
        if (r.shape.length !== shape.length || r.shape.some((d, i) => d !== shape[i])) {
          throw new Error(`hook at '${name}' returned shape [${r.shape.join(', ')}], expected [${shape.join(', ')}]`);
        }
        t = r;
      }
    }
    return t.data;
  }
}
