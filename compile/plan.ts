/**
 * @file Kernel plans for the WebGPU backend. A plan says which buffers exist, where each stored
 * node lives in them, and which kernels run in what order, with which bindings and how many
 * workgroups. This file holds the plan's types, the buffers every training plan has and the
 * printed plan; compile/fuse.ts makes the generated plans and compile/per-node.ts the unfused one.
 */
import { controlLayout } from '../wgsl/control.js';
import type { Access, KernelSpec } from '../wgsl/kernels.js';
import type { Program } from './program.js';

export interface BufferDecl {
  label: string;
  /** Size in 4-byte words. */
  words: number;
  /** A constant's value, written once when the buffer is made. */
  fill?: number;
  /** A uniform block of these u32 fields, in the WGSL struct's order, written once when the buffer is made (a row pass's chunk). */
  uniform?: Record<string, number>;
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
  /**
   * Where the optimizer's state of each trained parameter lives: per slot (Adam's m, v), its
   * segments, one per replicate in turn.
   */
  state: Map<number, Segment[][]>;
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

/** Declares the buffers every training plan has; returns their indices. */
export function trainingBuffers(program: Program, buffers: BufferDecl[]) {
  const hyper = Math.max(1, Object.keys(program.optimizer?.hyper ?? {}).length);
  const B = program.replicas.count;
  const records = buffers.push({ label: 'records (losses, validation losses, parameter snapshots)', words: 1024 }) - 1;
  // The header, each replicate's hyperparameters, then (several replicates) each one's counters:
  // epochs done this run, steps, epochs in all, divergence mark, batch, batch losses summed, the
  // divergence rule's reference (B words each; control.wgsl's `counters`).
  const { words } = controlLayout(hyper, B);
  const control = buffers.push({ label: B > 1 ? `control (counters, seed, ${B} replicates' hyperparameters and counters)` : 'control (counters, seed, hyperparameters)', words }) - 1;
  return { records, control };
}

/** The plan as text: its buffers, then one line per dispatch with kernel, grid, bytes and what it computes. */
export function formatPlan(plan: Plan): string {
  const steps = plan.train.steps.length ? plan.train.steps : plan.evaluate;
  const per = plan.train.kind === 'block' ? `one dispatch per ${plan.train.epochsPerDispatch} epochs` : `${steps.length} dispatches per epoch`;
  const kib = (b: number) => (b >= 1024 ? `${(b / 1024).toFixed(1)} KiB` : `${b} B`);
  const lines = [`plan: ${plan.name} (${per})`, ...plan.notes.map((n) => `  note: ${n}`), 'buffers:'];
  plan.buffers.forEach((b, i) => lines.push(`  b${i}  ${kib(4 * b.words).padStart(10)}  ${b.label}`));
  lines.push('dispatches:');
  for (let i = 0; i < steps.length; ) {
    const { length, times } = repeatAt(steps, i);
    for (const [k, s] of steps.slice(i, i + length).entries()) {
      const binds = s.bindings.map((b) => `b${b.buffer}${b.access === 'rw' ? '*' : ''}`).join(' ');
      lines.push(`  ${String(i + k).padStart(2)}  ${s.spec.kernel.padEnd(20)} ${`${s.groups[0]}x${s.groups[1]}`.padEnd(8)} reads ${kib(s.bytes.read).padStart(10)}  writes ${kib(s.bytes.written).padStart(10)}  [${binds}]`);
      lines.push(`      ${s.label}${s.nodes.length ? `  {${s.nodes.map((id) => `%${id}`).join(' ')}}` : ''}`);
    }
    if (times > 1) lines.push(`  ${i + length}-${i + length * times - 1}: the ${length === 1 ? 'dispatch' : `${length} dispatches`} above ${times - 1} more time${times > 2 ? 's' : ''}`);
    i += length * times;
  }
  lines.push('(* = bound read-write)');
  return lines.join('\n');
}

/** The longest-covering block of steps from `at` that repeats back to back (the same steps, each batch of an epoch), or one step once. */
function repeatAt(steps: readonly Step[], at: number): { length: number; times: number } {
  const MAX_BLOCK = 512;
  let best = { length: 1, times: 1 };
  for (let length = 1; length <= MAX_BLOCK && at + 2 * length <= steps.length; length++) {
    let times = 1;
    const same = (from: number) => steps.slice(at, at + length).every((s, k) => steps[from + k] === s);
    while (at + (times + 1) * length <= steps.length && same(at + times * length)) times++;
    if (times > 1 && length * times > best.length * best.times) best = { length, times };
  }
  return best;
}
