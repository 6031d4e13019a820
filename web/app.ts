/**
 * @file The teaching page: pick a data set, an optimizer and a learning rate, press Train, and
 * watch the loss fall (read back every few epochs, not every epoch), the line fit the data, and
 * the graphs, the kernel plan and the WGSL that fusegrad runs: every WGSL line names the graph
 * node it computes and links to it, and a click on a node marks its lines.
 * A list of learning rates trains one model per rate, all in the same dispatches, and draws
 * their loss curves together.
 */
import { APPLES15, type Backend, type FitResult, PALETTE, type Series, fitRegression, parseTable, requestBackend, selectColumns, svgChart } from '../browser.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
// The closed form's colour, and the colours of a sweep's rates (every other colour of the palette).
const CLOSED_FORM = '#2ca02c';
const RATE_COLORS = PALETTE.filter((c) => c !== CLOSED_FORM);
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

let backend: Backend | undefined;
let fallback = '';

async function getBackend(): Promise<Backend> {
  if (backend) return backend;
  backend = await requestBackend({ device: 'auto', log: (line) => (fallback = line) });
  const el = $('backend');
  el.dataset.kind = backend.kind;
  el.textContent = backend.kind === 'webgpu' ? `Running on WebGPU: ${backend.description}` : `This browser has no WebGPU, so fusegrad runs on its CPU backend. (${fallback.replace(/^fusegrad: /, '')})`;
  return backend;
}

interface Data {
  X: number[][];
  Y: number[][];
  features: string[];
  targets: string[];
  poly?: number;
}

async function loadData(): Promise<Data> {
  switch (($('dataset') as HTMLSelectElement).value) {
    case 'crop':
      return { X: APPLES15.X, Y: APPLES15.Y.map((r) => [r[0]!]), features: APPLES15.features, targets: ['apples'] };
    case 'quadratic': {
      const X = Array.from({ length: 100 }, (_, i) => [-3 + (6 * i) / 99]);
      // A fixed pseudo-random wobble, so every visitor sees the same data.
      const Y = X.map(([x], i) => [1 + 2 * x! - 0.5 * x! ** 2 + 0.8 * Math.sin(12.9898 * i) * Math.cos(78.233 * i)]);
      return { X, Y, features: ['x'], targets: ['y'], poly: 2 };
    }
    case 'paste': {
      const table = parseTable('pasted CSV', ($('csv') as HTMLTextAreaElement).value);
      const y = ($('ycol') as HTMLInputElement).value.trim() || table.columns[table.columns.length - 1]!;
      const xs = ($('xcols') as HTMLInputElement).value.split(',').map((s) => s.trim()).filter(Boolean);
      const sel = selectColumns(table, [y], xs.length ? xs : undefined);
      return { X: sel.X, Y: sel.Y, features: sel.features, targets: sel.targets };
    }
    default: {
      const text = await (await fetch('auto-mpg.csv')).text();
      const sel = selectColumns(parseTable('auto-mpg.csv', text), ['mpg'], ['displacement']);
      return { X: sel.X, Y: sel.Y, features: sel.features, targets: sel.targets };
    }
  }
}

function drawLoss(loss: readonly number[], valid: readonly number[], total: number): void {
  const series: Series[] = [{ name: 'training loss', style: 'line', points: loss.map((v, i) => [i + 1, v]) }];
  if (valid.length) series.push({ name: 'validation loss', style: 'line', points: valid.map((v, i) => [i + 1, v]) });
  $('loss-chart').innerHTML = svgChart(series, { title: `Loss by epoch (${loss.length} of ${total})`, xLabel: 'epoch', yLabel: 'mean squared error', logY: true });
}

/** A sweep: every rate's loss curve on one chart. */
function drawSweepLoss(sweep: NonNullable<FitResult['sweep']>, total: number): void {
  const series: Series[] = sweep.map((s, i) => ({ name: `lr ${s.lr}`, style: 'line', color: RATE_COLORS[i % RATE_COLORS.length], points: s.loss.map((v, e) => [e + 1, v] as [number, number]).filter(([, v]) => Number.isFinite(v)) }));
  $('loss-chart').innerHTML = svgChart(series, { title: `Loss by epoch, ${sweep.length} learning rates trained together (${total} epochs)`, xLabel: 'epoch', yLabel: 'mean squared error', logY: true });
}

interface Line {
  name: string;
  weight: number[];
  bias: number;
  color: string;
}

function drawFit(r: FitResult, data: Data): void {
  const cf = r.closedForm[0]!;
  // Gradient descent's line, or with a sweep each rate's that did not diverge.
  const lines: Line[] = r.sweep
    ? r.sweep.flatMap((s, i) => (s.diverged ? [] : [{ name: `lr ${s.lr}`, weight: s.coefficients.weight[0]!, bias: s.coefficients.bias[0]!, color: RATE_COLORS[i % RATE_COLORS.length]! }]))
    : [{ name: 'gradient descent', weight: r.coefficients.weight[0]!, bias: r.coefficients.bias[0]!, color: '#d62728' }];
  if (data.X[0]!.length !== 1) {
    // Several features: predicted against actual.
    const ys = data.Y.map((y) => y[0]!);
    const [lo, hi] = [Math.min(...ys), Math.max(...ys)];
    const predicted = (l: Line) => data.X.map((row, i) => [ys[i]!, row.reduce((s, v, j) => s + l.weight[j]! * v, l.bias)] as [number, number]);
    $('fit-chart').innerHTML = svgChart(
      [
        ...lines.map((l): Series => ({ name: lines.length > 1 ? l.name : 'rows', style: 'dots', color: l.color, points: predicted(l) })),
        { name: 'perfect prediction', style: 'line', color: CLOSED_FORM, points: [[lo, lo], [hi, hi]] },
      ],
      { title: `predicted ${data.targets[0]} against actual`, xLabel: 'actual', yLabel: 'predicted' },
    );
    return;
  }
  const xs = data.X.map((x) => x[0]!);
  const [lo, hi] = [Math.min(...xs), Math.max(...xs)];
  const grid = Array.from({ length: 100 }, (_, i) => lo + ((hi - lo) * i) / 99);
  const curve = (w: number[], b: number) => grid.map((x) => [x, w.reduce((s, wi, j) => s + wi * x ** (j + 1), b)] as [number, number]);
  $('fit-chart').innerHTML = svgChart(
    [
      { name: 'data', style: 'dots', points: xs.map((x, i) => [x, data.Y[i]![0]!]) },
      { name: 'closed form', style: 'line', color: CLOSED_FORM, points: curve(cf.coef.slice(1), cf.coef[0]!) },
      ...lines.map((l): Series => ({ name: l.name, style: 'dashed', color: l.color, points: curve(l.weight, l.bias) })),
    ],
    { title: `${data.targets[0]} against ${data.features[0]}`, xLabel: data.features[0]!, yLabel: data.targets[0]! },
  );
}

function showResult(r: FitResult): void {
  const cf = r.closedForm[0]!;
  const closedLoss = r.scaling ? 1 - cf.r2 : (cf.sigma ** 2 * cf.df) / r.n;
  const time = `<tr><td>time</td><td colspan="3">${r.epochs} epochs in ${r.timing.ms.toFixed(1)} ms on the ${esc(r.device.plan)} plan (${plural(r.timing.submits, 'submission')}, ${plural(r.timing.readbacks, 'read')})</td></tr>`;
  if (r.sweep) {
    $('result').innerHTML = [
      '<tr><th>learning rate</th><th>final training loss</th><th>closed form</th><th>status</th></tr>',
      ...r.sweep.map((s) => `<tr class="rate"><td>${s.lr}</td><td>${s.finalLoss.toPrecision(6)}</td><td>${closedLoss.toPrecision(6)}</td><td>${esc(s.diverged ?? 'ok')}</td></tr>`),
      time,
    ].join('');
    return;
  }
  const rows = ['const', ...r.features].map((term, j) => {
    const gd = j === 0 ? r.coefficients.bias[0]! : r.coefficients.weight[0]![j - 1]!;
    return `<tr><td>${esc(term)}</td><td>${gd.toPrecision(6)}</td><td>${cf.coef[j]!.toPrecision(6)}</td><td>${cf.se[j]!.toPrecision(3)}</td></tr>`;
  });
  $('result').innerHTML = [
    '<tr><th>term</th><th>gradient descent</th><th>closed form</th><th>std err</th></tr>',
    ...rows,
    `<tr><td>training loss</td><td id="final-loss">${r.finalLoss.toPrecision(6)}</td><td id="closed-form-loss">${closedLoss.toPrecision(6)}</td><td></td></tr>`,
    time,
  ].join('');
}

/** A graph listing with each node a target the WGSL links to, and a button that shows the node's lines. */
function graphHtml(text: string): string {
  return text
    .trim()
    .split('\n')
    .map((line) => {
      const id = /^%(\d+):/.exec(line)?.[1];
      return id === undefined ? esc(line) : `<span class="node" id="node-${id}" data-node="${id}" title="show the WGSL lines of %${id}">${esc(line)}</span>`;
    })
    .join('\n');
}

/**
 * Splits model.explain() into its parts: the graphs (each node clickable), the plan, and the WGSL,
 * where every generated line names its node (`// %14 = ...`) and links back to it.
 */
function showExplain(text: string): void {
  const part = (title: string) => text.split(`== ${title}`)[1]?.split('\n== ')[0]?.replace(/^[^\n]*\n/, '') ?? '';
  $('forward').innerHTML = graphHtml(part('forward graph'));
  $('backward').innerHTML = graphHtml(part('backward graph'));
  const planAndCode = part('kernel plan');
  const [plan, ...pipelines] = planAndCode.split('\n--- ');
  $('plan').textContent = plan!.trim();
  $('wgsl').innerHTML = pipelines
    .map((p) => {
      const [head, fuses, constants, ...code] = p.split('\n');
      const ops = (fuses ?? '').replace(/^\s*fuses:\s*/, '').split(', ').filter(Boolean);
      const lines = code.map((line) => {
        const tag = /\/\/ (%(\d+) = .*)$/.exec(line);
        if (!tag) return `<span class="line">${esc(line)}</span>`;
        const before = line.slice(0, line.length - tag[0].length);
        return `<span class="line fused" data-node="${tag[2]}">${esc(before)}<a class="tag" href="#node-${tag[2]}">// ${esc(tag[1]!)}</a></span>`;
      });
      return `<div class="pipeline"><h3>${esc(head!)}</h3><div class="chips">${ops.map((o) => `<span>${esc(o)}</span>`).join('')}</div><p><small>${esc((constants ?? '').trim())}</small></p><pre class="wgsl">${lines.join('')}</pre></div>`;
    })
    .join('');
}

/** A click on a graph node marks its lines in the WGSL and scrolls to the first. */
function showNode(id: string): void {
  Array.from(document.querySelectorAll(".active")).forEach((el) => el.classList.remove("active"));
  const lines = Array.from(document.querySelectorAll(`#wgsl .line[data-node="${id}"]`));
  for (const el of [...lines, document.getElementById(`node-${id}`)]) el?.classList.add('active');
  const status = $('node-status');
  status.textContent = lines.length ? `%${id}: ${lines.length} line${lines.length === 1 ? '' : 's'} of WGSL compute it (marked)` : `%${id}: no WGSL line computes it (a data input, a parameter, a constant or a view of another node)`;
  lines[0]?.scrollIntoView({ block: 'center' });
}

async function train(): Promise<void> {
  const status = $('status');
  const button = $('train') as HTMLButtonElement;
  button.disabled = true;
  status.dataset.state = 'running';
  try {
    const b = await getBackend();
    const data = await loadData();
    const epochs = Number(($('epochs') as HTMLInputElement).value);
    const chunks = Math.max(1, Math.min(20, Math.floor(epochs / 10)));
    const field = ($('lr') as HTMLInputElement).value;
    const rates = field.split(',').map((v) => Number(v.trim()));
    const bad = field.split(',').find((v, i) => v.trim() === '' || !(rates[i]! > 0) || !Number.isFinite(rates[i]));
    if (bad !== undefined) throw new Error(`Learning rate: "${bad.trim()}" is not a positive number`);
    status.textContent =
      rates.length > 1 ? `training ${rates.length} models (one per learning rate) for ${epochs} epochs on ${b.kind}, in the same dispatches…` : `training ${epochs} epochs on ${b.kind}, reading the loss every ${Math.ceil(epochs / chunks)} epochs…`;
    const r = await fitRegression(data.X, data.Y, data.features, data.targets, b, {
      optimizer: ($('optimizer') as HTMLSelectElement).value as 'sgd' | 'adam' | 'adamw',
      ...(rates.length > 1 ? { sweep: { lr: rates } } : { lr: rates[0]! }),
      epochs,
      standardize: ($('standardize') as HTMLInputElement).checked,
      ...(data.poly ? { poly: data.poly } : {}),
      chunks,
      explain: true,
      onProgress: (_done, loss, valid) => drawLoss(loss, valid, epochs),
    });
    if (r.sweep) drawSweepLoss(r.sweep, epochs);
    else drawLoss(r.history.loss, r.history.validLoss ?? [], epochs);
    drawFit(r, data);
    showResult(r);
    showExplain(r.explain ?? '');
    // In a sweep a diverging rate is a result (the table says which); one model diverging is an error.
    const diverged = r.sweep ? null : r.diverged;
    status.textContent = diverged ? diverged.message : `done: ${r.sweep ? `${r.sweep.length} models, ` : ''}${r.epochs} epochs on ${r.device.backend}`;
    status.dataset.state = diverged ? 'error' : 'done';
  } catch (err) {
    status.textContent = (err as Error).message;
    status.dataset.state = 'error';
  } finally {
    button.disabled = false;
  }
}

$('dataset').addEventListener('change', () => {
  const v = ($('dataset') as HTMLSelectElement).value;
  $('paste-box').hidden = v !== 'paste';
  ($('lr') as HTMLInputElement).value = v === 'crop' ? '0.05' : v === 'quadratic' ? '0.05' : '0.01';
});
$('train').addEventListener('click', () => void train());
for (const list of ['forward', 'backward']) {
  $(list).addEventListener('click', (e) => {
    const id = (e.target as HTMLElement).closest('[data-node]')?.getAttribute('data-node');
    if (id) showNode(id);
  });
}
void getBackend();
