/** @file Builds a test case into a compiled model with loss = sum(op(params) * R) and fills it with seeded data. */
import { Graph, type Tensor } from '../engine/graph.js';
import { sizeOf } from '../engine/shape.js';
import { sgd } from '../optim/sgd.js';
import { compile, type Model } from '../runtime/model.js';
import type { Backend } from '../runtime/program.js';
import type { OpCase } from './cases.js';
import { randoms } from './helpers.js';

export interface Built {
  model: Model;
  out: Tensor;
  loss: Tensor;
  params: Tensor[];
  grads: Tensor[];
  data: Record<string, Float64Array>;
}

/**
 * Builds a case on `backend`, one kernel per node on WebGPU: the tests evaluate every node's value,
 * which only a per-node plan stores (the fused kernels' per-op code is tested by training).
 */
export async function buildCase(c: OpCase, backend: Backend, seed = 1): Promise<Built> {
  const g = new Graph();
  const params = c.params.map((shape, i) => g.param(`p${i}`, shape));
  const out = c.build(g, params);
  const R = g.input('R', out.shape);
  const loss = g.sum(g.mul(out, R));
  const model = await compile(g, { loss, optimizer: sgd({ lr: 0.1 }), backend, plan: 'per-node' });
  const data: Record<string, Float64Array> = { R: randoms(sizeOf(out.shape), seed) };
  c.params.forEach((shape, i) => (data[`p${i}`] = randoms(sizeOf(shape), seed * 100 + i)));
  model.write(data);
  const grads = c.params.map((_, i) => model.gradients.get(`p${i}`)!);
  return { model, out, loss, params, grads, data };
}
