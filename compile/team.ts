/**
 * @file Row teams: the lanes of one subgroup share a wide row, where each lane would otherwise
 * walk rows of its own.
 *
 * Why: a row pass gives every invocation its own rows, so a wide data input (a row of 256 values)
 * is a private array per lane, and so are the parameters it meets and the sums over rows it feeds
 * (X Wᵀ's W and Xᵀe's accumulators). lavapipe runs a subgroup's 8 lanes as one SIMD vector and
 * keeps such arrays in memory, each access a gather or a scatter: the fused linear model ran 8-14x
 * the read-bandwidth floor at 64-1024 features. With a team, lane l of the subgroup holds the
 * row's vec4s l, l + LANES, l + 2 LANES, ... (`chunks` of them): the row's dot products are each
 * lane's partial sum added across the subgroup (`subgroupAdd`), and the sum over rows that the
 * wide input feeds (the gradient Xᵀe) is accumulated by each lane for its own columns, in vec4
 * registers, and stored by that lane: no tree in shared memory. Measured on lavapipe, hand-written
 * kernels of one linear model's gradient (shared/notes/width.md has the table): 1e5 x 256 in
 * 15 ms a pass against 13 ms for reading the rows alone, where lanes with their own rows took
 * 45-52 ms.
 *
 * What a team runs: the wide input is read only by contractions of two kinds, each checked here —
 * a row's product with a parameter over the input's columns (`X Wᵀ`, the forward pass), and a sum
 * over rows of the input's columns times a narrow row value (`Xᵀ e`, its gradient). Everything
 * else in the row code is narrow and runs in every lane alike (the same row), as it would in one.
 * A graph of any other shape keeps lanes with rows of their own (`teamFor` returns null).
 */
import type { Node } from '../engine/graph.js';
import { type Index, add, mul } from '../engine/indices.js';
import { type Coord, type Lowering, OPS, type OpKind } from '../engine/ops.js';
import { asMatrix } from '../engine/shape.js';
import type { RowLayout } from './emit.js';
import type { Schedule } from './schedule.js';

/** A row's product of the wide input with a parameter, summed over the input's columns: one value per output `j`. */
export interface TeamDot {
  /** The parameter, and the flat index of its element for output j at the input's column p. */
  param: number;
  element(j: number, p: Index): Index;
  outputs: number;
}

/** A sum over rows of the wide input's columns times a narrow row value: each lane accumulates its own columns. */
export interface TeamSum {
  /** The narrow row operand, read at column j. */
  other: number;
  others: number;
  /** The sum's flat element for the input's column i and the other operand's column j. */
  element(i: Index, j: number): Index;
}

export interface Team {
  /** Lanes of a subgroup (one workgroup is one subgroup). */
  lanes: number;
  /** The wide data input, its values per row, and its first vec4 in the row's vec4 record. */
  input: number;
  width: number;
  vecAt: number;
  /** vec4s per row (ceil(width / 4)) and per lane (ceil(vec4s / lanes)). */
  vec4s: number;
  chunks: number;
  dots: Map<number, TeamDot>;
  sums: Map<number, TeamSum>;
}

/**
 * The team form of pass 0 of a single-pass schedule, or null where it does not apply: no data
 * input at least `minWidth` wide in the vec4 record, a pass after the first, a reader of the wide
 * input of another kind, or narrow row code that would need arrays (a value or sum wider than the
 * unroll limit other than the team's own).
 */
export function teamFor(s: Schedule, layout: RowLayout, lanes: number, minWidth: number, unroll: number): Team | null {
  if (lanes < 2 || s.passes.length !== 1) return null;
  const nodes = s.graph.nodes;
  const wide = [...layout.columns].filter(([id, c]) => s.info.has(id) && c.part === 'vec4' && c.column % 4 === 0 && s.info.get(id)!.width >= minWidth && layout.residualTarget !== id);
  // The widest input becomes the team's: one wide input per pass.
  wide.sort((a, b) => s.info.get(b[0])!.width - s.info.get(a[0])!.width);
  const entry = wide[0];
  if (!entry) return null;
  const [input, { column }] = entry;
  const width = s.info.get(input)!.width;
  if (s.info.get(input)!.rowAxis !== 0) return null;
  const dots = new Map<number, TeamDot>();
  const sums = new Map<number, TeamSum>();
  const isParam = (n: Node) => {
    const lower = OPS[n.op].lower as Lowering<OpKind>;
    return lower.kind === 'leaf' && !('fill' in lower && lower.fill) && s.info.get(n.id)!.rowAxis === null;
  };
  /** A parameter, or views of one: the parameter and the flat element of it at a position of `n`. */
  const viewedParam = (n: Node): { id: number; flat(at: Coord): Index } | null => {
    const lower = OPS[n.op].lower as Lowering<OpKind>;
    if (isParam(n)) return { id: n.id, flat: ([r, c]) => add(mul(r, asMatrix(n.shape)[1]), c) };
    if (lower.kind !== 'view' || s.info.get(n.id)!.rowAxis !== null) return null;
    const source = nodes[n.inputs[0]!]!;
    const under = viewedParam(source);
    return under && { id: under.id, flat: (at) => under.flat(lower.source(n.attrs, source.shape, n.shape, at)) };
  };
  const narrowRow = (n: Node) => s.info.get(n.id)!.rowAxis === 0 && s.info.get(n.id)!.width <= unroll;
  for (const [id, info] of s.info) {
    const node = nodes[id]!;
    if (id === input) continue;
    const reads = node.inputs.filter((i) => i === input).length;
    if (reads === 0) {
      // Narrow row code only: the team's lanes run it alike, in registers.
      if (info.rowAxis !== null && info.width > unroll) return null;
      continue;
    }
    const lower = OPS[node.op].lower as Lowering<OpKind>;
    if (lower.kind !== 'contract' || reads !== 1) return null;
    const [ta, tb] = lower.trans(node.attrs);
    const [a, b] = node.inputs.map((i) => nodes[i]!) as [Node, Node];
    const [, N] = asMatrix(node.shape);
    const param = viewedParam(b);
    if (!info.acrossRows && info.rowAxis === 0 && a.id === input && !ta && param && info.width <= unroll) {
      // out(row, j) = sum_p X(row, p) B(p, j), B(p, j) = b[j, p] (transB) or b[p, j]: an element of the parameter under b's views.
      dots.set(id, { param: param.id, outputs: N, element: (j, p) => param.flat(tb ? [j, p] : [p, j]) });
      continue;
    }
    if (info.acrossRows && a.id === input && ta && !tb && narrowRow(b)) {
      // out(i, j) = sum_rows X(row, i) b(row, j).
      sums.set(id, { other: b.id, others: N, element: (i, j) => add(mul(i, N), j) });
      continue;
    }
    if (info.acrossRows && b.id === input && ta && !tb && narrowRow(a)) {
      // out(i, j) = sum_rows a(row, i) X(row, j).
      const M = asMatrix(node.shape)[0];
      sums.set(id, { other: a.id, others: M, element: (i, j) => add(j * N, i) });
      continue;
    }
    return null;
  }
  // The other sums are narrow: scalars in every lane, stored by lane 0.
  for (const sum of s.passes[0]!.sums) if (!sums.has(sum.id) && sum.size > unroll) return null;
  if (dots.size === 0) return null;
  const vec4s = Math.ceil(width / 4);
  return { lanes, input, width, vecAt: column / 4, vec4s, chunks: Math.ceil(vec4s / lanes), dots, sums };
}

/** What the plan's notes say of a team. */
export function teamNote(t: Team, nodes: readonly Node[]): string {
  const name = (nodes[t.input]!.attrs as { name?: string }).name ?? `%${t.input}`;
  return `row teams: a workgroup is one subgroup, whose ${t.lanes} lanes share each row of ${name} (${t.width} values, ${t.chunks} vec4 per lane): ${[...t.dots.keys()].map((id) => `%${id}`).join(', ')} summed across the lanes, ${[...t.sums.keys()].map((id) => `%${id}`).join(', ')} accumulated by each lane for its own columns`;
}
