/**
 * @file Seeded draws on the host, counter-based: value i of a stream is a function of (seed, i)
 * alone, so a draw needs no generator state and the same seed gives the same values everywhere.
 * `mix` is also the device's hash (wgsl/control.wgsl's shuffle and resamples, wgsl/shuffle.ts).
 */

/** lowbias32, in u32 arithmetic. */
export function mix(v: number): number {
  let x = v >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d) >>> 0;
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b) >>> 0;
  x ^= x >>> 16;
  return x >>> 0;
}

/** Draw i of a seed's stream, uniform in (0, 1): never 0 or 1 exactly (a log of it is finite). */
const unit = (seed: number, i: number): number => (mix((seed ^ mix(i + 0x5bd1e995)) >>> 0) + 0.5) / 4294967296;

/** Uniform draws in (0, 1) from (seed, index). */
export function uniforms(count: number, seed: number): Float64Array {
  return Float64Array.from({ length: count }, (_, i) => unit(seed, i));
}

/** Standard normal draws from (seed, index), counter-based on `mix` (Box-Muller): for seeded initial weights. */
export function normals(count: number, seed: number): Float64Array {
  return Float64Array.from({ length: count }, (_, i) => Math.sqrt(-2 * Math.log(unit(seed, 2 * i))) * Math.cos(2 * Math.PI * unit(seed, 2 * i + 1)));
}
