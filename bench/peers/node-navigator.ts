/**
 * @file Gives Node the browser's `navigator.gpu` (Dawn, through the `webgpu` package) before any
 * peer library is imported: TensorFlow.js's WebGPU backend registers itself only when
 * `navigator.gpu` exists at import time, jax-js looks its adapter up there, and jax-js reads
 * `navigator.userAgent` on every backend. fusegrad's own backend lookup prefers `navigator.gpu`
 * too, so once this ran, fusegrad and the peers share one Dawn instance and one adapter.
 */

/** Dawn's GPU object lives as long as the process: Node hung or crashed once it was collected. */
const held: unknown[] = [];
let installing: Promise<void> | undefined;

interface NodeNavigator {
  gpu?: GPU;
  userAgent?: string;
  hardwareConcurrency?: number;
}

/** Idempotent; must run before `@tensorflow/tfjs-backend-webgpu` or `@jax-js/jax` is imported. */
export function installNavigator(): Promise<void> {
  installing ??= install();
  return installing;
}

async function install(): Promise<void> {
  const existing = (globalThis as { navigator?: NodeNavigator }).navigator;
  if (existing?.gpu) return;
  const { create, globals } = await import('webgpu');
  // The GPUBufferUsage / GPUMapMode constants the libraries read from the global scope.
  Object.assign(globalThis, globals);
  const gpu = create([]);
  held.push(gpu);
  // Node 21+ has its own navigator (a configurable global getter) with no gpu; keep what it knows.
  const navigator: NodeNavigator = {
    gpu,
    userAgent: existing?.userAgent ?? 'node',
    hardwareConcurrency: existing?.hardwareConcurrency ?? 2,
  };
  Object.defineProperty(globalThis, 'navigator', { value: navigator, configurable: true, writable: true, enumerable: true });
}

/**
 * Throws, naming the cause, when `navigator.gpu` has no adapter: the libraries themselves would
 * only log a TypeError (TensorFlow.js) or silently leave the backend out (jax-js).
 */
export async function requireAdapter(library: string): Promise<void> {
  await installNavigator();
  const gpu = (globalThis as { navigator?: NodeNavigator }).navigator?.gpu;
  if (!gpu) throw new Error(`${library}: navigator.gpu is missing`);
  if (!(await gpu.requestAdapter())) throw new Error(`${library}: navigator.gpu.requestAdapter() found no WebGPU adapter (no Vulkan driver Dawn could use)`);
}
