/** @file Exact rational arithmetic on BigInt, for least-squares answers with no rounding at all. */

const abs = (a: bigint) => (a < 0n ? -a : a);
function gcd(a: bigint, b: bigint): bigint {
  a = abs(a);
  b = abs(b);
  while (b) [a, b] = [b, a % b];
  return a;
}

export class Frac {
  readonly n: bigint;
  readonly d: bigint;
  constructor(n: bigint, d = 1n) {
    if (d === 0n) throw new Error('division by zero');
    if (d < 0n) [n, d] = [-n, -d];
    const g = gcd(n, d) || 1n;
    this.n = n / g;
    this.d = d / g;
  }
  /** The exact value of a double: every finite double is a dyadic rational. */
  static of(x: number): Frac {
    if (!Number.isFinite(x)) throw new Error(`not finite: ${x}`);
    let m = x;
    let e = 0n;
    while (!Number.isInteger(m)) {
      m *= 2;
      e++;
    }
    return new Frac(BigInt(m), 1n << e);
  }
  add(o: Frac): Frac {
    return new Frac(this.n * o.d + o.n * this.d, this.d * o.d);
  }
  sub(o: Frac): Frac {
    return new Frac(this.n * o.d - o.n * this.d, this.d * o.d);
  }
  mul(o: Frac): Frac {
    return new Frac(this.n * o.n, this.d * o.d);
  }
  div(o: Frac): Frac {
    return new Frac(this.n * o.d, this.d * o.n);
  }
  isZero(): boolean {
    return this.n === 0n;
  }
  /** The nearest double (to well within 1e-15 relative). */
  toNumber(): number {
    const shift = BigInt(Math.max(0, 64 - (this.n.toString(2).length - this.d.toString(2).length)));
    return Number((abs(this.n) << shift) / this.d) * Math.sign(Number(this.n)) / 2 ** Number(shift);
  }
}

/** Solves G X = H exactly by Gauss-Jordan elimination (G square and nonsingular); returns X's columns. */
export function solveExact(G: Frac[][], H: Frac[][]): Frac[][] {
  const p = G.length;
  const m = G.map((row, i) => [...row, ...H[i]!]);
  for (let c = 0; c < p; c++) {
    const pivot = m.findIndex((row, r) => r >= c && !row[c]!.isZero());
    [m[c], m[pivot]] = [m[pivot]!, m[c]!];
    const inv = new Frac(1n).div(m[c]![c]!);
    m[c] = m[c]!.map((v) => v.mul(inv));
    for (let r = 0; r < p; r++) {
      if (r === c || m[r]![c]!.isZero()) continue;
      const f = m[r]![c]!;
      m[r] = m[r]!.map((v, k) => v.sub(f.mul(m[c]![k]!)));
    }
  }
  return H[0]!.map((_, k) => m.map((row) => row[p + k]!));
}

export interface ExactFit {
  coef: Frac[];
  /** Squared standard errors: σ² (AᵀA)⁻¹_jj with σ² = RSS / (n - p). */
  se2: Frac[];
}

/** The exact least-squares fit (and squared standard errors) of A (rows of doubles or exact fractions) to y. */
export function exactOls(A: (number | Frac)[][], y: number[]): ExactFit {
  const n = A.length;
  const p = A[0]!.length;
  const a = A.map((row) => row.map((v) => (v instanceof Frac ? v : Frac.of(v))));
  const b = y.map(Frac.of);
  const zero = new Frac(0n);
  const G = Array.from({ length: p }, (_, i) => Array.from({ length: p }, (_, j) => a.reduce((s, row) => s.add(row[i]!.mul(row[j]!)), zero)));
  const h = Array.from({ length: p }, (_, i) => a.reduce((s, row, r) => s.add(row[i]!.mul(b[r]!)), zero));
  const identity = Array.from({ length: p }, (_, i) => Array.from({ length: p }, (_, j) => new Frac(i === j ? 1n : 0n)));
  const cols = solveExact(G, h.map((v, i) => [v, ...identity[i]!]));
  const coef = cols[0]!;
  let rss = zero;
  a.forEach((row, r) => {
    const e = row.reduce((s, v, j) => s.sub(v.mul(coef[j]!)), b[r]!);
    rss = rss.add(e.mul(e));
  });
  const sigma2 = rss.div(new Frac(BigInt(n - p)));
  return { coef, se2: Array.from({ length: p }, (_, j) => sigma2.mul(cols[1 + j]![j]!)) };
}

/** -log10 of the relative error of x against the exact value (17 when exact). */
export function digits(x: number, exact: Frac): number {
  const err = Frac.of(x).sub(exact).div(exact);
  return err.isZero() ? 17 : -Math.log10(Math.abs(err.toNumber()));
}
