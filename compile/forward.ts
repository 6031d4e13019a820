/**
 * @file Prediction: the forward graph of a model's outputs, rebuilt at the row count of a chunk of
 * new rows, as a program with no loss that any backend compiles and evaluates. A prediction must
 * be a value per row that depends on its own row alone; what would mix rows (a mean over the
 * rows, a constant with a value per training row) is refused with the node that does it.
 */
import { replay } from '../autograd/replay.js';
import type { Graph, Node } from '../engine/graph.js';
import { sizeOf } from '../engine/shape.js';
import type { Program } from './program.js';

/** The forward program of some outputs at a chunk's row count, and where each output is in it. */
export interface Forward {
  program: Program;
  /** Each output's node id in `program.graph`, in the order asked. */
  outputs: number[];
  /** Each data input the outputs read: its name and its values per row. */
  inputs: { name: string; id: number; width: number }[];
}

const label = (node: Node) => `%${node.id} (${node.op}${node.label ? `, ${node.label}` : ''})`;

/**
 * Why `outputs` of `graph` (whose data inputs have `n` rows) are not predictions that can be made
 * row by row, or null when they are. Each node's row axis is read off a replay at another row
 * count, as the compiler reads it: an axis whose length follows the row count.
 */
export function notRowwise(graph: Graph, n: number, outputs: readonly number[]): string | null {
  for (const id of outputs) {
    const node = graph.nodes[id]!;
    if (node.role !== 'forward') return `${label(node)} is part of the backward graph (a gradient), not a prediction`;
    if (node.op === 'param') return `${label(node)} is a parameter, not a prediction`;
  }
  const other = n === 1 ? 3 : n + 1;
  const probe = replay(graph, n, other, null, outputs);
  const grows = new Map<number, boolean[]>();
  for (const [id, at] of probe.ids) {
    const node = graph.nodes[id]!;
    const axes = node.shape.map((d, k) => probe.graph.nodes[at]!.shape[k] !== d);
    grows.set(id, axes);
    const rowed = axes.some(Boolean);
    const fromRows = node.inputs.some((i) => grows.get(i)!.some(Boolean));
    if (axes.filter(Boolean).length > 1) return `${label(node)} has the row count along two axes: a value per pair of rows`;
    if (!rowed && fromRows) return `${label(node)} sums over the rows, so a row's prediction would depend on the other rows predicted with it`;
    if (rowed && !fromRows && node.op !== 'input') return `${label(node)} has a value per training row, so it only holds at the ${n} rows the graph was built with`;
  }
  for (const id of outputs) {
    if (!grows.get(id)![0]) return `${label(graph.nodes[id]!)} is [${graph.nodes[id]!.shape}], not a value per row (its first axis is not the rows)`;
  }
  return null;
}

/** Values per row of the widest value the forward program of `outputs` holds: it sizes a chunk. */
export function widestRow(graph: Graph, n: number, outputs: readonly number[]): number {
  const { ids } = replay(graph, n, n, null, outputs);
  let widest = 1;
  for (const id of ids.keys()) {
    const { shape } = graph.nodes[id]!;
    if (shape.includes(n)) widest = Math.max(widest, sizeOf(shape) / n);
  }
  return widest;
}

/**
 * The forward program computing `outputs` (checked by notRowwise) for `rows` new rows: the data
 * inputs they read, the parameters, and nothing of the loss, the targets or the backward graph.
 */
export function forwardProgram(graph: Graph, n: number, outputs: readonly number[], rows: number): Forward {
  const { graph: g, ids } = replay(graph, n, rows, null, outputs);
  const inputs = g.leaves('input').map((node) => ({ name: node.attrs.name, id: node.id, width: sizeOf(node.shape) / rows }));
  const program: Program = {
    graph: g,
    loader: { rows, batchSize: rows, shuffle: false, dropLast: false, seed: 0, validationRows: 0 },
    replicas: { count: 1, bootstrap: 'none', target: null, hyper: null },
    loss: null,
    inputs: inputs.map(({ name, id }) => ({ name, id })),
    params: g.leaves('param').map((node) => ({ name: node.attrs.name, id: node.id, grad: null })),
    optimizer: null,
  };
  return { program, outputs: outputs.map((id) => ids.get(id)!), inputs };
}

/**
 * What a model predicts when not told: for a loss built on squaredError(prediction, target) (a
 * mean, sum or scale of it), the prediction; for a graph without a loss, its one forward value
 * that nothing reads (not a leaf). Null when neither names one output.
 */
export function defaultOutput(graph: Graph, loss: number | null): number | null {
  if (loss !== null) {
    let node = graph.nodes[loss]!;
    while ((node.op === 'mean' || node.op === 'sum' || node.op === 'scale') && node.inputs.length === 1) node = graph.nodes[node.inputs[0]!]!;
    if (node.op !== 'squaredError') return null;
    const [a, b] = node.inputs.map((i) => graph.nodes[i]!);
    const predicted = b!.op === 'input' && a!.op !== 'input' ? a : a!.op === 'input' && b!.op !== 'input' ? b : null;
    return predicted?.id ?? null;
  }
  const read = new Set(graph.nodes.flatMap((n) => n.inputs));
  const sinks = graph.nodes.filter((n) => n.role === 'forward' && !read.has(n.id) && n.op !== 'input' && n.op !== 'param' && n.op !== 'constant');
  return sinks.length === 1 ? sinks[0]!.id : null;
}
