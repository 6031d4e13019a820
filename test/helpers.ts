/** @file Shared test helpers: backends, a seeded random source, and float comparisons that say what differed. */
import * as assert from 'uvu/assert';
import { CpuBackend } from '../runtime/cpu.js';
import { requestBackend } from '../runtime/device.js';
import type { Backend } from '../runtime/program.js';

const key = Symbol.for('fusegrad.test.webgpu');

/**
 * The WebGPU backend, shared by every test in the process. REQUIRED: when no adapter exists this
 * rejects, and each GPU test fails with the driver advice; GPU tests are never skipped.
 */
export function webgpu(): Promise<Backend> {
  const g = globalThis as unknown as Record<symbol, Promise<Backend>>;
  g[key] ??= requestBackend({ device: 'webgpu' });
  return g[key];
}

/** The reference interpreter, the float64 (or float32) truth the tests compare every plan with. */
export const cpu64 = (): Backend => new CpuBackend('f64', 'reference');
export const cpu32 = (): Backend => new CpuBackend('f32', 'reference');

/** mulberry32: a small seeded generator, so every test sees the same "random" data. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** n uniform values in [-1, 1). */
export function randoms(n: number, seed: number): Float64Array {
  const r = rng(seed);
  return Float64Array.from({ length: n }, () => 2 * r() - 1);
}

/**
 * Asserts |actual - expected| <= tol * max(1, max |expected|) elementwise: an error relative to
 * the array's scale, so values near zero (a cancelled sum) are judged by the size of the rest.
 */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  assert.is(actual.length, expected.length, `${what}: length`);
  let scale = 1;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]!));
  let worst = 0;
  let at = -1;
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i]! - expected[i]!) / scale;
    if (!(err <= worst)) (worst = err), (at = i);
  }
  if (!(worst <= tol)) {
    assert.unreachable(`${what}: element ${at} is ${actual[at]}, expected ${expected[at]} (error ${worst.toExponential(2)} of scale ${scale.toPrecision(3)}, tolerance ${tol})`);
  }
}

/**
 * float32 tolerance for a value built from sums of up to n terms: float32 rounds at 2^-24 ≈ 6e-8
 * per operation and a tree sum of n terms gathers about log2(n) roundings, so allow 2e-6 per level
 * (a margin of ~30 over the rounding bound, for the few ops stacked on each sum).
 */
export const f32Tol = (n: number): number => 2e-6 * (1 + Math.log2(Math.max(1, n)));

/** The error a promise rejects with, or null if it resolves. */
export const caught = (p: Promise<unknown>): Promise<Error | null> =>
  p.then(
    () => null,
    (e: Error) => e,
  );

/** Asserts that `fn` rejects with a message matching `re`. */
export async function rejects(fn: () => Promise<unknown>, re: RegExp): Promise<void> {
  const err = await caught(fn());
  if (!err) assert.unreachable(`expected a rejection matching ${re}, but it resolved`);
  assert.match(err!.message, re);
}

/**
 * Runs `work` and counts the dispatches it encodes, independently of fusegrad's own stats, by
 * wrapping the WebGPU entry point for the duration.
 */
export async function countDispatches<T>(work: () => Promise<T>): Promise<{ result: T; dispatches: number }> {
  const proto = (globalThis as unknown as { GPUComputePassEncoder: { prototype: GPUComputePassEncoder } }).GPUComputePassEncoder.prototype;
  const original = proto.dispatchWorkgroups;
  let dispatches = 0;
  proto.dispatchWorkgroups = function (this: GPUComputePassEncoder, ...args: Parameters<GPUComputePassEncoder['dispatchWorkgroups']>) {
    dispatches++;
    return original.apply(this, args);
  };
  try {
    return { result: await work(), dispatches };
  } finally {
    proto.dispatchWorkgroups = original;
  }
}
