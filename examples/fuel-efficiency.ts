/**
 * @file Fuel efficiency: mpg from engine displacement on the Auto MPG data, standardized, trained
 * by SGD at learning rates 0.01, 0.001 and 0.0001; the three loss curves in one plot, and the
 * fitted line against the closed-form one. Writes examples/out/fuel-efficiency.svg (and .png).
 *
 * Run: npm run build && node dist/examples/fuel-efficiency.js
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { requestBackend } from '../index.js';
import { parseTable, selectColumns } from '../regression/data.js';
import { fitRegression } from '../regression/fit.js';
import { type Series, stack, svgChart, svgToPng } from '../regression/plot.js';

const file = 'examples/data/auto-mpg.csv';
const data = selectColumns(parseTable(file, readFileSync(file, 'utf8')), ['mpg'], ['displacement']);
const backend = await requestBackend();
const curves: Series[] = [];
const lines: Series[] = [{ name: 'cars', style: 'dots', points: data.X.map((x, i) => [x[0]!, data.Y[i]![0]!]) }];
console.log(`mpg ~ displacement, ${data.X.length} cars, standardized, 1000 epochs of SGD on ${backend.kind}\n`);
console.log('learning rate   final loss   intercept    slope       closed form: intercept, slope');
for (const lr of [0.01, 0.001, 0.0001]) {
  const r = await fitRegression(data.X, data.Y, data.features, data.targets, backend, { lr, epochs: 1000, standardize: true });
  const cf = r.closedForm[0]!;
  console.log(`${String(lr).padEnd(16)}${r.finalLoss.toFixed(5).padStart(10)}   ${r.coefficients.bias[0]!.toFixed(4).padStart(9)}  ${r.coefficients.weight[0]![0]!.toFixed(5).padStart(9)}   ${cf.coef[0]!.toFixed(4)}, ${cf.coef[1]!.toFixed(5)}`);
  curves.push({ name: `lr ${lr}`, style: 'line', points: r.history.loss.map((v, i) => [i + 1, v]) });
  if (lr === 0.01) {
    const xs = [Math.min(...data.X.map((x) => x[0]!)), Math.max(...data.X.map((x) => x[0]!))];
    lines.push({ name: 'closed form', style: 'line', color: '#2ca02c', points: xs.map((x) => [x, cf.coef[0]! + cf.coef[1]! * x]) });
    lines.push({ name: 'gradient descent, lr 0.01', style: 'dashed', color: '#d62728', points: xs.map((x) => [x, r.coefficients.bias[0]! + r.coefficients.weight[0]![0]! * x]) });
  }
}
const svg = stack([
  svgChart(curves, { title: 'Training loss at three learning rates (standardized mpg ~ displacement)', xLabel: 'epoch', yLabel: 'mean squared error', logY: true }),
  svgChart(lines, { title: 'mpg against displacement', xLabel: 'displacement (cubic inches)', yLabel: 'mpg' }),
]);
mkdirSync('examples/out', { recursive: true });
writeFileSync('examples/out/fuel-efficiency.svg', svg);
writeFileSync('examples/out/fuel-efficiency.png', await svgToPng(svg));
console.log('\nplot: examples/out/fuel-efficiency.svg and .png');
backend.dispose();
