/**
 * Cross-spec checks of resolved edits (run by `validateSpec` once every spec resolved on its own).
 *
 * @module
 */
import type { ResolvedEdit } from './spec.ts';

/**
 * Static form of the runtime rule "a set whose selected keys were all knocked out is an error": for every
 * set / set-control spec, every explicit source row, layer and head where a knockout spec of the same call
 * removes every selected (or every match) key. Wildcard sources are left to the runtime check.
 */
export function knockedOutSelections(resolved: readonly ResolvedEdit[]): string[] {
  const out: string[] = [];
  const kos = resolved.filter((e) => e.kind === 'knockout');
  if (!kos.length) return out;
  const removed = (L: number, h: number, q: number): Set<number> | 'all' => {
    const s = new Set<number>();
    for (const e of kos) {
      if (!e.layers.includes(L) || !e.heads.includes(h)) continue;
      for (const r of e.rules) {
        if (r.sources !== 'all' && !r.sources.includes(q)) continue;
        if (r.targets === 'all') return 'all';
        for (const k of r.targets) s.add(k);
      }
    }
    return s;
  };
  resolved.forEach((e, si) => {
    if (e.kind !== 'set' && e.kind !== 'set-control') return;
    for (const r of e.rules) {
      if (r.sources === 'all' || r.targets === 'all') continue;
      for (const q of r.sources)
        for (const L of e.layers)
          for (const h of e.heads) {
            const ko = removed(L, h, q);
            const gone = (keys: number[]) => ko === 'all' || keys.every((k) => ko.has(k));
            for (const [field, keys] of [['targets', r.targets], ['match', r.match ?? []]] as const) {
              const visible = keys.filter((k) => k <= q);
              if (!visible.length || !gone(visible)) continue;
              out.push(`spec[${si}]: kind "${e.kind}" at layer ${L}, head ${h}, source ${q}: every ${field === 'targets' ? 'target' : 'match key'} (${keys.join(', ')}) is knocked out by another spec; a knocked-out key never receives mass, so nothing would be set. Remove the knockout of these keys or the ${e.kind}`);
              return;
            }
          }
    }
  });
  return out;
}

