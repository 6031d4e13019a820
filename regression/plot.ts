/**
 * @file Plots as SVG text, written by hand (a line chart with axes, ticks and a legend), and PNG
 * through @resvg/resvg-js: loss curves on a log scale, and the data with fitted lines for one x.
 */

export interface Series {
  name: string;
  points: [number, number][];
  /** Lines join points (dashed: drawn over another line); dots scatter them. */
  style: 'line' | 'dashed' | 'dots';
  color?: string;
}

export const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf', '#393b79', '#637939'];

function ticks(lo: number, hi: number, count = 5): number[] {
  const span = hi - lo || 1;
  const step = 10 ** Math.floor(Math.log10(span / count));
  const nice = [1, 2, 5, 10].map((m) => m * step).find((s) => span / s <= count) ?? 10 * step;
  const out: number[] = [];
  for (let v = Math.ceil(lo / nice) * nice; v <= hi + 1e-9 * span; v += nice) out.push(Number(v.toPrecision(12)));
  return out;
}

/** The least and the greatest of `values` ([Infinity, -Infinity] for none), in a loop: a spread into Math.min passes every value as an argument, past the stack's limit for a long run's curve. */
export function extent(values: readonly number[]): [number, number] {
  let [lo, hi] = [Infinity, -Infinity];
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const label = (v: number) => (Math.abs(v) >= 1e5 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(1) : String(Number(v.toPrecision(6))));

/** A chart of `series`; with logY, y is plotted as log10 and labelled as powers of ten. */
export function svgChart(series: Series[], { title, xLabel, yLabel, logY = false, logX = false, width = 720, height = 440 }: { title: string; xLabel: string; yLabel: string; logY?: boolean; logX?: boolean; width?: number; height?: number }): string {
  const tf = (y: number) => (logY ? Math.log10(y) : y);
  const tx = (x: number) => (logX ? Math.log10(x) : x);
  const pts = series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(tx(x)) && Number.isFinite(tf(y)));
  const xs = pts.map((p) => tx(p[0]));
  const ys = pts.map((p) => tf(p[1]));
  let [x0, x1] = extent(xs);
  let [y0, y1] = extent(ys);
  if (!pts.length) [x0, x1, y0, y1] = [0, 1, 0, 1];
  if (x0 === x1) [x0, x1] = [x0 - 1, x1 + 1];
  if (y0 === y1) [y0, y1] = [y0 - 1, y1 + 1];
  const pad = (y1 - y0) * 0.05;
  [y0, y1] = [y0 - pad, y1 + pad];
  const m = { left: 78, right: 20, top: 40, bottom: 56 };
  const px = (x: number) => m.left + ((x - x0) / (x1 - x0)) * (width - m.left - m.right);
  const py = (y: number) => height - m.bottom - ((y - y0) / (y1 - y0)) * (height - m.top - m.bottom);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans, Arial, sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15">${esc(title)}</text>`,
  ];
  for (const t of logX ? ticks(x0, x1).filter((v) => Number.isInteger(v)) : ticks(x0, x1)) {
    out.push(`<line x1="${px(t)}" y1="${m.top}" x2="${px(t)}" y2="${height - m.bottom}" stroke="#eee"/>`, `<text x="${px(t)}" y="${height - m.bottom + 16}" text-anchor="middle">${logX ? `1e${t}` : label(t)}</text>`);
  }
  // On a log scale, whole decades when the range spans several, else ordinary ticks of log10(y) labelled with y.
  const decades = ticks(y0, y1).filter((v) => Number.isInteger(v));
  for (const t of logY && decades.length >= 2 ? decades : ticks(y0, y1)) {
    const text = logY ? (Number.isInteger(t) ? `1e${t}` : label(Number((10 ** t).toPrecision(3)))) : label(t);
    out.push(`<line x1="${m.left}" y1="${py(t)}" x2="${width - m.right}" y2="${py(t)}" stroke="#eee"/>`, `<text x="${m.left - 6}" y="${py(t) + 4}" text-anchor="end">${text}</text>`);
  }
  out.push(
    `<rect x="${m.left}" y="${m.top}" width="${width - m.left - m.right}" height="${height - m.top - m.bottom}" fill="none" stroke="#333"/>`,
    `<text x="${(m.left + width - m.right) / 2}" y="${height - 14}" text-anchor="middle">${esc(xLabel)}${logX ? ' (log scale)' : ''}</text>`,
    `<text transform="translate(16 ${(m.top + height - m.bottom) / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}${logY ? ' (log scale)' : ''}</text>`,
  );
  series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length]!;
    const good = s.points.filter(([x, y]) => Number.isFinite(tx(x)) && Number.isFinite(tf(y)));
    if (s.style !== 'dots') {
      const d = good.map(([x, y], k) => `${k ? 'L' : 'M'}${px(tx(x)).toFixed(1)},${py(tf(y)).toFixed(1)}`).join('');
      const dash = s.style === 'dashed' ? ' stroke-dasharray="8 6"' : '';
      out.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="${s.style === 'dashed' ? 2 : 3}"${dash}/>`);
    } else {
      for (const [x, y] of good) out.push(`<circle cx="${px(tx(x)).toFixed(1)}" cy="${py(tf(y)).toFixed(1)}" r="2.5" fill="${color}" fill-opacity="0.55"/>`);
    }
  });
  // The legend, on a white box over the top-right corner; a series without a name has no entry.
  const named = series.map((s, i) => ({ s, i })).filter(({ s }) => s.name);
  const lw = Math.max(192, 24 + 7 * Math.max(...named.map(({ s }) => s.name.length)));
  out.push(`<rect x="${width - m.right - lw - 6}" y="${m.top + 4}" width="${lw}" height="${18 * named.length + 8}" fill="white" fill-opacity="0.85" stroke="#ccc"/>`);
  named.forEach(({ s, i }, row) => {
    const color = s.color ?? PALETTE[i % PALETTE.length]!;
    const ly = m.top + 22 + 18 * row;
    out.push(`<rect x="${width - m.right - lw + 2}" y="${ly - 9}" width="14" height="4" fill="${color}"/>`, `<text x="${width - m.right - lw + 22}" y="${ly - 3}">${esc(s.name)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n');
}

/**
 * A histogram of `values` scaled as a density (area 1), as the outline of its bars: `bins` bins
 * (default: the square root of the count, 10 to 60) over the values' range.
 */
export function histogram(values: readonly number[], bins = Math.min(60, Math.max(10, Math.ceil(Math.sqrt(values.length))))): [number, number][] {
  let [lo, hi] = extent(values);
  if (lo === hi) [lo, hi] = [lo - 0.5, hi + 0.5];
  const width = (hi - lo) / bins;
  const counts = new Array<number>(bins).fill(0);
  for (const v of values) counts[Math.min(bins - 1, Math.floor((v - lo) / width))]!++;
  const points: [number, number][] = [[lo, 0]];
  counts.forEach((c, i) => {
    const h = c / (values.length * width);
    points.push([lo + i * width, h], [lo + (i + 1) * width, h]);
  });
  points.push([hi, 0]);
  return points;
}

/** The normal density N(mean, sd²) at `points` evenly spaced x from `from` to `to`. */
export function normalCurve(mean: number, sd: number, from: number, to: number, points = 200): [number, number][] {
  return Array.from({ length: points }, (_, i) => {
    const x = from + ((to - from) * i) / (points - 1);
    return [x, Math.exp(-0.5 * ((x - mean) / sd) ** 2) / (sd * Math.sqrt(2 * Math.PI))];
  });
}

/** Stacks SVG charts vertically into one SVG. */
export function stack(charts: string[], width = 720, height = 440): string {
  const inner = charts.map((c, i) => `<g transform="translate(0 ${i * height})">${c.replace(/^<svg[^>]*>/, '').replace(/<\/svg>$/, '')}</g>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height * charts.length}" viewBox="0 0 ${width} ${height * charts.length}" font-family="DejaVu Sans, Arial, sans-serif" font-size="12">\n${inner.join('\n')}\n</svg>`;
}

/** PNG bytes of an SVG, through resvg (loaded only when a PNG is asked for). */
export async function svgToPng(svg: string): Promise<Uint8Array> {
  const { Resvg } = await import('@resvg/resvg-js');
  return new Resvg(svg, { fitTo: { mode: 'width', value: 1440 }, font: { loadSystemFonts: true } }).render().asPng();
}
