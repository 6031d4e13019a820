/**
 * @file A program's graph rebuilt at another row count: the forward graph with `rows` rows in
 * every data input, and, for training, the backward graph autograd derives for it. This is what a
 * minibatch or a validation set computes (a mean divides by the batch's rows, and so does its
 * gradient), so the CPU backend evaluates replays and the compiler reads row axes and row-count
 * dependent attributes off them.
 */
import { Graph, type Node, Tensor } from '../engine/graph.js';
import type { OpKind } from '../engine/ops.js';
import { backward } from './backward.js';

/** What is trained: the loss node and each parameter with its gradient node. */
export interface Training {
  loss: number;
  params: readonly { name: string; grad: number | null }[];
}

export interface Replay {
  graph: Graph;
  /**
   * Node ids in the replay, by the program's node id: every forward node, and with the backward
   * graph every backward node the program's gradients use.
   */
  ids: Map<number, number>;
}

/**
 * Rebuilds the forward graph of `graph`, whose data inputs have `n` rows, with `rows` rows in
 * every data input (and in every constant, reshape and broadcastTo whose leading dimension was
 * the row count), then, when training, lets autograd add its backward graph. Throws a ShapeError
 * when the graph only holds together at its own row count (a parameter with a row per data row).
 * With `roots`, only the forward nodes those roots are computed from are rebuilt (a prediction's).
 */
export function replay(graph: Graph, n: number, rows: number, training: Training | null, roots?: readonly number[]): Replay {
  const g = new Graph();
  const ids = new Map<number, number>();
  const t = (id: number) => new Tensor(g, ids.get(id)!);
  const kept = roots ? forwardAncestors(graph, roots) : null;
  for (const node of graph.nodes) {
    if (node.role !== 'forward' || (kept && !kept.has(node.id))) continue;
    const attrs = node.attrs as { name: string };
    let out: Tensor;
    if (node.op === 'input') out = g.input(attrs.name, [rows, ...node.shape.slice(1)]);
    else if (node.op === 'param') out = g.param(attrs.name, node.shape);
    else {
      const requested = node.op === 'constant' || node.op === 'reshape' || node.op === 'broadcastTo' ? node.shape.map((d, i) => (i === 0 && d === n ? rows : d)) : undefined;
      out = g.apply(node.op as Exclude<OpKind, 'input' | 'param'>, node.inputs.map(t), node.attrs as never, requested);
    }
    ids.set(node.id, out.id);
  }
  if (training) {
    const trained = training.params.filter((p) => p.grad !== null);
    const grads = backward(g, t(training.loss), trained.map((p) => g.byName(p.name)!));
    matchBackward(graph, trained.map((p) => p.grad!), g, grads.map((d) => d.id), ids);
  }
  return { graph: g, ids };
}

/** The forward nodes `roots` are computed from, the roots included. */
function forwardAncestors(graph: Graph, roots: readonly number[]): Set<number> {
  const seen = new Set<number>();
  const stack = [...roots];
  while (stack.length) {
    const id = stack.pop()!;
    if (seen.has(id)) continue;
    seen.add(id);
    stack.push(...graph.nodes[id]!.inputs);
  }
  return seen;
}

/** The backward nodes that the given gradients are built from, in the order autograd added them. */
function backwardNodes(graph: Graph, roots: number[]): Node[] {
  const seen = new Set<number>();
  const stack = [...roots];
  while (stack.length) {
    const id = stack.pop()!;
    const node = graph.nodes[id]!;
    if (seen.has(id) || node.role !== 'backward') continue;
    seen.add(id);
    stack.push(...node.inputs);
  }
  return [...seen].sort((a, b) => a - b).map((id) => graph.nodes[id]!);
}

/**
 * Pairs the program's backward nodes with the replay's. Autograd walks the same forward graph in
 * the same order at any row count, so the k-th node behind the gradients in one is the k-th in
 * the other; each pair is checked (op, and operands that pair up) so a mismatch is an error, not
 * a wrong mapping.
 */
function matchBackward(graph: Graph, grads: number[], g: Graph, replayGrads: number[], ids: Map<number, number>): void {
  const mine = backwardNodes(graph, grads);
  const theirs = backwardNodes(g, replayGrads);
  const fail = (why: string) => {
    throw new Error(`replay: the backward graph at another row count differs from the program's (${why})`);
  };
  if (mine.length !== theirs.length) fail(`${mine.length} against ${theirs.length} nodes`);
  mine.forEach((node, k) => ids.set(node.id, theirs[k]!.id));
  mine.forEach((node, k) => {
    const other = theirs[k]!;
    if (node.op !== other.op || node.inputs.some((i, j) => ids.get(i) !== other.inputs[j])) fail(`%${node.id} ${node.op} against %${other.id} ${other.op}`);
  });
  grads.forEach((d, k) => ids.get(d) === replayGrads[k] || fail(`the gradient %${d}`));
}
