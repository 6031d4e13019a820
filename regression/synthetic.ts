/** @file Seeded synthetic regression data: y = X Wᵀ + b + noise, with known W and b (for tests and benchmarks). */
import { mix } from '../engine/random.js';

/** Uniform [0, 1) draws from a seed, counter-based on `mix`. */
function rng(seed: number): () => number {
  let i = 0;
  return () => (mix((seed ^ mix(i++ + 0x632be5ab)) >>> 0) + 0.5) / 4294967296;
}

export function synthetic(n: number, d: number, k: number, seed = 1) {
  const r = rng(seed);
  const normal = () => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
  const W = Array.from({ length: k }, () => Array.from({ length: d }, () => 2 * r() - 1));
  const b = Array.from({ length: k }, () => 2 * r() - 1);
  const X = new Float64Array(n * d);
  const Y = new Float64Array(n * k);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) X[i * d + j] = normal();
    for (let t = 0; t < k; t++) {
      let y = b[t]! + 0.1 * normal();
      for (let j = 0; j < d; j++) y += W[t]![j]! * X[i * d + j]!;
      Y[i * k + t] = y;
    }
  }
  return { X, Y, W, b };
}
