/**
 * @file Crop yields, as the classic lesson teaches linear regression: apples and oranges (tons per
 * hectare) from temperature, rainfall and humidity, 15 rows, 2 targets. First gradient descent by
 * hand (read the gradients autograd computed, update the weights on the host, write them back, as
 * `w -= w.grad * lr` does in PyTorch), then the built-in optimizer on the device (the same numbers
 * in one submission), then minibatches of 5 with shuffling.
 *
 * Run: npm run build && node dist/examples/crop-yields.js
 */
import { Graph, compile, requestBackend, sgd } from '../index.js';
import { APPLES15 } from './apples.js';

const backend = await requestBackend();
const EPOCHS = 100;
const LR = 1e-5;

function graph() {
  const g = new Graph();
  const X = g.input('X', [15, 3]);
  const Y = g.input('Y', [15, 2]);
  const W = g.param('W', [2, 3]);
  const b = g.param('b', [2]);
  const loss = g.mean(g.squaredError(g.add(g.matmul(X, g.transpose(W)), b), Y));
  return { g, loss };
}
// The lesson starts from random weights; these are fixed so every run prints the same numbers.
const W0 = [[0.52, -0.33, 1.08], [-0.41, 0.93, 0.27]];
const b0 = [0.15, -0.62];

// 1. By hand: one evaluation (forward and backward) and one host update per epoch.
const byHand = graph();
const manual = await compile(byHand.g, { loss: byHand.loss, optimizer: sgd({ lr: LR }), backend, plan: 'per-node' });
manual.write({ X: APPLES15.X, Y: APPLES15.Y, W: W0, b: b0 });
const { W: dW, b: db } = Object.fromEntries(manual.gradients) as Record<string, import('../index.js').Tensor>;
let w = Float64Array.from(W0.flat());
let b = Float64Array.from(b0);
const handLoss: number[] = [];
for (let e = 0; e < EPOCHS; e++) {
  const [loss, gw, gb] = await manual.evaluate([byHand.loss, dW!, db!]);
  handLoss.push(loss![0]!);
  w = w.map((v, i) => v - LR * gw![i]!);
  b = b.map((v, i) => v - LR * gb![i]!);
  manual.write({ W: w, b });
}
console.log(`by hand:           loss ${handLoss[0]!.toFixed(2)} -> ${handLoss[EPOCHS - 1]!.toFixed(2)} in ${EPOCHS} epochs (${manual.stats.readbacks} reads)`);

// 2. The built-in optimizer: the same epochs as one submission on the device.
const builtIn = graph();
const model = await compile(builtIn.g, { loss: builtIn.loss, optimizer: sgd({ lr: LR }), backend });
model.write({ X: APPLES15.X, Y: APPLES15.Y, W: W0, b: b0 });
const run = await model.train({ epochs: EPOCHS });
const gap = Math.max(...handLoss.map((l, e) => Math.abs(l - run.loss[e]!) / l));
console.log(`built-in SGD:      loss ${run.loss[0]!.toFixed(2)} -> ${run.loss[EPOCHS - 1]!.toFixed(2)} (${model.planName} plan, ${model.stats.readbacks} read); largest relative difference from by-hand ${gap.toExponential(1)}`);

// 3. Minibatches of 5, reshuffled every epoch on the device.
const mini = graph();
const batched = await compile(mini.g, { loss: mini.loss, optimizer: sgd({ lr: LR }), backend, batchSize: 5, shuffle: true, seed: 1 });
batched.write({ X: APPLES15.X, Y: APPLES15.Y, W: W0, b: b0 });
const m = await batched.train({ epochs: EPOCHS });
console.log(`minibatches of 5:  loss ${m.loss[0]!.toFixed(2)} -> ${m.loss[EPOCHS - 1]!.toFixed(2)} (3 steps an epoch, mean of batch losses)`);
console.log(`weights after minibatch SGD: ${Array.from(await batched.read('W'), (v) => v.toFixed(4)).join(', ')}`);
for (const x of [manual, model, batched]) x.dispose();
backend.dispose();
