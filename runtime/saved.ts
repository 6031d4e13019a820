/**
 * @file The saved model: a plain JSON object holding the forward graph, how the model was
 * compiled, its parameters and the optimizer's state, so a model can be saved in Node, loaded in a
 * page and trained on or used to predict there. Model.state() writes it and Model.load() /
 * model.loadState() read it; this file owns the format and its checks.
 *
 * `format: "fusegrad-model-1"`. `graph.nodes`: the forward graph in node order, each `{ op,
 * inputs, shape, attrs }` (inputs are indices of earlier nodes; the backward graph is derived
 * again when compiled). `loss`: the loss node's index, or null. `optimizer`: `{ name, hyper }`
 * (hyper: each replicate's hyperparameters by name). `options`: the compile options that fix the
 * batches and replicates. `params`: each parameter's values by name, every replicate's in turn.
 * `training`: each trained parameter's optimizer state by name (a list per slot: Adam's m and v),
 * each replicate's optimizer steps, and the epochs trained (the shuffle's key).
 */
import { Graph, Tensor } from '../engine/graph.js';
import { OPS, type OpKind } from '../engine/ops.js';
import { fmtShape, sizeOf } from '../engine/shape.js';
import { adam, adamw } from '../optim/adam.js';
import { type Optimizer, hyperValues } from '../optim/optimizer.js';
import type { Program } from '../compile/program.js';
import type { TrainingState } from './program.js';
import { sgd } from '../optim/sgd.js';
import { DataError, describe } from './values.js';

export const MODEL_FORMAT = 'fusegrad-model-1';

export interface SavedNode {
  op: OpKind;
  inputs: number[];
  shape: number[];
  attrs: Record<string, unknown>;
}

/** The compile options a saved model is rebuilt with. */
export interface SavedOptions {
  batchSize?: number;
  shuffle?: boolean;
  dropLast?: boolean;
  seed?: number;
  validationRows?: number;
  replicates?: number;
  bootstrap?: 'pairs' | 'residuals';
  sweep?: Record<string, number[]>;
}

export interface ModelState {
  format: typeof MODEL_FORMAT;
  graph: { nodes: SavedNode[] };
  loss: number | null;
  optimizer: { name: string; hyper: Record<string, number>[] } | null;
  options: SavedOptions;
  params: Record<string, number[]>;
  training: { slots: Record<string, number[][]>; steps: number[]; epochs: number } | null;
  /** Epochs trained since the first compile (divergence messages count from here). */
  epochsTrained: number;
}

/** The forward nodes of `g`, as the format keeps them, with each node's index by id. */
export function savedGraph(g: Graph): { nodes: SavedNode[]; index: Map<number, number> } {
  const index = new Map<number, number>();
  const nodes: SavedNode[] = [];
  for (const n of g.nodes) {
    if (n.role !== 'forward') continue;
    index.set(n.id, nodes.length);
    nodes.push({ op: n.op, inputs: n.inputs.map((i) => index.get(i)!), shape: [...n.shape], attrs: JSON.parse(JSON.stringify(n.attrs)) as Record<string, unknown> });
  }
  return { nodes, index };
}

/** Rebuilds a saved graph, checking each node as the builder checks it and against the saved shape. */
export function loadGraph(state: unknown): { graph: Graph; nodes: Tensor[]; state: ModelState } {
  const bad = (why: string) => new DataError(`Model.load: ${why}`);
  if (state === null || typeof state !== 'object' || Array.isArray(state)) throw bad(`expected a saved model (the object model.state() returns), got ${describe(state)}`);
  const s = state as ModelState;
  if (s.format !== MODEL_FORMAT) throw bad(`not a saved fusegrad model (format ${describe(s.format)}, expected "${MODEL_FORMAT}")`);
  const list = s.graph?.nodes;
  if (!Array.isArray(list) || !list.length) throw bad(`graph.nodes must be a non-empty list of nodes, got ${describe(list)}`);
  const g = new Graph();
  const nodes: Tensor[] = [];
  list.forEach((n, k) => {
    const where = `graph.nodes[${k}]`;
    if (n === null || typeof n !== 'object' || !(n.op in OPS)) throw bad(`${where}: unknown op ${describe(n?.op)}`);
    if (!Array.isArray(n.inputs) || n.inputs.some((i) => !Number.isInteger(i) || i < 0 || i >= k)) throw bad(`${where}: inputs must be indices of earlier nodes, got ${describe(n.inputs)}`);
    if (!Array.isArray(n.shape) || n.shape.some((d) => !Number.isInteger(d) || d < 1)) throw bad(`${where}: shape must be a list of positive whole numbers, got ${describe(n.shape)}`);
    const attrs = (n.attrs ?? {}) as Record<string, unknown>;
    let t: Tensor;
    try {
      if (n.op === 'input') t = g.input(attrs.name as string, n.shape);
      else if (n.op === 'param') t = g.param(attrs.name as string, n.shape, attrs.init as never);
      else {
        const requested = n.op === 'constant' || n.op === 'reshape' || n.op === 'broadcastTo' ? n.shape : undefined;
        t = g.apply(n.op as Exclude<OpKind, 'input' | 'param'>, n.inputs.map((i) => nodes[i]!), attrs as never, requested);
      }
    } catch (e) {
      throw bad(`${where} (${n.op}): ${(e as Error).message}`);
    }
    if (fmtShape(t.shape) !== fmtShape(n.shape)) throw bad(`${where} (${n.op}) is ${fmtShape(t.shape)} when rebuilt, but saved as ${fmtShape(n.shape)}`);
    nodes.push(t);
  });
  if (s.loss !== null && !(Number.isInteger(s.loss) && s.loss >= 0 && s.loss < nodes.length)) throw bad(`loss must be the index of a node or null, got ${describe(s.loss)}`);
  return { graph: g, nodes, state: s };
}

/** The optimizer a saved model trains with, rebuilt from its name and replicate 0's hyperparameters (checked as its constructor checks them). */
export function savedOptimizer(saved: ModelState['optimizer']): Optimizer | null {
  if (saved === null) return null;
  const h = saved.hyper?.[0];
  if (!h || typeof h !== 'object') throw new DataError(`Model.load: optimizer.hyper must list each replicate's hyperparameters, got ${describe(saved.hyper)}`);
  const n = (k: string) => {
    if (typeof h[k] !== 'number') throw new DataError(`Model.load: the ${saved.name} optimizer's ${k} is ${describe(h[k])}, not a number`);
    return h[k]!;
  };
  if (saved.name === 'sgd') return sgd({ lr: n('lr'), momentum: n('momentum'), dampening: n('dampening'), nesterov: n('nesterov') === 1, weightDecay: n('weightDecay') });
  if (saved.name === 'adam' || saved.name === 'adamw') return (saved.name === 'adam' ? adam : adamw)({ lr: n('lr'), betas: [n('beta1'), n('beta2')], eps: n('eps'), weightDecay: n('weightDecay') });
  throw new DataError(`Model.load: unknown optimizer ${describe(saved.name)} (fusegrad has sgd, adam and adamw)`);
}

/** Checks that a saved list of numbers has `length` finite entries; `where` names it. */
export function savedNumbers(v: unknown, length: number, where: string): number[] {
  if (!Array.isArray(v) || v.length !== length) throw new DataError(`loadState: ${where} must be a list of ${length} numbers, got ${Array.isArray(v) ? `${v.length}` : describe(v)}`);
  const badAt = v.findIndex((x) => typeof x !== 'number' || !Number.isFinite(x));
  if (badAt >= 0) throw new DataError(`loadState: ${where}[${badAt}] is ${describe(v[badAt])}, not a finite number`);
  return v as number[];
}

/**
 * Checks a saved model against the program it is loaded into (its parameters' names and shapes,
 * its optimizer and replicates, every value a finite number) and returns what to write: the
 * parameters by name, the optimizer's state and counters, each replicate's hyperparameters.
 * `hyper`: the model's hyperparameters now, one row a replicate (a sweep compiled alike may load).
 */
export function checkState(s: ModelState, program: Program, hyper: readonly (readonly number[])[]): { params: Record<string, number[]>; training: TrainingState | null; hyper: number[][] | null } {
  const bad = (why: string) => new DataError(`loadState: ${why}`);
  const { graph } = loadGraph(s);
  const B = program.replicas.count;
  const savedB = s.options?.replicates ?? 1;
  if (savedB !== B) throw bad(`the saved model trains ${savedB} replicate${savedB === 1 ? '' : 's'}, this one ${B}`);
  const saved = new Map(graph.leaves('param').map((n) => [n.attrs.name, n.shape]));
  const mine = program.params.map((p) => p.name);
  for (const name of saved.keys()) if (!mine.includes(name)) throw bad(`the saved model has a parameter "${name}" that this graph does not (it has ${mine.join(', ')})`);
  const sizeOfParam = (id: number) => sizeOf(program.graph.nodes[id]!.shape);
  const params: Record<string, number[]> = {};
  for (const p of program.params) {
    const shape = program.graph.nodes[p.id]!.shape;
    const theirs = saved.get(p.name);
    if (!theirs) throw bad(`this graph's parameter "${p.name}" is not in the saved model (it has ${[...saved.keys()].join(', ')})`);
    if (fmtShape(theirs) !== fmtShape(shape)) throw bad(`the parameter "${p.name}" is ${fmtShape(shape)} here and ${fmtShape(theirs)} in the saved model`);
    params[p.name] = savedNumbers(s.params?.[p.name], B * sizeOfParam(p.id), `params.${p.name}`);
  }
  const opt = program.optimizer;
  if (!opt) return { params, training: null, hyper: null };
  if (s.optimizer?.name !== opt.name || !s.training) throw bad(`this model trains with ${opt.name}, the saved one ${s.optimizer ? `with ${describe(s.optimizer.name)}` : 'not at all'}`);
  const t = s.training;
  const slots = program.params.map((p) => {
    if (p.grad === null) return [];
    const list = t.slots?.[p.name];
    if (!Array.isArray(list) || list.length !== opt.slots) throw bad(`training.slots.${p.name} must list ${opt.slots} arrays (the ${opt.name} state), got ${describe(list)}`);
    return list.map((v, k) => Float64Array.from(savedNumbers(v, B * sizeOfParam(p.id), `training.slots.${p.name}[${k}]`)));
  });
  const counts = (v: unknown, n: number, where: string) => {
    if (!Array.isArray(v) || v.length !== n || v.some((x) => !Number.isInteger(x) || x < 0 || x > 0xffffffff)) throw bad(`${where} must be ${n} whole number${n === 1 ? '' : 's'} >= 0, got ${describe(v)}`);
    return v as number[];
  };
  const training = { slots, steps: counts(t.steps, B, 'training.steps'), epochs: counts([t.epochs], 1, 'training.epochs')[0]! };
  const rows = s.optimizer.hyper;
  if (!Array.isArray(rows) || rows.length !== B) throw bad(`optimizer.hyper must list ${B} replicate${B === 1 ? "'s" : "s'"} hyperparameters, got ${describe(rows)}`);
  const values = rows.map((row) => hyperValues(opt, row));
  const same = values.every((row) => row.every((v, i) => v === values[0]![i]));
  const asCompiled = values.every((row, r) => row.every((v, i) => v === hyper[r]![i]));
  if (!same && !asCompiled) throw bad('the saved replicates each have their own hyperparameters (a sweep): compile with the same sweep, or load with Model.load');
  return { params, training, hyper: values };
}
