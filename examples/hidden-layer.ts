/**
 * @file Past least squares: mpg from displacement, horsepower and weight, by the closed-form line
 * (ols) and by a network with one hidden layer of 8 tanh units trained with Adam on the same
 * (standardized) training rows, both judged on 20% of the cars held out. Mileage falls off
 * steeply for light cars and flattens for heavy ones; a line cannot bend, the network can, and
 * the compiler turns its graph into the same one-dispatch kernel as the regression's. Prints the
 * mean squared errors and writes examples/out/hidden-layer.svg (loss curves, and predicted against
 * actual mpg for the held-out cars).
 *
 * Run: npm run build && node dist/examples/hidden-layer.js
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Graph, adam, compile, requestBackend } from '../index.js';
import { parseTable, selectColumns } from '../regression/data.js';
import { scaling, standardize } from '../regression/features.js';
import { splitRows } from '../regression/fit.js';
import { ols } from '../regression/ols.js';
import { stack, svgChart } from '../regression/plot.js';
import { normals } from '../engine/random.js';

const HIDDEN = 8;
const EPOCHS = 3000;
const file = 'examples/data/auto-mpg.csv';
const data = selectColumns(parseTable(file, readFileSync(file, 'utf8')), ['mpg'], ['displacement', 'horsepower', 'weight']);
const { train, valid } = splitRows(data.X.length, 0.2, 42);
const pick = <T>(rows: T[], idx: number[]) => idx.map((i) => rows[i]!);
const [Xt, Xv, yt, yv] = [pick(data.X, train), pick(data.X, valid), pick(data.Y, train).map((r) => r[0]!), pick(data.Y, valid).map((r) => r[0]!)];
const mse = (pred: number[], y: number[]) => pred.reduce((s, p, i) => s + (p - y[i]!) ** 2, 0) / y.length;

// The closed form on the training rows, judged on the held-out ones.
const line = ols(Xt, yt, data.features);
const linePredict = (X: number[][]) => X.map((x) => line.coef[0]! + x.reduce((s, v, j) => s + v * line.coef[j + 1]!, 0));

// The network, in z-scores of x and of mpg (the scaling from the training rows alone).
const sx = scaling(Xt, data.features, 'feature');
const sy = scaling(yt.map((v) => [v]), ['mpg'], 'target');
const z = (y: number[]) => y.map((v) => [(v - sy.mean[0]!) / sy.sd[0]!]);
const g = new Graph();
const X = g.input('X', [train.length, 3]);
const Y = g.input('Y', [train.length, 1]);
const W1 = g.param('W1', [HIDDEN, 3]);
const b1 = g.param('b1', [HIDDEN]);
const W2 = g.param('W2', [1, HIDDEN]);
const b2 = g.param('b2', [1]);
const hidden = g.tanh(g.add(g.matmul(X, W1, { transB: true }), b1));
const pred = g.add(g.matmul(hidden, W2, { transB: true }), b2);
const loss = g.mean(g.squaredError(pred, Y));
const backend = await requestBackend();
const model = await compile(g, { loss, optimizer: adam({ lr: 0.01 }), backend, validationRows: valid.length });
model.write({ X: standardize(Xt, sx), Y: z(yt) });
model.write({ X: standardize(Xv, sx), Y: z(yv) }, 'validation');
// Seeded starting weights (torch's default scale, 1/sqrt(fan-in)); zeros would leave every hidden unit the same.
model.write({ W1: normals(HIDDEN * 3, 7).map((v) => v / Math.sqrt(3)), W2: normals(HIDDEN, 8).map((v) => v / Math.sqrt(HIDDEN)) });
const run = await model.train({ epochs: EPOCHS });
const work = { ...model.stats };

// The trained network's predictions, in mpg, from its parameters (one read each).
const [w1, c1, w2, c2] = [await model.read('W1'), await model.read('b1'), await model.read('W2'), await model.read('b2')];
const netPredict = (rows: number[][]) =>
  standardize(rows, sx).map((x) => {
    let out = c2![0]!;
    for (let h = 0; h < HIDDEN; h++) out += w2![h]! * Math.tanh(c1![h]! + x.reduce((s, v, j) => s + v * w1![h * 3 + j]!, 0));
    return sy.mean[0]! + sy.sd[0]! * out;
  });

const rows = [
  ['least squares (a plane in 3 features)', mse(linePredict(Xt), yt), mse(linePredict(Xv), yv)],
  [`tanh network (${HIDDEN} hidden units, Adam)`, mse(netPredict(Xt), yt), mse(netPredict(Xv), yv)],
] as const;
console.log(`mpg ~ ${data.features.join(' + ')}: ${train.length} training cars, ${valid.length} held out`);
console.log(`network: ${EPOCHS} epochs on ${backend.kind} (${model.planName} plan: ${work.dispatches} dispatch${work.dispatches === 1 ? '' : 'es'}, ${work.submits} submit, ${work.readbacks} read)\n`);
console.log('model                                      training MSE   held-out MSE   (mpg²)');
for (const [name, t, v] of rows) console.log(`${name.padEnd(42)}${t.toFixed(3).padStart(13)}${v.toFixed(3).padStart(15)}`);
console.log(`\nheld-out error, network against least squares: ${(100 * (rows[1][2] / rows[0][2] - 1)).toFixed(1)}%`);

const heldOut = (pred: number[]) => pred.map((p, i) => [yv[i]!, p] as [number, number]);
const span = [Math.min(...yv), Math.max(...yv)];
const svg = stack([
  svgChart(
    [
      { name: 'training', style: 'line', points: Array.from(run.loss, (v, i) => [i + 1, v]) },
      { name: 'held out', style: 'line', points: Array.from(run.validLoss!, (v, i) => [i + 1, v]) },
    ],
    { title: `The network's loss by epoch (z-scores of mpg, Adam lr 0.01)`, xLabel: 'epoch', yLabel: 'mean squared error', logY: true },
  ),
  svgChart(
    [
      { name: 'least squares', style: 'dots', points: heldOut(linePredict(Xv)) },
      { name: 'tanh network', style: 'dots', points: heldOut(netPredict(Xv)) },
      { name: 'predicted = actual', style: 'line', points: [[span[0]!, span[0]!], [span[1]!, span[1]!]] },
    ],
    { title: 'Held-out cars: predicted against actual mpg', xLabel: 'actual mpg', yLabel: 'predicted mpg' },
  ),
]);
mkdirSync('examples/out', { recursive: true });
writeFileSync('examples/out/hidden-layer.svg', svg);
console.log('plot: examples/out/hidden-layer.svg');
model.dispose();
backend.dispose();
