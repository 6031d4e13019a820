/**
 * @file The kernel plan for the WebGPU backend: which WGSL kernel runs each node, with which
 * buffers bound and how many workgroups. This first planner maps one node to one kernel (two for
 * long reductions); fusion builds on the same Step records.
 */
import type { Node } from '../engine/graph.js';
import { OPS, reductionLayout } from '../engine/ops.js';
import { asMatrix, broadcastStrides, fmtShape, sizeOf } from '../engine/shape.js';
import type { KernelSpec } from '../wgsl/kernels.js';
import type { Program } from './program.js';

/** A buffer a step binds: a node's value, a planner scratch buffer, or the training state. */
export type BufferRef =
  | { kind: 'node'; id: number }
  | { kind: 'scratch'; index: number }
  | { kind: 'hyper' }
  | { kind: 'history' }
  | { kind: 'epoch' };

export interface Step {
  /** What the step computes, for the printed plan. */
  label: string;
  /** The graph nodes this step computes. */
  nodes: number[];
  spec: KernelSpec;
  bindings: BufferRef[];
  groups: [number, number];
}

export interface Plan {
  /** Forward and backward, in order. */
  compute: Step[];
  /** Appends the loss to the history (when training). */
  record: Step[];
  /** The optimizer's updates (when training). */
  update: Step[];
  /** Sizes, in floats, of scratch buffers (reduction partials). */
  scratch: number[];
  /** Nodes whose value is another node's buffer (reshape is a view). */
  aliases: Map<number, number>;
}

/** How kernels are laid out on this adapter. */
export interface Layout {
  /** Invocations per workgroup (a power of two). */
  workgroupSize: number;
  /** Most workgroups a grid-stride kernel launches along x. */
  maxGroups: number;
  /** The device's limit on workgroups per dimension. */
  maxGroupsPerDim: number;
}

export const DEFAULT_LAYOUT: Layout = { workgroupSize: 64, maxGroups: 256, maxGroupsPerDim: 65535 };

/** Inner dimensions above this run as split-K (a tree over K) instead of one loop per output. */
export const SPLIT_K_ABOVE = 256;
/** A reduction's per-workgroup slice aims at this many elements per invocation before the tree. */
const ITEMS_PER_INVOCATION = 8;
/** Partials per output in the first pass of a two-pass reduction, at most. */
const MAX_PARTIALS = 1024;

const COMBINE: Record<string, string> = {
  add: 'x + y',
  sub: 'x - y',
  mul: 'x * y',
  squaredError: '(x - y) * (x - y)',
};

export function planProgram(program: Program, layout: Layout = DEFAULT_LAYOUT): Plan {
  const plan: Plan = { compute: [], record: [], update: [], scratch: [], aliases: new Map() };
  const nodes = program.graph.nodes;
  const WG = layout.workgroupSize;
  const stride = (count: number): [number, number] => [Math.max(1, Math.min(Math.ceil(count / WG), layout.maxGroups)), 1];
  const ref = (id: number): BufferRef => ({ kind: 'node', id: plan.aliases.get(id) ?? id });
  const describe = (n: Node) => `%${n.id} ${n.op}${fmtShape(n.shape)}`;

  /** Sums `count` elements for each of `outCount` outputs into `out`, in one or two dispatches. */
  const reduceInto = (label: string, nodeIds: number[], source: BufferRef, out: BufferRef, l: ReturnType<typeof reductionLayout>, scale: number) => {
    const groups = Math.min(Math.ceil(l.count / (WG * ITEMS_PER_INVOCATION)), MAX_PARTIALS);
    const ys = Math.min(l.outCount, layout.maxGroupsPerDim);
    const base = { WG, OUT_COUNT: l.outCount, COUNT: l.count, OUT_STRIDE: l.outStride, STRIDE: l.stride };
    if (groups <= 1) {
      plan.compute.push({ label, nodes: nodeIds, spec: { kernel: 'reduce', constants: { ...base, GROUPS: 1, SCALE: scale } }, bindings: [source, out], groups: [1, ys] });
      return;
    }
    const partials: BufferRef = { kind: 'scratch', index: plan.scratch.push(l.outCount * groups) - 1 };
    plan.compute.push({ label: `${label} (partials)`, nodes: nodeIds, spec: { kernel: 'reduce', constants: { ...base, GROUPS: groups, SCALE: 1 } }, bindings: [source, partials], groups: [groups, ys] });
    reduceFinal(label, nodeIds, partials, out, l.outCount, groups, scale);
  };
  const reduceFinal = (label: string, nodeIds: number[], partials: BufferRef, out: BufferRef, outCount: number, groups: number, scale: number) => {
    plan.compute.push({
      label: `${label} (sum partials)`,
      nodes: nodeIds,
      spec: { kernel: 'reduce', constants: { WG, OUT_COUNT: outCount, COUNT: groups, OUT_STRIDE: groups, STRIDE: 1, GROUPS: 1, SCALE: scale } },
      bindings: [partials, out],
      groups: [1, Math.min(outCount, layout.maxGroupsPerDim)],
    });
  };

  for (const n of nodes) {
    const family = OPS[n.op].kernel;
    const ins = n.inputs.map((i) => nodes[i]!);
    const label = describe(n);
    switch (family) {
      case 'leaf':
        break;
      case 'view':
        plan.aliases.set(n.id, plan.aliases.get(n.inputs[0]!) ?? n.inputs[0]!);
        break;
      case 'map': {
        const [rows, cols] = asMatrix(n.shape);
        let strides: [number, number];
        if (n.op === 'transpose') strides = [1, ins[0]!.shape[1]!];
        else if (n.op === 'broadcastTo') {
          const s = broadcastStrides(ins[0]!.shape, n.shape);
          strides = [s.rowStride, s.colStride];
        } else strides = [cols, 1];
        const factor = n.op === 'scale' ? (n.attrs as { factor: number }).factor : 1;
        const constants = { WG, ROWS: rows, COLS: cols, A_ROW_STRIDE: strides[0], A_COL_STRIDE: strides[1], FACTOR: factor };
        plan.compute.push({ label, nodes: [n.id], spec: { kernel: 'map', constants }, bindings: [ref(n.inputs[0]!), ref(n.id)], groups: stride(rows * cols) });
        break;
      }
      case 'zip': {
        const sa = broadcastStrides(ins[0]!.shape, n.shape);
        const sb = broadcastStrides(ins[1]!.shape, n.shape);
        const constants = { WG, ROWS: sa.rows, COLS: sa.cols, A_ROW_STRIDE: sa.rowStride, A_COL_STRIDE: sa.colStride, B_ROW_STRIDE: sb.rowStride, B_COL_STRIDE: sb.colStride };
        plan.compute.push({
          label,
          nodes: [n.id],
          spec: { kernel: 'zip', holes: { COMBINE: COMBINE[n.op]! }, constants },
          bindings: [ref(n.inputs[0]!), ref(n.inputs[1]!), ref(n.id)],
          groups: stride(sa.rows * sa.cols),
        });
        break;
      }
      case 'matmul': {
        const { transA, transB } = n.attrs as { transA: boolean; transB: boolean };
        const [a, b] = ins as [Node, Node];
        const [M, N] = n.shape as [number, number];
        const K = transA ? a.shape[0]! : a.shape[1]!;
        // A(i, p) = a[i * A_I + p * A_K], B(p, j) = b[p * B_K + j * B_J].
        const strides = {
          A_I: transA ? 1 : a.shape[1]!,
          A_K: transA ? a.shape[1]! : 1,
          B_K: transB ? 1 : b.shape[1]!,
          B_J: transB ? b.shape[1]! : 1,
        };
        const operands = [ref(a.id), ref(b.id)];
        if (K <= SPLIT_K_ABOVE) {
          plan.compute.push({ label, nodes: [n.id], spec: { kernel: 'matmul', constants: { WG, M, N, K, ...strides } }, bindings: [...operands, ref(n.id)], groups: stride(M * N) });
          break;
        }
        const groups = Math.min(Math.ceil(K / (WG * ITEMS_PER_INVOCATION)), MAX_PARTIALS);
        const partials: BufferRef = { kind: 'scratch', index: plan.scratch.push(M * N * groups) - 1 };
        plan.compute.push({
          label: `${label} (split-K partials)`,
          nodes: [n.id],
          spec: { kernel: 'matmul_splitk', constants: { WG, M, N, K, ...strides, GROUPS: groups } },
          bindings: [...operands, partials],
          groups: [groups, Math.min(M * N, layout.maxGroupsPerDim)],
        });
        reduceFinal(label, [n.id], partials, ref(n.id), M * N, groups, 1);
        break;
      }
      case 'reduce': {
        const l = reductionLayout(ins[0]!.shape, (n.attrs as { axis: number | null }).axis);
        reduceInto(label, [n.id], ref(n.inputs[0]!), ref(n.id), l, n.op === 'mean' ? 1 / l.count : 1);
        break;
      }
      default: {
        const never: never = family;
        throw new Error(`no kernel family ${never}`);
      }
    }
  }

  if (program.loss !== null && program.optimizer) {
    plan.record.push({
      label: `record loss %${program.loss}`,
      nodes: [],
      spec: { kernel: 'record', constants: {} },
      bindings: [ref(program.loss), { kind: 'history' }, { kind: 'epoch' }],
      groups: [1, 1],
    });
    for (const p of program.params) {
      if (p.grad === null) continue;
      const count = sizeOf(nodes[p.id]!.shape);
      plan.update.push({
        label: `${program.optimizer.name} ${p.name} -= f(d${p.name})`,
        nodes: [],
        spec: { kernel: program.optimizer.kernel, constants: { WG, COUNT: count } },
        bindings: [ref(p.id), ref(p.grad), { kind: 'hyper' }],
        groups: stride(count),
      });
    }
  }
  return plan;
}

/** The plan as text: one line per dispatch with its kernel, nodes and workgroup grid. */
export function formatPlan(plan: Plan): string {
  const line = (s: Step, i: number) => `${String(i).padStart(3)}  ${s.spec.kernel.padEnd(14)} ${`${s.groups[0]}x${s.groups[1]}`.padEnd(9)} ${s.label}`;
  const all = [...plan.compute, ...plan.record, ...plan.update];
  return [`  #  kernel         groups    computes`, ...all.map(line)].join('\n');
}
