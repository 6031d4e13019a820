/**
 * @file Kernel plans for the WebGPU backend. A plan says which buffers exist, where each stored
 * node lives in them, and which kernels run in what order, with which bindings and how many
 * workgroups. This file holds the plan's types and the one-kernel-per-node planner, which runs
 * any graph; compile/ turns a training graph into generated kernels.
 */
import type { Node } from '../engine/graph.js';
import { type Coord, type Lowering, OPS, type OpKind, type Rendered, reductionLayout } from '../engine/ops.js';
import { asMatrix, broadcastStrides, fmtShape, sizeOf } from '../engine/shape.js';
import type { Access, KernelSpec } from '../wgsl/kernels.js';
import { CONTROL_WGSL, RULES, wgslFloat } from '../wgsl/kernels.js';
import { HYPER, REPLICA_COUNTERS } from './control.js';
import type { Program } from './program.js';

export interface BufferDecl {
  label: string;
  /** Size in 4-byte words. */
  words: number;
  /** A constant's value, written once when the buffer is made. */
  fill?: number;
}

/**
 * A run of `words` consecutive values of a node, at `offset` words into buffer `buffer`. With
 * `stride`, the values are rows of `width` words that start `stride` words apart (X and Y
 * interleaved row by row in one buffer).
 */
export interface Segment {
  buffer: number;
  offset: number;
  words: number;
  stride?: number;
  width?: number;
}

export interface Binding {
  buffer: number;
  access: Access;
}

export interface Step {
  /** What the step computes, for the printed plan. */
  label: string;
  /** The graph nodes whose work happens in this step. */
  nodes: number[];
  spec: KernelSpec;
  bindings: Binding[];
  groups: [number, number];
  /** Bytes the step must read and write, for the printed plan and the benchmark's GB/s. */
  bytes: { read: number; written: number };
}

/**
 * The order of work in a training run: `per-epoch` dispatches its steps once per epoch; `block`
 * dispatches its one step once per `epochsPerDispatch` epochs (the kernel loops over epochs).
 */
export type Schedule = { kind: 'per-epoch'; steps: Step[] } | { kind: 'block'; steps: Step[]; epochsPerDispatch: number };

export interface Plan {
  name: 'per-node' | 'fused' | 'tiny';
  buffers: BufferDecl[];
  /** Where each stored node lives; nodes absent here were fused away and never stored. */
  places: Map<number, Segment[]>;
  /** Where the validation set of each data input lives (fused plans with a validation set). */
  validation: Map<number, Segment[]>;
  /** Where the residual set of the target lives (the single-dispatch plan with a residual bootstrap). */
  residuals: Map<number, Segment[]>;
  /** Parameters as stored in one snapshot of `theta` (fused plans): node, offset, words. */
  snapshot: { id: number; offset: number; words: number }[];
  /** Forward and backward once, without an update (empty when the plan cannot stop there). */
  evaluate: Step[];
  train: Schedule;
  /** Buffer indices of the training state: losses (then validation losses, then snapshots) and control. */
  records: number;
  control: number;
  /** Decisions the planner made (splits, chunks, layout), for `explain`. */
  notes: string[];
}

/**
 * A program the device cannot run as asked: a limit (storage buffers, one workgroup's budget) or a
 * plan that does not fit the graph. The message names the limit and the numbers.
 */
export class PlanError extends Error {
  override name = 'PlanError';
}

/** How kernels are laid out on this adapter, and the limits the planner plans within. */
export interface Layout {
  /** Invocations per workgroup for the one-kernel-per-node plan (a power of two). */
  workgroupSize: number;
  /** Most workgroups a grid-stride kernel launches along x. */
  maxGroups: number;
  /** Workgroups per dimension the device allows. */
  maxGroupsPerDim: number;
  /** Storage buffers one kernel may bind. */
  maxStorageBuffers: number;
  /** Largest storage binding, in bytes. */
  maxBindingBytes: number;
  /** Workgroup shared memory, in bytes. */
  maxWorkgroupBytes: number;
  /** Rows layout of the fused row kernel: `contiguous` runs per invocation (CPU adapters) or `strided`. */
  rows: 'contiguous' | 'strided';
  /** Workgroups of the fused row kernel with the contiguous layout. */
  contiguousGroups: number;
  /** Most workgroups of the fused row kernel with the strided layout. */
  stridedGroups: number;
  /** Largest rows x (parameters + 1) solved by the single-dispatch kernel. */
  tinyMaxWork: number;
  /**
   * Largest workgroup of the single-dispatch kernel (a power of two). A GPU wants many lanes on
   * a batch; a CPU adapter runs a workgroup on one thread, and every barrier of a workgroup wider
   * than its SIMD width costs a switch between the groups of lanes.
   */
  tinyWorkgroup: number;
  /** Epochs one dispatch of the single-dispatch kernel runs at most (keeps a dispatch short). */
  epochsPerDispatch: number;
  /**
   * Replicates past `tinyMaxWork`: `fused` spreads each one's rows over many workgroups of the
   * fused plan's row passes (a GPU would leave most of itself idle with a few workgroups; on lavapipe it
   * was 1.3-2.1x faster too); `tiny` keeps one workgroup each.
   */
  bigReplicas: 'tiny' | 'fused';
  /** How generated kernels read a row's record: as `vec4` (records padded to whole vec4s) or as `scalar` floats. */
  rowLoads: 'vec4' | 'scalar';
  /** Batches of at most this many rows train in the serial form of the single-dispatch plan (one invocation, no barriers); 0: never. */
  serialMaxRows: number;
}

export const DEFAULT_LAYOUT: Layout = {
  workgroupSize: 64,
  maxGroups: 256,
  maxGroupsPerDim: 65535,
  maxStorageBuffers: 8,
  maxBindingBytes: 128 * 1024 * 1024,
  maxWorkgroupBytes: 16384,
  rows: 'strided',
  contiguousGroups: 32,
  stridedGroups: 1024,
  tinyMaxWork: 1 << 16,
  tinyWorkgroup: 64,
  epochsPerDispatch: 5000,
  bigReplicas: 'fused',
  rowLoads: 'vec4',
  serialMaxRows: 0,
};


/** Inner dimensions above this run as split-K (a tree over K) instead of one loop per output. */
export const SPLIT_K_ABOVE = 256;
/** A reduction's per-workgroup slice aims at this many elements per invocation before the tree. */
const ITEMS_PER_INVOCATION = 8;
/** Partials per output in the first pass of a two-pass reduction, at most. */
const MAX_PARTIALS = 1024;

/** A node's attributes with every number written as a WGSL f32 literal, for its op's lowering. */
export function renderAttrs<A>(attrs: A): Rendered<A> {
  return Object.fromEntries(Object.entries(attrs as object).map(([k, v]) => [k, typeof v === 'number' ? wgslFloat(v) : v])) as Rendered<A>;
}

/** Declares the buffers every training plan has; returns their indices. */
export function trainingBuffers(program: Program, buffers: BufferDecl[]) {
  const hyper = Math.max(1, Object.keys(program.optimizer?.hyper ?? {}).length);
  const B = program.replicas.count;
  const records = buffers.push({ label: 'records (losses, validation losses, parameter snapshots)', words: 1024 }) - 1;
  // The header, each replicate's hyperparameters, then (several replicates) each one's counters:
  // epochs done this run, steps, epochs in all, divergence mark, batch, batch losses summed, the
  // divergence rule's reference (B words each; control.wgsl's `counters`).
  const words = HYPER + hyper * B + (B > 1 ? REPLICA_COUNTERS.length * B : 0);
  const control = buffers.push({ label: B > 1 ? `control (counters, seed, ${B} replicates' hyperparameters and counters)` : 'control (counters, seed, hyperparameters)', words }) - 1;
  return { records, control };
}

export function planPerNode(program: Program, layout: Layout = DEFAULT_LAYOUT): Plan {
  const { loader } = program;
  if (program.replicas.count > 1) throw new PlanError('replicates (bootstrap, sweeps) train on the single-dispatch plan of the regression graph; the per-node plan trains one model');
  if (loader.batchSize < loader.rows || loader.validationRows > 0) {
    throw new PlanError('the per-node plan trains full batches without a validation set; minibatches and validation run on the fused plans (the regression graph) and on the CPU backend');
  }
  const buffers: BufferDecl[] = [];
  const places = new Map<number, Segment[]>();
  const evaluate: Step[] = [];
  const nodes = program.graph.nodes;
  const WG = layout.workgroupSize;
  const stride = (count: number): [number, number] => [Math.max(1, Math.min(Math.ceil(count / WG), layout.maxGroups)), 1];

  for (const n of nodes) {
    const lower = OPS[n.op].lower;
    if (lower.kind === 'view' && lower.alias) {
      places.set(n.id, places.get(n.inputs[0]!)!);
      continue;
    }
    const words = sizeOf(n.shape);
    const name = (n.attrs as { name?: string }).name;
    const decl: BufferDecl = { label: name === undefined ? `%${n.id}` : `${n.op} ${name}`, words };
    if (lower.kind === 'leaf' && lower.fill) decl.fill = (lower.fill as (attrs: unknown) => number)(n.attrs);
    places.set(n.id, [{ buffer: buffers.push(decl) - 1, offset: 0, words }]);
  }
  const buf = (id: number) => places.get(id)![0]!.buffer;
  const read = (id: number): Binding => ({ buffer: buf(id), access: 'read' });
  const write = (id: number): Binding => ({ buffer: buf(id), access: 'rw' });
  const bytesOf = (ids: number[]) => ids.reduce((s, i) => s + 4 * sizeOf(nodes[i]!.shape), 0);
  const push = (n: Node, label: string, spec: Omit<KernelSpec, 'access'>, bindings: Binding[], groups: [number, number], bytes: Step['bytes']) =>
    evaluate.push({ label, nodes: [n.id], spec: { ...spec, access: bindings.map((b) => b.access) }, bindings, groups, bytes });
  const scratch = (label: string, words: number): Binding => ({ buffer: buffers.push({ label, words }) - 1, access: 'rw' });

  /** Second pass of a two-pass sum: adds the `groups` partials of each of `outCount` outputs. */
  const sumPartials = (n: Node, partials: Binding, outCount: number, groups: number, scale: number) =>
    push(
      n,
      `%${n.id} ${n.op}${fmtShape(n.shape)} (sum partials)`,
      { kernel: 'reduce', constants: { WG, OUT_COUNT: outCount, COUNT: groups, OUT_STRIDE: groups, STRIDE: 1, GROUPS: 1, SCALE: scale } },
      [{ ...partials, access: 'read' }, write(n.id)],
      [1, Math.min(outCount, layout.maxGroupsPerDim)],
      { read: 4 * outCount * groups, written: 4 * outCount },
    );

  for (const n of nodes) {
    const lower = OPS[n.op].lower as Lowering<OpKind>;
    const ins = n.inputs.map((i) => nodes[i]!);
    const label = `%${n.id} ${n.op}${fmtShape(n.shape)}`;
    const bytes = { read: bytesOf(n.inputs as number[]), written: 4 * sizeOf(n.shape) };
    switch (lower.kind) {
      case 'leaf':
        break;
      case 'view':
      case 'map': {
        // An aliasing view shares its operand's buffer (planned above): nothing to run.
        if (lower.kind === 'view' && lower.alias) break;
        const [rows, cols] = asMatrix(n.shape);
        let strides: [number, number] = [cols, 1];
        let apply = 'x';
        if (lower.kind === 'view') {
          // A view copies through strides read off its index mapping (it maps positions linearly).
          const inCols = asMatrix(ins[0]!.shape)[1];
          const flat = (at: Coord) => {
            const [i, j] = lower.source(n.attrs, ins[0]!.shape, n.shape, at);
            return i * inCols + j;
          };
          strides = [flat([1, 0]) - flat([0, 0]), flat([0, 1]) - flat([0, 0])];
        } else {
          apply = lower.wgsl('x', renderAttrs(n.attrs));
        }
        const constants = { WG, ROWS: rows, COLS: cols, A_ROW_STRIDE: strides[0], A_COL_STRIDE: strides[1] };
        push(n, label, { kernel: 'map', holes: { APPLY: apply }, constants }, [read(n.inputs[0]!), write(n.id)], stride(rows * cols), bytes);
        break;
      }
      case 'zip': {
        const sa = broadcastStrides(ins[0]!.shape, n.shape);
        const sb = broadcastStrides(ins[1]!.shape, n.shape);
        const constants = { WG, ROWS: sa.rows, COLS: sa.cols, A_ROW_STRIDE: sa.rowStride, A_COL_STRIDE: sa.colStride, B_ROW_STRIDE: sb.rowStride, B_COL_STRIDE: sb.colStride };
        const spec = { kernel: 'zip' as const, holes: { COMBINE: lower.wgsl('x', 'y') }, constants };
        push(n, label, spec, [read(n.inputs[0]!), read(n.inputs[1]!), write(n.id)], stride(sa.rows * sa.cols), bytes);
        break;
      }
      case 'contract': {
        const [transA, transB] = lower.trans(n.attrs);
        const [a, b] = ins as [Node, Node];
        const [M, N] = n.shape as [number, number];
        const K = transA ? a.shape[0]! : a.shape[1]!;
        // A(i, p) = a[i * A_I + p * A_K], B(p, j) = b[p * B_K + j * B_J].
        const strides = { A_I: transA ? 1 : a.shape[1]!, A_K: transA ? a.shape[1]! : 1, B_K: transB ? 1 : b.shape[1]!, B_J: transB ? b.shape[1]! : 1 };
        const operands = [read(a.id), read(b.id)];
        if (K <= SPLIT_K_ABOVE) {
          push(n, label, { kernel: 'matmul', constants: { WG, M, N, K, ...strides } }, [...operands, write(n.id)], stride(M * N), bytes);
          break;
        }
        const groups = Math.min(Math.ceil(K / (WG * ITEMS_PER_INVOCATION)), MAX_PARTIALS);
        const partials = scratch(`%${n.id} split-K partials`, M * N * groups);
        const spec = { kernel: 'matmul_splitk' as const, constants: { WG, M, N, K, ...strides, GROUPS: groups } };
        push(n, `${label} (split-K partials)`, spec, [...operands, partials], [groups, Math.min(M * N, layout.maxGroupsPerDim)], { read: bytes.read, written: 4 * M * N * groups });
        sumPartials(n, partials, M * N, groups, 1);
        break;
      }
      case 'reduce': {
        const l = reductionLayout(ins[0]!.shape, lower.axis(n.attrs));
        const scale = lower.mean ? 1 / l.count : 1;
        const groups = Math.min(Math.ceil(l.count / (WG * ITEMS_PER_INVOCATION)), MAX_PARTIALS);
        const ys = Math.min(l.outCount, layout.maxGroupsPerDim);
        const base = { WG, OUT_COUNT: l.outCount, COUNT: l.count, OUT_STRIDE: l.outStride, STRIDE: l.stride };
        if (groups <= 1) {
          push(n, label, { kernel: 'reduce', constants: { ...base, GROUPS: 1, SCALE: scale } }, [read(n.inputs[0]!), write(n.id)], [1, ys], bytes);
          break;
        }
        const partials = scratch(`%${n.id} partials`, l.outCount * groups);
        push(n, `${label} (partials)`, { kernel: 'reduce', constants: { ...base, GROUPS: groups, SCALE: 1 } }, [read(n.inputs[0]!), partials], [groups, ys], { read: bytes.read, written: 4 * l.outCount * groups });
        sumPartials(n, partials, l.outCount, groups, scale);
        break;
      }
      default: {
        const never: never = lower;
        throw new Error(`no lowering ${JSON.stringify(never)}`);
      }
    }
  }

  const { records, control } = trainingBuffers(program, buffers);
  const steps: Step[] = [...evaluate];
  const { loss, optimizer } = program;
  if (loss !== null && optimizer) {
    const bindings: Binding[] = [read(loss), { buffer: records, access: 'rw' }, { buffer: control, access: 'rw' }];
    const spec = { kernel: 'record' as const, holes: { CONTROL: CONTROL_WGSL }, constants: {}, access: bindings.map((b) => b.access) };
    steps.push({ label: `record loss %${loss}`, nodes: [], spec, bindings, groups: [1, 1], bytes: { read: 4, written: 4 } });
    for (const p of program.params) {
      if (p.grad === null) continue;
      const count = sizeOf(nodes[p.id]!.shape);
      const state = buffers.push({ label: `${optimizer.name} state of ${p.name}`, words: Math.max(1, optimizer.slots * count) }) - 1;
      const update: Binding[] = [write(p.id), read(p.grad), { buffer: state, access: 'rw' }, { buffer: control, access: 'read' }];
      steps.push({
        label: `${optimizer.name}: ${p.name} -= f(d${p.name})`,
        nodes: [],
        spec: { kernel: 'update', holes: { CONTROL: CONTROL_WGSL, OPTIMIZER: RULES[optimizer.rule] }, constants: { WG, COUNT: count }, access: update.map((b) => b.access) },
        bindings: update,
        groups: stride(count),
        bytes: { read: 4 * count * (2 + optimizer.slots), written: 4 * count * (1 + optimizer.slots) },
      });
    }
  }
  const notes = ['one kernel per graph node (reductions over long axes take two)'];
  // Parameter snapshots are buffer copies between passes, laid out one parameter after another.
  let offset = 0;
  const snapshot = program.params.filter((p) => p.grad !== null).map((p) => ({ id: p.id, offset: (offset += sizeOf(nodes[p.id]!.shape)) - sizeOf(nodes[p.id]!.shape), words: sizeOf(nodes[p.id]!.shape) }));
  return { name: 'per-node', buffers, places, validation: new Map(), residuals: new Map(), snapshot, evaluate, train: { kind: 'per-epoch', steps }, records, control, notes };
}

/** The plan as text: its buffers, then one line per dispatch with kernel, grid, bytes and what it computes. */
export function formatPlan(plan: Plan): string {
  const steps = plan.train.steps.length ? plan.train.steps : plan.evaluate;
  const per = plan.train.kind === 'block' ? `one dispatch per ${plan.train.epochsPerDispatch} epochs` : `${steps.length} dispatches per epoch`;
  const kib = (b: number) => (b >= 1024 ? `${(b / 1024).toFixed(1)} KiB` : `${b} B`);
  const lines = [`plan: ${plan.name} (${per})`, ...plan.notes.map((n) => `  note: ${n}`), 'buffers:'];
  plan.buffers.forEach((b, i) => lines.push(`  b${i}  ${kib(4 * b.words).padStart(10)}  ${b.label}`));
  lines.push('dispatches:');
  steps.forEach((s, i) => {
    const binds = s.bindings.map((b) => `b${b.buffer}${b.access === 'rw' ? '*' : ''}`).join(' ');
    lines.push(`  ${String(i).padStart(2)}  ${s.spec.kernel.padEnd(20)} ${`${s.groups[0]}x${s.groups[1]}`.padEnd(8)} reads ${kib(s.bytes.read).padStart(10)}  writes ${kib(s.bytes.written).padStart(10)}  [${binds}]`);
    lines.push(`      ${s.label}${s.nodes.length ? `  {${s.nodes.map((id) => `%${id}`).join(' ')}}` : ''}`);
  });
  lines.push('(* = bound read-write)');
  return lines.join('\n');
}
