/**
 * Figures of the HTML reports: Vega-Lite specs compiled by `vega-lite`, run by `vega` headless in Node and
 * serialised with `View.toSVG()` (no canvas, no browser). Nothing is hand-drawn.
 *
 * External URLs: vega's SVG names the SVG and XLink namespaces (`xmlns="http://www.w3.org/2000/svg"`). Those
 * strings are identifiers required by the SVG spec, not links, but a report must name no URL at all, so
 * {@link inlineSvg} removes them: inside HTML5 the parser puts `<svg>` in the SVG namespace by itself.
 * Exported `.svg` files (`--figures DIR`) keep them, since a standalone SVG is not valid without.
 *
 * @module
 */
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

/** One figure of a report. `spec` is a Vega-Lite spec with its data inlined (`data.values`). */
export interface Figure {
  /** File-name-safe id, unique within a report (used by `--figures DIR`). */
  id: string;
  title: string;
  /** One or two sentences: what is plotted, units, what the bands/rules mean. */
  caption: string;
  spec: TopLevelSpec;
}

/** A figure rendered to SVG (standalone form, with namespaces). */
export interface RenderedFigure extends Figure {
  svg: string;
}

/** Shared look: font, no external fonts, compact axes. */
const CONFIG = {
  font: 'system-ui, sans-serif',
  axis: { labelFontSize: 10, titleFontSize: 11 },
  legend: { labelFontSize: 10, titleFontSize: 11, labelLimit: 320 },
  title: { fontSize: 12 },
  view: { stroke: '#ccc' },
};

/** Renders a Vega-Lite spec to a standalone SVG string. Throws with the figure id when vega fails or warns of an error. */
export async function renderSvg(fig: Figure): Promise<string> {
  const spec = { $schema: undefined, config: CONFIG, ...fig.spec } as TopLevelSpec;
  delete (spec as { $schema?: string }).$schema; // the schema URL would end up nowhere, but keep specs URL-free
  let vgSpec: vega.Spec;
  try {
    vgSpec = compile(spec).spec;
  } catch (e) {
    throw new Error(`figure '${fig.id}': invalid Vega-Lite spec (${(e as Error).message})`);
  }
  delete (vgSpec as { $schema?: string }).$schema;
  const errors: string[] = [];
  const logger = vega.logger(vega.Warn);
  logger.error = (...a: unknown[]) => {
    errors.push(a.map(String).join(' '));
    return logger;
  };
  logger.warn = (...a: unknown[]) => {
    errors.push(a.map(String).join(' '));
    return logger;
  };
  // loader with no network or file access: every figure's data is inline
  const loader = vega.loader({ mode: 'http' });
  loader.load = async (uri: string) => {
    throw new Error(`figure '${fig.id}': refusing to load external data '${uri}' (figures must inline their data)`);
  };
  const view = new vega.View(vega.parse(vgSpec), { renderer: 'none', logger, loader });
  const svg = await view.toSVG();
  view.finalize();
  if (errors.length) throw new Error(`figure '${fig.id}': vega reported: ${errors.join('; ')}`);
  return svg;
}

/** Renders every figure (sequentially: vega views are cheap, and order is kept). */
export async function renderFigures(figs: readonly Figure[]): Promise<RenderedFigure[]> {
  const out: RenderedFigure[] = [];
  for (const f of figs) out.push({ ...f, svg: await renderSvg(f) });
  return out;
}

/** SVG for inlining into HTML: namespace attributes removed (see the module doc), one `<svg>` element. */
export function inlineSvg(svg: string): string {
  return svg.replace(/\s+xmlns(:xlink)?="[^"]*"/g, '');
}
