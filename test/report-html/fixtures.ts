/**
 * Shared inputs of the report tests: the committed organism results of each kind, and the pattern of
 * what counts as an external URL in a report.
 */
export const KINDS = ['scan', 'knockout', 'copying', 'steer', 'patch', 'preservation', 'transplant', 'steer-generation'] as const;
/**
 * The committed organism results; preservation and transplant (no committed organism runs yet) are real
 * small runs in fixtures/ (regenerate them when their schemas change):
 * `plip preservation --prompts prompts/organism.json --n 6 --layers 2,3 --mode per-layer --no-execute
 * --max-new-tokens 24 --seed 1 --out test/report-html/fixtures/preservation-organism.json`,
 * `plip transplant --prompts prompts/organism.json --n 6 --layers 2,3 --no-execute --max-new-tokens 24
 * --n-permutations 999 --seed 1 --out test/report-html/fixtures/transplant-organism.json`,
 * `plip steer-gen --prompts prompts/organism.json --layers 3 --mode per-layer --multiples 0,1,2 --n 6
 * --max-new-tokens 24 --no-execute --seed 1 --out test/report-html/fixtures/steer-generation-organism.json`.
 */
export const RESULTS: Record<(typeof KINDS)[number], string> = {
  ...(Object.fromEntries(KINDS.slice(0, 5).map((k) => [k, `training/logs/plip_${k}.json`])) as Record<string, string>),
  preservation: 'test/report-html/fixtures/preservation-organism.json',
  transplant: 'test/report-html/fixtures/transplant-organism.json',
  'steer-generation': 'test/report-html/fixtures/steer-generation-organism.json',
} as never;

/**
 * A real small study of both bundled organisms (6 corpus samples, 3 + 3 prompts, layer 3, no execution;
 * the study file is fixtures/study/study-file.json), run from the repository root so that study.json names
 * its phase files by repo-relative paths: `plip study run test/report-html/fixtures/study/study-file.json
 * --out test/report-html/fixtures/study/out`.
 */
export const STUDY = 'test/report-html/fixtures/study/out/study.json';

/**
 * Anything a browser could fetch or follow: http(s) URLs, protocol-relative `//host` in src/href/url(),
 * CDN names, `src="http`. Reports inline SVG without the (URL-shaped) namespace attributes, so no
 * exception is needed: the namespace strings must not appear either.
 */
export const EXTERNAL_URL = /https?:\/\/|\/\/cdn|src\s*=\s*["']?(?:https?:)?\/\/|href\s*=\s*["']?(?:https?:)?\/\/|url\(\s*["']?(?:https?:)?\/\/|@import/i;
