/**
 * @file The minibatch shuffle, bit for bit as wgsl/control.wgsl computes it on the device: each
 * epoch's permutation of the rows is a Feistel network keyed by (seed, epoch), so the device
 * draws it with no index list uploaded and the CPU backend draws the same batches.
 */
import { mix } from '../engine/random.js';

export { mix };

export const epochKey = (seed: number, epoch: number): number => mix((seed ^ mix((epoch + 0x68e31da4) >>> 0)) >>> 0);

/** Bits per Feistel half for n rows: the smallest h with 4^h >= n (at least 1). */
export function feistelHalf(n: number): number {
  let h = 1;
  while (4 ** h < n) h++;
  return h;
}

/** Position i of the permutation of [0, n) for `key`. */
export function permute(i: number, n: number, key: number, half: number): number {
  const mask = (1 << half) - 1;
  let x = i;
  for (;;) {
    let l = x >>> half;
    let r = x & mask;
    for (let round = 0; round < 4; round++) {
      const f = mix((r ^ key ^ Math.imul(round, 0x9e3779b9)) >>> 0) & mask;
      const next = (l ^ f) >>> 0;
      l = r;
      r = next;
    }
    x = ((l << half) | r) >>> 0;
    if (x < n) return x;
  }
}

/** The row a bootstrap replicate's resample puts at position p, as wgsl/control.wgsl (resample) draws it. */
export function resampleRow(seed: number, replicate: number, p: number, n: number): number {
  const key = mix((seed ^ 0xb5297a4d) >>> 0);
  return (mix((key ^ mix((Math.imul(replicate, 0x9e3779b9) + p) >>> 0)) >>> 0) % n);
}
