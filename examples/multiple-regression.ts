/**
 * @file Multiple regression with Adam: mpg from displacement, weight and acceleration (standardized),
 * lr 0.1, 1000 epochs, 20% of the cars held out for validation; training and validation loss
 * curves, the parameters' trajectories, and the result next to ols. Writes examples/out/multiple-regression.svg.
 *
 * Run: npm run build && node dist/examples/multiple-regression.js
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { requestBackend } from '../index.js';
import { parseTable, selectColumns } from '../regression/data.js';
import { fitRegression } from '../regression/fit.js';
import { formatOls } from '../regression/ols.js';
import { type Series, stack, svgChart } from '../regression/plot.js';

const file = 'examples/data/auto-mpg.csv';
const data = selectColumns(parseTable(file, readFileSync(file, 'utf8')), ['mpg'], ['displacement', 'weight', 'acceleration']);
const backend = await requestBackend();
const r = await fitRegression(data.X, data.Y, data.features, data.targets, backend, { optimizer: 'adam', lr: 0.1, epochs: 1000, standardize: true, validFrac: 0.2, seed: 42, paramsEvery: 10 });
console.log(`Adam, lr 0.1, 1000 epochs on ${backend.kind} (${r.device.plan} plan, ${r.timing.submits} submit, ${r.timing.readbacks} read): ${r.n} training rows, ${r.validRows} validation rows`);
console.log(`loss: training ${r.history.loss[999]!.toFixed(5)}, validation ${r.history.validLoss![999]!.toFixed(5)} (standardized units)\n`);
console.log('term            gradient descent    closed form (training rows)');
['const', ...r.features].forEach((term, j) => {
  const gd = j === 0 ? r.coefficients.bias[0]! : r.coefficients.weight[0]![j - 1]!;
  console.log(`${term.padEnd(16)}${gd.toFixed(6).padStart(16)}${r.closedForm[0]!.coef[j]!.toFixed(6).padStart(18)}`);
});
console.log(`\n${formatOls(r.closedForm[0]!, 'mpg')}`);
const traj = r.trajectory!;
const paths: Series[] = r.features.map((name, j) => ({ name: `w ${name}`, style: 'line', points: traj.epoch.map((e, i) => [e, traj.weight[i]![0]![j]!]) }));
paths.push({ name: 'b', style: 'line', points: traj.epoch.map((e, i) => [e, traj.bias[i]![0]!]) });
const svg = stack([
  svgChart(
    [
      { name: 'training', style: 'line', points: r.history.loss.map((v, i) => [i + 1, v]) },
      { name: 'validation', style: 'line', points: r.history.validLoss!.map((v, i) => [i + 1, v]) },
    ],
    { title: 'Loss by epoch (Adam, lr 0.1)', xLabel: 'epoch', yLabel: 'mean squared error', logY: true },
  ),
  svgChart(paths, { title: 'Parameters by epoch (standardized units, every 10th epoch)', xLabel: 'epoch', yLabel: 'value' }),
]);
mkdirSync('examples/out', { recursive: true });
writeFileSync('examples/out/multiple-regression.svg', svg);
console.log('plot: examples/out/multiple-regression.svg');
backend.dispose();
