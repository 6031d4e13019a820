/** @file `fusegrad bench`: the benchmark as a command; writes the results file, a Markdown table and an SVG plot. */
import { type BenchResult, DEFAULT_SIZES, ROWS, type RowKind, type Size, markdown, runBench } from '../bench/bench.js';
import { slug } from '../bench/lib.js';
import { stack, svgChart, type Series } from '../regression/plot.js';
import { UsageError, Unwritten, intOption, oneOf, writableFolder, writeOutput } from './args.js';

export const BENCH_HELP = `fusegrad bench [options]

Trains the regression graph for a matrix of sizes on every backend and prints, per row, ms per
epoch (median of timed runs after a warm-up, min-max), epochs per second, dispatches and submits
per epoch, GB/s over the bytes an epoch must read, how far that is from the adapter's read
bandwidth, GFLOP/s over the flops an epoch must do, how far that is from the adapter's
multiply-add rate (both measured in the same run), and the ratio to the fastest row.

Options:
  --sizes <list>      apples and/or NxD or NxDxK, and networks NxDhH...: hidden tanh layers of H units
                      (100000x16h64, 100000x64h256h256) (default: apples,1000x4,1000x16,100000x4,
                      100000x16,1000000x4,1000000x16)
  --rows <list>       ${ROWS.join(', ')} (default: all)
  --optimizer <name>  sgd (default) | adam (fusegrad rows only: the peers run SGD)
  --runs <n>          timed runs per row (default 5)
  --epochs <n>        epochs per timed run (default: as many as take --target-ms)
  --target-ms <ms>    length of a timed run (default 300)
  --results <dir>     where the results JSON, Markdown table and SVG plot go (default bench/results)
  --json              the results as JSON on stdout
`;

export const BENCH_OPTIONS = {
  sizes: { type: 'string' },
  rows: { type: 'string' },
  optimizer: { type: 'string' },
  runs: { type: 'string' },
  epochs: { type: 'string' },
  'target-ms': { type: 'string' },
  results: { type: 'string' },
  json: { type: 'boolean' },
} as const;

function parseSizes(text: string): Size[] {
  return text.split(',').map((s) => {
    const t = s.trim();
    if (t === 'apples') return DEFAULT_SIZES[0]!;
    const m = /^(\d+(?:e\d+)?)x(\d+)(?:x(\d+))?((?:h\d+)*)$/.exec(t);
    if (!m) throw new UsageError(`--sizes: "${t}" is not apples, NxD, NxDxK or a network NxDhH (hidden tanh layers: 100000x16h64, 100000x64h256h256)`);
    const [n, d, k] = [Number(m[1]), Number(m[2]), Number(m[3] ?? 1)];
    const hidden = m[4]!.split('h').filter(Boolean).map(Number);
    if (!(n >= 1 && d >= 1 && k >= 1) || hidden.some((u) => u < 1)) throw new UsageError(`--sizes: "${t}" needs positive sizes`);
    return { label: `${n}x${d}${hidden.map((u) => `h${u}`).join('')}${k > 1 ? `->${k}` : ''}`, n, d, k, hidden };
  });
}

export async function bench(values: Record<string, string | boolean | undefined>): Promise<string> {
  const sizes = typeof values.sizes === 'string' ? parseSizes(values.sizes) : DEFAULT_SIZES;
  const rows = typeof values.rows === 'string' ? values.rows.split(',').map((r) => r.trim()) : [...ROWS];
  const unknown = rows.find((r) => !(ROWS as readonly string[]).includes(r));
  if (unknown) throw new UsageError(`--rows: "${unknown}" is not one of ${ROWS.join(', ')}`);
  const optimizer = oneOf(values, 'optimizer', ['sgd', 'adam'], 'sgd') as 'sgd' | 'adam';
  const dir = writableFolder('results', typeof values.results === 'string' ? values.results : 'bench/results');
  const result = await runBench({
    sizes,
    rows: rows as RowKind[],
    optimizer,
    runs: intOption(values, 'runs', 5, 1),
    targetMs: intOption(values, 'target-ms', 300, 1),
    ...(values.epochs !== undefined ? { epochs: intOption(values, 'epochs', 1, 1) } : {}),
    log: (line) => process.stderr.write(`${line}\n`),
  });
  const base = `${dir}/${result.date.slice(0, 10)}-${slug(result.adapter)}-bench`;
  const md = markdown(result);
  // A file that cannot be written loses nothing else: the others are written, the table printed.
  const unwritten: string[] = [];
  for (const [ext, text] of [['json', `${JSON.stringify(result, null, 2)}\n`], ['md', `${md}\n`], ['svg', plot(result)]] as const) {
    await writeOutput('results', `${base}.${ext}`, text).catch((err: Error) => unwritten.push(err.message));
  }
  const text = values.json === true ? JSON.stringify(result) : `${md}\n\nresults: ${base}.json, ${base}.md, ${base}.svg`;
  if (unwritten.length) throw new Unwritten(unwritten, text);
  return text;
}

/** A row the plot draws: a linear model of one target (networks and apples are in the table only). */
const linearLine = (x: BenchResult['rows'][number]) => x.k === 1 && !x.hidden.length && !x.size.startsWith('apples');

/** ms per epoch against n, log-log, one line per row; one chart per feature count. */
function plot(r: BenchResult): string {
  const charts: string[] = [];
  for (const d of [...new Set(r.rows.filter((x) => linearLine(x)).map((x) => x.d))]) {
    const names = [...new Set(r.rows.map((x) => x.row))];
    const series: Series[] = names
      .map((name) => ({ name, style: 'line' as const, points: r.rows.filter((x) => x.row === name && x.d === d && linearLine(x)).map((x) => [x.n, x.msPerEpoch] as [number, number]) }))
      .filter((s) => s.points.length);
    charts.push(svgChart(series, { title: `ms per epoch, ${d} features (${r.optimizer.toUpperCase()})`, xLabel: 'rows n', yLabel: 'ms per epoch', logX: true, logY: true, width: 820, height: 520 }));
  }
  return charts.length ? stack(charts, 820, 520) : svgChart([], { title: 'no sizes with one target to plot', xLabel: 'n', yLabel: 'ms' });
}
