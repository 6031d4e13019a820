/**
 * @file The WebGPU backend: picks a plan, turns it into buffers, pipelines and bind groups once at
 * compile time, then encodes a whole training run into one command buffer, one submit and one
 * read.
 */
import { type FloatArray, OPS } from '../engine/ops.js';
import { KernelCache, kernelFile, numbered, specialize } from '../wgsl/kernels.js';
import { debug, debugLevel } from './debug.js';
import { planCompiled } from '../compile/fuse.js';
import { Unfusable } from '../compile/schedule.js';
import { CONTROL, HYPER, REPLICA_COUNTERS, controlLayout } from '../wgsl/control.js';
import { type Layout, layoutFor } from '../compile/layout.js';
import { type Plan, PlanError, type Segment, type Step, formatPlan } from '../compile/plan.js';
import { planPerNode } from '../compile/per-node.js';
import { type Backend, DeviceError, DisposedError, type Executable, StateError, type PlanOptions, type Program, type RawRun, type Stats, type TrainingState, zeroStats } from './program.js';
import { chooseRowsLayout } from './trial.js';
import { DataError } from './values.js';

// GPUBufferUsage and GPUMapMode values, spelled out so this module loads before Dawn's globals exist.
const STORAGE = 0x80;
const UNIFORM = 0x40;
const COPY_SRC = 0x04;
const COPY_DST = 0x08;
const MAP_READ = 0x01;

export class WebGpuBackend implements Backend {
  readonly kind = 'webgpu';
  readonly precision = 'f32';
  readonly kernels: KernelCache;
  readonly layout: Layout;
  /** Why the device can no longer be used: disposed, or lost (a driver reset, a removed GPU). */
  gone: string | null = null;

  /**
   * `cores`: the CPU threads a software adapter runs on (lavapipe: one per core), which sizes its
   * row passes; by default the runtime's own count (navigator.hardwareConcurrency), else 2.
   * `subgroup`: the subgroup size, where the device was given the `subgroups` feature and its
   * subgroups have one size (0: none; compile/team.ts).
   */
  constructor(
    readonly device: GPUDevice,
    readonly description: string,
    cores?: number,
    subgroup = 0,
  ) {
    // A lost device fails every later call with the reason, instead of WebGPU's empty errors.
    void device.lost.then((info) => {
      this.gone ??= `its device was lost (${info.reason === 'destroyed' ? 'destroyed' : `${info.reason}: ${info.message || 'no message'}`})`;
    });
    this.kernels = new KernelCache(device);
    this.layout = layoutFor(description, device.limits, cores, subgroup);
  }

  async compile(program: Program, options: PlanOptions = {}): Promise<Executable> {
    if (this.gone) throw new DisposedError(`compile: the backend can no longer be used: ${this.gone}; get a new one with requestBackend()`);
    const plan = await this.plan(program, options);
    return WebGpuExecutable.create(this, program, plan);
  }

  /**
   * Chooses the plan: the compiled kernels (the single-dispatch plan when the problem is small,
   * row passes and a finishing kernel otherwise), or one kernel per node for a graph the compiler
   * does not fuse (the plan's notes say why) and when asked.
   */
  async plan(program: Program, { plan = 'auto', layout: overrides = {} }: PlanOptions = {}): Promise<Plan> {
    let layout: Layout = { ...this.layout, ...overrides };
    if (plan === 'per-node') return planPerNode(program, layout);
    if (plan === 'compiled' || plan === 'reference') throw new PlanError(`plan "${plan}" is the CPU backend's; on WebGPU the plans are auto, fused, tiny and per-node`);
    const compile = (l: Layout) => planCompiled(program, l, plan);
    let compiled: Plan;
    try {
      compiled = compile(layout);
    } catch (e) {
      // 'auto' runs one kernel per node where the compiler does not fuse the graph or the fused
      // kernels do not fit the device. When that plan cannot run it either, both reasons are said,
      // but for replicates, which only the fused plans train: there the first reason stands.
      if (!(e instanceof Unfusable) && !(e instanceof PlanError)) throw e;
      if (plan !== 'auto') throw e instanceof Unfusable ? new PlanError(`plan "${plan}": ${e.message}; use plan "per-node" or "auto"`) : e;
      let fallback: Plan;
      try {
        fallback = planPerNode(program, layout);
      } catch (pe) {
        if (!(pe instanceof PlanError) || program.replicas.count > 1) throw e instanceof Unfusable ? new PlanError(e.message) : e;
        throw new PlanError(`${e.message}, so the fused plans cannot run this graph, and neither can one kernel per node: ${pe.message}`);
      }
      fallback.notes.unshift(`not fused: ${e.message}`);
      return fallback;
    }
    if (plan === 'tiny' && compiled.name !== 'tiny') {
      const why = compiled.notes.find((n) => n.startsWith('not the single-dispatch plan: '))!.slice('not the single-dispatch plan: '.length);
      throw new PlanError(`plan "tiny": ${why}; use "fused" or "auto"`);
    }
    if (compiled.name === 'fused') {
      let why = 'the caller';
      if (overrides.rows === undefined) {
        const choice = await chooseRowsLayout(this, program.loader.rows, compile, layout);
        layout = { ...layout, rows: choice.rows };
        why = choice.why;
        compiled = compile(layout);
      }
      compiled.notes.push(`the rows layout was chosen by ${why}`);
    }
    return compiled;
  }

  dispose(): void {
    this.gone ??= 'it was disposed (backend.dispose())';
    this.device.destroy();
  }
}

/** The buffers some step writes. */
const written = (steps: readonly Step[]) => new Set(steps.flatMap((s) => s.bindings.filter((b) => b.access === 'rw').map((b) => b.buffer)));

interface Bound {
  step: Step;
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
}

class WebGpuExecutable implements Executable {
  readonly stats: Stats = zeroStats();
  private evaluateSteps: Bound[] = [];
  private readonly shadows = new Map<number, Float32Array<ArrayBuffer>>();
  private trainSteps: Bound[] = [];
  private staging: GPUBuffer;
  /**
   * The buffers the last train() or evaluate() computed (null before either): a computed value
   * stored anywhere else is left from before (the per-node plan trains minibatches on copies of
   * the graph at the batch's rows, not on the graph read() reads).
   */
  private fresh: Set<number> | null = null;
  /** The buffers holding inputs, parameters and constants (made at the first read). */
  private leaves: Set<number> | null = null;
  /** The buffers each of train() and evaluate() writes (the plan's steps do not change). */
  private readonly writtenBy: { train: Set<number>; evaluate: Set<number> };
  /** The divergence rule's floor (referenceFloor). */
  private floor = 0;

  private constructor(
    private readonly backend: WebGpuBackend,
    private readonly program: Program,
    private readonly layoutPlan: Plan,
    private readonly buffers: GPUBuffer[],
  ) {
    this.staging = this.make(4 * 1024, MAP_READ | COPY_DST);
    this.writtenBy = { train: written(layoutPlan.train.steps), evaluate: written(layoutPlan.evaluate) };
  }

  static async create(backend: WebGpuBackend, program: Program, plan: Plan): Promise<WebGpuExecutable> {
    const { device } = backend;
    const buffers = plan.buffers.map((b) => {
      // Whole vec4s: a kernel may bind any buffer as array<vec4f> (zip4.wgsl broadcasts a scalar from one).
      const buffer = device.createBuffer({ label: b.label, size: 16 * Math.max(1, Math.ceil(b.words / 4)), usage: (b.uniform ? UNIFORM : STORAGE) | COPY_SRC | COPY_DST });
      if (b.fill !== undefined) device.queue.writeBuffer(buffer, 0, new Float32Array(b.words).fill(b.fill));
      if (b.uniform) device.queue.writeBuffer(buffer, 0, new Uint32Array(Object.values(b.uniform)));
      return buffer;
    });
    const exe = new WebGpuExecutable(backend, program, plan, buffers);
    const table = program.replicas.hyper;
    exe.setHyper(table ? table.flat() : Object.values(program.optimizer?.hyper ?? {}));
    await exe.bindAll();
    await exe.warmUp();
    debug(1, () => {
      const kib = plan.buffers.reduce((s, b) => s + b.words, 0) / 256;
      const per = plan.train.kind === 'block' ? `1 dispatch per ${plan.train.epochsPerDispatch} epochs` : `${plan.train.steps.length || plan.evaluate.length} dispatches per epoch`;
      return `fusegrad: compiled the ${plan.name} plan on ${backend.description}: ${per}, ${plan.buffers.length} buffers (${kib.toFixed(1)} KiB)`;
    });
    debug(2, () => exe.wgslListing());
    return exe;
  }

  write(id: number, data: FloatArray): void {
    this.place(this.segments(id, 'write'), data);
    this.forgetReference();
  }

  /**
   * Runs every pipeline once, with nothing to do, before compile() returns. Drivers such as
   * lavapipe compile a pipeline's shader at its first dispatch (0.8 s for the single-dispatch
   * kernel with Mesa's shader cache off, measured), which would otherwise land in the first
   * train() and its timing. Every model is marked diverged meanwhile, so the training kernels
   * return at once; the per-node plan's forward and backward kernels recompute their nodes from
   * the inputs as they are, which every step does anyway. One submission, not counted in stats.
   */
  private async warmUp(): Promise<void> {
    const { device } = this.backend;
    const unique = new Map<GPUComputePipeline, Bound>();
    for (const b of [...this.trainSteps, ...this.evaluateSteps]) if (!unique.has(b.pipeline)) unique.set(b.pipeline, b);
    if (!unique.size) return;
    const B = this.program.replicas.count;
    const control = this.buffers[this.layoutPlan.control]!;
    const marks = 4 * (B > 1 ? this.counterBlock('diverged') : CONTROL.DIVERGED);
    device.queue.writeBuffer(control, marks, new Uint32Array(B).fill(1));
    const encoder = device.createCommandEncoder({ label: 'warm-up: every pipeline once' });
    const pass = encoder.beginComputePass();
    for (const { step, pipeline, bindGroup } of unique.values()) {
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bindGroup);
      pass.dispatchWorkgroups(step.groups[0], step.groups[1]);
    }
    pass.end();
    device.pushErrorScope('validation');
    device.queue.submit([encoder.finish()]);
    device.queue.writeBuffer(control, marks, new Uint32Array(B));
    const [error] = await Promise.all([device.popErrorScope(), device.queue.onSubmittedWorkDone()]);
    if (error) throw new Error(`WebGPU rejected the first dispatch of the ${this.layoutPlan.name} plan's pipelines (a fusegrad bug, please report it): ${error.message}`);
  }

  writeValidation(id: number, data: FloatArray): void {
    const segs = this.layoutPlan.validation.get(id);
    if (!segs) throw new StateError('write: this model has no validation set (compile with validationRows)');
    this.place(segs, data);
  }

  writeResiduals(id: number, data: FloatArray): void {
    const segs = this.layoutPlan.residuals.get(id);
    if (!segs) throw new StateError(`write: the ${this.layoutPlan.name} plan has no residual set; compile with bootstrap: 'residuals'`);
    this.place(segs, data);
    this.forgetReference();
  }

  /** Where replicate counter block `name` starts in control (several replicates; control.ts's layout). */
  private counterBlock(name: (typeof REPLICA_COUNTERS)[number]): number {
    return controlLayout(Object.keys(this.program.optimizer?.hyper ?? {}).length, this.program.replicas.count).counter(name);
  }

  referenceFloor(floor: number): void {
    this.floor = floor;
    this.forgetReference();
  }

  /** New data or parameters: the divergence rule's reference becomes the next epoch's loss again (or the floor, if larger). */
  private forgetReference(): void {
    const B = this.program.replicas.count;
    if (!this.layoutPlan.train.steps.length) return;
    const at = B > 1 ? this.counterBlock('reference') : CONTROL.REFERENCE;
    // Unset is zero or minus the floor (control.wgsl's reference_after).
    this.backend.device.queue.writeBuffer(this.buffers[this.layoutPlan.control]!, 4 * at, new Float32Array(B).fill(-this.floor));
  }

  async readState(): Promise<TrainingState> {
    const plan = this.layoutPlan;
    const B = this.program.replicas.count;
    const control = { buffer: this.buffers[plan.control]!, offset: 0, words: plan.buffers[plan.control]!.words };
    const segs = this.program.params.map((p) => plan.state.get(p.id) ?? []);
    const sources = segs.flatMap((slots) => slots.flatMap((parts) => parts.map((g) => ({ buffer: this.buffers[g.buffer]!, offset: g.offset, words: g.words }))));
    const [ctl, ...parts] = await this.finish(this.backend.device.createCommandEncoder({ label: 'read state' }), [control, ...sources]);
    const words = new Uint32Array(ctl!.buffer, ctl!.byteOffset, ctl!.length);
    let k = 0;
    const join = (n: number) => {
      const out = new Float32Array(parts.slice(k, k + n).reduce((s, x) => s + x.length, 0));
      let at = 0;
      for (const x of parts.slice(k, (k += n))) out.set(x, (at += x.length) - x.length);
      return out;
    };
    const slots = segs.map((perSlot) => perSlot.map((replicas) => join(replicas.length)));
    const steps = Array.from(words.subarray(this.counterBlock('step'), this.counterBlock('step') + B));
    return { slots, steps, epochs: words[this.counterBlock('total')]! };
  }

  writeState(state: TrainingState): void {
    const plan = this.layoutPlan;
    const B = this.program.replicas.count;
    this.program.params.forEach((p, i) => (plan.state.get(p.id) ?? []).forEach((replicas, k) => this.place(replicas, state.slots[i]![k]!)));
    const { queue } = this.backend.device;
    const control = this.buffers[plan.control]!;
    queue.writeBuffer(control, 4 * this.counterBlock('step'), Uint32Array.from(state.steps));
    queue.writeBuffer(control, 4 * this.counterBlock('total'), new Uint32Array(B).fill(state.epochs));
  }

  setHyper(values: readonly number[]): void {
    if (!values.length) return;
    // One set for every replicate, or one set per replicate.
    const B = this.program.replicas.count;
    const all = values.length === Object.keys(this.program.optimizer?.hyper ?? {}).length && B > 1 ? Array.from({ length: B }, () => values).flat() : values;
    this.backend.device.queue.writeBuffer(this.buffers[this.layoutPlan.control]!, 4 * HYPER, new Float32Array(all));
  }

  /**
   * Writes a node's values to its segments. Strided segments (X and Y interleaved row by row) are
   * assembled in a host copy of the buffer, which also serves reads of them.
   */
  private place(segs: Segment[], data: FloatArray): void {
    const { queue } = this.backend.device;
    let at = 0;
    for (const seg of segs) {
      const buffer = this.buffers[seg.buffer]!;
      if (seg.stride === undefined) {
        queue.writeBuffer(buffer, 4 * seg.offset, Float32Array.from(data.subarray(at, at + seg.words)));
      } else {
        const shadow = this.shadow(seg.buffer);
        const w = seg.width!;
        for (let r = 0; r < seg.words / w; r++) {
          for (let c = 0; c < w; c++) shadow[seg.offset + r * seg.stride + c] = data[at + r * w + c]!;
        }
        queue.writeBuffer(buffer, 0, shadow);
      }
      at += seg.words;
    }
  }

  private shadow(buffer: number): Float32Array<ArrayBuffer> {
    let s = this.shadows.get(buffer);
    if (!s) this.shadows.set(buffer, (s = new Float32Array(this.layoutPlan.buffers[buffer]!.words)));
    return s;
  }

  async train(epochs: number, { paramsEvery }: { paramsEvery: number }): Promise<RawRun> {
    const { device } = this.backend;
    const plan = this.layoutPlan;
    if (!plan.train.steps.length) throw new StateError('train: the program was compiled without a loss and an optimizer');
    if (paramsEvery && !plan.snapshot.length) throw new PlanError(`train: the ${plan.name} plan on this device keeps no parameter snapshots; use the CPU backend or a device with 5 storage buffers per stage`);
    const { loader } = this.program;
    const count = plan.snapshot.reduce((s, p) => s + p.words, 0);
    const slots = paramsEvery ? Math.floor(epochs / paramsEvery) : 0;
    const B = this.program.replicas.count;
    // Several replicates: each one's counters (epochs this run, steps, epochs in all, divergence
    // mark, batch, batch losses summed, the divergence rule's reference), B words each.
    const replicaAt = this.counterBlock('epoch');
    const marksAt = this.counterBlock('diverged');
    const referencesAt = this.counterBlock('reference');
    if (B > 1 && paramsEvery) throw new DataError('train: parameter snapshots are for one model; with replicates, read the parameters after the run');
    // Several replicates: each one's losses, one after another, then each one's validation losses.
    const validAt = B * epochs;
    const paramsAt = validAt + (loader.validationRows ? B * epochs : 0);
    const words = paramsAt + slots * count;
    const limit = this.backend.layout.maxBindingBytes;
    if (4 * words > limit) {
      const what = `${B > 1 ? `${B} replicates x ` : ''}${epochs} epochs of losses${loader.validationRows ? ' and validation losses' : ''}${slots ? ` and ${slots} parameter snapshots` : ''}`;
      throw new PlanError(`train: ${what} need ${4 * words} bytes on the device, over its binding limit of ${limit}; train in shorter runs (each train() goes on where the last one stopped)`);
    }
    if (this.buffers[plan.records]!.size < 4 * words) {
      this.buffers[plan.records]!.destroy();
      this.buffers[plan.records] = device.createBuffer({ label: 'records', size: 4 * words, usage: STORAGE | COPY_SRC | COPY_DST });
      await this.bindAll();
    }
    // A run starts at epoch 0, batch 0, no loss summed, not diverged; the step count and the epochs
    // done (the shuffle's key) carry on from the last run.
    const control = this.buffers[plan.control]!;
    device.queue.writeBuffer(control, 4 * CONTROL.EPOCH, new Uint32Array([0, epochs]));
    device.queue.writeBuffer(control, 4 * CONTROL.BATCH, new Uint32Array([0]));
    device.queue.writeBuffer(control, 4 * CONTROL.LOSS_SUM, new Uint32Array([0, 0, validAt, paramsAt, paramsEvery, loader.seed >>> 0]));
    if (B > 1) {
      device.queue.writeBuffer(control, 4 * replicaAt, new Uint32Array(B));
      device.queue.writeBuffer(control, 4 * marksAt, new Uint32Array(3 * B));
    }
    const encoder = device.createCommandEncoder({ label: `train ${epochs} epochs` });
    const before = { ...this.stats };
    const start = performance.now();
    const sources = [
      { buffer: this.buffers[plan.records]!, offset: 0, words },
      { buffer: control, offset: 0, words: B > 1 ? referencesAt + B : HYPER },
    ];
    let out: Float32Array[];
    if (debugLevel() >= 4 && device.features.has('timestamp-query')) {
      out = await this.trainTimed(encoder, epochs, sources);
    } else {
      this.encodeRun(encoder, epochs, paramsEvery, paramsAt, count, () => encoder.beginComputePass());
      out = await this.finish(encoder, sources);
    }
    debug(1, () => {
      const ms = performance.now() - start;
      const d = (k: keyof Stats) => this.stats[k] - before[k];
      return `fusegrad: trained ${epochs} epochs in ${ms.toFixed(2)} ms (${((1000 * ms) / epochs).toFixed(1)} µs/epoch): ${d('dispatches')} dispatches, ${d('submits')} submit, ${d('readbacks')} readback`;
    });
    const [records, ctl] = out as [Float32Array, Float32Array];
    this.fresh = this.writtenBy.train;
    const counters = new Uint32Array(ctl.buffer, ctl.byteOffset, ctl.length);
    // Every model ran all its epochs, or stopped at a divergence it marked: anything less is a
    // device that cut the run short without a word, and its numbers are not a result.
    const done = B > 1 ? Array.from(counters.subarray(replicaAt, replicaAt + B)) : [counters[CONTROL.EPOCH]!];
    const marked = B > 1 ? Array.from(counters.subarray(marksAt, marksAt + B)) : [counters[CONTROL.DIVERGED]!];
    const short = done.findIndex((e, r) => e !== (marked[r] ? marked[r] : epochs));
    if (short >= 0) {
      throw new DeviceError(
        `train: the device ran ${done[short]} of the ${epochs} epochs asked${B > 1 ? ` for replicate ${short}` : ''} and marked no divergence: its driver cut the run short (${this.backend.description}). ` +
          "The parameters are not to be trusted. Use another adapter (on Debian 12 without a GPU, Mesa's lavapipe from bookworm-backports) or the CPU backend (device: 'cpu')",
      );
    }
    if (B > 1) {
      const marks = marked;
      const each = (at: number) => marks.map((m, r) => records.slice(at + r * epochs, at + r * epochs + (m ? m : epochs)));
      const valid = loader.validationRows ? each(validAt) : null;
      return {
        loss: records.slice(0, marks[0] ? marks[0] : epochs),
        valid: valid?.[0] ?? null,
        snapshots: new Map(),
        diverged: 0,
        reference: ctl[referencesAt]!,
        replicas: { loss: each(0), valid, diverged: marks, reference: Array.from(ctl.subarray(referencesAt, referencesAt + B)) },
      };
    }
    const ran = Math.min(epochs, counters[CONTROL.EPOCH]!);
    const snapshots = new Map<number, Float32Array[]>();
    for (const p of plan.snapshot) {
      snapshots.set(p.id, Array.from({ length: paramsEvery ? Math.floor(ran / paramsEvery) : 0 }, (_, i) => records.slice(paramsAt + i * count + p.offset, paramsAt + i * count + p.offset + p.words)));
    }
    return {
      loss: records.slice(0, ran),
      valid: loader.validationRows ? records.slice(validAt, validAt + ran) : null,
      snapshots,
      diverged: counters[CONTROL.DIVERGED]!,
      reference: ctl[CONTROL.REFERENCE]!,
    };
  }

  /**
   * Encodes a run: the plan's steps once per epoch (or once per block of epochs), in compute
   * passes from `pass`. The per-node plan's parameter snapshots are buffer copies between passes.
   */
  private encodeRun(encoder: GPUCommandEncoder, epochs: number, paramsEvery: number, paramsAt: number, count: number, pass: () => GPUComputePassEncoder): void {
    const plan = this.layoutPlan;
    const copies = plan.name === 'per-node' && paramsEvery > 0;
    const repeats = plan.train.kind === 'block' ? Math.ceil(epochs / plan.train.epochsPerDispatch) : epochs;
    let p = pass();
    for (let e = 0; e < repeats; e++) {
      this.dispatch(p, this.trainSteps);
      if (copies && (e + 1) % paramsEvery === 0) {
        p.end();
        const slot = (e + 1) / paramsEvery - 1;
        for (const s of plan.snapshot) {
          const seg = plan.places.get(s.id)![0]!;
          encoder.copyBufferToBuffer(this.buffers[seg.buffer]!, 4 * seg.offset, this.buffers[plan.records]!, 4 * (paramsAt + slot * count + s.offset), 4 * s.words);
        }
        p = pass();
      }
    }
    p.end();
  }

  /**
   * FUSEGRAD_DEBUG=4: the same run with each of the first dispatches in its own pass, bracketed by
   * timestamp queries, then a table of GPU time per kernel. Extra passes and a read: debug only.
   */
  private async trainTimed(encoder: GPUCommandEncoder, epochs: number, sources: { buffer: GPUBuffer; offset: number; words: number }[]): Promise<Float32Array[]> {
    const { device } = this.backend;
    const plan = this.layoutPlan;
    const MAX_TIMED = 2048;
    const repeats = plan.train.kind === 'block' ? Math.ceil(epochs / plan.train.epochsPerDispatch) : epochs;
    const timed = Math.min(MAX_TIMED, repeats * this.trainSteps.length);
    const querySet = device.createQuerySet({ type: 'timestamp', count: 2 * timed });
    const resolved = device.createBuffer({ size: 16 * timed, usage: 0x200 /* QUERY_RESOLVE */ | COPY_SRC });
    let k = 0;
    let plain: GPUComputePassEncoder | null = null;
    for (let e = 0; e < repeats; e++) {
      for (const bound of this.trainSteps) {
        if (k < timed) {
          const pass = encoder.beginComputePass({ timestampWrites: { querySet, beginningOfPassWriteIndex: 2 * k, endOfPassWriteIndex: 2 * k + 1 } });
          this.dispatch(pass, [bound]);
          pass.end();
          k++;
        } else {
          plain ??= encoder.beginComputePass();
          this.dispatch(plain, [bound]);
        }
      }
    }
    plain?.end();
    encoder.resolveQuerySet(querySet, 0, 2 * timed, resolved, 0);
    const out = await this.finish(encoder, [...sources, { buffer: resolved, offset: 0, words: 4 * timed }]);
    const stamps = out.pop()!;
    // A copy: the stamps follow the run's other words in the staging read, at an offset that need
    // not be a multiple of 8, which a BigUint64Array view requires.
    const ticks = new BigUint64Array(stamps.slice().buffer, 0, 2 * timed);
    const perKernel = new Map<string, { calls: number; ns: number }>();
    for (let i = 0; i < timed; i++) {
      const step = this.trainSteps[i % this.trainSteps.length]!.step;
      const key = `${step.spec.kernel}: ${step.label}`;
      const t = perKernel.get(key) ?? { calls: 0, ns: 0 };
      t.calls++;
      t.ns += Number(ticks[2 * i + 1]! - ticks[2 * i]!);
      perKernel.set(key, t);
    }
    const rows = [...perKernel].map(([key, t]) => `  ${(t.ns / t.calls / 1000).toFixed(1).padStart(10)} µs  x${String(t.calls).padEnd(6)} ${key}`);
    debug(4, `fusegrad: GPU time per kernel (timestamp queries, first ${timed} dispatches, mean per call):\n${rows.join('\n')}`);
    querySet.destroy();
    resolved.destroy();
    return out;
  }

  async evaluate(ids: readonly number[]): Promise<FloatArray[]> {
    if (!this.evaluateSteps.length) {
      throw new PlanError(`evaluate: the ${this.layoutPlan.name} plan runs forward, backward and update as one; model.predict(rows) computes predictions on every plan, or compile with plan: 'per-node' to evaluate without training`);
    }
    const sources = ids.flatMap((id) => this.sources(id));
    const encoder = this.backend.device.createCommandEncoder({ label: 'evaluate' });
    const pass = encoder.beginComputePass();
    this.dispatch(pass, this.evaluateSteps);
    pass.end();
    const values = this.regroup(ids, await this.finish(encoder, sources));
    this.fresh = this.writtenBy.evaluate;
    return values;
  }

  async read(ids: readonly number[]): Promise<FloatArray[]> {
    // What holds inputs, parameters and constants is what was written, never stale.
    this.leaves ??= new Set(this.program.graph.nodes.filter((n) => OPS[n.op].lower.kind === 'leaf').flatMap((n) => (this.layoutPlan.places.get(n.id) ?? []).map((s) => s.buffer)));
    for (const id of ids) {
      const n = this.program.graph.nodes[id]!;
      if (this.fresh && this.segments(id, 'read').some((s) => !this.fresh!.has(s.buffer) && !this.leaves!.has(s.buffer))) {
        throw new StateError(
          `read: %${id} (${n.op}${n.label ? `, ${n.label}` : ''}) was not computed by the last train(): the ${this.layoutPlan.name} plan trains each minibatch on a copy of the graph at the batch's rows. model.evaluate([tensor]) computes it for every row written, model.predict(rows) predictions`,
        );
      }
    }
    const strided = ids.filter((id) => this.segments(id, 'read').some((s) => s.stride !== undefined));
    const direct = ids.filter((id) => !strided.includes(id));
    const fetched = direct.length ? this.regroup(direct, await this.finish(this.backend.device.createCommandEncoder({ label: 'read' }), direct.flatMap((id) => this.sources(id)))) : [];
    return ids.map((id) => (strided.includes(id) ? this.fromShadow(this.segments(id, 'read')) : fetched[direct.indexOf(id)]!));
  }

  /** A node stored strided (X or Y in an interleaved buffer), from the host copy its writes made. */
  private fromShadow(segs: Segment[]): Float32Array {
    const out = new Float32Array(segs.reduce((s, x) => s + x.words, 0));
    let at = 0;
    for (const seg of segs) {
      const shadow = this.shadow(seg.buffer);
      const w = seg.width!;
      for (let r = 0; r < seg.words / w; r++) out.set(shadow.subarray(seg.offset + r * seg.stride!, seg.offset + r * seg.stride! + w), at + r * w);
      at += seg.words;
    }
    return out;
  }

  get planName(): string {
    return this.layoutPlan.name;
  }

  plan(): string {
    return formatPlan(this.layoutPlan);
  }

  explain(): string {
    return `${formatPlan(this.layoutPlan)}\n\n${this.wgslListing()}`;
  }

  /** The WGSL of every pipeline, with the nodes it fuses and its constants; repeated sources are shown once. */
  private wgslListing(): string {
    const plan = this.layoutPlan;
    const steps = plan.train.steps.length ? plan.train.steps : plan.evaluate;
    const shown = new Map<string, number>();
    const nodes = this.program.graph.nodes;
    return steps
      .map((s, i) => {
        const code = specialize(s.spec.kernel, s.spec.holes);
        const fuses = s.nodes.map((id) => `%${id} ${nodes[id]!.op}`).join(', ');
        const constants = Object.entries(s.spec.constants).map(([k, v]) => `${k}=${v}`).join(' ');
        const blocks = s.bindings.flatMap((b) => {
          const fields = plan.buffers[b.buffer]!.uniform;
          return fields ? [`    uniform b${b.buffer}: ${Object.entries(fields).map(([k, v]) => `${k}=${v}`).join(' ')}`] : [];
        });
        const head = [`--- dispatch ${i}: ${kernelFile(s.spec.kernel)} — ${s.label}`, `    fuses: ${fuses || '(optimizer and bookkeeping only)'}`, `    override constants: ${constants || '(none)'}`, ...blocks];
        const seen = shown.get(code);
        if (seen === undefined) shown.set(code, i);
        return [...head, seen === undefined ? numbered(code) : `    (same WGSL as dispatch ${seen})`].join('\n');
      })
      .join('\n\n');
  }

  /** The compiled plan, for `explain` and the tests that pin it. */
  get compiled(): Plan {
    return this.layoutPlan;
  }

  dispose(): void {
    for (const b of [...this.buffers, this.staging]) b.destroy();
  }

  private segments(id: number, what: string) {
    const segs = this.layoutPlan.places.get(id);
    if (!segs) {
      const n = this.program.graph.nodes[id]!;
      throw new PlanError(`${what}: %${id} (${n.op}${n.label ? `, ${n.label}` : ''}) is fused into the ${this.layoutPlan.name} plan's kernels and never stored; model.predict(rows) computes predictions on every plan, or compile with plan: 'per-node' to read it`);
    }
    return segs;
  }

  private sources(id: number) {
    if (this.segments(id, 'read').some((s) => s.stride !== undefined)) throw new Error(`read: %${id} is stored interleaved; read it through read()`);
    return this.segments(id, 'read').map((s) => ({ buffer: this.buffers[s.buffer]!, offset: s.offset, words: s.words }));
  }

  /** Joins the per-segment arrays `finish` returns back into one array per node. */
  private regroup(ids: readonly number[], parts: Float32Array[]): Float32Array[] {
    let k = 0;
    return ids.map((id) => {
      const segs = this.layoutPlan.places.get(id)!;
      if (segs.length === 1) return parts[k++]!;
      const out = new Float32Array(segs.reduce((s, x) => s + x.words, 0));
      let at = 0;
      for (let i = 0; i < segs.length; i++) {
        const p = parts[k++]!;
        out.set(p, at);
        at += p.length;
      }
      return out;
    });
  }

  /** Copies each source into the staging buffer, submits once, maps once, and splits the floats. */
  private async finish(encoder: GPUCommandEncoder, sources: { buffer: GPUBuffer; offset: number; words: number }[]): Promise<Float32Array[]> {
    const total = sources.reduce((s, x) => s + x.words, 0);
    if (this.staging.size < 4 * total) {
      this.staging.destroy();
      this.staging = this.make(4 * total, MAP_READ | COPY_DST);
    }
    let offset = 0;
    for (const s of sources) {
      encoder.copyBufferToBuffer(s.buffer, 4 * s.offset, this.staging, 4 * offset, 4 * s.words);
      offset += s.words;
    }
    // A command the device rejects (a bug: the planner should have refused it) would leave the
    // staging buffer as it was; the error scope turns that into an error instead of old numbers.
    const { device } = this.backend;
    device.pushErrorScope('validation');
    device.queue.submit([encoder.finish()]);
    const rejected = device.popErrorScope();
    this.stats.submits++;
    // Both awaited at once: in Deno every awaited round trip costs milliseconds.
    const mapping = total === 0 ? Promise.resolve() : this.staging.mapAsync(MAP_READ, 0, 4 * total);
    const [error, failed] = await Promise.all([rejected, mapping.then(() => null, (e: Error) => e)]);
    if (error) {
      if (total !== 0 && !failed) this.staging.unmap();
      throw new Error(`WebGPU rejected the commands of the ${this.layoutPlan.name} plan (a fusegrad bug, please report it): ${error.message}`);
    }
    if (failed) throw failed;
    if (total === 0) return sources.map(() => new Float32Array(0));
    this.stats.readbacks++;
    const all = new Float32Array(this.staging.getMappedRange(0, 4 * total).slice(0));
    this.staging.unmap();
    offset = 0;
    return sources.map((s) => all.subarray(offset, (offset += s.words)));
  }

  private dispatch(pass: GPUComputePassEncoder, steps: Bound[]): void {
    for (const { step, pipeline, bindGroup } of steps) {
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bindGroup);
      pass.dispatchWorkgroups(step.groups[0], step.groups[1]);
      this.stats.dispatches++;
    }
  }

  private async bindAll(): Promise<void> {
    // A step that repeats (every batch of an epoch runs the same ones) is bound once.
    const bound = new Map<Step, Promise<Bound>>();
    const once = (s: Step) => bound.get(s) ?? bound.set(s, this.bind(s)).get(s)!;
    this.evaluateSteps = await Promise.all(this.layoutPlan.evaluate.map(once));
    this.trainSteps = await Promise.all(this.layoutPlan.train.steps.map(once));
  }

  private async bind(step: Step): Promise<Bound> {
    const pipeline = await this.backend.kernels.pipeline(step.spec);
    const bindGroup = this.backend.device.createBindGroup({
      label: step.label,
      layout: this.backend.kernels.layout(step.spec.access),
      entries: step.bindings.map((b, binding) => ({ binding, resource: { buffer: this.buffers[b.buffer]! } })),
    });
    return { step, pipeline, bindGroup };
  }

  private make(bytes: number, usage: number): GPUBuffer {
    return this.backend.device.createBuffer({ size: Math.max(4, bytes), usage });
  }
}
