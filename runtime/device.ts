/**
 * @file Finding a backend: the browser's or Deno's `navigator.gpu`, else Dawn through the `webgpu`
 * npm package in Node (Vulkan first, then OpenGL ES at compatibility level), else, for `auto`
 * only, the CPU backend with one line saying why and how to get a driver.
 */
import loopProbe from '../wgsl/loop_probe.wgsl';
import { CpuBackend, type Precision } from './cpu.js';
import { cpuCount } from './threads.js';
import type { Backend } from './program.js';
import { WebGpuBackend } from './webgpu.js';
import { DataError } from './values.js';

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
  if (device !== 'auto' && device !== 'webgpu') throw new DataError(`unknown device "${device}": use auto, webgpu or cpu`);
  const log = options.log ?? ((line) => console.error(line));
  const found = await findAdapter(options.gpu);
  let why: string;
  if ('adapter' in found) {
    // Timestamp queries serve FUSEGRAD_DEBUG=4's per-kernel timing, where the adapter has them.
    const requiredFeatures: GPUFeatureName[] = found.adapter.features.has('timestamp-query') ? ['timestamp-query'] : [];
    // Subgroups of one fixed size serve the row teams of wide rows (compile/team.ts).
    const subgroup = fixedSubgroup(found.adapter);
    if (subgroup) requiredFeatures.push('subgroups' as GPUFeatureName);
    const gpuDevice = await found.adapter.requestDevice({ requiredLimits: wantedLimits(found.adapter), requiredFeatures });
    const backend = new WebGpuBackend(gpuDevice, describeAdapter(found.adapter, found.via), await cpuCount(), subgroup);
    const cut = await loopsCut(gpuDevice);
    if (cut === null) {
      if (found.via.includes('OpenGL ES')) {
        // Said once, on stderr: the fallback works but is slower than Vulkan (README: the demo's epochs, measured on both).
        log(`fusegrad: no Vulkan adapter, so WebGPU runs on Dawn's OpenGL ES fallback (${backend.description}), slower than Vulkan on the same machine. ${DRIVER_ADVICE}`);
      }
      return backend;
    }
    backend.dispose();
    why = `the WebGPU adapter ${backend.description} stops shader loops early (${cut}), so training runs would stop short with wrong numbers; fusegrad does not use it`;
  } else {
    why = `no WebGPU adapter found (${found.tried.join('; ')})`;
  }
  if (device === 'webgpu') throw new NoAdapterError(`fusegrad: ${why}. ${DRIVER_ADVICE}`);
  log(`fusegrad: ${why}; running on the CPU backend instead. ${DRIVER_ADVICE}`);
  return new CpuBackend(precision);
}

/** Iterations of the loop probe: past the 65535 after which llvmpipe in Mesa 22 ends every loop. */
const PROBE_ITERATIONS = 100_000;

/**
 * Whether a device cuts long loops short: null if the probe (wgsl/loop_probe.wgsl) counted to the
 * end, else what it saw. llvmpipe in Debian 12's own Mesa 22.3, which Dawn reaches through OpenGL
 * ES when there is no Vulkan driver, ends every loop of a shader invocation once the invocation
 * has taken 65535 loop iterations in all: the single-dispatch kernel then stopped 200-epoch runs
 * after 139 epochs (44 with a workgroup of one lane, 1111 of 5000 full-batch epochs), the last of
 * them half done, and said nothing. Mesa 25's llvmpipe has no such limit. One tiny dispatch and
 * one read when a backend is made.
 */
async function loopsCut(device: GPUDevice): Promise<string | null> {
  try {
    device.pushErrorScope('validation');
    const module = device.createShaderModule({ label: 'loop_probe', code: loopProbe });
    const pipeline = device.createComputePipeline({ label: 'loop_probe', layout: 'auto', compute: { module, entryPoint: 'main' } });
    const io = device.createBuffer({ label: 'loop_probe io', size: 8, usage: 0x80 | 0x04 | 0x08 /* STORAGE | COPY_SRC | COPY_DST */ });
    const back = device.createBuffer({ label: 'loop_probe read', size: 8, usage: 0x01 | 0x08 /* MAP_READ | COPY_DST */ });
    device.queue.writeBuffer(io, 0, new Uint32Array([PROBE_ITERATIONS, 0]));
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: io } }] }));
    pass.dispatchWorkgroups(1);
    pass.end();
    encoder.copyBufferToBuffer(io, 0, back, 0, 8);
    device.queue.submit([encoder.finish()]);
    const error = await device.popErrorScope();
    if (error) return `the loop probe failed to run: ${error.message}`;
    await back.mapAsync(0x01);
    const count = new Uint32Array(back.getMappedRange().slice(0))[1]!;
    back.unmap();
    io.destroy();
    back.destroy();
    return count === PROBE_ITERATIONS ? null : `a loop of ${PROBE_ITERATIONS} iterations ran ${count}; llvmpipe in Mesa 22 ends loops after 65535`;
  } catch (err) {
    return `the loop probe failed: ${(err as Error).message}`;
  }
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

/** The adapter's subgroup size where it has subgroups of one size only; else 0. */
function fixedSubgroup(adapter: GPUAdapter): number {
  if (!adapter.features.has('subgroups')) return 0;
  const info = adapter.info as GPUAdapterInfo & { subgroupMinSize?: number; subgroupMaxSize?: number };
  return info?.subgroupMinSize && info.subgroupMinSize === info.subgroupMaxSize ? info.subgroupMinSize : 0;
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
