/**
 * @file Finding a backend: the browser's or Deno's `navigator.gpu`, else Dawn through the `webgpu`
 * npm package in Node (Vulkan first, then OpenGL ES at compatibility level), else, for `auto`
 * only, the CPU backend with one line saying why and how to get a driver.
 */
import { CpuBackend, type Precision } from './cpu.js';
import type { Backend } from './program.js';
import { WebGpuBackend } from './webgpu.js';

export type DeviceKind = 'auto' | 'webgpu' | 'cpu';

export interface BackendOptions {
  /** `auto` (default) uses WebGPU when an adapter exists and the CPU otherwise. */
  device?: DeviceKind;
  /** Precision of the CPU backend: float64 (default, the reference) or float32. */
  precision?: Precision;
  /** Where `auto` reports a fallback to the CPU; stderr by default. */
  log?: (line: string) => void;
  /** A `GPU` object to use instead of looking one up (tests pass a stub with no adapter). */
  gpu?: GPU;
}

export const DRIVER_ADVICE =
  'On Debian 12 without a GPU, install Mesa\'s software Vulkan driver (lavapipe) from bookworm-backports: ' +
  'add the suite "bookworm-backports" to /etc/apt/sources.list.d, then run ' +
  '`apt-get install -t bookworm-backports mesa-vulkan-drivers`. Or choose the CPU backend (device: "cpu", --device cpu).';

export class NoAdapterError extends Error {
  override name = 'NoAdapterError';
}

/**
 * @example
 * const backend = await requestBackend();                    // WebGPU if it can, else CPU (and says so)
 * const gpu = await requestBackend({ device: 'webgpu' });    // WebGPU or a NoAdapterError
 * const ref = await requestBackend({ device: 'cpu', precision: 'f64' });
 */
export async function requestBackend(options: BackendOptions = {}): Promise<Backend> {
  const { device = 'auto', precision = 'f64' } = options;
  if (device === 'cpu') return new CpuBackend(precision);
  if (device !== 'auto' && device !== 'webgpu') throw new Error(`unknown device "${device}": use auto, webgpu or cpu`);
  const found = await findAdapter(options.gpu);
  if ('adapter' in found) {
    // Timestamp queries serve FUSEGRAD_DEBUG=4's per-kernel timing, where the adapter has them.
    const requiredFeatures: GPUFeatureName[] = found.adapter.features.has('timestamp-query') ? ['timestamp-query'] : [];
    const gpuDevice = await found.adapter.requestDevice({ requiredLimits: wantedLimits(found.adapter), requiredFeatures });
    return new WebGpuBackend(gpuDevice, describeAdapter(found.adapter, found.via));
  }
  const why = `no WebGPU adapter found (${found.tried.join('; ')})`;
  if (device === 'webgpu') throw new NoAdapterError(`fusegrad: ${why}. ${DRIVER_ADVICE}`);
  (options.log ?? ((line) => console.error(line)))(`fusegrad: ${why}; running on the CPU backend instead. ${DRIVER_ADVICE}`);
  return new CpuBackend(precision);
}

type Found = { adapter: GPUAdapter; via: string } | { tried: string[] };

/** Holds Dawn's GPU objects for the life of the process: Node crashed or hung once they were collected. */
const held: unknown[] = [];

async function findAdapter(injected?: GPU): Promise<Found> {
  const tried: string[] = [];
  const platform = injected ?? (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
  if (platform) {
    const adapter = await platform.requestAdapter();
    if (adapter) return { adapter, via: 'navigator.gpu' };
    tried.push('navigator.gpu gave no adapter');
    return { tried };
  }
  if (typeof process === 'undefined' || !process.versions?.node) {
    return { tried: ['this runtime has no navigator.gpu'] };
  }
  let dawn: typeof import('webgpu');
  try {
    dawn = await import('webgpu');
  } catch (err) {
    return { tried: [`the "webgpu" package did not load: ${(err as Error).message}`] };
  }
  Object.assign(globalThis, dawn.globals);
  const vulkan = dawn.create([]);
  held.push(vulkan);
  const adapter = await vulkan.requestAdapter();
  if (adapter) return { adapter, via: 'Dawn' };
  tried.push('Dawn found no Vulkan adapter');
  // Mesa's EGL on a machine with no display needs the surfaceless platform.
  process.env.EGL_PLATFORM ??= 'surfaceless';
  const gles = dawn.create(['backend=opengles']);
  held.push(gles);
  const compat = await gles.requestAdapter({ featureLevel: 'compatibility' } as GPURequestAdapterOptions);
  if (compat) return { adapter: compat, via: 'Dawn OpenGL ES (compatibility)' };
  tried.push('Dawn found no OpenGL ES adapter');
  return { tried };
}

/** Asks for the adapter's full storage limits rather than the defaults, which are lower. */
function wantedLimits(adapter: GPUAdapter): Record<string, number> {
  const l = adapter.limits;
  return {
    maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
    maxBufferSize: l.maxBufferSize,
    maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
    maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
    maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
    maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
    maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
  };
}

function describeAdapter(adapter: GPUAdapter, via: string): string {
  const info = adapter.info;
  // Dawn fills vendor and architecture with names; Deno's wgpu puts numeric ids there and the name in description.
  const parts = [info?.vendor, info?.architecture, info?.device, info?.description].filter((s) => s && s.length && !/^\d+$/.test(s));
  return `${parts.join(' ') || 'unnamed adapter'} (${via})`;
}
