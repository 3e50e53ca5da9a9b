/**
 * Donor / recipient pairs of the phase-5 transplant, and their semantic position maps.
 *
 * Pairing rule (deterministic, file order):
 *  - each Rust prompt is a recipient, in file order;
 *  - its Python donor is the Python prompt with the same function name when there is one; otherwise the
 *    first Python prompt not yet used as a donor whose function has as many parameters (the map carries
 *    parameters by order, so equal counts leave no parameter unmapped); none left → skipped with the reason;
 *  - its Rust control donor is the next Rust prompt after it (cyclically) with a different name and as many
 *    parameters; none → skipped.
 * A pair whose map cannot be built (a region without a token of its own, …) is skipped with the builder's reason.
 *
 * @module
 */
import type { LocatedPrompt } from '../../corpus/test-prompts.ts';
import { buildSemanticPositionMap, SemanticPositionMapSchema, type SemanticPositionMap } from '../../interventions/position-map.ts';
import type { Rng } from '../../stats/rng.ts';
import { sampleControls } from '../shared/samples.ts';
import type { PlipTokenizer } from '../../tokenize/types.ts';
import type { SkippedItem } from '../contract.ts';

export interface TransplantPair {
  recipient: LocatedPrompt;
  donor: LocatedPrompt;
  controlDonor: LocatedPrompt;
  pairing: 'name' | 'params';
  map: SemanticPositionMap;
  controlMap: SemanticPositionMap;
}

const structure = (lp: LocatedPrompt) => ({ language: lp.prompt.language, text: lp.prompt.prompt, function: lp.prompt.name });

/** The semantic position map of a donor → recipient pair (markers `>>>` / `#[test]`, the prompts' functions). */
export function pairMap(donor: LocatedPrompt, recipient: LocatedPrompt, tok: PlipTokenizer): Promise<SemanticPositionMap> {
  return buildSemanticPositionMap(structure(donor), structure(recipient), tok);
}

/** Pairs every Rust prompt with a Python donor and a Rust control donor (see the module doc); `limit` = at most this many pairs. */
export async function buildPairs(located: readonly LocatedPrompt[], tok: PlipTokenizer, limit = Infinity): Promise<{ pairs: TransplantPair[]; skipped: SkippedItem[] }> {
  const py = located.filter((l) => l.prompt.language === 'python');
  const rs = located.filter((l) => l.prompt.language === 'rust');
  const used = new Set<string>();
  const pairs: TransplantPair[] = [];
  const skipped: SkippedItem[] = [];
  for (let i = 0; i < rs.length && pairs.length < limit; i++) {
    const r = rs[i]!;
    const arity = r.prompt.params.length;
    let donor = py.find((p) => p.prompt.name === r.prompt.name);
    const pairing = donor ? 'name' : 'params';
    donor ??= py.find((p) => !used.has(p.prompt.id) && p.prompt.params.length === arity);
    if (!donor) {
      skipped.push({ id: r.prompt.id, group: 'rust', reason: `no unused Python donor with ${arity} parameter(s) and no Python prompt named '${r.prompt.name}'` });
      continue;
    }
    let control: LocatedPrompt | undefined;
    for (let k = 1; k < rs.length && !control; k++) {
      const c = rs[(i + k) % rs.length]!;
      if (c.prompt.name !== r.prompt.name && c.prompt.params.length === arity) control = c;
    }
    if (!control) {
      skipped.push({ id: r.prompt.id, group: 'rust', reason: `no other Rust prompt with ${arity} parameter(s) to be the control donor` });
      continue;
    }
    try {
      const map = await pairMap(donor, r, tok);
      const controlMap = await pairMap(control, r, tok);
      used.add(donor.prompt.id);
      pairs.push({ recipient: r, donor, controlDonor: control, pairing, map, controlMap });
    } catch (e) {
      skipped.push({ id: r.prompt.id, group: 'rust', reason: `position map (donor ${donor.prompt.id}, control ${control.prompt.id}): ${(e as Error).message}` });
    }
  }
  return { pairs, skipped };
}

/**
 * The shuffled-map control: the same donor → recipient map with every function-key entry (def/fn, name,
 * parameters) sent to a matched random recipient key instead (same count and distance profile from the
 * marker, never a function, marker or special token; src/experiments/shared/controls.ts). Recipient
 * function key F[i] (ascending) becomes control key C[i] (ascending); marker entries and the query map
 * are unchanged (a pool smaller than the function keys drops the last ones' entries). So the donor's mass moves as much as in the pattern arm, onto keys that are not the
 * function's, while the recipient's function tokens keep their own weights.
 *
 * @param avoid - recipient positions never drawn (the prompt's marker and special tokens, its function tokens)
 */
export function shuffledMap(map: SemanticPositionMap, avoid: readonly number[], rng: Rng): { map: SemanticPositionMap; keys: number[] } {
  const fnKeys = [...new Set(map.keys.filter((e) => e.kind !== 'marker').map((e) => e.recipient))].sort((a, b) => a - b);
  const markerFirst = Math.min(...map.recipient.regions.marker);
  const draw = sampleControls({ marker: { token: markerFirst }, targets: fnKeys, markerTokens: [...map.recipient.regions.marker, ...avoid], excluded: [] }, 1, rng).draws[0]!;
  // a pool smaller than the function keys gives a shorter draw: the last function keys then have no image
  // and their entries are dropped (their donor mass is not carried; the record's `keys` shows it)
  const to = new Map(fnKeys.slice(0, draw.length).map((k, i) => [k, draw[i]!]));
  const keys = map.keys.flatMap((e) => (e.kind === 'marker' ? [e] : to.has(e.recipient) ? [{ ...e, recipient: to.get(e.recipient)! }] : []));
  return { map: SemanticPositionMapSchema.parse({ ...map, keys }), keys: draw };
}
