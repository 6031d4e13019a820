/**
 * @file Decide: which node of a training graph runs where, by the row axis.
 *
 * Fusion policy — what fuses, where a kernel must end, and why:
 *
 * - Data inputs carry the row axis; parameters and constants do not. A node whose shape follows
 *   the row count (read off a replay of the graph at another row count, so the rule is the CPU
 *   reference's own) is a *row node*: its values for one row depend on that row alone, and it runs
 *   per row, in registers, inside a row pass, forward and backward nodes alike.
 * - A node without rows that reads a row node sums over the rows (a mean, a sum, an Xᵀe-style
 *   matmul): a *sum over rows*. Its row pass accumulates it per invocation, a tree adds those per
 *   workgroup, and the kernel after the pass finishes the sum. Nothing else ends a kernel.
 * - Every other node without rows (the parameters and what follows from them, a penalty, the 1/m
 *   of a mean, the gradients, the loss) runs where it is needed: in a row pass's prologue when row
 *   code reads it, in the finishing step when the loss or a gradient does.
 * - A row node that reads a sum over rows must wait for it: it runs one row pass later (its
 *   *stage* is one more than the sum's input). A step is `row passes + 1` dispatches, the +1 being
 *   the finishing step (the loss, the gradients and the optimizer); for every loss that is a sum or
 *   mean of per-row terms that is 2. A pass after the first finishes the earlier passes' sums
 *   itself, in every workgroup, from their partial sums.
 * - What cannot fuse is refused with the reason (`Unfusable`), and the backend runs one kernel per
 *   node instead: a node with the row count along both axes ([n, n]), a parameter or constant that
 *   only fits the graph at its own row count, or more straight-line code than MAX_ELEMENTS.
 * - Loops are part of what is emitted, not of the schedule: a node wider than the target's unroll
 *   limit is an array filled by one loop, a sum of more terms a loop (compile/emit.ts), so the
 *   generated code grows with the nodes, not with their values.
 *
 * How the schedule becomes kernels (one workgroup for a small problem, row pass and finishing
 * kernels otherwise) is compile/plan.ts; the WGSL each node becomes is compile/emit.ts.
 */
import { type Replay, type Training, replay } from '../autograd/replay.js';
import type { Graph, Node } from '../engine/graph.js';
import { OPS } from '../engine/ops.js';
import { asMatrix, sizeOf } from '../engine/shape.js';

/** A graph the compiler does not fuse, and why; the backend then plans one kernel per node. */
export class Unfusable extends Error {
  override name = 'Unfusable';
}

/**
 * The most values the generated code writes out one line each: row values, values without rows
 * and accumulators no wider than the unroll limit (wider ones are arrays filled in loops, which
 * cost a line a node). Past this, straight-line code would take the driver minutes to compile.
 */
export const MAX_ELEMENTS = 4096;


export interface NodeInfo {
  /** The matrix-view axis (0 or 1) along which the node's values run over the rows; null: none. */
  rowAxis: 0 | 1 | null;
  /** Values per row for a row node (the other axis); its size for the rest. */
  width: number;
  /** Sums over rows the node waits for, one after another: the row pass it can run in. */
  stage: number;
  /** A sum over rows: accumulated in row pass `stage - 1`, finished after it. */
  acrossRows: boolean;
}

export interface Sum {
  id: number;
  /** Its first accumulator among all passes' (its elements follow in row-major order). */
  at: number;
  size: number;
}

export interface Pass {
  /** The sums over rows this pass accumulates, in graph order. */
  sums: Sum[];
  /** Accumulators of this pass; they start at `sums[0].at`. */
  size: number;
  /** Its first accumulator among all passes'. */
  at: number;
}

export interface Schedule {
  graph: Graph;
  /** The data rows the graph was built with. */
  rows: number;
  /** What the schedule computes: the loss, then (training) each parameter's gradient. */
  targets: number[];
  /** Every node the targets need. */
  info: Map<number, NodeInfo>;
  passes: Pass[];
  /** Every sum over rows by node id. */
  sums: Map<number, Sum>;
  /** Accumulators of all passes. */
  accumulators: number;
  /**
   * A node's attributes at a batch's row count: `full` for a batch of `batch` rows, `short` for a
   * last batch of fewer (null when there is none). Only the backward graph's means differ (1/m).
   */
  attrsAt(id: number): { full: unknown; short: unknown | null };
}

/** The nodes `targets` are computed from, themselves included. */
function ancestors(graph: Graph, targets: number[]): Set<number> {
  const seen = new Set<number>();
  const stack = [...targets];
  while (stack.length) {
    const id = stack.pop()!;
    if (seen.has(id)) continue;
    seen.add(id);
    stack.push(...graph.nodes[id]!.inputs);
  }
  return seen;
}

const describe = (n: Node) => `%${n.id} ${n.op}`;

/** Replays the graph, turning a shape that only holds at the original row count into Unfusable. */
function tryReplay(graph: Graph, n: number, rows: number, training: Training | null): Replay {
  try {
    return replay(graph, n, rows, training);
  } catch (e) {
    throw new Unfusable(`the graph's shapes hold together only at its own ${n} rows (${(e as Error).message})`);
  }
}

/**
 * Schedules `targets` (the loss, and with `training` the gradients) of a graph whose data
 * `inputs` have `n` rows, trained in batches of `batch` rows (and a last one of `short`, if any).
 */
export function schedule(graph: Graph, n: number, inputs: readonly number[], targets: number[], training: Training | null, batch: number, short: number | null, unroll = Infinity): Schedule {
  const needed = ancestors(graph, targets);
  const nodes = [...needed].sort((a, b) => a - b).map((id) => graph.nodes[id]!);
  for (const id of inputs) {
    const { shape } = graph.nodes[id]!;
    if (needed.has(id) && shape[0] !== n) throw new Unfusable(`input %${id} has shape [${shape}]: every data input needs the ${n} rows along its first axis`);
  }
  // The row axis of every node: the axis whose length follows the row count.
  const other = n === 1 ? 3 : n + 1;
  const probe = tryReplay(graph, n, other, training);
  const info = new Map<number, NodeInfo>();
  let elements = 0;
  for (const node of nodes) {
    const replayed = probe.graph.nodes[probe.ids.get(node.id)!]!;
    const [r0, c0] = asMatrix(node.shape);
    const [r1, c1] = asMatrix(replayed.shape);
    if (r0 !== r1 && c0 !== c1) throw new Unfusable(`${describe(node)} is [${node.shape}]: the row count along both axes (one value per pair of rows)`);
    const rowAxis = r0 !== r1 ? 0 : c0 !== c1 ? 1 : null;
    if (rowAxis !== null && (rowAxis === 0 ? [r0, r1] : [c0, c1]).join() !== [n, other].join()) {
      throw new Unfusable(`${describe(node)} is [${node.shape}]: an axis grows with the row count but is not the rows`);
    }
    const inputs = node.inputs.map((i) => info.get(i)!);
    const acrossRows = rowAxis === null && inputs.some((i) => i.rowAxis !== null);
    const kind = OPS[node.op].lower.kind;
    if (acrossRows && kind !== 'reduce' && kind !== 'contract') throw new Unfusable(`${describe(node)} drops the rows without summing over them`);
    const stage = Math.max(0, ...inputs.map((i) => i.stage)) + (acrossRows ? 1 : 0);
    const width = rowAxis === null ? sizeOf(node.shape) : rowAxis === 0 ? c0 : r0;
    info.set(node.id, { rowAxis, width, stage, acrossRows });
    // Written out a line a value: within the unroll limit (a finishing step may loop sooner).
    if (width <= unroll) elements += width;
  }
  for (const t of targets) {
    if (info.get(t)!.rowAxis !== null) throw new Unfusable(`the target %${t} has a value per row`);
  }

  // Sums over rows go to the pass their input is ready in; their accumulators follow pass by pass.
  const passes: Pass[] = [];
  const sums = new Map<number, Sum>();
  for (const node of nodes) {
    const i = info.get(node.id)!;
    if (!i.acrossRows) continue;
    while (passes.length < i.stage) passes.push({ sums: [], size: 0, at: 0 });
  }
  let at = 0;
  passes.forEach((pass, p) => {
    pass.at = at;
    for (const node of nodes) {
      const i = info.get(node.id)!;
      if (!i.acrossRows || i.stage !== p + 1) continue;
      const sum = { id: node.id, at, size: i.width };
      pass.sums.push(sum);
      sums.set(node.id, sum);
      at += i.width;
    }
    pass.size = at - pass.at;
  });
  if (![...sums.values()].some((x) => x.size > unroll)) elements += at;
  if (elements > MAX_ELEMENTS) throw new Unfusable(`${elements} values of straight-line code, over the ${MAX_ELEMENTS} the fused kernels hold`);

  // Attributes at the batch's row count (and the last batch's): a replay where they differ.
  const replays = new Map<number, Replay | null>();
  const at_ = (rows: number) => {
    if (rows === n) return null;
    if (!replays.has(rows)) replays.set(rows, tryReplay(graph, n, rows, training));
    return replays.get(rows)!;
  };
  const attrsIn = (r: Replay | null, id: number) => (r ? r.graph.nodes[r.ids.get(id)!]!.attrs : graph.nodes[id]!.attrs);
  return {
    graph,
    rows: n,
    targets,
    info,
    passes,
    sums,
    accumulators: at,
    attrsAt: (id) => ({ full: attrsIn(at_(batch), id), short: short === null ? null : attrsIn(at_(short), id) }),
  };
}
