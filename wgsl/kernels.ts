/**
 * @file The hand-written WGSL kernels, and the code that specializes (override constants and
 * named template holes), compiles and caches them, reporting shader errors with the kernel's name,
 * line:col and numbered source.
 */
import { controlWords } from './control.js';
import control from './control.wgsl';
import epoch from './epoch.wgsl';
import finish from './finish.wgsl';
import fmaRate from './fma_rate.wgsl';
import gather from './gather.wgsl';
import colsum from './colsum.wgsl';
import map from './map.wgsl';
import map4 from './map4.wgsl';
import matmul from './matmul.wgsl';
import matmulSplitk from './matmul_splitk.wgsl';
import matmulTeam from './matmul_team.wgsl';
import matmulTile from './matmul_tile.wgsl';
import adamRule from './optim/adam.wgsl';
import sgdRule from './optim/sgd.wgsl';
import partials from './partials.wgsl';
import record from './record.wgsl';
import reduce from './reduce.wgsl';
import rowPass from './row_pass.wgsl';
import serial from './serial.wgsl';
import streamRead from './stream_read.wgsl';
import tileB from './tile_b.wgsl';
import tiny from './tiny.wgsl';
import tree from './tree.wgsl';
import update from './update.wgsl';
import validFinish from './valid_finish.wgsl';
import validRecord from './valid_record.wgsl';
import zip from './zip.wgsl';
import zip4 from './zip4.wgsl';

/** The tiled products' shared read of B's blocks, spliced where each source says {{TILE_B}}. */
const withTileB = (source: string): string => source.replace('{{TILE_B}}', tileB);

/** Every kernel source by name, with shared functions spliced in (the holes left are per use). */
export const KERNELS = {
  map,
  map4,
  zip,
  zip4,
  reduce,
  matmul,
  matmul_splitk: matmulSplitk,
  matmul_tile: withTileB(matmulTile),
  matmul_team: withTileB(matmulTeam),
  colsum,
  partials,
  gather,
  record,
  valid_record: validRecord,
  update,
  stream_read: streamRead,
  fma_rate: fmaRate,
  tiny,
  serial,
  row_pass: rowPass,
  // The row pass with a team of lanes sharing each row (compile/team.ts): the same source, other holes.
  row_team: rowPass,
  finish,
  valid_finish: validFinish,
} as const;

export type KernelName = keyof typeof KERNELS;

/** The file a kernel's source is: its own name's, but for the row pass's team form. */
export const kernelFile = (name: KernelName): string => `${name === 'row_team' ? 'row_pass' : name}.wgsl`;

/** The control buffer's layout (from control.ts's table) and shared helpers, spliced into a training kernel's {{CONTROL}} hole. */
export const CONTROL_WGSL: string = control.replace('{{WORDS}}', controlWords());

/** The workgroup tree sum of P running sums (`tree_sum`), spliced into a fused kernel's {{TREE}} hole. */
export const TREE_WGSL: string = tree;

/** The bookkeeping after a training step (`end_batch`), spliced into a finishing kernel's (and the per-node record's) {{EPOCH}} hole. */
export const EPOCH_WGSL: string = epoch;

/** Optimizer update rules: each defines `fn optimizer_step(i, grad, t)`, spliced into a kernel's {{OPTIMIZER}} hole. */
export const RULES = { sgd: sgdRule, adam: adamRule } as const;

export type RuleName = keyof typeof RULES;

/** How a kernel uses one binding: read-only or read-write storage, or a uniform block. */
export type Access = 'read' | 'rw' | 'uniform';

/** The bind group layout's buffer type for each access. */
const BUFFER_TYPES: Record<Access, GPUBufferBindingType> = { read: 'read-only-storage', rw: 'storage', uniform: 'uniform' };

/** A kernel specialized for one use: its source with holes filled, its override constants, and its bindings' access. */
export interface KernelSpec {
  kernel: KernelName;
  holes?: Record<string, string>;
  constants: Record<string, number | boolean>;
  access: Access[];
}

/**
 * A number as a WGSL f32 literal: always with a decimal point or an exponent (so it is a float),
 * negative values in parentheses (so `x * -2.5` needs no care), and exactly the float64 value,
 * which WGSL rounds to the nearest f32 as Math.fround does.
 */
export function wgslFloat(v: number): string {
  if (!Number.isFinite(v)) throw new Error(`wgslFloat: ${v} has no WGSL literal`);
  const text = String(Math.abs(v));
  const literal = /[.e]/.test(text) ? text : `${text}.0`;
  return v < 0 || Object.is(v, -0) ? `(-${literal})` : literal;
}

/** Fills `{{NAME}}` holes; a hole left unfilled or a name with no hole is a bug, so it throws. */
export function specialize(name: KernelName, holes: Record<string, string> = {}): string {
  let code: string = KERNELS[name];
  for (const [hole, text] of Object.entries(holes)) {
    if (!code.includes(`{{${hole}}}`)) throw new Error(`kernel ${name} has no template hole {{${hole}}}`);
    code = code.replaceAll(`{{${hole}}}`, text);
  }
  const left = /\{\{(\w+)\}\}/.exec(code);
  if (left) throw new Error(`kernel ${name}: template hole {{${left[1]}}} was not filled`);
  return code;
}

/** A WGSL compile or pipeline validation error, located in the kernel's own source. */
export class KernelError extends Error {
  override name = 'KernelError';
}

/** Source with line numbers, for error messages and `explain`. */
export const numbered = (code: string): string =>
  code
    .split('\n')
    .map((line, i) => `${String(i + 1).padStart(4)} | ${line}`)
    .join('\n');

/**
 * Compiles kernels on one device, caching shader modules by source and pipelines by source and
 * constants, so a graph with many nodes of one kind compiles the WGSL once.
 */
export class KernelCache {
  private readonly modules = new Map<string, GPUShaderModule>();
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private readonly layouts = new Map<string, GPUBindGroupLayout>();
  private queue: Promise<unknown> = Promise.resolve();
  compiled = 0;

  constructor(private readonly device: GPUDevice) {}

  /**
   * The pipeline for a spec, compiled once. Compiles run one at a time: error scopes are a stack
   * per device, so two compiles awaiting at once would catch each other's errors.
   */
  pipeline(spec: KernelSpec): Promise<GPUComputePipeline> {
    const next = this.queue.then(() => this.compile(spec));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async compile(spec: KernelSpec): Promise<GPUComputePipeline> {
    const code = specialize(spec.kernel, spec.holes);
    const key = `${code}\n${JSON.stringify(spec.constants)}\n${spec.access.join()}`;
    const hit = this.pipelines.get(key);
    if (hit) return hit;
    const module = await this.module(spec.kernel, code);
    this.device.pushErrorScope('validation');
    const constants = Object.fromEntries(Object.entries(spec.constants).map(([k, v]) => [k, Number(v)]));
    const pipeline = this.device.createComputePipeline({
      label: spec.kernel,
      layout: this.device.createPipelineLayout({ bindGroupLayouts: [this.layout(spec.access)] }),
      compute: { module, entryPoint: 'main', constants },
    });
    const error = await this.device.popErrorScope();
    if (error) {
      throw new KernelError(
        `kernel ${spec.kernel}: pipeline creation failed: ${error.message}\n` +
          `constants: ${JSON.stringify(spec.constants)}\n${numbered(code)}`,
      );
    }
    this.pipelines.set(key, pipeline);
    return pipeline;
  }

  /** The bind group layout for a list of bindings, cached by access pattern. */
  layout(access: Access[]): GPUBindGroupLayout {
    const key = access.join();
    let layout = this.layouts.get(key);
    if (!layout) {
      layout = this.device.createBindGroupLayout({
        entries: access.map((a, binding) => ({ binding, visibility: 4 /* GPUShaderStage.COMPUTE */, buffer: { type: BUFFER_TYPES[a] } })),
      });
      this.layouts.set(key, layout);
    }
    return layout;
  }

  private async module(name: string, code: string): Promise<GPUShaderModule> {
    const hit = this.modules.get(code);
    if (hit) return hit;
    this.device.pushErrorScope('validation');
    const module = this.device.createShaderModule({ label: name, code });
    const info = await module.getCompilationInfo();
    const scoped = await this.device.popErrorScope();
    const errors = info.messages.filter((m) => m.type === 'error');
    if (errors.length || scoped) {
      const where = errors.map((m) => `${name}.wgsl:${m.lineNum}:${m.linePos}: ${m.message}`).join('\n');
      throw new KernelError(`kernel ${name} failed to compile:\n${where || scoped?.message}\n${numbered(code)}`);
    }
    this.modules.set(code, module);
    this.compiled++;
    return module;
  }
}
