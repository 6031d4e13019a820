/**
 * @file The quick-start demo: fits the crop-yields model (apples and oranges from temperature,
 * rainfall and humidity) by full-batch gradient descent on WebGPU, 1000 epochs in one submission,
 * and prints the loss falling and the result next to the closed-form least-squares answer.
 *
 * Run: npm run demo            (FUSEGRAD_DEVICE=cpu npm run demo for the CPU backend)
 */
import { Graph, compile, requestBackend, sgd, type DeviceKind } from '../index.js';
import { scaling, standardize } from '../regression/features.js';
import { fitLinear } from '../regression/lstsq.js';
import { APPLES } from './apples.js';

const EPOCHS = 1000;
const LR = 0.1;

// Standardize each feature (z-scores) so one learning rate suits all three; yields stay in tons.
const Xz = standardize(APPLES.X, scaling(APPLES.X, APPLES.features, 'x'));

const g = new Graph();
const X = g.input('X', [5, 3]);
const Y = g.input('Y', [5, 2]);
const W = g.param('W', [2, 3]);
const b = g.param('b', [2]);
const pred = g.add(g.matmul(X, g.transpose(W)), b);
const loss = g.mean(g.squaredError(pred, Y));

const backend = await requestBackend({ device: (process.env.FUSEGRAD_DEVICE as DeviceKind) ?? 'auto' });
const model = await compile(g, { loss, optimizer: sgd({ lr: LR }), backend });
model.write({ X: Xz, Y: APPLES.Y });

console.log(`fusegrad demo: yields of apples and oranges from temperature, rainfall, humidity (5 rows)`);
console.log(`backend: ${backend.kind} — ${backend.description}`);
console.log(`SGD, lr ${LR}, ${EPOCHS} full-batch epochs, features standardized\n`);

const before = { ...model.stats };
const start = performance.now();
const run = await model.train({ epochs: EPOCHS });
const ms = performance.now() - start;
const after = { ...model.stats };
const work = (k: 'dispatches' | 'submits' | 'readbacks') => after[k] - before[k];
for (const e of [0, 1, 2, 5, 10, 20, 50, 100, 200, 500, EPOCHS - 1]) {
  console.log(`  epoch ${String(e + 1).padStart(4)}  loss ${run.loss[e]!.toFixed(6).padStart(14)}`);
}
const [w, bias] = [await model.read('W'), await model.read('b')];
const exact = fitLinear(Xz, APPLES.Y);
console.log(`\n${'coefficient'.padEnd(24)}${'gradient descent'.padStart(18)}${'closed form'.padStart(18)}`);
APPLES.targets.forEach((t, i) => {
  console.log(`${`${t}: intercept`.padEnd(24)}${bias[i]!.toFixed(5).padStart(18)}${exact.b[i]!.toFixed(5).padStart(18)}`);
  APPLES.features.forEach((f, j) => {
    console.log(`${`${t}: ${f} (z)`.padEnd(24)}${w[i * 3 + j]!.toFixed(5).padStart(18)}${exact.W[i]![j]!.toFixed(5).padStart(18)}`);
  });
});
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : word.endsWith('h') ? 'es' : 's'}`;
console.log(
  `\n${EPOCHS} epochs in ${ms.toFixed(1)} ms (${((1000 * ms) / EPOCHS).toFixed(1)} µs/epoch) on the ${model.planName} plan: ` +
    `${plural(work('dispatches'), 'dispatch')}, ${plural(work('submits'), 'submit')}, ${plural(work('readbacks'), 'readback')}`,
);
model.dispose();
backend.dispose();
