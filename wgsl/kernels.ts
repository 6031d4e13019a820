/**
 * @file The hand-written WGSL kernels, and the code that specializes (override constants and
 * named template holes), compiles and caches them, reporting shader errors with the kernel's name,
 * line:col and numbered source.
 */
import map from './map.wgsl';
import matmul from './matmul.wgsl';
import matmulSplitk from './matmul_splitk.wgsl';
import record from './record.wgsl';
import reduce from './reduce.wgsl';
import sgd from './sgd.wgsl';
import zip from './zip.wgsl';

/** Every kernel source by name. */
export const KERNELS = {
  map,
  zip,
  reduce,
  matmul,
  matmul_splitk: matmulSplitk,
  sgd,
  record,
} as const;

export type KernelName = keyof typeof KERNELS;

/** A kernel specialized for one use: its source with holes filled, and its override constants. */
export interface KernelSpec {
  kernel: KernelName;
  holes?: Record<string, string>;
  constants: Record<string, number>;
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
  compiled = 0;

  constructor(private readonly device: GPUDevice) {}

  async pipeline(spec: KernelSpec): Promise<GPUComputePipeline> {
    const code = specialize(spec.kernel, spec.holes);
    const key = `${code}\n${JSON.stringify(spec.constants)}`;
    const hit = this.pipelines.get(key);
    if (hit) return hit;
    const module = await this.module(spec.kernel, code);
    this.device.pushErrorScope('validation');
    const pipeline = this.device.createComputePipeline({
      label: spec.kernel,
      layout: 'auto',
      compute: { module, entryPoint: 'main', constants: spec.constants },
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
