/**
 * @file How variable are the estimates? mpg ~ displacement on the Auto MPG data: the classical
 * standard errors of the closed form next to two bootstraps of 1000 replicates each, every
 * replicate a model trained by gradient descent, all 1000 in one submission. The pairs bootstrap
 * finds a wider intercept than the classical formula, and the residual spread by displacement
 * shows why. Writes examples/out/bootstrap.svg (and .png).
 *
 * Run: npm run build && node dist/examples/bootstrap.js
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { requestBackend } from '../index.js';
import type { BootstrapMethod } from '../regression/bootstrap.js';
import { parseTable, selectColumns } from '../regression/data.js';
import { type FitResult, fitRegression } from '../regression/fit.js';
import { type Series, histogram, normalCurve, stack, svgChart, svgToPng } from '../regression/plot.js';

const file = 'examples/data/auto-mpg.csv';
const data = selectColumns(parseTable(file, readFileSync(file, 'utf8')), ['mpg'], ['displacement']);
const backend = await requestBackend();
const B = 1000;
console.log(`mpg ~ displacement, ${data.X.length} cars; ${B} bootstrap replicates per method, 200 epochs of SGD each, on ${backend.kind}\n`);

const fits: { method: BootstrapMethod; r: FitResult; ms: number }[] = [];
for (const method of ['pairs', 'residuals'] as BootstrapMethod[]) {
  const start = performance.now();
  const r = await fitRegression(data.X, data.Y, data.features, data.targets, backend, { lr: 0.1, epochs: 200, standardize: true, bootstrap: B, bootstrapMethod: method, seed: 7 });
  fits.push({ method, r, ms: performance.now() - start });
}
const cf = fits[0]!.r.closedForm[0]!;
console.log('coefficient    estimate   classical se   pairs se   residuals se');
['intercept', 'slope'].forEach((name, j) => {
  const se = (i: number) => (j === 0 ? fits[i]!.r.bootstrap!.se.bias[0]! : fits[i]!.r.bootstrap!.se.weight[0]![0]!);
  console.log(`${name.padEnd(12)}${cf.coef[j]!.toFixed(5).padStart(11)}${cf.se[j]!.toFixed(5).padStart(15)}${se(0).toFixed(5).padStart(11)}${se(1).toFixed(5).padStart(15)}`);
});
for (const { method, ms } of fits) console.log(`${method}: the fit and ${B} replicates in ${ms.toFixed(0)} ms`);

// Why the pairs bootstrap disagrees: the residuals' spread by thirds of displacement.
const rows = data.X.map((x, i) => ({ x: x[0]!, e: data.Y[i]![0]! - cf.coef[0]! - cf.coef[1]! * x[0]! })).sort((a, b) => a.x - b.x);
const third = Math.ceil(rows.length / 3);
const spreads = [0, 1, 2].map((t) => {
  const part = rows.slice(t * third, (t + 1) * third);
  return { from: part[0]!.x, to: part.at(-1)!.x, sd: Math.sqrt(part.reduce((s, p) => s + p.e * p.e, 0) / part.length) };
});
console.log('\nresidual spread (root mean square) by displacement:');
for (const s of spreads) console.log(`  ${String(s.from).padStart(3)}-${String(s.to).padEnd(3)} cubic inches: ${s.sd.toFixed(2)} mpg`);
console.log(`largest / smallest: ${(Math.max(...spreads.map((s) => s.sd)) / Math.min(...spreads.map((s) => s.sd))).toFixed(2)}`);
console.log('The classical standard error and the residual bootstrap assume one spread for every car; the pairs bootstrap does not.');

const charts = ['intercept', 'slope'].map((name, j) => {
  const series: Series[] = fits.map(({ method, r }, i) => ({
    name: method === 'pairs' ? 'pairs bootstrap' : 'residual bootstrap',
    style: 'line',
    color: ['#1f77b4', '#ff7f0e'][i],
    points: histogram(j === 0 ? r.bootstrap!.draws.bias[0]! : r.bootstrap!.draws.weight[0]![0]!),
  }));
  const [mu, se] = [cf.coef[j]!, cf.se[j]!];
  series.push({ name: 'classical: normal(estimate, se)', style: 'dashed', color: '#2ca02c', points: normalCurve(mu, se, mu - 4 * se, mu + 4 * se) });
  return svgChart(series, { title: `Bootstrap distributions of the ${name}`, xLabel: name, yLabel: 'density' });
});
const svg = stack(charts);
mkdirSync('examples/out', { recursive: true });
writeFileSync('examples/out/bootstrap.svg', svg);
writeFileSync('examples/out/bootstrap.png', await svgToPng(svg));
console.log('\nplot: examples/out/bootstrap.svg and .png');
backend.dispose();
