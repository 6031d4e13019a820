/**
 * @file The graphs of the per-row-loss family the compiler fuses, shared by the WebGPU compiler's
 * tests (compile.test.ts) and the CPU compiled plan's (cpu-compiled.test.ts), and how a test
 * builds one: data X [n, D], Y [n, targets] (and a weight per row), seeded parameters (or zeros), a validation set.
 */
import { Graph, type Tensor } from '../engine/graph.js';
import type { Optimizer } from '../optim/optimizer.js';
import { compile, type CompileOptions } from '../runtime/model.js';
import type { Backend } from '../runtime/program.js';
import { synthetic } from '../regression/synthetic.js';
import { randoms } from './helpers.js';

export const D = 3;
export const H = 4;

/** A graph of the family: data X [n, D], Y [n, targets] (and a weight per row), parameters, a loss. */
export interface Family {
  name: string;
  build(g: Graph, X: Tensor, Y: Tensor, w: Tensor): Tensor;
  /** Uses the per-row weight input. */
  weighted?: boolean;
  /** Columns of Y (default 1). */
  targets?: number;
  /** Parameters that start at exactly 0 (the rest start at seeded random values). */
  zeros?: string[];
  /** Row passes per step (the dispatches of a full-batch epoch are this + 1). */
  passes?: number;
  lr?: number;
}

export const linear = (g: Graph, X: Tensor, k = 1, bias = true, name = '') => {
  const W = g.param(`W${name}`, [k, X.shape[1]!]);
  const xw = g.matmul(X, W, { transB: true });
  return bias ? g.add(xw, g.param(`b${name}`, [k])) : xw;
};

export const FAMILY: Family[] = [
  { name: 'the regression', build: (g, X, Y) => g.mean(g.squaredError(linear(g, X), Y)) },
  { name: 'no bias', build: (g, X, Y) => g.mean(g.squaredError(linear(g, X, 1, false), Y)) },
  { name: 'sum instead of mean', build: (g, X, Y) => g.sum(g.squaredError(linear(g, X), Y)), lr: 0.002 },
  { name: 'a per-row weight on the squared error', weighted: true, build: (g, X, Y, w) => g.mean(g.mul(w, g.squaredError(linear(g, X), Y))) },
  {
    name: 'a ridge penalty written in the graph',
    build: (g, X, Y) => {
      const W = g.param('W', [1, D]);
      const pred = g.add(g.matmul(X, g.transpose(W)), g.param('b', [1]));
      return g.add(g.mean(g.squaredError(pred, Y)), g.scale(g.sum(g.mul(W, W)), 0.1));
    },
  },
  { name: 'two linear layers', build: (g, X, Y) => g.mean(g.squaredError(linear(g, linear(g, X, H, true, '1'), 1, true, '2'), Y)) },
  { name: 'a tanh hidden layer', build: (g, X, Y) => g.mean(g.squaredError(linear(g, g.tanh(linear(g, X, H, true, '1')), 1, true, '2'), Y)) },
  { name: 'a relu hidden layer', build: (g, X, Y) => g.mean(g.squaredError(linear(g, g.relu(linear(g, X, H, true, '1')), 1, true, '2'), Y)) },
  { name: 'a sigmoid output', build: (g, X, Y) => g.mean(g.squaredError(g.sigmoid(linear(g, X)), g.sigmoid(Y))) },
  {
    name: 'predictions as W Xᵀ (rows along the second axis), the loss over axis 1 then summed',
    build: (g, X, Y) => {
      const W = g.param('W', [1, D]);
      const pred = g.add(g.matmul(W, X, { transB: true }), g.param('b', [1, 1]));
      return g.sum(g.mean(g.squaredError(pred, g.transpose(Y)), 1));
    },
  },
  {
    // Two values a row along axis 1: a compiler that maps every such value to the first one (row
    // r's two predictions both read target 0) trains a different model.
    name: 'predictions as W Xᵀ for 2 targets (two values a row along the second axis)',
    targets: 2,
    build: (g, X, Y) => {
      const W = g.param('W', [2, D]);
      const pred = g.add(g.matmul(W, X, { transB: true }), g.param('b', [2, 1]));
      return g.sum(g.mean(g.squaredError(pred, g.transpose(Y)), 1));
    },
  },
  {
    // Started at W1 = 0, b1 = 0 every hidden pre-activation is exactly 0, where relu's derivative
    // (step) is 0: the hidden layer never moves. A step written as x >= 0 would move it.
    name: 'a relu hidden layer started at exactly 0 (relu\'s derivative at 0)',
    zeros: ['W1', 'b1'],
    build: (g, X, Y) => g.mean(g.squaredError(linear(g, g.relu(linear(g, X, H, true, '1')), 1, true, '2'), Y)),
  },
  {
    name: 'a rank-1 prediction (reshape) and a mean over rows then over targets',
    build: (g, X, Y) => g.mean(g.mean(g.squaredError(g.reshape(linear(g, X), [X.shape[0]!]), g.reshape(Y, [X.shape[0]!])), 0)),
  },
  {
    name: 'features centred by their mean over the rows (two row passes)',
    passes: 2,
    build: (g, X, Y) => g.mean(g.squaredError(linear(g, g.sub(X, g.mean(X, 0))), Y)),
  },
  {
    // No bias: centring removes it from the loss, and Adam would turn its gradient, rounding noise
    // of zero, into full steps that float32 and float64 take differently.
    name: 'residuals centred by their mean (three row passes)',
    passes: 3,
    build: (g, X, Y) => {
      const e = g.sub(linear(g, X, 1, false), Y);
      return g.mean(g.squaredError(e, g.mean(e)));
    },
  },
];

const weights = (n: number, seed: number) => Float64Array.from(randoms(n, seed), (v) => 1 + 0.5 * v);

export async function build(f: Family, backend: Backend, n: number, optimizer: Optimizer, options: Omit<CompileOptions, 'loss' | 'optimizer' | 'backend'> = {}) {
  const g = new Graph();
  const X = g.input('X', [n, D]);
  const k = f.targets ?? 1;
  const Y = g.input('Y', [n, k]);
  const w = f.weighted ? g.input('w', [n, 1]) : X;
  const loss = f.build(g, X, Y, w);
  const model = await compile(g, { loss, optimizer, backend, ...options });
  const data = synthetic(n, D, k, 7);
  model.write({ X: data.X, Y: data.Y, ...(f.weighted ? { w: weights(n, 3) } : {}) });
  // Seeded starting values: a hidden layer from zeros would stay symmetric (and relu dead).
  for (const p of model.program.params) {
    const size = model.graph.nodes[p.id]!.shape.reduce((a, b) => a * b, 1);
    model.write({ [p.name]: f.zeros?.includes(p.name) ? new Float64Array(size) : randoms(size, 11 + p.id).map((v) => 0.5 * v) });
  }
  const nv = options.validationRows ?? 0;
  if (nv) {
    const v = synthetic(nv, D, k, 8);
    model.write({ X: v.X, Y: v.Y, ...(f.weighted ? { w: weights(nv, 4) } : {}) }, 'validation');
  }
  return model;
}
