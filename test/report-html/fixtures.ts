/**
 * Shared inputs of the report tests: the committed organism results of each kind, and the pattern of
 * what counts as an external URL in a report.
 */
export const KINDS = ['scan', 'knockout', 'copying', 'steer', 'patch'] as const;
export const RESULTS: Record<(typeof KINDS)[number], string> = Object.fromEntries(KINDS.map((k) => [k, `training/logs/plip_${k}.json`])) as never;

/**
 * Anything a browser could fetch or follow: http(s) URLs, protocol-relative `//host` in src/href/url(),
 * CDN names, `src="http`. Reports inline SVG without the (URL-shaped) namespace attributes, so no
 * exception is needed: the namespace strings must not appear either.
 */
export const EXTERNAL_URL = /https?:\/\/|\/\/cdn|src\s*=\s*["']?(?:https?:)?\/\/|href\s*=\s*["']?(?:https?:)?\/\/|url\(\s*["']?(?:https?:)?\/\/|@import/i;
