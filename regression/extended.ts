/**
 * @file Double-double arithmetic (a value as an unevaluated sum hi + lo of two doubles, about 32
 * significant digits): just enough to accumulate the residuals of iterative refinement without
 * rounding them away. Error-free transformations after Knuth (two-sum) and Dekker (two-product).
 * Also the exact scaling by powers of two that keeps data near float64's edges (1e±300,
 * subnormals) inside the range where these transformations hold.
 */

/** 2^27 + 1: splits a double into two halves whose products are exact. */
const SPLIT = 134217729;

/**
 * Accumulates Σ a_i b_i (and plain terms) in double-double. `add` and `addProduct` are exact up to
 * the final rounding of hi + lo, so sums of many terms of mixed sign keep their small remainders.
 */
export class Accumulator {
  hi = 0;
  lo = 0;

  constructor(start = 0) {
    this.hi = start;
  }

  /** Starts again from `start` (reusing one accumulator in a hot loop). */
  reset(start = 0): this {
    this.hi = start;
    this.lo = 0;
    return this;
  }

  add(x: number): this {
    const s = this.hi + x;
    const bb = s - this.hi;
    const err = this.hi - (s - bb) + (x - bb);
    this.renormalize(s, err + this.lo);
    return this;
  }

  addProduct(a: number, b: number): this {
    // Dekker's two-product: a b = p + e exactly.
    const p = a * b;
    let t = SPLIT * a;
    const ahi = t - (t - a);
    const alo = a - ahi;
    t = SPLIT * b;
    const bhi = t - (t - b);
    const blo = b - bhi;
    const e = alo * blo - (p - ahi * bhi - alo * bhi - ahi * blo);
    // Two-sum of hi + p, then fold in the low parts.
    const s = this.hi + p;
    const bb = s - this.hi;
    const err = this.hi - (s - bb) + (p - bb);
    this.renormalize(s, err + e + this.lo);
    return this;
  }

  /** The nearest double to hi + lo. */
  value(): number {
    return this.hi + this.lo;
  }

  private renormalize(s: number, e: number): void {
    const hi = s + e;
    this.lo = e - (hi - s);
    this.hi = hi;
  }
}

/** v · 2^e, exact while the result is a normal double; in steps, as 2^e itself may be beyond a double. */
export function ldexp(v: number, e: number): number {
  for (; e > 1023; e -= 1023) v *= 2 ** 1023;
  for (; e < -1022; e += 1022) v *= 2 ** -1022;
  return v * 2 ** e;
}

/** The exponent k with 2^k <= x < 2^(k+1), for x > 0 finite (subnormals too); 0 for 0. */
export function binaryExponent(x: number): number {
  if (!(x > 0) || !Number.isFinite(x)) return 0;
  let k = Math.floor(Math.log2(x));
  // log2 rounds: near a power of two it may land one off.
  if (ldexp(x, -k) >= 2) k++;
  if (ldexp(x, -k) < 1) k--;
  return k;
}
