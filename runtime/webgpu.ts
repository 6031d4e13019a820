/**
 * @file The WebGPU backend: turns a plan into buffers, pipelines and bind groups once, at compile
 * time, then encodes a whole training run (every epoch's forward, backward, loss record and
 * update) into one command buffer and one submit, and reads back once.
 */
import type { FloatArray } from '../engine/ops.js';
import { sizeOf } from '../engine/shape.js';
import { KernelCache } from '../wgsl/kernels.js';
import { type BufferRef, type Layout, type Plan, type Step, DEFAULT_LAYOUT, formatPlan, planProgram } from './plan.js';
import { type Backend, type Executable, type Program, type Stats, zeroStats } from './program.js';

const STORAGE = 0x80; // GPUBufferUsage.STORAGE, spelled out so the module loads where GPUBufferUsage is not global yet
const COPY_SRC = 0x04;
const COPY_DST = 0x08;
const MAP_READ = 0x01;

export class WebGpuBackend implements Backend {
  readonly kind = 'webgpu';
  readonly kernels: KernelCache;

  constructor(
    readonly device: GPUDevice,
    readonly description: string,
    readonly layout: Layout = { ...DEFAULT_LAYOUT, maxGroupsPerDim: device.limits.maxComputeWorkgroupsPerDimension },
  ) {
    this.kernels = new KernelCache(device);
  }

  async compile(program: Program): Promise<Executable> {
    const plan = planProgram(program, this.layout);
    return WebGpuExecutable.create(this, program, plan);
  }

  dispose(): void {
    this.device.destroy();
  }
}

interface Bound {
  step: Step;
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
}

class WebGpuExecutable implements Executable {
  readonly stats: Stats = zeroStats();
  private compute: Bound[] = [];
  private record: Bound[] = [];
  private update: Bound[] = [];
  private history: GPUBuffer;
  private staging: GPUBuffer;

  private constructor(
    private readonly backend: WebGpuBackend,
    private readonly program: Program,
    private readonly layoutPlan: Plan,
    private readonly buffers: Map<number, GPUBuffer>,
    private readonly scratch: GPUBuffer[],
    private readonly hyper: GPUBuffer,
    private readonly epoch: GPUBuffer,
  ) {
    this.history = this.buffer(4 * 1024, STORAGE | COPY_SRC);
    this.staging = this.buffer(4 * 1024, MAP_READ | COPY_DST);
  }

  static async create(backend: WebGpuBackend, program: Program, plan: Plan): Promise<WebGpuExecutable> {
    const { device } = backend;
    const make = (floats: number, usage: number) => device.createBuffer({ size: Math.max(4, 4 * floats), usage });
    const buffers = new Map<number, GPUBuffer>();
    for (const n of program.graph.nodes) {
      if (plan.aliases.has(n.id)) continue;
      const buf = make(sizeOf(n.shape), STORAGE | COPY_SRC | COPY_DST);
      if (n.op === 'constant') device.queue.writeBuffer(buf, 0, new Float32Array(sizeOf(n.shape)).fill((n.attrs as { value: number }).value));
      buffers.set(n.id, buf);
    }
    const scratch = plan.scratch.map((floats) => make(floats, STORAGE));
    const hyperValues = Object.values(program.optimizer?.hyper ?? {});
    const hyper = make(Math.max(1, hyperValues.length), STORAGE | COPY_DST);
    device.queue.writeBuffer(hyper, 0, new Float32Array(hyperValues.length ? hyperValues : [0]));
    const epoch = make(1, STORAGE | COPY_DST);
    const exe = new WebGpuExecutable(backend, program, plan, buffers, scratch, hyper, epoch);
    exe.compute = await Promise.all(plan.compute.map((s) => exe.bind(s)));
    exe.record = await Promise.all(plan.record.map((s) => exe.bind(s)));
    exe.update = await Promise.all(plan.update.map((s) => exe.bind(s)));
    return exe;
  }

  write(id: number, data: FloatArray): void {
    const f32 = Float32Array.from(data);
    this.backend.device.queue.writeBuffer(this.nodeBuffer(id), 0, f32);
  }

  setHyper(values: readonly number[]): void {
    this.backend.device.queue.writeBuffer(this.hyper, 0, new Float32Array(values));
  }

  async train(epochs: number): Promise<FloatArray> {
    if (!this.record.length) throw new Error('train: the program was compiled without a loss and an optimizer');
    const { device } = this.backend;
    if (this.history.size < 4 * epochs) {
      this.history.destroy();
      this.history = this.buffer(4 * epochs, STORAGE | COPY_SRC);
      this.record = await Promise.all(this.layoutPlan.record.map((s) => this.bind(s)));
    }
    device.queue.writeBuffer(this.epoch, 0, new Uint32Array([0]));
    const encoder = device.createCommandEncoder({ label: `train ${epochs} epochs` });
    const pass = encoder.beginComputePass();
    for (let e = 0; e < epochs; e++) {
      this.dispatch(pass, this.compute);
      this.dispatch(pass, this.record);
      this.dispatch(pass, this.update);
    }
    pass.end();
    const [loss] = await this.finish(encoder, [{ buffer: this.history, floats: epochs }]);
    return loss!;
  }

  async evaluate(ids: readonly number[]): Promise<FloatArray[]> {
    const encoder = this.backend.device.createCommandEncoder({ label: 'evaluate' });
    const pass = encoder.beginComputePass();
    this.dispatch(pass, this.compute);
    pass.end();
    return this.finish(encoder, this.sources(ids));
  }

  async read(ids: readonly number[]): Promise<FloatArray[]> {
    return this.finish(this.backend.device.createCommandEncoder({ label: 'read' }), this.sources(ids));
  }

  plan(): string {
    return formatPlan(this.layoutPlan);
  }

  dispose(): void {
    for (const b of [...this.buffers.values(), ...this.scratch, this.hyper, this.epoch, this.history, this.staging]) b.destroy();
  }

  private sources(ids: readonly number[]) {
    return ids.map((id) => ({ buffer: this.nodeBuffer(id), floats: sizeOf(this.program.graph.nodes[id]!.shape) }));
  }

  /** Copies each source into the staging buffer, submits once, maps once, and splits the floats. */
  private async finish(encoder: GPUCommandEncoder, sources: { buffer: GPUBuffer; floats: number }[]): Promise<Float32Array[]> {
    const total = sources.reduce((s, x) => s + x.floats, 0);
    if (this.staging.size < 4 * total) {
      this.staging.destroy();
      this.staging = this.buffer(4 * total, MAP_READ | COPY_DST);
    }
    let offset = 0;
    for (const s of sources) {
      encoder.copyBufferToBuffer(s.buffer, 0, this.staging, 4 * offset, 4 * s.floats);
      offset += s.floats;
    }
    this.backend.device.queue.submit([encoder.finish()]);
    this.stats.submits++;
    if (total === 0) return [];
    await this.staging.mapAsync(MAP_READ, 0, 4 * total);
    this.stats.readbacks++;
    const all = new Float32Array(this.staging.getMappedRange(0, 4 * total).slice(0));
    this.staging.unmap();
    offset = 0;
    return sources.map((s) => all.subarray(offset, (offset += s.floats)));
  }

  private dispatch(pass: GPUComputePassEncoder, steps: Bound[]): void {
    for (const { step, pipeline, bindGroup } of steps) {
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bindGroup);
      pass.dispatchWorkgroups(step.groups[0], step.groups[1]);
      this.stats.dispatches++;
    }
  }

  private async bind(step: Step): Promise<Bound> {
    const pipeline = await this.backend.kernels.pipeline(step.spec);
    const bindGroup = this.backend.device.createBindGroup({
      label: step.label,
      layout: pipeline.getBindGroupLayout(0),
      entries: step.bindings.map((b, binding) => ({ binding, resource: { buffer: this.resolve(b) } })),
    });
    return { step, pipeline, bindGroup };
  }

  private resolve(b: BufferRef): GPUBuffer {
    switch (b.kind) {
      case 'node':
        return this.nodeBuffer(b.id);
      case 'scratch':
        return this.scratch[b.index]!;
      case 'hyper':
        return this.hyper;
      case 'history':
        return this.history;
      case 'epoch':
        return this.epoch;
    }
  }

  private nodeBuffer(id: number): GPUBuffer {
    return this.buffers.get(this.layoutPlan.aliases.get(id) ?? id)!;
  }

  private buffer(bytes: number, usage: number): GPUBuffer {
    return this.backend.device.createBuffer({ size: Math.max(4, bytes), usage });
  }
}
