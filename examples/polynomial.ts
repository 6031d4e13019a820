/**
 * @file Polynomial regression y = b0 + b1 x + b2 x² on simulated data: the closed form with 95%
 * intervals, then plain gradient descent (lr 3e-4, starting from b0, b1, b2 = 5, 4, 3, 10000
 * epochs) converging towards it.
 *
 * Run: npm run build && node dist/examples/polynomial.js
 */
import { requestBackend } from '../index.js';
import { fitRegression } from '../regression/fit.js';
import { formatOls } from '../regression/ols.js';
import { normals } from '../engine/random.js';

// 100 points of y = 1 + 2x - 0.5x² + noise, x evenly spread over [-3, 3].
const noise = normals(100, 2024);
const X = Array.from({ length: 100 }, (_, i) => [-3 + (6 * i) / 99]);
const Y = X.map(([x], i) => [1 + 2 * x! - 0.5 * x! ** 2 + 0.8 * noise[i]!]);
const backend = await requestBackend();
const r = await fitRegression(X, Y, ['x'], ['y'], backend, { poly: 2, optimizer: 'sgd', lr: 3e-4, epochs: 10000, init: { weight: [[4, 3]], bias: [5] }, paramsEvery: 1000 });
console.log(formatOls(r.closedForm[0]!, 'y'));
console.log(`\ngradient descent from (b0, b1, b2) = (5, 4, 3), lr 3e-4, on ${backend.kind} (${r.device.plan} plan):`);
console.log('epoch        b0         b1         b2        loss');
r.trajectory!.epoch.forEach((e, i) => {
  const [b1, b2] = r.trajectory!.weight[i]![0]!;
  console.log(`${String(e).padStart(5)}${r.trajectory!.bias[i]![0]!.toFixed(5).padStart(11)}${b1!.toFixed(5).padStart(11)}${b2!.toFixed(5).padStart(11)}${r.history.loss[e - 1]!.toFixed(5).padStart(12)}`);
});
const cf = r.closedForm[0]!.coef;
console.log(`closed form:${cf.map((c) => c.toFixed(5).padStart(11)).join('')}`);
backend.dispose();
