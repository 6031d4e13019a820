/**
 * @file A network fitted by gradient descent, as `fusegrad fit --hidden` fits one: layers of tanh,
 * relu or sigmoid units between the features and the targets, trained on z-scores of x and y,
 * started from seeded Glorot (tanh, sigmoid) or He (relu) normals, judged against the closed-form
 * least-squares plane on the same rows, and kept as its layers and scaling, which is all that
 * `fusegrad predict` needs to apply it.
 */
import { Graph, type Tensor } from '../engine/graph.js';
import { compile } from '../runtime/model.js';
import type { Backend } from '../runtime/program.js';
import { normals } from '../engine/random.js';
import { InputError } from './data.js';
import { runEpochs, type FitDivergence } from './epochs.js';
import { type Scaling, scaling, standardize } from './features.js';
import { type FitOptions, makeOptimizer, splitRows } from './fit.js';
import { ols } from './ols.js';

export const ACTIVATIONS = ['tanh', 'relu', 'sigmoid'] as const;
export type Activation = (typeof ACTIVATIONS)[number];

/** One layer: `weight` has a row per unit (its output) of one value per input, as torch's Linear. */
export interface Layer {
  weight: number[][];
  bias: number[];
}

/** The most units a hidden layer may have, and the most hidden layers: past them a fit is a mistake, not a model. */
export const MAX_UNITS = 4096;
export const MAX_LAYERS = 16;

/**
 * The network's prediction as a graph: act(... act(X W1ᵀ + b1) ...) W_Lᵀ + b_L, with parameters
 * W1, b1, ..., W_L, b_L (W and b with no hidden layer: the linear model). `none` leaves the hidden
 * layers linear, which explain offers for comparison.
 */
export function networkGraph(g: Graph, X: Tensor, k: number, hidden: readonly number[], activation: Activation | 'none'): Tensor {
  const layer = (input: Tensor, units: number, suffix: string) => g.add(g.matmul(input, g.transpose(g.param(`W${suffix}`, [units, input.shape[1]!]))), g.param(`b${suffix}`, [units]));
  if (!hidden.length) return layer(X, k, '');
  let h = X;
  hidden.forEach((units, i) => {
    const z = layer(h, units, String(i + 1));
    h = activation === 'none' ? z : g[activation](z);
  });
  return layer(h, k, String(hidden.length + 1));
}

const act: Record<Activation, (v: number) => number> = {
  tanh: Math.tanh,
  relu: (v) => (v > 0 ? v : 0),
  sigmoid: (v) => 1 / (1 + Math.exp(-v)),
};

/** The network applied to one row, in float64 on the host: z-scores in, z-scores out. */
export function forward(layers: readonly Layer[], activation: Activation, x: readonly number[]): number[] {
  let h: readonly number[] = x;
  layers.forEach((l, i) => {
    const last = i === layers.length - 1;
    h = l.weight.map((row, u) => {
      const z = row.reduce((s, w, j) => s + w * h[j]!, l.bias[u]!);
      return last ? z : act[activation](z);
    });
  });
  return h as number[];
}

/**
 * Seeded starting weights: normals scaled by Glorot's sqrt(2 / (fan-in + fan-out)) for tanh and
 * sigmoid, by He's sqrt(2 / fan-in) for relu (so a unit's input keeps unit variance through the
 * layers); biases 0. Zeros would leave every hidden unit the same forever (each gets the same
 * gradient; with tanh none at all). Layer l draws from its own seed.
 */
export function initialLayers(sizes: readonly number[], activation: Activation, seed: number): Layer[] {
  return sizes.slice(1).map((units, l) => {
    const fanIn = sizes[l]!;
    const scale = activation === 'relu' ? Math.sqrt(2 / fanIn) : Math.sqrt(2 / (fanIn + units));
    const z = normals(units * fanIn, (seed + Math.imul(l + 1, 0x9e3779b9)) >>> 0);
    return { weight: Array.from({ length: units }, (_, u) => Array.from(z.subarray(u * fanIn, (u + 1) * fanIn), (v) => v * scale)), bias: new Array<number>(units).fill(0) };
  });
}

/** The number of weights and biases of a network with these layer sizes (inputs first, targets last). */
export const parameterCount = (sizes: readonly number[]) => sizes.slice(1).reduce((s, units, l) => s + units * (sizes[l]! + 1), 0);

export interface NetworkOptions extends Pick<FitOptions, 'optimizer' | 'lr' | 'momentum' | 'weightDecay' | 'epochs' | 'batchSize' | 'shuffle' | 'seed' | 'validFrac' | 'chunks' | 'onProgress' | 'explain'> {
  /** Units of each hidden layer, in order (at least one layer). */
  hidden: number[];
  /** The hidden layers' function (default tanh). */
  activation?: Activation;
  /** Go on from a saved network: its layers (in its z-scores) and the scaling they were trained in, which this fit keeps. */
  init?: { layers: Layer[]; scaling: { x: Scaling; y: Scaling } };
  onStage?: (stage: 'compile' | 'train') => void;
}

export interface NetworkResult {
  kind: 'network';
  device: { backend: 'webgpu' | 'cpu'; adapter: string; plan: string };
  features: string[];
  targets: string[];
  hidden: number[];
  activation: Activation;
  parameters: number;
  n: number;
  validRows: number;
  epochs: number;
  optimizer: { name: string; hyper: Record<string, number> };
  /** The loss by epoch, in z-scores of the targets. */
  history: { loss: number[]; validLoss?: number[] };
  /** The training loss of the final parameters, float64 on the host, in z-scores. */
  finalLoss: number;
  /** The trained layers, acting on z-scores of x and giving z-scores of y. */
  layers: Layer[];
  scaling: { x: Scaling; y: Scaling };
  /** Mean squared error of each target in the data's own units, on the training rows and the validation rows. */
  mse: { train: number[]; valid?: number[] };
  /** What it is judged against: the closed-form least-squares plane of the same training rows, in the data's units, and its errors. */
  leastSquares: Layer & { mse: { train: number[]; valid?: number[] } };
  timing: { compileMs: number; ms: number; msPerEpoch: number; dispatchesPerEpoch: number; submits: number; readbacks: number };
  diverged?: FitDivergence;
  explain?: string;
}

/** Mean squared error of each target over `rows`. */
function mse(predict: (x: number[]) => number[], X: number[][], Y: number[][], k: number): number[] {
  const sums = new Array<number>(k).fill(0);
  X.forEach((x, i) => predict(x).forEach((p, t) => (sums[t]! += (p - Y[i]![t]!) ** 2)));
  return sums.map((s) => s / X.length);
}

/**
 * Fits Y = net(X) by gradient descent on `backend`.
 * @example const r = await fitNetwork(X, Y, ['displacement', 'horsepower', 'weight'], ['mpg'], backend, { hidden: [8], optimizer: 'adam', lr: 0.01, epochs: 3000 });
 */
export async function fitNetwork(X: number[][], Y: number[][], features: string[], targets: string[], backend: Backend, o: NetworkOptions): Promise<NetworkResult> {
  const activation = o.activation ?? 'tanh';
  if (!ACTIVATIONS.includes(activation)) throw new InputError(`--activation: expected ${ACTIVATIONS.join(', ')}, got "${activation}"`);
  const { hidden } = o;
  if (!hidden.length || hidden.length > MAX_LAYERS || hidden.some((u) => !Number.isInteger(u) || u < 1 || u > MAX_UNITS)) {
    throw new InputError(`--hidden: expected 1 to ${MAX_LAYERS} layers of 1 to ${MAX_UNITS} units each (say 8, or 64,32), got ${hidden.join(',') || 'none'}`);
  }
  const epochs = o.epochs ?? 1000;
  if (!Number.isInteger(epochs) || epochs < 1) throw new InputError(`--epochs: expected a positive integer, got ${epochs}`);
  const seed = o.seed ?? 0;
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new InputError(`--seed: expected an integer in [0, 4294967295], got ${seed}`);
  const d = features.length;
  const k = targets.length;
  const sizes = [d, ...hidden, k];
  const split = splitRows(X.length, o.validFrac ?? 0, seed);
  // The least-squares plane it is judged against needs more rows than its coefficients.
  if (split.train.length <= d + 1) throw new InputError(`${split.train.length} training rows cannot determine the ${d + 1} coefficients per target of the least-squares plane the network is compared with; it needs more rows than that`);
  const pick = (rows: number[][], idx: number[]) => idx.map((i) => rows[i]!);
  const [trainX, trainY, validX, validY] = [pick(X, split.train), pick(Y, split.train), pick(X, split.valid), pick(Y, split.valid)];
  // A network always trains on z-scores (its starting scale assumes inputs of unit variance); a
  // saved network goes on in the scaling it was trained in.
  const scale = o.init?.scaling ?? zScores(trainX, trainY, features, targets);
  const [tx, ty, vx, vy] = [standardize(trainX, scale.x), standardize(trainY, scale.y), standardize(validX, scale.x), standardize(validY, scale.y)];
  const start = o.init?.layers ?? initialLayers(sizes, activation, seed);

  const n = tx.length;
  const g = new Graph();
  const Xin = g.input('X', [n, d]);
  const Yin = g.input('Y', [n, k]);
  const loss = g.mean(g.squaredError(networkGraph(g, Xin, k, hidden, activation), Yin));
  const optimizer = makeOptimizer(o);
  o.onStage?.('compile');
  const compileStart = performance.now();
  const model = await compile(g, { loss, optimizer, backend, batchSize: o.batchSize, shuffle: o.shuffle ?? false, seed, validationRows: vx.length });
  const compileMs = performance.now() - compileStart;
  try {
    model.write({ X: tx, Y: ty });
    if (vx.length) model.write({ X: vx, Y: vy }, 'validation');
    const names = (l: number) => [`W${l + 1}`, `b${l + 1}`] as const;
    start.forEach((layer, l) => {
      const [W, b] = names(l);
      model.write({ [W]: Float64Array.from(layer.weight.flat()), [b]: Float64Array.from(layer.bias) });
    });
    const chunks = Math.max(1, Math.min(o.chunks ?? 1, epochs));
    const before = { ...model.stats };
    o.onStage?.('train');
    const run = await runEpochs(model, epochs, chunks, { onProgress: o.onProgress });
    const work = { ...model.stats };
    const layers: Layer[] = [];
    for (let l = 0; l < sizes.length - 1; l++) {
      const [W, b] = names(l);
      const [w, c] = [await model.read(W), await model.read(b)];
      const fanIn = sizes[l]!;
      layers.push({ weight: Array.from({ length: sizes[l + 1]! }, (_, u) => Array.from(w.subarray(u * fanIn, (u + 1) * fanIn))), bias: Array.from(c) });
    }
    const z = (x: number[]) => forward(layers, activation, x);
    const finalLoss = mse(z, tx, ty, k).reduce((s, v) => s + v, 0) / k;
    // In the data's own units: the network through its scaling, and the plane fitted to the same rows.
    const errors = (f: (x: number[]) => number[]) => ({ train: mse(f, trainX, trainY, k), ...(validX.length ? { valid: mse(f, validX, validY, k) } : {}) });
    const net = (x: number[]) => z(x.map((v, j) => (v - scale.x.mean[j]!) / scale.x.sd[j]!)).map((v, t) => scale.y.mean[t]! + scale.y.sd[t]! * v);
    const planes = targets.map((_, t) => ols(trainX, trainY.map((r) => r[t]!), features).coef);
    const plane = (x: number[]) => planes.map((c) => x.reduce((s, v, j) => s + c[j + 1]! * v, c[0]!));
    const leastSquares = { weight: planes.map((c) => c.slice(1)), bias: planes.map((c) => c[0]!), mse: errors(plane) };
    const result: NetworkResult = {
      kind: 'network',
      device: { backend: backend.kind, adapter: backend.description, plan: model.planName },
      features,
      targets,
      hidden,
      activation,
      parameters: parameterCount(sizes),
      n,
      validRows: vx.length,
      epochs: run.done,
      optimizer: { name: optimizer.name, hyper: { ...optimizer.hyper } },
      history: { loss: run.loss, ...(vx.length ? { validLoss: run.validLoss } : {}) },
      finalLoss,
      layers,
      scaling: scale,
      mse: errors(net),
      leastSquares,
      timing: {
        compileMs,
        ms: run.ms,
        msPerEpoch: run.ms / run.done,
        dispatchesPerEpoch: (work.dispatches - before.dispatches) / run.done,
        submits: work.submits - before.submits,
        readbacks: work.readbacks - before.readbacks,
      },
    };
    if (run.diverged) result.diverged = run.diverged;
    if (o.explain) result.explain = model.explain();
    return result;
  } finally {
    model.dispose();
  }
}

/** The training rows' means and standard deviations, worded for a network (which always trains on z-scores). */
function zScores(X: number[][], Y: number[][], features: string[], targets: string[]): { x: Scaling; y: Scaling } {
  try {
    return { x: scaling(X, features, 'x'), y: scaling(Y, targets, 'y') };
  } catch (err) {
    if (err instanceof InputError) err.message = err.message.replace(/^--standardize: /, '--hidden: a network trains on z-scores, and ');
    throw err;
  }
}

/** The file `fit --hidden --save` writes: enough for `fusegrad predict`, and for `fit --init` to go on training. */
export interface SavedNetwork {
  format: 'fusegrad-network-1';
  /** The data columns the network reads, in order. */
  inputs: string[];
  targets: string[];
  hidden: number[];
  activation: Activation;
  /** y = mean_y + sd_y net((x - mean_x) / sd_x), the layers acting on z-scores. */
  scaling: { x: Scaling; y: Scaling };
  layers: Layer[];
}

export function savedNetwork(r: NetworkResult): SavedNetwork {
  return { format: 'fusegrad-network-1', inputs: r.features, targets: r.targets, hidden: r.hidden, activation: r.activation, scaling: r.scaling, layers: r.layers };
}

/** A saved network's prediction of every target for one row of its inputs, in the data's units. */
export function predictNetwork(m: SavedNetwork, x: readonly number[]): number[] {
  const z = forward(m.layers, m.activation, x.map((v, j) => (v - m.scaling.x.mean[j]!) / m.scaling.x.sd[j]!));
  return z.map((v, t) => m.scaling.y.mean[t]! + m.scaling.y.sd[t]! * v);
}
