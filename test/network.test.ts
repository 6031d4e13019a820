import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import Papa from 'papaparse';
import { parseTable, selectColumns } from '../regression/data.js';
import { type Layer, fitNetwork, initialLayers, parameterCount } from '../regression/network.js';
import { CpuBackend } from '../runtime/cpu.js';
import type { Backend } from '../runtime/program.js';
import { fusegrad, scratch, scratchPath } from './cli-helpers.js';
import { assertClose, cpu64, rng, webgpu } from './helpers.js';

// fit --hidden: networks from the command line and the library, trained equal to a float64
// gradient descent written out here, saved, predicted back, resumed, and refused where they
// cannot go.

/** Full-batch SGD on mean((net(X) - Y)²) with tanh hidden layers, written out with its own backward pass: the float64 truth. */
function sgdByHand(layers: Layer[], X: number[][], Y: number[][], lr: number, epochs: number): Layer[] {
  const L = layers.map((l) => ({ weight: l.weight.map((r) => [...r]), bias: [...l.bias] }));
  const n = X.length;
  const k = Y[0]!.length;
  for (let e = 0; e < epochs; e++) {
    const gW = L.map((l) => l.weight.map((r) => r.map(() => 0)));
    const gb = L.map((l) => l.bias.map(() => 0));
    X.forEach((x, i) => {
      // Forward, keeping every layer's output.
      const acts: number[][] = [x];
      L.forEach((l, li) => {
        const h = acts[li]!;
        const z = l.weight.map((row, u) => row.reduce((s, w, j) => s + w * h[j]!, l.bias[u]!));
        acts.push(li === L.length - 1 ? z : z.map(Math.tanh));
      });
      // Backward: d loss / d output, then through each layer.
      let delta = acts[L.length]!.map((p, t) => (2 * (p - Y[i]![t]!)) / (n * k));
      for (let li = L.length - 1; li >= 0; li--) {
        const h = acts[li]!;
        delta.forEach((dz, u) => {
          gb[li]![u]! += dz;
          h.forEach((v, j) => (gW[li]![u]![j]! += dz * v));
        });
        if (li === 0) break;
        const up = h.map((_, j) => delta.reduce((s, dz, u) => s + dz * L[li]!.weight[u]![j]!, 0));
        delta = up.map((d, j) => d * (1 - h[j]! ** 2));
      }
    });
    L.forEach((l, li) => {
      l.weight.forEach((row, u) => row.forEach((_, j) => (row[j]! -= lr * gW[li]![u]![j]!)));
      l.bias.forEach((_, u) => (l.bias[u]! -= lr * gb[li]![u]!));
    });
  }
  return L;
}

/** z-scores by the population standard deviation, as the fit takes them from its training rows. */
function zScore(rows: number[][]): number[][] {
  const d = rows[0]!.length;
  const mean = Array.from({ length: d }, (_, j) => rows.reduce((s, r) => s + r[j]!, 0) / rows.length);
  const sd = mean.map((m, j) => Math.sqrt(rows.reduce((s, r) => s + (r[j]! - m) ** 2, 0) / rows.length));
  return rows.map((r) => r.map((v, j) => (v - mean[j]!) / sd[j]!));
}

const r = rng(11);
const X = Array.from({ length: 24 }, () => [4 * r() - 2, 10 + 5 * r()]);
const Y = X.map(([a, b]) => [Math.sin(a!) + 0.1 * b!, a! * a! - b! / 10]);

for (const [name, backend, tol] of [
  ['the reference interpreter', cpu64, 1e-11],
  ['the compiled CPU plan', () => new CpuBackend('f64', 'compiled'), 1e-11],
  ['WebGPU', webgpu, 2e-4],
] as [string, () => Backend | Promise<Backend>, number][]) {
  test(`fitNetwork (2 -> 5 tanh -> 3 tanh -> 2, SGD) on ${name} trains as the float64 backward pass written out by hand`, async () => {
    const b = await backend();
    const fit = await fitNetwork(X, Y, ['a', 'b'], ['s', 'q'], b, { hidden: [5, 3], optimizer: 'sgd', lr: 0.2, epochs: 40 });
    const start = initialLayers([2, 5, 3, 2], 'tanh', 0);
    const expected = sgdByHand(start, zScore(X), zScore(Y), 0.2, 40);
    fit.layers.forEach((l, i) => {
      assertClose(l.weight.flat(), expected[i]!.weight.flat(), tol, `layer ${i + 1} weight`);
      assertClose(l.bias, expected[i]!.bias, tol, `layer ${i + 1} bias`);
    });
    assert.is(fit.parameters, 5 * 3 + 3 * 6 + 2 * 4);
    assert.ok(fit.history.loss[39]! < fit.history.loss[0]!, 'the loss fell');
  });
}

test('starting weights: seeded Glorot normals for tanh and sigmoid, He for relu, biases 0, each layer its own draw', () => {
  const sd = (v: number[]) => Math.sqrt(v.reduce((s, x) => s + x * x, 0) / v.length);
  const tanh = initialLayers([64, 64, 64, 1], 'tanh', 3);
  const relu = initialLayers([64, 64, 64, 1], 'relu', 3);
  assert.ok(Math.abs(sd(tanh[0]!.weight.flat()) / Math.sqrt(2 / 128) - 1) < 0.05, `Glorot: sd ${sd(tanh[0]!.weight.flat())}`);
  assert.ok(Math.abs(sd(relu[0]!.weight.flat()) / Math.sqrt(2 / 64) - 1) < 0.05, `He: sd ${sd(relu[0]!.weight.flat())}`);
  assert.equal(tanh[1]!.bias, new Array(64).fill(0));
  assert.not.equal(tanh[0]!.weight[0], tanh[1]!.weight[0], 'the layers draw apart');
  assert.equal(initialLayers([64, 64, 64, 1], 'tanh', 3), tanh, 'the same seed, the same start');
  assert.not.equal(initialLayers([64, 64, 64, 1], 'tanh', 4)[0]!.weight[0], tanh[0]!.weight[0]);
  assert.is(parameterCount([3, 8, 1]), 41);
});

const MPG = 'examples/data/auto-mpg.csv';
const NET = ['--y', 'mpg', '--x', 'displacement,horsepower,weight', '--hidden', '8', '--optimizer', 'adam', '--lr', '0.01', '--epochs', '3000', '--valid-frac', '0.2', '--seed', '42'];

/** The saved network applied to a row, written out here (tanh layers, the last linear), in the data's units. */
function applySaved(m: { scaling: { x: { mean: number[]; sd: number[] }; y: { mean: number[]; sd: number[] } }; layers: Layer[] }, x: number[]): number[] {
  let h = x.map((v, j) => (v - m.scaling.x.mean[j]!) / m.scaling.x.sd[j]!);
  m.layers.forEach((l, i) => {
    const z = l.weight.map((row, u) => row.reduce((s, w, j) => s + w * h[j]!, l.bias[u]!));
    h = i === m.layers.length - 1 ? z : z.map(Math.tanh);
  });
  return h.map((v, t) => m.scaling.y.mean[t]! + m.scaling.y.sd[t]! * v);
}

for (const device of ['cpu', 'webgpu']) {
  test(`fit --hidden 8 on auto-mpg (${device}): beats the plane on held-out cars, saved, predicted back, its errors those of predict's output`, () => {
    const save = scratchPath(`mpg-net-${device}.json`);
    const plot = scratchPath(`mpg-net-${device}.svg`);
    const json = fusegrad('fit', MPG, ...NET, '--device', device, '--save', save, '--plot', plot, '--json');
    assert.is(json.code, 0, json.err);
    const r = JSON.parse(json.out);
    assert.is(r.kind, 'network');
    assert.equal([r.n, r.validRows, r.parameters], [314, 78, 41]);
    // The examples' walkthrough found 23.8 against 28.7 on these cars (examples/hidden-layer.ts).
    assert.ok(r.mse.valid[0] < 0.9 * r.leastSquares.mse.valid[0], `held-out MSE ${r.mse.valid[0]} against the plane's ${r.leastSquares.mse.valid[0]}`);
    assert.ok(r.leastSquares.mse.valid[0] > 28 && r.leastSquares.mse.valid[0] < 29.5, 'the plane of examples/hidden-layer.ts');
    const saved = JSON.parse(readFileSync(save, 'utf8'));
    assert.is(saved.format, 'fusegrad-network-1');
    assert.equal([saved.hidden, saved.activation, saved.inputs], [[8], 'tanh', ['displacement', 'horsepower', 'weight']]);
    assert.match(readFileSync(plot, 'utf8'), /Predicted against actual mpg/);

    const p = fusegrad('predict', save, MPG);
    assert.is(p.code, 0, p.err);
    const rows = Papa.parse<string[]>(p.out.trim(), { skipEmptyLines: true }).data;
    assert.equal(rows[0], ['displacement', 'horsepower', 'weight', 'predicted_mpg']);
    const data = selectColumns(parseTable(MPG, readFileSync(MPG, 'utf8')), ['mpg'], ['displacement', 'horsepower', 'weight']);
    const predicted = rows.slice(1).filter((row) => row[3] !== '').map((row) => Number(row[3]));
    assert.is(predicted.length, data.X.length, 'a prediction for every complete row');
    // predict applies the file as it says; over all the rows its errors are the fit's, weighted by its split.
    data.X.forEach((x, i) => assert.ok(Math.abs(predicted[i]! - applySaved(saved, x)[0]!) < 1e-9 * Math.abs(predicted[i]!), `row ${i}`));
    const all = predicted.reduce((s, v, i) => s + (v - data.Y[i]![0]!) ** 2, 0) / predicted.length;
    const split = (r.n * r.mse.train[0] + r.validRows * r.mse.valid[0]) / (r.n + r.validRows);
    assert.ok(Math.abs(all / split - 1) < 1e-9, `predict's MSE ${all}, the fit's ${split}`);

    const text = fusegrad('fit', MPG, ...NET, '--device', device);
    assert.is(text.code, 0, text.err);
    assert.match(text.out, /by a network: 3 -> 8 tanh -> 1 \(41 parameters\)/);
    assert.match(text.out, /network \(3 -> 8 tanh -> 1\) +[\d.]+ +[\d.]+\nleast-squares plane \(closed form\) +15\.345\d +28\.669\d\nthe network's validation error is [\d.]+% below the plane's/);
  });
}

test('fit --hidden 128,64 in shuffled minibatches with a validation split: on WebGPU one kernel per node (too wide to fuse), the CPU\'s errors', () => {
  const args = ['--y', 'mpg', '--x', 'displacement,horsepower,weight', '--hidden', '128,64', '--batch-size', '32', '--shuffle', '--valid-frac', '0.2', '--seed', '42', '--optimizer', 'adam', '--epochs', '20', '--json'];
  const [gpu, cpu] = ['webgpu', 'cpu'].map((device) => {
    const r = fusegrad('fit', MPG, ...args, '--device', device);
    assert.is(r.code, 0, r.err);
    return JSON.parse(r.out);
  });
  assert.is(gpu.device.plan, 'per-node');
  assert.is(cpu.device.backend, 'cpu');
  // 200 Adam steps in float32 against float64 from the same seeded start: agreement to ~1e-6 seen, 1e-4 allowed.
  for (const set of ['train', 'valid'] as const) {
    assert.ok(Math.abs(gpu.mse[set][0] / cpu.mse[set][0] - 1) < 1e-4, `${set} MSE: ${gpu.mse[set][0]} on WebGPU, ${cpu.mse[set][0]} on the CPU`);
  }
});

test('fit --init <network.json> goes on where the saved network stopped: 2 x 150 SGD epochs are 300', () => {
  const data = scratch('wave.csv', `x,y\n${Array.from({ length: 60 }, (_, i) => `${i / 10},${Math.sin(i / 10) + ((i * 37) % 11) / 100}`).join('\n')}\n`);
  const args = (epochs: number) => [data, '--y', 'y', '--hidden', '6', '--activation', 'tanh', '--lr', '0.1', '--epochs', String(epochs), '--device', 'cpu', '--json'];
  const first = scratchPath('wave-150.json');
  assert.is(fusegrad('fit', ...args(150), '--save', first).code, 0);
  const resumed = JSON.parse(fusegrad('fit', ...args(150), '--init', first).out);
  const straight = JSON.parse(fusegrad('fit', ...args(300)).out);
  resumed.layers.forEach((l: Layer, i: number) => {
    assertClose(l.weight.flat(), straight.layers[i].weight.flat(), 1e-12, `layer ${i + 1} weight`);
    assertClose(l.bias, straight.layers[i].bias, 1e-12, `layer ${i + 1} bias`);
  });
  // One feature: the plot draws the curve the network bends into beside the line.
  const plot = scratchPath('wave.svg');
  assert.is(fusegrad('fit', ...args(50), '--plot', plot).code, 0);
  assert.match(readFileSync(plot, 'utf8'), /y against x/);
  // relu and sigmoid train too, and save what they are.
  for (const activation of ['relu', 'sigmoid']) {
    const save = scratchPath(`wave-${activation}.json`);
    const r = fusegrad('fit', data, '--y', 'y', '--hidden', '6,4', '--activation', activation, '--optimizer', 'adam', '--lr', '0.01', '--epochs', '300', '--device', 'cpu', '--save', save, '--json');
    assert.is(r.code, 0, r.err);
    const out = JSON.parse(r.out);
    assert.ok(out.history.loss[299] < out.history.loss[0], `${activation}: the loss fell`);
    assert.equal([JSON.parse(readFileSync(save, 'utf8')).activation, out.layers.length], [activation, 3]);
    assert.is(fusegrad('predict', save, data).code, 0);
  }
});

test('a bad --hidden or --activation, and what a network does not take, are refused by name (exit 2)', () => {
  const base = [MPG, '--y', 'mpg', '--x', 'displacement', '--device', 'cpu'];
  const linear = scratchPath('mpg-linear.json');
  assert.is(fusegrad('fit', ...base, '--standardize', '--epochs', '5', '--save', linear).code, 0);
  const net = scratchPath('mpg-net-4.json');
  assert.is(fusegrad('fit', ...base, '--epochs', '5', '--hidden', '4', '--save', net).code, 0);
  for (const [args, message] of [
    [['--hidden', '0'], /--hidden: expected the units of each hidden layer, comma-separated, each 1 to 4096 \(say 8, or 64,32\), at most 16 layers; got "0" \("0" is not a unit count\)/],
    [['--hidden', '8,x'], /got "8,x" \("x" is not a unit count\)/],
    [['--hidden', '4097'], /each 1 to 4096/],
    [['--hidden', ''], /got ""/],
    [['--hidden', '8', '--activation', 'softmax'], /--activation: expected one of tanh, relu, sigmoid, got "softmax"/],
    [['--activation', 'relu'], /--activation is for a network's hidden layers: give --hidden <units> too/],
    [['--hidden', '8', '--init', 'zeros'], /--init zeros: a network started at zero never leaves it/],
    [['--hidden', '8', '--init', 'normal'], /--init normal is for the linear model/],
    [['--hidden', '8', '--bootstrap', '10'], /--bootstrap estimates the linear model's coefficients.*\(--bootstrap with --hidden\)/],
    [['--hidden', '8', '--poly', '2'], /a network bends by itself.*\(--poly with --hidden\)/],
    [['--hidden', '8', '--lr', '0.1,0.01'], /--lr 0\.1,0\.01: a sweep trains linear models; with --hidden give one value/],
    [['--hidden', '8', '--init', linear], /with --hidden, --init takes a network saved by fit --hidden --save \(format "fusegrad-network-1"\), got a linear model/],
    [['--hidden', '8', '--init', net], /the saved network has --hidden 4 --activation tanh, this fit --hidden 8 --activation tanh/],
    [['--init', net], /is a network \(--hidden 4 --activation tanh\); give --hidden 4 --activation tanh to go on training it/],
  ] as [string[], RegExp][]) {
    const r = fusegrad('fit', ...base, ...args);
    assert.is(r.code, 2, `${args.join(' ')}: ${r.err}`);
    assert.match(r.err, message);
    assert.not.match(r.err, /\n\s+at /);
  }
});

test('predict refuses a network file that does not hold together, naming the field', () => {
  const good = { format: 'fusegrad-network-1', inputs: ['a'], targets: ['y'], hidden: [2], activation: 'tanh', scaling: { x: { mean: [0], sd: [1] }, y: { mean: [0], sd: [1] } }, layers: [{ weight: [[1], [2]], bias: [0, 0] }, { weight: [[1, 1]], bias: [0] }] };
  const data = scratch('net-rows.csv', 'a\n0.5\n');
  const ok = fusegrad('predict', scratch('net-good.json', JSON.stringify(good)), data);
  assert.is(ok.code, 0, ok.err);
  assert.is(ok.out, `a,predicted_y\n0.5,${Math.tanh(0.5) + Math.tanh(1)}\n`);
  for (const [broken, message] of [
    [{ ...good, activation: 'gelu' }, /"activation" must be one of tanh, relu, sigmoid, got "gelu"/],
    [{ ...good, hidden: [3] }, /"layers"\[0\]\.weight must have 3 rows \(one per unit\), got 2/],
    [{ ...good, layers: [good.layers[0]] }, /"layers" must have 2 layers \(1 -> 2 -> 1\), got 1/],
    [{ ...good, scaling: { ...good.scaling, x: { mean: [0], sd: [0] } } }, /"scaling\.x\.sd"\[0\] is 0; it must be over 0/],
    [{ ...good, layers: [{ weight: [[1], ['x']], bias: [0, 0] }, good.layers[1]] }, /"layers"\[0\]\.weight\[1\]\[0\] is "x", not a finite number/],
  ] as [object, RegExp][]) {
    const r = fusegrad('predict', scratch('net-bad.json', JSON.stringify(broken)), data);
    assert.is(r.code, 2, r.err);
    assert.match(r.err, message);
  }
});

test('explain --hidden takes layers as fit does', () => {
  const r = fusegrad('explain', '--hidden', '4,3', '--device', 'cpu');
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /hidden layers of 4, 3 tanh units/);
  assert.match(r.out, /param "W3"/);
  assert.is(fusegrad('explain', '--hidden', '4,y', '--device', 'cpu').code, 2);
});

test.run();
